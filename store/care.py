"""Care (REL-4): the occasions a care run found for a customer, and the runs themselves.

A care occasion is one customer's birthday, festival or scheduled call-back on one Beijing
date: a task for the customer's relationship manager and, for greetings, the message queued in
the outbox. ``(customer, occasion, date)`` is unique in the database, so a second run for the
same day — or two runs at once — never creates the same care twice.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, UTCDateTime


class CareOccasion(Base):
    """One customer's care on one occasion (a care task, and its message if one is sent)."""

    __tablename__ = "care_occasions"
    __table_args__ = (
        UniqueConstraint("customer_id", "occasion", "occasion_on", name="uq_care_occasion"),
        Index("ix_care_occasions_day", "occasion_on", "id"),
        Index("ix_care_occasions_manager", "relationship_manager_id", "occasion_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # BIRTHDAY, CALL_BACK, or a festival's code from care.toml (SPRING_FESTIVAL, NATIONAL_DAY …).
    occasion: Mapped[str] = mapped_column(String(40))
    occasion_on: Mapped[date]
    # The tier the offer followed (not classified: LOW); the offer or gift given, if any.
    tier: Mapped[str] = mapped_column(String(16))
    offer: Mapped[str | None] = mapped_column(String(200))
    relationship_manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The channel of the message; null: no message (a call-back, or staff deliver it in person).
    channel: Mapped[str | None] = mapped_column(String(32))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    run_id: Mapped[int] = mapped_column(ForeignKey("care_runs.id"))


class CareRun(Base):
    """One care run for one Beijing date (by the CLI, or the worker once a day)."""

    __tablename__ = "care_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_on: Mapped[date] = mapped_column(index=True)
    started_by: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    occasions: Mapped[int] = mapped_column(default=0)
    messages: Mapped[int] = mapped_column(default=0)
