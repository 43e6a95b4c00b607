"""Scorecards (KPI-2) and what rests on them (KPI-3): the head office's weight versions, the
frozen scorecards of each assessment run with every indicator line, and the honours awarded.

Nothing here is updated after it is written: a run is frozen (a recomputation is a new run, a
new version of the period), and a weight version changes only by ending an open one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base, UTCDateTime


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal kept as its text (values of every kind of indicator, scores): the same
    digits on SQLite and PostgreSQL, never through a float. Frozen records are read, not summed
    in SQL."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class ScorecardWeightVersion(Base):
    """One version of the scorecard weights, in force for the Beijing dates ``valid_from`` …
    ``valid_to`` (inclusive; null: open-ended). Versions never overlap."""

    __tablename__ = "scorecard_weight_versions"
    __table_args__ = (UniqueConstraint("version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int]
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    # {"levels": [{"level", "indicators": [{"indicator", "weight", "direction", "target",
    # "floor"}]}], "honours": [{"title", "level", "top", "min_score", "min_customers",
    # "no_major_complaint"}]} — decimals as strings.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(String(500))
    changed_by: Mapped[str] = mapped_column(String(40))  # employee no, or "system" (the file)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScorecardRun(Base):
    """An assessment of a period (a month or quarter) for the bank or one branch: version
    ``version`` of the period's scorecards, frozen."""

    __tablename__ = "scorecard_runs"
    __table_args__ = (UniqueConstraint("period", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(10))  # 2026-Q3, 2026-09
    version: Mapped[int]
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))  # null: the bank
    weight_version: Mapped[int]
    # The honour rules applied (the weight version's), kept with the honours they awarded.
    honour_rules: Mapped[list[Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))
    computed_by: Mapped[str] = mapped_column(String(40))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Scorecard(Base):
    """The frozen scorecard of a branch, team or staff member in a run."""

    __tablename__ = "scorecards"
    __table_args__ = (Index("ix_scorecards_run", "run_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scorecard_runs.id"))
    level: Mapped[str] = mapped_column(String(10))  # BRANCH, TEAM, STAFF
    subject_id: Mapped[int]  # the branch, team or staff id
    label: Mapped[str] = mapped_column(String(100))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))  # a member's team
    score: Mapped[Decimal | None] = mapped_column(DecimalText)  # null: no indicator had a value
    rank: Mapped[int | None]  # among the run's scorecards of the level (1: best)
    customers: Mapped[int]
    major_complaints: Mapped[int]
    # Written with the scorecard; read with one statement per run (never lazily).
    lines: Mapped[list[ScorecardLine]] = relationship(lazy="raise", order_by="ScorecardLine.id")


class ScorecardLine(Base):
    """One indicator of a scorecard: its value as computed then, and its normalised score."""

    __tablename__ = "scorecard_lines"
    __table_args__ = (Index("ix_scorecard_lines_scorecard", "scorecard_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id"))
    indicator: Mapped[str] = mapped_column(String(40))
    weight: Mapped[Decimal] = mapped_column(DecimalText)
    direction: Mapped[str] = mapped_column(String(10))
    target: Mapped[Decimal] = mapped_column(DecimalText)
    floor: Mapped[Decimal] = mapped_column(DecimalText)
    value: Mapped[Decimal | None] = mapped_column(DecimalText)
    numerator: Mapped[Decimal | None] = mapped_column(DecimalText)
    denominator: Mapped[Decimal | None] = mapped_column(DecimalText)
    null_reason: Mapped[str | None] = mapped_column(String(30))
    score: Mapped[Decimal | None] = mapped_column(DecimalText)


class ScorecardHonour(Base):
    """An honour title awarded in a run to one of its scorecards, by the rule at ``rule``."""

    __tablename__ = "scorecard_honours"
    __table_args__ = (Index("ix_scorecard_honours_run", "run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scorecard_runs.id"))
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id"))
    title: Mapped[str] = mapped_column(String(30))
    rule: Mapped[int]  # index into the run's honour_rules
