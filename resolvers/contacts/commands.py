"""Logging a contact (REL-1): validated, stored, the customer's latest contact kept, and a next
step with a date opened as a follow-up task in the manager's inbox.

Runs inside the caller's unit of work and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers import workflows
from resolvers.shared import unit_of_work, validation
from resolvers.surveys import commands as surveys
from store.contacts import Contact, ContactChannel, ContactPurpose, ContactStatus, PhoneLine
from store.customers import Customer
from store.staff import Role, Staff

FOLLOW_UP_PROCESS = "contact_follow_up"
# The data a follow-up starts with (what its diagram's expressions may read).
FOLLOW_UP_DATA = ("contact_id", "customer_id", "branch_id", "manager_id", "follow_up_due_at")
MAX_SUMMARY = 2000
MAX_TEXT = 1000
# A next step is planned for the coming year at most.
MAX_PLANNED = timedelta(days=366)


@dataclass(frozen=True)
class NewContact:
    """What a caller logs (raw input; checked by :func:`log_contact`)."""

    channel: ContactChannel
    phone_line: PhoneLine | None
    purpose: ContactPurpose
    contacted_at: datetime
    summary: str
    outcome: str | None
    next_step: str | None
    next_step_due_on: date | None


def _checked(given: NewContact, leeway: timedelta) -> NewContact:
    """The input with its texts cleaned, or every problem at once (each naming its field)."""
    problems = Problems()
    contacted_at = given.contacted_at
    problem = validation.instant_problem(contacted_at)
    if problem is not None:
        problems.add(("contactedAt",), "INVALID", problem)
    elif contacted_at > clock.now() + leeway:
        # The leeway is the clock skew tolerated on tokens: a contact logged "now" by a client
        # whose clock runs a second ahead is not in the future.
        problems.add(("contactedAt",), "DATE_IN_FUTURE", "must not be in the future")
    if given.channel is ContactChannel.PHONE and given.phone_line is None:
        problems.add(("phoneLine",), "REQUIRED", "say whether the hotline or the manager called")
    if given.channel is not ContactChannel.PHONE and given.phone_line is not None:
        problems.add(("phoneLine",), "INVALID", "only a phone contact has a phone line")
    texts: dict[str, str | None] = {}
    for name, field, value, limit, required in (
        ("summary", "summary", given.summary, MAX_SUMMARY, True),
        ("outcome", "outcome", given.outcome, MAX_TEXT, False),
        ("next_step", "nextStep", given.next_step, MAX_TEXT, False),
    ):
        try:
            texts[name] = (
                None
                if value is None
                else validation.text(value, field, max_length=limit, required=required) or None
            )
        except UserInputError as exc:
            problems.extend(exc)
    due_on = given.next_step_due_on
    if due_on is not None:
        today = clock.today()
        if due_on < today:
            problems.add(("nextStepDueOn",), "DATE_IN_PAST", "must be today or later")
        elif due_on > today + MAX_PLANNED:
            problems.add(("nextStepDueOn",), "TOO_LONG", "must be within a year")
        elif "next_step" in texts and texts["next_step"] is None:
            problems.add(("nextStep",), "REQUIRED", "a dated next step needs its action")
    problems.raise_if_any()
    contacted_at = contacted_at.astimezone(UTC)  # times are UTC, in answers as in storage
    return NewContact(
        channel=given.channel,
        phone_line=given.phone_line,
        purpose=given.purpose,
        contacted_at=contacted_at,
        summary=texts["summary"] or "",
        outcome=texts["outcome"],
        next_step=texts["next_step"],
        next_step_due_on=due_on,
    )


def log_contact(
    session: Session, actor: Staff, customer_id: int, given: NewContact, leeway: timedelta
) -> Contact:
    """Record a contact with a customer the caller may change (checked by the caller).

    The customer's latest contact moves only forward: a contact logged late for an earlier day
    counts for that day's cadence period, not for today's.
    """
    checked = _checked(given, leeway)
    contact = Contact(
        customer_id=customer_id,
        staff_id=actor.id,
        channel=checked.channel,
        phone_line=checked.phone_line,
        purpose=checked.purpose,
        contacted_at=checked.contacted_at,
        summary=checked.summary,
        outcome=checked.outcome,
        next_step=checked.next_step,
        next_step_due_on=checked.next_step_due_on,
        recorded_at=clock.now(),
    )
    session.add(contact)
    session.flush()
    _keep_latest(session, contact)
    if checked.next_step_due_on is not None:
        _open_follow_up(session, actor, contact, checked.next_step_due_on)
    # REL-5: a conversation of the configured purposes and channels asks how it went.
    surveys.after_contact(session, actor, contact)
    unit_of_work.note(
        session,
        f"contact logged: {checked.channel.value}, {checked.purpose.value}",
        customer_ids=[customer_id],
    )
    return contact


def _keep_latest(session: Session, contact: Contact) -> None:
    status = session.scalar(
        select(ContactStatus).where(ContactStatus.customer_id == contact.customer_id)
    )
    if status is None:
        session.add(
            ContactStatus(
                customer_id=contact.customer_id,
                last_contact_id=contact.id,
                last_contacted_at=contact.contacted_at,
                last_channel=contact.channel,
            )
        )
    elif contact.contacted_at >= status.last_contacted_at:
        status.last_contact_id = contact.id
        status.last_contacted_at = contact.contacted_at
        status.last_channel = contact.channel
    session.flush()


def _open_follow_up(session: Session, actor: Staff, contact: Contact, due_on: date) -> None:
    """The next step as a task of the customer's relationship manager (or, for a customer
    without one, of the manager who logged it; else of the branch's managers), due at the end
    of its Beijing day."""
    customer = session.get_one(Customer, contact.customer_id)
    manager = customer.relationship_manager_id
    if manager is None and Role.RELATIONSHIP_MANAGER in actor.roles:
        manager = actor.id
    data = {
        "contact_id": contact.id,
        "customer_id": customer.id,
        "branch_id": customer.branch_id,
        "manager_id": manager,
        "follow_up_due_at": clock.end_of_business_day(due_on).isoformat(),
    }
    workflows.start_for(session, contact, FOLLOW_UP_PROCESS, data, actor)
