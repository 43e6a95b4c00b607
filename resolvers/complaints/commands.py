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
from core.errors import ConflictError, Problems, UserInputError
from resolvers.complaints import labels, queries
from resolvers.complaints.deadlines import (
    DECISION_DAYS,
    last_day,
    natural_day_deadline,
    start_clock,
)
from resolvers.customers.history import audit_change
from resolvers.outbox import commands as outbox
from resolvers.shared import validation
from resolvers.shared.staff import staff_by_employee_number
from resolvers.workflows import start_for
from store import idempotency
from store.complaints import (
    ALERT_MAJOR,
    Category,
    Channel,
    Complaint,
    ComplaintAlert,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
    Complexity,
    CustomerMessage,
    CustomerMessageChannel,
    CustomerMessageKind,
    SlaState,
)
from store.customers import ContactMethod, Customer, Preferences
from store.outbox import OutboxMessage, OutboxStatus
from store.staff import Branch, Staff

PROCESS_KEY = "complaint"
# The data a complaint's process starts with (what its diagram's expressions may read besides
# form fields and operation results; checked at deploy).
START_VARIABLES = ("complaint_id", "branch_id", "relationship_manager_id")


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
    persons_involved: int = 1
    regulator_reference: str | None = None


@dataclass(frozen=True)
class MajorThresholds:
    """When a complaint is major (重大投诉, CMP-7): it speaks for at least ``persons`` people,
    or disputes at least ``amount`` (settings ``KEHU_MAJOR_COMPLAINT_PERSONS`` and
    ``KEHU_MAJOR_COMPLAINT_AMOUNT``)."""

    persons: int = 20
    amount: Decimal = Decimal("1000000.00")

    def criteria(self, persons: int, amount: Decimal | None) -> list[str]:
        """Which thresholds a complaint reaches (empty: not major)."""
        met = []
        if persons >= self.persons:
            met.append("PERSONS")
        if amount is not None and amount >= self.amount:
            met.append("AMOUNT")
        return met


# How many people one complaint may speak for (a collective complaint of a whole estate is
# still far below this).
MAX_PERSONS = 100_000


def find_submission(session: Session, actor: Staff, key: str) -> Complaint | None:
    """The complaint ``actor`` already submitted with this idempotency key, if any."""
    return session.scalar(
        select(Complaint).where(
            Complaint.submitted_by_id == actor.id, Complaint.idempotency_key == key
        )
    )


def find_retry(session: Session, actor: Staff, draft: ComplaintDraft) -> Complaint | None:
    """The complaint this submission retries (same caller, key and request), if any; a key
    already used for a different request is refused, as for every creating mutation."""
    found = find_submission(session, actor, draft.idempotency_key.strip())
    if found is not None and not _same_request(session, found, draft):
        raise ConflictError(idempotency.KEY_REUSED)
    return found


def _same_request(session: Session, complaint: Complaint, draft: ComplaintDraft) -> bool:
    """Whether ``draft`` asks for what ``complaint`` registered (as it was cleaned then)."""
    try:
        description = validation.text(draft.description, "description", max_length=4000)
        remedy = (
            validation.text(draft.requested_remedy, "requestedRemedy", max_length=1000)
            if draft.requested_remedy is not None
            else None
        )
        amount = (
            validation.money(draft.amount_in_dispute, "amountInDispute")
            if draft.amount_in_dispute is not None
            else None
        )
        referral = (
            validation.text(draft.regulator_reference, "regulatorReference", max_length=64)
            if draft.regulator_reference
            else None
        )
    except UserInputError:
        return False
    staff = (
        staff_by_employee_number(session, draft.complained_staff)
        if draft.complained_staff
        else None
    )
    return (
        complaint.customer_id == draft.customer_id
        and complaint.channel == draft.channel
        and complaint.category == draft.category
        and complaint.description == description
        and (complaint.requested_remedy or None) == (remedy or None)
        and complaint.amount_in_dispute == amount
        and complaint.complained_staff_id == (staff.id if staff else None)
        and draft.complained_branch_id in (None, complaint.complained_branch_id)
        and complaint.persons_involved == draft.persons_involved
        and (complaint.regulator_reference or None) == referral
    )


def submit(
    session: Session,
    actor: Staff,
    draft: ComplaintDraft,
    visible: ColumnElement[bool],
    thresholds: MajorThresholds | None = None,
) -> tuple[Complaint, bool]:
    """Register a complaint and start its process; a retried submission returns the first one.

    The customer must be in the caller's rows (``visible``: their row scopes — not a share
    grant or a consent, which open a customer for reading only): any other customer gets the
    answer of a missing one, so intake tells no one who banks here, and no one records data
    about customers outside their rows. The complaint belongs to the customer's branch.
    Returns the complaint and whether it was created now.
    """
    key = validation.text(draft.idempotency_key, "idempotencyKey", max_length=100)
    existing = find_retry(session, actor, draft)
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
    elif complained_staff is not None and draft.complained_branch_id not in (
        None,
        complained_staff.branch_id,
    ):
        # The unit complained about is recused from handling: naming another one would let
        # the person's own colleagues handle it.
        problems.add(
            "complainedBranch",
            "INCONSISTENT",
            "the staff member complained about works at another branch",
        )
    if not 1 <= draft.persons_involved <= MAX_PERSONS:
        problems.add("personsInvolved", "INVALID", f"must be between 1 and {MAX_PERSONS}")
    referral = None
    if draft.regulator_reference is not None:
        referral = _checked(problems, "regulatorReference", draft.regulator_reference, 64, False)
    if draft.channel is Channel.REGULATOR_REFERRAL and not referral:
        problems.add(
            "regulatorReference", "REQUIRED", "a regulator's referral names its transfer number"
        )
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
        persons_involved=draft.persons_involved,
        regulator_reference=referral or None,
        paused_days=0,
    )
    major = (thresholds or MajorThresholds()).criteria(draft.persons_involved, amount)
    complaint.major = bool(major)
    session.add(complaint)
    session.flush()
    complaint.reference = f"TS{clock.business_date(now):%Y%m%d}-{complaint.id:06d}"
    start_clock(session, complaint)
    add_event(
        session,
        complaint.id,
        ComplaintEventKind.REGISTERED,
        actor,
        {"channel": draft.channel.value, "regulator_referred": referral is not None},
    )
    if major:
        escalate_major(session, complaint, major)
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


def escalate_major(session: Session, complaint: Complaint, criteria: list[str]) -> None:
    """A major complaint goes to head office at once (CMP-7), whatever the diagram does: an
    open alert in head office's list, and the step in the timeline."""
    session.add(ComplaintAlert(complaint_id=complaint.id, kind=ALERT_MAJOR, raised_at=clock.now()))
    add_event(
        session,
        complaint.id,
        ComplaintEventKind.MAJOR_ESCALATED,
        None,
        {"to": "HEAD_OFFICE", "criteria": criteria},
    )


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
    channel: CustomerMessageChannel | None = None,
    proof: str | None = None,
    actor: Staff | None = None,
) -> CustomerMessage:
    """Tell the customer something about their complaint, through the outbox.

    ``channel`` defaults to the customer's preferred contact method where they have an address
    for it. ``proof`` is a delivery staff made themselves (a call, a handed-over notice): the
    message is delivered with their record as proof. Otherwise the outbox's sweep sends it, and
    the channel's answer becomes the proof; a message that cannot be sent (no address) is
    FAILED at once and enters the timeline, so the supervisor sees it.
    """
    customer = session.get_one(Customer, complaint.customer_id)
    chosen = channel or contact_channel(session, customer)
    subject = f"{labels.MESSAGE_KINDS[kind.value]}（编号 {complaint.reference}）"
    queued = outbox.queue(session, customer, chosen.value, subject, content)
    if proof is not None:
        outbox.record_delivery(queued, proof, actor)
    message = CustomerMessage(
        complaint_id=complaint.id,
        kind=kind.value,
        channel=chosen.value,
        content=content,
        proof_of_delivery=None,
        sent_at=clock.now(),
        outbox_id=queued.id,
    )
    session.add(message)
    if queued.status is OutboxStatus.FAILED:
        note_delivery_failure(session, complaint.id, message)
    return message


def contact_channel(session: Session, customer: Customer) -> CustomerMessageChannel:
    """The channel for messages the customer did not choose one for: their preferred contact
    method when they have an address there, else text message, e-mail or letter, in that order."""
    preferences = session.get(Preferences, customer.id)
    preferred = (
        {
            ContactMethod.SMS: CustomerMessageChannel.SMS,
            ContactMethod.EMAIL: CustomerMessageChannel.EMAIL,
            ContactMethod.WECHAT: CustomerMessageChannel.WECHAT,
        }.get(preferences.contact_method)
        if preferences and preferences.contact_method
        else None
    )
    order = [preferred] if preferred else []
    order += [
        CustomerMessageChannel.SMS,
        CustomerMessageChannel.EMAIL,
        CustomerMessageChannel.LETTER,
    ]
    for candidate in order:
        if outbox.recipient_of(customer, candidate.value):
            return candidate
    return CustomerMessageChannel.SMS


def complained_about(complaint: Complaint, staff: Staff) -> bool:
    """Whether ``staff`` is the person the complaint is about (recusal, 办法第十七条)."""
    return complaint.complained_staff_id is not None and staff.id == complaint.complained_staff_id


def refuse_complained_about(
    complaint: Complaint, actor: Staff, field: str, *, unit: bool = False
) -> None:
    """The person complained about acts on no step of the complaint (CMP-2): not through its
    tasks, nor by withdrawing, merging, pausing it or recording a delivery's proof.

    ``unit``: an act that decides how the complaint is handled (withdrawing, merging, pausing,
    resuming) — a complaint about a branch as a unit (no person named) is not ended or stopped
    by that branch's own staff either, the recusal of the handler's tasks (办法第十七条)."""
    if complained_about(complaint, actor):
        raise UserInputError.one(
            (field,), "HANDLER_CONFLICT", "the person complained about is recused from it"
        )
    if (
        unit
        and complaint.complained_staff_id is None
        and complaint.complained_branch_id is not None
        and actor.branch_id == complaint.complained_branch_id
    ):
        raise UserInputError.one(
            (field,), "HANDLER_CONFLICT", "the unit complained about is recused from it"
        )


def record_delivery(
    session: Session,
    actor: Staff,
    complaint_id: int,
    kind: CustomerMessageKind,
    proof: str,
    visible: ColumnElement[bool],
    automatic: frozenset[str] = frozenset(),
) -> Complaint:
    """Staff delivered the latest undelivered ``kind`` message themselves (a registered letter
    while no postal gateway is plugged in, a notice handed over, a message whose automatic
    sending failed for good): their record is the proof. Refused while an automatic sender
    (on the ``automatic`` channels, or one that has tried the message) still owns it."""
    complaint = queries.get(session, complaint_id, visible)
    refuse_complained_about(complaint, actor, "complaint")
    text = validation.text(proof, "proof", max_length=300)
    found = session.execute(
        select(CustomerMessage, OutboxMessage)
        .join(OutboxMessage, OutboxMessage.id == CustomerMessage.outbox_id)
        .where(
            CustomerMessage.complaint_id == complaint.id,
            CustomerMessage.kind == kind.value,
            # A cancelled message was never sent (its complaint ended): nothing to prove.
            OutboxMessage.status.not_in((OutboxStatus.DELIVERED, OutboxStatus.CANCELLED)),
        )
        .order_by(CustomerMessage.id.desc())
        .limit(1)
        .with_for_update(of=OutboxMessage)
    ).first()
    if found is None:
        raise UserInputError.one(("kind",), "NOT_FOUND", "no undelivered message of this kind")
    message, queued = found
    if outbox.owned_by_sender(queued, automatic):
        raise UserInputError.one(
            ("proof",),
            "PROOF_FROM_CHANNEL",
            "the channel's sender is delivering this message: its answer is the proof",
        )
    outbox.record_delivery(queued, text, actor)
    add_event(
        session,
        complaint.id,
        ComplaintEventKind.DELIVERY_RECORDED,
        actor,
        {"message": message.kind, "channel": message.channel},
    )
    return complaint


def note_delivery_failure(session: Session, complaint_id: int, message: CustomerMessage) -> None:
    """A message that will not reach the customer enters the timeline (the supervisor's view)."""
    add_event(
        session,
        complaint_id,
        ComplaintEventKind.DELIVERY_FAILED,
        None,
        {"message": message.kind, "channel": message.channel},
    )


def on_outbox_failure(session: Session, failed: OutboxMessage) -> None:
    """Outbox failure listener: the complaint whose message failed records it."""
    message = session.scalar(select(CustomerMessage).where(CustomerMessage.outbox_id == failed.id))
    if message is not None:
        note_delivery_failure(session, message.complaint_id, message)
