"""Complaint intake (CMP-1) and the complaint's record: its timeline and messages to the customer.

Submitting registers the complaint, acknowledges it to the customer and starts its process; the
steps after that are the service operations the diagram calls (:mod:`.operations`). Every step
lands in the complaint's timeline through :func:`add_event`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers.complaints.deadlines import (
    DECISION_DAYS,
    last_day,
    natural_day_deadline,
    start_clock,
)
from resolvers.customers.history import audit_change
from resolvers.shared import validation
from resolvers.shared.staff import staff_by_employee_number
from resolvers.workflows import start_for
from store.complaints import (
    Category,
    Channel,
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
    Complexity,
    CustomerMessage,
    CustomerMessageChannel,
    CustomerMessageKind,
    SlaState,
)
from store.customers import Customer
from store.staff import Branch, Staff

PROCESS_KEY = "complaint"


@dataclass
class ComplaintDraft:
    customer_id: int
    channel: Channel
    category: Category
    description: str
    idempotency_key: str
    requested_remedy: str | None = None
    amount_in_dispute: Decimal | None = None
    complained_staff: str | None = None
    complained_branch_id: int | None = None


def find_submission(session: Session, actor: Staff, key: str) -> Complaint | None:
    """The complaint ``actor`` already submitted with this idempotency key, if any."""
    return session.scalar(
        select(Complaint).where(
            Complaint.submitted_by_id == actor.id, Complaint.idempotency_key == key
        )
    )


def submit(
    session: Session, actor: Staff, draft: ComplaintDraft, visible: ColumnElement[bool]
) -> tuple[Complaint, bool]:
    """Register a complaint and start its process; a retried submission returns the first one.

    The customer must be one the caller sees (``visible``, the request's row condition): a
    customer they may not see gets the answer of a missing one, so intake tells no one who banks
    here, and no one records data about customers outside their rows.
    Returns the complaint and whether it was created now.
    """
    key = validation.text(draft.idempotency_key, "idempotencyKey", max_length=100)
    existing = find_submission(session, actor, key)
    if existing is not None:
        return existing, False
    problems = Problems()
    customer = session.scalar(select(Customer).where(Customer.id == draft.customer_id, visible))
    if customer is None:
        problems.add("customerId", "NOT_FOUND", "no customer with this ID")
    description = _checked(problems, "description", draft.description, 4000)
    remedy = None
    if draft.requested_remedy is not None:
        remedy = _checked(problems, "requestedRemedy", draft.requested_remedy, 1000, False)
    amount = None
    if draft.amount_in_dispute is not None:
        try:
            amount = validation.money(draft.amount_in_dispute, "amountInDispute")
        except UserInputError as exc:
            problems.extend(exc)
    complained_staff = None
    if draft.complained_staff:
        complained_staff = staff_by_employee_number(session, draft.complained_staff)
        if complained_staff is None:
            problems.add("complainedStaff", "NOT_FOUND", "no staff member with this number")
    if draft.complained_branch_id is not None and (
        session.get(Branch, draft.complained_branch_id) is None
    ):
        problems.add("complainedBranch", "NOT_FOUND", "no branch with this ID")
    problems.raise_if_any()
    assert customer is not None and description is not None
    now = clock.now()
    complaint = Complaint(
        reference="",
        customer_id=customer.id,
        branch_id=customer.branch_id,
        channel=draft.channel,
        category=draft.category,
        description=description,
        requested_remedy=remedy,
        amount_in_dispute=amount,
        complained_staff_id=complained_staff.id if complained_staff else None,
        complained_branch_id=draft.complained_branch_id
        or (complained_staff.branch_id if complained_staff else None),
        idempotency_key=key,
        submitted_by_id=actor.id,
        accepted_at=now,
        status=ComplaintStatus.REGISTERED,
        complexity=Complexity.STANDARD,
        sla_state=SlaState.ON_TRACK,
        decision_due_at=natural_day_deadline(now, DECISION_DAYS[Complexity.STANDARD]),
        systemic=False,
        resolved_on_the_spot=False,
    )
    session.add(complaint)
    session.flush()
    complaint.reference = f"TS{clock.business_date(now):%Y%m%d}-{complaint.id:06d}"
    start_clock(session, complaint)
    add_event(
        session,
        complaint.id,
        ComplaintEventKind.REGISTERED,
        actor,
        {"channel": draft.channel.value},
    )
    _acknowledge(session, complaint)

    start_for(
        session,
        complaint,
        PROCESS_KEY,
        {
            "complaint_id": complaint.id,
            "branch_id": complaint.branch_id,
            "relationship_manager_id": customer.relationship_manager_id,
        },
        actor,
    )
    audit_change(
        session, customer.id, "COMPLAINT", [("reference", None, complaint.reference)], "Complaint"
    )
    return complaint, True


def _checked(
    problems: Problems, field: str, value: str, max_length: int, required: bool = True
) -> str | None:
    try:
        return validation.text(value, field, max_length=max_length, required=required)
    except UserInputError as exc:
        problems.extend(exc)
        return None


def _acknowledge(session: Session, complaint: Complaint) -> None:
    last = last_day(complaint.decision_due_at)
    tell(
        session,
        complaint,
        CustomerMessageKind.ACKNOWLEDGEMENT,
        f"您的投诉已受理（编号 {complaint.reference}），"
        f"我行将最迟于 {last:%Y-%m-%d} 作出处理决定。",
    )


def add_event(
    session: Session,
    complaint_id: int,
    kind: ComplaintEventKind,
    actor: Staff | None,
    details: dict[str, Any] | None = None,
) -> None:
    """One timeline step; details are sealed (handlers write customers' details into them)."""
    session.add(
        ComplaintEvent(
            complaint_id=complaint_id,
            kind=kind.value,
            actor_id=actor.id if actor else None,
            at=clock.now(),
            details=json.dumps(details, ensure_ascii=False, default=str) if details else None,
        )
    )


def tell(
    session: Session,
    complaint: Complaint,
    kind: CustomerMessageKind,
    content: str,
    channel: CustomerMessageChannel = CustomerMessageChannel.SMS,
    proof: str | None = None,
) -> None:
    """Tell the customer something about their complaint and keep the proof of delivery."""
    session.add(
        CustomerMessage(
            complaint_id=complaint.id,
            kind=kind.value,
            channel=channel.value,
            content=content,
            proof_of_delivery=proof or f"{channel.value} gateway receipt {complaint.reference}",
            sent_at=clock.now(),
        )
    )
