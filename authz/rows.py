"""Row scopes: which customers a caller may see and change, as SQL conditions (SHARE-1, SHARE-5).

Rows are filtered in the database, never fetched and discarded. The scopes come from the live
policy (``rows:own|branch|complaints|bank`` for reads, ``rows:…, write`` for changes).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from core.errors import ForbiddenError, NotFoundError
from core.ids import parse_global_id
from store.complaints import ENDED_STATUSES, Complaint
from store.customers import Customer
from store.staff import Role, Staff
from store.workflows import ProcessTask, TaskStatus


def visible_to(staff: Staff, scopes: frozenset[str]) -> ColumnElement[bool]:
    """SQL condition: the customers a caller with these row scopes may see (SHARE).

    ``own``: the caller is the relationship manager; ``branch``: the caller's branch;
    ``complaints``: customers of open complaints assigned to the caller; ``bank``: every
    customer. (``consented`` is applied by the request context, per third party.)
    """
    if "bank" in scopes:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if "own" in scopes:
        clauses.append(Customer.relationship_manager_id == staff.id)
    if "branch" in scopes:
        clauses.append(Customer.branch_id == staff.branch_id)
    if "complaints" in scopes:
        clauses.append(
            Customer.id.in_(
                select(Complaint.customer_id).where(
                    # Ended (closed, withdrawn, merged): the handler's access ends with it.
                    Complaint.handler_id == staff.id,
                    Complaint.status.not_in(ENDED_STATUSES),
                )
            )
        )
    return or_(*clauses) if clauses else false()


def row_visibility_reason(
    session: Session, staff: Staff, scopes: frozenset[str], reference: str
) -> tuple[bool, str]:
    """Whether ``staff`` sees the customer ``reference`` (global ID or number), and why.

    A customer that does not exist and one outside the scopes get the same words, so
    the answer cannot be used to learn who banks here; neither echoes the reference.
    """
    parsed = parse_global_id(reference)
    customer_id = parsed[1] if parsed and parsed[0] == "Customer" else None
    if customer_id is None and reference.isdigit():
        customer_id = int(reference)
    if customer_id is not None and not 0 < customer_id < 2**63:
        customer_id = None  # no row has it, and the database could not even compare it
    held = ", ".join(sorted(scopes)) or "none"
    seen = (
        None
        if customer_id is None
        else session.scalar(
            select(Customer.id).where(Customer.id == customer_id, visible_to(staff, scopes))
        )
    )
    if seen is None:
        return False, f"no such customer, or outside the row scopes ({held})"
    return True, f"the customer is inside the row scopes ({held})"


def is_visible(session: Session, customer_id: int, visible: ColumnElement[bool]) -> bool:
    """Whether ``customer_id`` is a customer the caller may see (``visible``: their rows)."""
    found = session.scalar(select(Customer.id).where(Customer.id == customer_id, visible))
    return found is not None


def require_visible(session: Session, customer_id: int, visible: ColumnElement[bool]) -> int:
    """``customer_id`` when the caller may see that customer; NOT_FOUND otherwise.

    Invisible and missing customers get the same answer, so IDs cannot be probed.
    """
    if not is_visible(session, customer_id, visible):
        raise NotFoundError("no customer with this ID")
    return customer_id


def require_writable(
    session: Session,
    customer_id: int,
    visible: ColumnElement[bool],
    writable: ColumnElement[bool],
) -> int:
    """``customer_id`` when the caller may change that customer (write row scopes).

    A customer the caller cannot see is NOT_FOUND, as for reads (existence is not revealed);
    one they see (e.g. by a share grant) but may not change is FORBIDDEN.
    """
    found = session.execute(
        select(Customer.id, writable).where(Customer.id == customer_id, visible)
    ).first()
    if found is None:
        raise NotFoundError("no customer with this ID")
    if not found[1]:
        raise ForbiddenError("this customer is outside the rows your roles may change")
    return customer_id


def may_place(
    staff: Staff,
    write_scopes: frozenset[str],
    branch_id: int,
    manager: Staff | None,
) -> bool:
    """Whether a customer of ``branch_id`` managed by ``manager`` lies in ``staff``'s write rows.

    Below head office (``bank``) a customer stays in the caller's branch with a manager of that
    branch: a manager may not move a customer out of their supervisor's sight, and a supervisor
    may not open a customer's rows to another branch's manager (that is a share grant, SHARE-2).
    """
    if "bank" in write_scopes:
        return True
    if branch_id != staff.branch_id or (manager is not None and manager.branch_id != branch_id):
        return False
    return "branch" in write_scopes or (
        "own" in write_scopes and manager is not None and manager.id == staff.id
    )


def complaints_visible_to(
    staff: Staff, customer_visible: ColumnElement[bool]
) -> ColumnElement[bool]:
    """SQL condition: complaints the caller may see — of customers they may see
    (``customer_visible``, the request's customer scope), handled by them, or, for a
    supervisor, whose handler's task waits at their branch (the superior unit of a complaint
    about the customer's own branch: they reassign it)."""
    clauses = [
        Complaint.customer_id.in_(select(Customer.id).where(customer_visible)),
        Complaint.handler_id == staff.id,
    ]
    if Role.BRANCH_SUPERVISOR in staff.roles:
        clauses.append(
            Complaint.instance_id.in_(
                select(ProcessTask.instance_id).where(
                    ProcessTask.status == TaskStatus.OPEN,
                    ProcessTask.candidate_role == Role.COMPLAINT_HANDLER.value,
                    ProcessTask.branch_id == staff.branch_id,
                )
            )
        )
    return or_(*clauses)
