"""The customer club (REL-4): which value tiers are members and at which level, club events
(lectures, investment salons, family activities) of a branch with a capacity, invitations by
segment, registrations and attendance.

``club_events.registered`` counts the registrations: a registration takes a seat with one
conditional update (``registered < capacity``), so two registrations for the last seat cannot
both win — on PostgreSQL the second waits for the first's row lock and then finds no seat.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from store.base import Base, UTCDateTime
from store.segments import ValueTier


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, validate_strings=True)


class ClubEventKind(StrEnum):
    LECTURE = "LECTURE"
    INVESTMENT_SALON = "INVESTMENT_SALON"
    FAMILY_ACTIVITY = "FAMILY_ACTIVITY"


class ClubTier(Base):
    """A value tier whose customers are club members, and their membership level (reference
    data: a tier without a row is not a member)."""

    __tablename__ = "club_tiers"

    tier: Mapped[ValueTier] = mapped_column(_enum(ValueTier), primary_key=True)
    level: Mapped[str] = mapped_column(String(32))
    # The level's name as customers read it (Chinese).
    label: Mapped[str] = mapped_column(String(100))


class ClubEvent(Base):
    """A club event of one branch."""

    __tablename__ = "club_events"
    __table_args__ = (Index("ix_club_events_branch", "branch_id", "starts_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ClubEventKind] = mapped_column(_enum(ClubEventKind))
    title: Mapped[str] = mapped_column(String(200))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int]
    registered: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # A cancelled event takes no registration; its registrants were told through the outbox.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))


class ClubInvitation(Base):
    """A customer invited to an event (at most once: the unique key makes inviting idempotent)."""

    __tablename__ = "club_invitations"
    __table_args__ = (UniqueConstraint("event_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("club_events.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClubRegistration(Base):
    """A customer registered for an event, and whether they came."""

    __tablename__ = "club_registrations"
    __table_args__ = (UniqueConstraint("event_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("club_events.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendance_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
