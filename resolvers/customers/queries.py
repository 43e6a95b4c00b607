"""Customer lists: customers, transactions, change history and the due list, keyset pages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    func,
    null,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import Session, joinedload

from authz.rows import require_visible
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from resolvers.shared.statements import built_once
from store.base import sealed_columns, sealed_later
from store.customers import Customer, CustomerChange, Transaction, VerificationDue
from store.segments import CustomerSegment
from store.staff import Branch, Staff

# The value score (SEG-1) of a customer, -1 when not classified yet (sorts below every score).
SEGMENT_SCORE = func.coalesce(
    select(CustomerSegment.score)
    .where(CustomerSegment.customer_id == Customer.id)
    .scalar_subquery(),
    -1,
).label("segment_score")

CUSTOMER_SORT = {
    "NAME": (Customer.name, str),
    "BIRTH_DATE": (Customer.birth_date, date),
    "CREATED_AT": (Customer.created_at, datetime),
    "UPDATED_AT": (Customer.updated_at, datetime),
    "ID": (Customer.id, int),
    "SCORE": (SEGMENT_SCORE, int),
}


def customer_sort_keys(order_by: Sequence[tuple[str, bool]]) -> list[SortKey]:
    """Sort keys for ``(field, descending)`` pairs, always ending with the unique id."""
    keys = [
        SortKey(CUSTOMER_SORT[name][0], descending, CUSTOMER_SORT[name][1])
        for name, descending in order_by
        if name != "ID"
    ]
    id_descending = next((d for n, d in order_by if n == "ID"), False)
    keys.append(SortKey(Customer.id, id_descending, int))
    return keys


# The read model of a customer: one row with its branch and relationship manager (and the
# manager's branch) joined in. Plain rows, not ORM entities: a 100-row page is built about
# twice as fast, and the page stays one statement whatever its size. Sealed columns come
# unopened (``sealed_<column>``: ``store.base.sealed_later``): a value is decrypted only when
# its field is served and revealed (``CustomerNode``), not for every row a list reads.
_customers = Customer.__table__
_branches = Branch.__table__
_manager = Staff.__table__.alias("manager")
_manager_branch = Branch.__table__.alias("manager_branch")
SEALED_CUSTOMER_COLUMNS = tuple(sealed_columns(Customer.__table__))  # type: ignore[arg-type]
CUSTOMER_COLUMNS = (
    *(
        c
        for c in _customers.c
        if not c.key.endswith("_hash") and c.key not in SEALED_CUSTOMER_COLUMNS
    ),
    *(sealed_later(_customers.c[name], f"sealed_{name}") for name in SEALED_CUSTOMER_COLUMNS),
    _branches.c.code.label("branch_code"),
    _branches.c.name.label("branch_name"),
    _branches.c.city.label("branch_city"),
    _manager.c.employee_no.label("manager_employee_no"),
    _manager.c.name.label("manager_name"),
    # As stored (JSON text on SQLite; PostgreSQL's driver decodes it): decoded once per
    # manager and request (``manager_roles``), not once per customer row.
    type_coerce(_manager.c.roles, String).label("manager_roles"),
    _manager.c.active.label("manager_active"),
    _manager.c.branch_id.label("manager_branch_id"),
    _manager_branch.c.code.label("manager_branch_code"),
    _manager_branch.c.name.label("manager_branch_name"),
    _manager_branch.c.city.label("manager_branch_city"),
)
CUSTOMER_FROM = (
    _customers.join(_branches, _branches.c.id == _customers.c.branch_id)
    .outerjoin(_manager, _manager.c.id == _customers.c.relationship_manager_id)
    .outerjoin(_manager_branch, _manager_branch.c.id == _manager.c.branch_id)
)
CUSTOMER_ROW = select(*CUSTOMER_COLUMNS).select_from(CUSTOMER_FROM)


def customer_rows_in(
    session: Session, customer_ids: Sequence[int], in_rows: ColumnElement[bool]
) -> dict[int, Any]:
    """``CUSTOMER_ROW`` rows of customers of the caller's own rows (``in_rows``; seen by
    scope: ``in_scope``, no grant, no consent), e.g. a worklist page's, by primary key.

    The statement is built once per caller's rows (the keys are bound when it runs): for a
    page's nested customers it costs about what running it does.
    """
    statement = built_once(
        "customer rows in scope",
        (in_rows,),
        lambda: (
            select(
                *CUSTOMER_COLUMNS,
                true().label("in_scope"),
                null().label("via_grant"),
                null().label("via_consent"),
            )
            .select_from(CUSTOMER_FROM)
            .where(_customers.c.id.in_(bindparam("customer_ids", expanding=True)), in_rows)
        ),
    )
    found = session.connection().execute(statement, {"customer_ids": list(customer_ids)}).all()
    return {row._mapping["id"]: row for row in found}


def manager_roles(stored: Any) -> list[str]:
    """The roles of a ``CUSTOMER_ROW``'s manager (``manager_roles``, as the driver gave them)."""
    return list(stored) if isinstance(stored, list) else list(json.loads(stored))


def customer_page(
    session: Session,
    conditions: Sequence[Any],
    order_by: Sequence[tuple[str, bool]],
    request: PageRequest,
    extra_columns: Sequence[Any] = (),
) -> Page:
    """One page of customer rows (``CUSTOMER_ROW``), filtered, ordered, keyset-paginated."""
    keys = customer_sort_keys(order_by)
    # An ordering by an expression (the score) reads its value from the row for the cursor.
    computed = [k.column for k in keys if k.column is SEGMENT_SCORE]
    return paginate(
        session,
        CUSTOMER_ROW.add_columns(*extra_columns, *computed).where(*conditions),
        keys,
        request,
        row_values=lambda c: [getattr(c, k.column.key) for k in keys],
        count_statement=select(Customer.id).where(*conditions),
    )


def customers_by_id(
    session: Session,
    customer_ids: Sequence[int],
    visible: ColumnElement[bool],
    extra_columns: Sequence[Any] = (),
) -> dict[int, Any]:
    """Customer rows (``CUSTOMER_ROW``) by primary key, only those the caller may see."""
    statement = CUSTOMER_ROW.add_columns(*extra_columns).where(
        _customers.c.id.in_(customer_ids), visible
    )
    return {row.id: row for row in session.connection().execute(statement).all()}


def transactions_page(
    session: Session,
    customer_id: int,
    conditions: Sequence[Any],
    request: PageRequest,
    visible: ColumnElement[bool],
) -> Page:
    """A customer's transactions, newest first."""
    require_visible(session, customer_id, visible)
    keys = [
        SortKey(Transaction.occurred_at, True, datetime),
        SortKey(Transaction.id, True, int),
    ]
    statement = select(Transaction).where(Transaction.customer_id == customer_id, *conditions)
    return paginate(session, statement, keys, request, lambda t: [t.occurred_at, t.id])


def change_page(
    session: Session, customer_id: int, request: PageRequest, visible: ColumnElement[bool]
) -> Page:
    """The change history of a customer, newest first (INFO-5)."""
    require_visible(session, customer_id, visible)
    keys = [SortKey(CustomerChange.id, True, int)]
    statement = select(CustomerChange).where(CustomerChange.customer_id == customer_id)
    return paginate(
        session,
        statement,
        keys,
        request,
        lambda c: [c.id],
        options=[joinedload(CustomerChange.changed_by)],
    )


def due_page(
    session: Session,
    conditions: Sequence[Any],
    as_of: date,
    request: PageRequest,
    visible: ColumnElement[bool],
) -> Page:
    """Information due for re-verification by ``as_of`` and matching ``conditions`` (INFO-4)."""
    keys = [
        SortKey(VerificationDue.due_on, False, date),
        SortKey(VerificationDue.customer_id, False, int),
        SortKey(VerificationDue.information_kind, False, str),
    ]
    statement = (
        select(VerificationDue)
        .join(Customer, Customer.id == VerificationDue.customer_id)
        .where(VerificationDue.due_on <= as_of, visible, *conditions)
    )
    return paginate(
        session,
        statement,
        keys,
        request,
        lambda d: [d.due_on, d.customer_id, d.information_kind.value],
    )
