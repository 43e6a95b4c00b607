"""Club reads (REL-4): the events in the caller's reach with their counts, the member tiers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.club import ClubEvent, ClubInvitation, ClubRegistration, ClubTier
from store.staff import Branch


@dataclass(frozen=True)
class EventCounts:
    invited: int
    attended: int


EVENT_KEYS = [SortKey(ClubEvent.starts_at, False, datetime), SortKey(ClubEvent.id, False, int)]


def event_page(
    session: Session,
    reach: ColumnElement[bool],
    condition: ColumnElement[bool],
    request: PageRequest,
) -> Page:
    """One page of the events in reach, soonest first."""
    statement = select(ClubEvent).where(reach, condition)
    return paginate(session, statement, EVENT_KEYS, request, lambda e: [e.starts_at, e.id])


def event(session: Session, reach: ColumnElement[bool], event_id: int) -> ClubEvent | None:
    return session.scalar(select(ClubEvent).where(ClubEvent.id == event_id, reach))


def counts(session: Session, event_ids: Sequence[int]) -> dict[int, EventCounts]:
    """Invitations and attendance of the events, two statements for any number of events."""
    invited: dict[int, int] = {
        event_id: count
        for event_id, count in session.execute(
            select(ClubInvitation.event_id, func.count())
            .where(ClubInvitation.event_id.in_(event_ids))
            .group_by(ClubInvitation.event_id)
        )
    }
    attended: dict[int, int] = {
        event_id: count
        for event_id, count in session.execute(
            select(ClubRegistration.event_id, func.count())
            .where(
                ClubRegistration.event_id.in_(event_ids), ClubRegistration.attended_at.is_not(None)
            )
            .group_by(ClubRegistration.event_id)
        )
    }
    return {i: EventCounts(invited.get(i, 0), attended.get(i, 0)) for i in event_ids}


def tiers(session: Session) -> list[ClubTier]:
    return list(session.scalars(select(ClubTier).order_by(ClubTier.tier)))


def branches(session: Session, ids: set[int]) -> list[Branch]:
    return list(session.scalars(select(Branch).where(Branch.id.in_(ids))))
