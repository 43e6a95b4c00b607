"""Customers' evaluations of staff (KPI-2): a 1 … 5 rating of the member of staff who served
them on a contact or a closed complaint, recorded by staff on the customer's behalf — once per
occasion, never by the member of staff evaluated.

The evaluated member of staff is the occasion's: who made the contact, or the complaint's
handler. Runs inside the caller's unit of work and never commits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.errors import UserInputError
from core.text import blank
from resolvers.shared import unit_of_work, validation
from store.assessment import EvaluationChannel, EvaluationOccasion, StaffEvaluation
from store.complaints import Complaint, ComplaintStatus
from store.contacts import Contact
from store.staff import Staff

MAX_COMMENT = 2000


def evaluated_staff(
    session: Session, customer_id: int, occasion: EvaluationOccasion, occasion_id: int
) -> int:
    """The member of staff the occasion of this customer evaluates. Another customer's
    occasion answers as one that does not exist."""
    if occasion is EvaluationOccasion.CONTACT:
        staff = session.scalar(
            select(Contact.staff_id).where(
                Contact.id == occasion_id, Contact.customer_id == customer_id
            )
        )
        if staff is None:
            raise UserInputError.one(("occasionId",), "NOT_FOUND", "no contact with this customer")
        return staff
    found = session.execute(
        select(Complaint.status, Complaint.handler_id).where(
            Complaint.id == occasion_id, Complaint.customer_id == customer_id
        )
    ).first()
    if found is None:
        raise UserInputError.one(("occasionId",), "NOT_FOUND", "no complaint of this customer")
    if found.status is not ComplaintStatus.CLOSED:
        raise UserInputError.one(("occasionId",), "NOT_CLOSED", "evaluate once it is closed")
    if found.handler_id is None:
        raise UserInputError.one(("occasionId",), "NO_STAFF", "nobody handled this complaint")
    return int(found.handler_id)


def record(
    session: Session,
    actor: Staff,
    customer_id: int,
    occasion: EvaluationOccasion,
    occasion_id: int,
    channel: EvaluationChannel,
    rating: int,
    comment: str | None,
) -> StaffEvaluation:
    if not 1 <= rating <= 5:
        raise UserInputError.one(("rating",), "OUT_OF_RANGE", "must be 1 … 5")
    text = None
    if comment is not None and not blank(comment):
        text = validation.text(comment, "comment", max_length=MAX_COMMENT)
    staff_id = evaluated_staff(session, customer_id, occasion, occasion_id)
    if staff_id == actor.id:
        raise UserInputError.one(
            ("occasionId",), "SELF_EVALUATION", "another member of staff records your rating"
        )
    taken = select(StaffEvaluation.id).where(
        StaffEvaluation.occasion == occasion, StaffEvaluation.occasion_id == occasion_id
    )
    if session.scalar(taken) is not None:
        raise UserInputError.one(("occasionId",), "ALREADY_EVALUATED", "evaluated already")
    row = StaffEvaluation(
        customer_id=customer_id,
        staff_id=staff_id,
        occasion=occasion,
        occasion_id=occasion_id,
        channel=channel,
        rating=rating,
        comment=text,
        recorded_by_id=actor.id,
        recorded_at=clock.now(),
    )
    try:
        # A concurrent evaluation of the same occasion meets the unique key: the same answer.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise UserInputError.one(
            ("occasionId",), "ALREADY_EVALUATED", "evaluated already"
        ) from None
    unit_of_work.note(session, f"staff evaluated: {rating}", customer_ids=[customer_id])
    return row
