"""Assessment (KPI-2): spot checks of customer records, contacts and complaints — the sample
drawn, the inspectors' findings, the rectifications they open — and customers' evaluations of
the staff who served them.

A spot check keeps what it was drawn from (kind, branch, Beijing period, seed, population size
and digest) so the same draw can be repeated and compared. Finding notes, rectification notes
and evaluation comments are sealed at rest: the first two are what an inspector wrote about a
customer's file, the last is what the customer said.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, UTCDateTime


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, validate_strings=True)


class SpotCheckKind(StrEnum):
    CUSTOMER_RECORD = "CUSTOMER_RECORD"  # customer-information quality
    CONTACT = "CONTACT"  # service quality
    COMPLAINT = "COMPLAINT"  # complaint handling (closed complaints)


class SpotCheckStatus(StrEnum):
    OPEN = "OPEN"  # inspectors record findings
    COMPLETED = "COMPLETED"  # findings final; failures opened rectifications


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class RectificationStatus(StrEnum):
    OPEN = "OPEN"  # the owner has to put it right
    RECTIFIED = "RECTIFIED"  # the owner says it is done; the inspector verifies
    VERIFIED = "VERIFIED"  # closed


class EvaluationOccasion(StrEnum):
    CONTACT = "CONTACT"
    COMPLAINT = "COMPLAINT"  # once the complaint is closed


class EvaluationChannel(StrEnum):
    """How the customer gave the rating to the member of staff who recorded it."""

    PHONE = "PHONE"
    COUNTER = "COUNTER"
    VISIT = "VISIT"
    SMS = "SMS"
    WECHAT = "WECHAT"
    ONLINE = "ONLINE"


class SpotCheck(Base):
    __tablename__ = "spot_checks"
    __table_args__ = (Index("ix_spot_checks_created_at", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[SpotCheckKind] = mapped_column(_enum(SpotCheckKind))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    seed: Mapped[int]
    sample_size: Mapped[int]
    population_size: Mapped[int]
    # sha256 of the population's ids in order: a repeated draw shows whether it saw the same.
    population_digest: Mapped[str] = mapped_column(String(64))
    # The checklist version the inspectors answer (criteria and rectification days), copied.
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[SpotCheckStatus] = mapped_column(_enum(SpotCheckStatus))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SpotCheckItem(Base):
    """One sampled record, its responsible member of staff and its inspector."""

    __tablename__ = "spot_check_items"
    __table_args__ = (
        UniqueConstraint("check_id", "subject_id"),
        Index("ix_spot_check_items_inspector", "inspector_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    position: Mapped[int]  # 1 … sample size, in drawing order
    subject_id: Mapped[int]  # the customer, contact or complaint
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    inspected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SpotCheckFinding(Base):
    """One criterion of the checklist, passed or failed, for one sampled record."""

    __tablename__ = "spot_check_findings"
    __table_args__ = (UniqueConstraint("item_id", "criterion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("spot_check_items.id"))
    criterion: Mapped[str] = mapped_column(String(50))
    passed: Mapped[bool]
    severity: Mapped[Severity | None] = mapped_column(_enum(Severity))
    note: Mapped[str | None] = mapped_column(Encrypted("spot_check_findings.note"))


class SpotCheckRectification(Base):
    """A failed finding to put right, by its owner, before its due instant."""

    __tablename__ = "spot_check_rectifications"
    __table_args__ = (Index("ix_spot_check_rectifications_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("spot_check_findings.id"), unique=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[RectificationStatus] = mapped_column(_enum(RectificationStatus))
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectification_note: Mapped[str | None] = mapped_column(
        Encrypted("spot_check_rectifications.rectification_note")
    )
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reopened: Mapped[int] = mapped_column(default=0)
    overdue_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffEvaluation(Base):
    """A customer's rating of the member of staff who served them on one occasion."""

    __tablename__ = "staff_evaluations"
    __table_args__ = (
        UniqueConstraint("occasion", "occasion_id"),
        Index("ix_staff_evaluations_recorded_at", "recorded_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    occasion: Mapped[EvaluationOccasion] = mapped_column(_enum(EvaluationOccasion))
    occasion_id: Mapped[int]
    channel: Mapped[EvaluationChannel] = mapped_column(_enum(EvaluationChannel))
    rating: Mapped[int]  # 1 … 5
    comment: Mapped[str | None] = mapped_column(Encrypted("staff_evaluations.comment"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
