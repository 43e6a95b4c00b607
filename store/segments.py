"""Customer segments (SEG-1, SEG-4): value rule sets, runs, current segments, history, overrides.

A rule set is data: a numbered version of the value model (weights, full-score thresholds, AUM
cut-offs per tier, the score that lifts a tier, the private-banking mark), the newest version in
force. A run classifies customers under one version; each customer's current computed segment
is one row of ``customer_segments`` (with the inputs it was computed from, so it explains
itself), and every change of it is a row of ``segment_changes``. A supervisor's override is its
own row with an expiry; the segment shown is the override while it is in force and the computed
one after — read at query time, so an expiry needs no job.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from store.base import Base, Encrypted, Money, UTCDateTime


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, validate_strings=True)


class ValueTier(StrEnum):
    """Value tiers, lowest first (their order is the order of the AUM cut-offs)."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


TIER_ORDER = (ValueTier.LOW, ValueTier.MEDIUM, ValueTier.HIGH)


class ValueInput(StrEnum):
    """The inputs of the value model (SEG-1)."""

    AUM = "AUM"  # monthly-average assets under management (latest financial snapshot)
    TRANSACTION_FREQUENCY = "TRANSACTION_FREQUENCY"  # transactions in the last 12 months
    DEPOSIT_BALANCE = "DEPOSIT_BALANCE"  # demand and time deposits of open accounts
    LOAN_AMOUNT = "LOAN_AMOUNT"  # loans outstanding on open accounts
    FEE_INCOME = "FEE_INCOME"  # fees paid in the last 12 months


class RiskGrade(StrEnum):
    """Risk grades (SEG-3), lowest risk first (a signal or band can only raise a grade)."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


RISK_ORDER = (RiskGrade.LOW, RiskGrade.MEDIUM, RiskGrade.HIGH)


class RiskSignal(StrEnum):
    """What the risk model reads (SEG-3): the credit-score band and early-warning signals."""

    CREDIT_SCORE = "CREDIT_SCORE"  # latest risk assessment's credit score (band, not a signal)
    DAYS_PAST_DUE = "DAYS_PAST_DUE"  # most days past due over open loans and credit cards
    LARGE_OUTFLOW = "LARGE_OUTFLOW"  # money flowing out within the signal's window, CNY
    AUM_DROP = "AUM_DROP"  # % fall of AUM from the window's highest snapshot to the latest
    MARKET_RISK = "MARKET_RISK"  # highest product risk level (R1 … R5) of wealth held


class SegmentDimension(StrEnum):
    """The kinds of segment a customer has (SEG-5 maps each segment to its measures)."""

    VALUE_TIER = "VALUE_TIER"
    NEED = "NEED"
    RISK_GRADE = "RISK_GRADE"


class MeasureAction(StrEnum):
    """What the system does about a service measure by itself (SEG-5)."""

    MANAGER_WORKLIST = "MANAGER_WORKLIST"  # no dedicated manager: on the supervisor's worklist
    REASSESSMENT_TASK = "REASSESSMENT_TASK"  # a periodic re-assessment task in the inbox


class RunScope(StrEnum):
    CUSTOMER = "CUSTOMER"  # one customer, after a change of its inputs
    BRANCH = "BRANCH"  # a supervisor's branch
    BANK = "BANK"  # everyone


class RunStatus(StrEnum):
    """Where a run stands: a bulk run waits for a worker, runs, and ends DONE or FAILED."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


# ``SegmentRun.active`` of a bulk run waiting or running: unique, so a second one cannot start.
BULK_SLOT = "BULK"


class ChangeReason(StrEnum):
    FIRST_CLASSIFICATION = "FIRST_CLASSIFICATION"
    INPUTS_CHANGED = "INPUTS_CHANGED"
    RECLASSIFIED = "RECLASSIFIED"
    OVERRIDE = "OVERRIDE"
    OVERRIDE_WITHDRAWN = "OVERRIDE_WITHDRAWN"
    # Never stored: read from an override whose expiry has passed (no job writes it).
    OVERRIDE_EXPIRED = "OVERRIDE_EXPIRED"


# The reasons of changes of the computed tier (the others are overrides beginning or ending).
COMPUTED_REASONS = (
    ChangeReason.FIRST_CLASSIFICATION,
    ChangeReason.INPUTS_CHANGED,
    ChangeReason.RECLASSIFIED,
)


class SegmentRuleSet(Base):
    """One version of a segmentation model; the newest version of a model is in force."""

    __tablename__ = "segment_rule_sets"
    __table_args__ = (UniqueConstraint("model", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(20))  # "VALUE"
    version: Mapped[int]
    # {"factors": [{"input", "weight", "full_score_at"}], "cut_offs": [{"tier", "from_aum",
    # "below_aum"}], "lift_score", "private_banking_aum"} — decimals as strings.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(String(500))
    changed_by: Mapped[str] = mapped_column(String(40))  # employee no, or "system" (file)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class SegmentRun(Base):
    """A classification run: which customers, under which rule-set version, what changed."""

    __tablename__ = "segment_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_set_version: Mapped[int]
    scope: Mapped[RunScope] = mapped_column(_enum(RunScope))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    started_by: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    # Bulk runs run in the background (a worker); one-customer runs are DONE at once.
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus), default=RunStatus.DONE)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # A running run's worker touches this after every chunk; a stale one means it stopped.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure: Mapped[str | None] = mapped_column(String(300))
    # BULK_SLOT while a bulk run waits or runs, else NULL: unique, so at most one at a time
    # (NULLs never collide, on SQLite and PostgreSQL alike).
    active: Mapped[str | None] = mapped_column(String(10), unique=True)
    risk_rule_set_version: Mapped[int | None]  # the risk model's version (SEG-3)


class CustomerSegment(Base):
    """A customer's computed value segment and the inputs it was computed from."""

    __tablename__ = "customer_segments"
    # Half-empty pages on PostgreSQL: a run updates every row in place (its run and time), and
    # a row that stays on its page keeps its index entries (HOT) — 0027.
    __table_args__ = (
        Index("ix_customer_segments_score", "score", "customer_id"),
        {"postgresql_with": {"fillfactor": 50}},
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    # The run that computed it. Not a foreign key: runs are never deleted, and checking it cost
    # a quarter of a bank-wide run's time on PostgreSQL (one trigger call per customer);
    # ``segment_changes.run_id`` keeps the checked reference.
    run_id: Mapped[int]
    rule_set_version: Mapped[int]
    aum: Mapped[Decimal] = mapped_column(Money)
    transaction_count: Mapped[int]
    deposit_balance: Mapped[Decimal] = mapped_column(Money)
    loan_amount: Mapped[Decimal] = mapped_column(Money)
    fee_income: Mapped[Decimal] = mapped_column(Money)
    # 0 … 10000: hundredths of a point of the 0 … 100 value score (exact on every backend).
    score: Mapped[int]
    tier: Mapped[ValueTier] = mapped_column(_enum(ValueTier), index=True)
    private_banking: Mapped[bool]
    # Needs (SEG-2) derived from holdings and transactions; staff settings are ``CustomerNeed``.
    needs_investment: Mapped[bool]
    needs_financing: Mapped[bool]
    needs_settlement: Mapped[bool]
    classified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Risk (SEG-3): the grade, the risk rule set that computed it and the values it read (the
    # signals that caused the grade are these values against that version's thresholds).
    # Null: computed before the risk model existed (the next run fills them).
    risk_rule_set_version: Mapped[int | None]
    # Not indexed: a bank-wide run rewrites every row, and HIGH is too common for an index.
    risk_grade: Mapped[RiskGrade | None] = mapped_column(_enum(RiskGrade))
    credit_score: Mapped[int | None]
    days_past_due: Mapped[int | None]
    outflow: Mapped[Decimal | None] = mapped_column(Money)
    aum_drop: Mapped[int | None]  # hundredths of a per cent (exact on every backend)
    market_risk: Mapped[int | None]


class SegmentStaging(Base):
    """A run's results before they replace the current segments (emptied by the run)."""

    __tablename__ = "segment_staging"

    run_id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(primary_key=True)
    aum: Mapped[Decimal] = mapped_column(Money)
    transaction_count: Mapped[int]
    deposit_balance: Mapped[Decimal] = mapped_column(Money)
    loan_amount: Mapped[Decimal] = mapped_column(Money)
    fee_income: Mapped[Decimal] = mapped_column(Money)
    score: Mapped[int]
    tier: Mapped[str] = mapped_column(String(32))
    private_banking: Mapped[bool]
    needs_investment: Mapped[bool]
    needs_financing: Mapped[bool]
    needs_settlement: Mapped[bool]
    risk_grade: Mapped[str | None] = mapped_column(String(32))
    credit_score: Mapped[int | None]
    days_past_due: Mapped[int | None]
    outflow: Mapped[Decimal | None] = mapped_column(Money)
    aum_drop: Mapped[int | None]
    market_risk: Mapped[int | None]


class SegmentOverride(Base):
    """A supervisor's override of a customer's tier, with a reason, until it expires."""

    __tablename__ = "segment_overrides"
    __table_args__ = (Index("ix_segment_overrides_customer", "customer_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    tier: Mapped[ValueTier] = mapped_column(_enum(ValueTier))
    reason: Mapped[str] = mapped_column(Encrypted("segment_overrides.reason"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Withdrawn early (or replaced by a newer override).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Need(StrEnum):
    """A customer's needs (SEG-2); a customer can have several."""

    INVESTMENT = "INVESTMENT"
    FINANCING = "FINANCING"
    SETTLEMENT = "SETTLEMENT"


# Each need and the column of a segment that derived it (a change keeps it as ``to_…``).
DERIVED_NEEDS = {
    Need.INVESTMENT: "needs_investment",
    Need.FINANCING: "needs_financing",
    Need.SETTLEMENT: "needs_settlement",
}


class NeedSource(StrEnum):
    """Where a need shown comes from."""

    DERIVED = "DERIVED"  # holdings and transactions, by the last classification
    STAFF = "STAFF"  # set by staff with a reason (``CustomerNeed``)


class CustomerNeed(Base):
    """A need set by staff, with a reason: it counts instead of the derived one (the newest
    setting per need wins; earlier ones are kept). ``present`` null: staff cleared their
    setting, the derived need counts again."""

    __tablename__ = "customer_needs"
    __table_args__ = (Index("ix_customer_needs_customer", "customer_id", "need", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    need: Mapped[Need] = mapped_column(_enum(Need))
    present: Mapped[bool | None]
    reason: Mapped[str] = mapped_column(Encrypted("customer_needs.reason"))
    set_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SegmentChange(Base):
    """One change of a customer's segment: from → to, why, by which run or override."""

    __tablename__ = "segment_changes"
    __table_args__ = (Index("ix_segment_changes_customer", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    from_tier: Mapped[str | None] = mapped_column(String(32))
    to_tier: Mapped[str] = mapped_column(String(32))
    from_private_banking: Mapped[bool | None]
    to_private_banking: Mapped[bool]
    reason: Mapped[ChangeReason] = mapped_column(_enum(ChangeReason))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("segment_runs.id"))
    override_id: Mapped[int | None] = mapped_column(ForeignKey("segment_overrides.id"))
    rule_set_version: Mapped[int | None]
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who overrode or withdrew (employee no); a run's changes name its run (and its starter).
    changed_by: Mapped[str | None] = mapped_column(String(40))
    # The risk grade (SEG-3) before and after; equal when only the value segment changed (on
    # overrides: the computed grade in force then; null on overrides kept before 0029).
    from_risk_grade: Mapped[str | None] = mapped_column(String(32))
    to_risk_grade: Mapped[str | None] = mapped_column(String(32))
    risk_rule_set_version: Mapped[int | None]
    # The needs (SEG-2) the run derived, after the change (a change of derived needs alone is
    # a change too); null: recorded before 0029. Staff settings are ``CustomerNeed``.
    to_needs_investment: Mapped[bool | None]
    to_needs_financing: Mapped[bool | None]
    to_needs_settlement: Mapped[bool | None]
