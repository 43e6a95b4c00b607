"""Batch loaders of a page of complaints' parts: timelines, messages, rectification items."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.complaints import (
    Complaint,
    ComplaintDeadline,
    ComplaintEvent,
    ComplaintPause,
    CustomerMessage,
    DeadlineStage,
    Rectification,
)
from store.outbox import OutboxMessage
from store.staff import Staff


def events(
    session: Session, complaint_ids: Sequence[int]
) -> dict[int, list[tuple[ComplaintEvent, str | None]]]:
    """Each complaint's timeline, oldest first, with the actor's employee number."""
    found: dict[int, list[tuple[ComplaintEvent, str | None]]] = {i: [] for i in complaint_ids}
    rows = session.execute(
        select(ComplaintEvent, Staff.employee_no)
        .outerjoin(Staff, Staff.id == ComplaintEvent.actor_id)
        .where(ComplaintEvent.complaint_id.in_(list(complaint_ids)))
        .order_by(ComplaintEvent.id)
    )
    for event, employee_no in rows:
        found[event.complaint_id].append((event, employee_no))
    return found


def messages(
    session: Session, complaint_ids: Sequence[int]
) -> dict[int, list[tuple[CustomerMessage, OutboxMessage | None]]]:
    """Each complaint's messages, oldest first, with their outbox row (its delivery)."""
    found: dict[int, list[tuple[CustomerMessage, OutboxMessage | None]]] = {
        i: [] for i in complaint_ids
    }
    rows = session.execute(
        select(CustomerMessage, OutboxMessage)
        .outerjoin(OutboxMessage, OutboxMessage.id == CustomerMessage.outbox_id)
        .where(CustomerMessage.complaint_id.in_(complaint_ids))
        .order_by(CustomerMessage.id)
    )
    for message, sent in rows:
        found[message.complaint_id].append((message, sent))
    return found


def rectifications(session: Session, complaint_ids: Sequence[int]) -> dict[int, Rectification]:
    rows = session.scalars(
        select(Rectification).where(Rectification.complaint_id.in_(list(complaint_ids)))
    )
    return {row.complaint_id: row for row in rows}


def pauses(session: Session, complaint_ids: Sequence[int]) -> dict[int, list[ComplaintPause]]:
    found: dict[int, list[ComplaintPause]] = {i: [] for i in complaint_ids}
    for pause in session.scalars(
        select(ComplaintPause)
        .where(ComplaintPause.complaint_id.in_(list(complaint_ids)))
        .order_by(ComplaintPause.id)
    ):
        found[pause.complaint_id].append(pause)
    return found


def merged_from(session: Session, complaint_ids: Sequence[int]) -> dict[int, list[int]]:
    """The repeated complaints merged into each complaint, oldest first (CMP-7)."""
    found: dict[int, list[int]] = {i: [] for i in complaint_ids}
    for pk, into in session.execute(
        select(Complaint.id, Complaint.merged_into_id)
        .where(Complaint.merged_into_id.in_(list(complaint_ids)))
        .order_by(Complaint.id)
    ):
        if into is not None:
            found[into].append(pk)
    return found


def deadlines(session: Session, complaint_ids: Sequence[int]) -> dict[int, list[ComplaintDeadline]]:
    """Each complaint's clocks, oldest first (not the progress updates: they are no deadline)."""
    found: dict[int, list[ComplaintDeadline]] = {i: [] for i in complaint_ids}
    for row in session.scalars(
        select(ComplaintDeadline)
        .where(
            ComplaintDeadline.complaint_id.in_(list(complaint_ids)),
            ComplaintDeadline.stage != DeadlineStage.PROGRESS,
        )
        .order_by(ComplaintDeadline.id)
    ):
        found[row.complaint_id].append(row)
    return found
