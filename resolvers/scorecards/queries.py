"""Scorecard reads (KPI-2, KPI-3): weight versions, assessment runs and their frozen scorecards,
rankings, training recommendations and the bonus split. Nothing here computes an indicator:
everything is read from what a run froze.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.errors import UserInputError
from resolvers.kpis import periods as kpi_periods
from resolvers.kpis.scope import Level
from resolvers.scorecards import model
from store.scorecards import (
    Scorecard,
    ScorecardHonour,
    ScorecardLine,
    ScorecardRun,
    ScorecardWeightVersion,
)

PERIOD_KINDS = ("MONTH", "QUARTER")


def period_of(label: str, today: date, field: str = "period") -> kpi_periods.KpiPeriod:
    """A month or quarter by its label (2026-09, 2026-Q3); ``FUTURE_PERIOD`` when it has not
    begun, ``INVALID`` for a year or a malformed label (the KPI periods' parser)."""
    found = kpi_periods.parse(label, None, None, today, field)
    if found.kind not in PERIOD_KINDS:
        raise UserInputError.one((field,), "INVALID", "scorecards are by month or quarter")
    return found


def stored_versions(session: Session, lock: bool = False) -> list[ScorecardWeightVersion]:
    statement = select(ScorecardWeightVersion).order_by(ScorecardWeightVersion.version)
    return list(session.scalars(statement.with_for_update() if lock else statement))


def as_version(row: ScorecardWeightVersion) -> model.WeightVersion:
    return model.check_version(
        row.definition, row.version, row.valid_from, row.valid_to, row.summary
    )


def weight_versions(session: Session) -> list[tuple[model.WeightVersion, str | None]]:
    """Every version with who made it (the reviewed file's version 1 before any is stored)."""
    rows = stored_versions(session)
    if not rows:
        return [(model.load_file(), None)]
    return [(as_version(row), row.changed_by) for row in rows]


def runs_of(session: Session, period: str, branch_id: int | None = None) -> list[ScorecardRun]:
    """The period's runs covering ``branch_id`` (None: the bank-wide ones), newest first."""
    statement = select(ScorecardRun).where(ScorecardRun.period == period)
    if branch_id is None:
        statement = statement.where(ScorecardRun.branch_id.is_(None))
    else:
        statement = statement.where(
            or_(ScorecardRun.branch_id.is_(None), ScorecardRun.branch_id == branch_id)
        )
    return list(session.scalars(statement.order_by(ScorecardRun.version.desc())))


def chosen_run(runs: Sequence[ScorecardRun], version: int | None) -> ScorecardRun | None:
    """The run of ``version`` (``NOT_FOUND`` naming ``version`` when none covers the scope), or
    the newest."""
    if version is None:
        return runs[0] if runs else None
    for run in runs:
        if run.version == version:
            return run
    raise UserInputError.one(("version",), "NOT_FOUND", "no such version for this scope")


@dataclass(frozen=True)
class Frozen:
    """A frozen scorecard with its lines and honours."""

    card: Scorecard
    lines: tuple[ScorecardLine, ...]
    honours: tuple[tuple[str, str], ...]  # (title, rule in words)


def scorecards(
    session: Session,
    run: ScorecardRun,
    level: Level,
    branch_id: int | None = None,
    team_id: int | None = None,
    staff_id: int | None = None,
) -> list[Frozen]:
    """The run's scorecards of ``level`` in the scope (by rank, then label): three statements."""
    statement = select(Scorecard).where(Scorecard.run_id == run.id, Scorecard.level == level)
    if branch_id is not None:
        statement = statement.where(Scorecard.branch_id == branch_id)
    if team_id is not None:
        column = Scorecard.subject_id if level is Level.TEAM else Scorecard.team_id
        statement = statement.where(column == team_id)
    if staff_id is not None:
        statement = statement.where(Scorecard.subject_id == staff_id)
    cards = list(session.scalars(statement))
    cards.sort(key=lambda c: (c.rank is None, c.rank or 0, c.label, c.subject_id))
    ids = [c.id for c in cards]
    lines: dict[int, list[ScorecardLine]] = defaultdict(list)
    honours: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if ids:
        for line in session.scalars(
            select(ScorecardLine)
            .where(ScorecardLine.scorecard_id.in_(ids))
            .order_by(ScorecardLine.id)
        ):
            lines[line.scorecard_id].append(line)
        rules = run.honour_rules
        for honour in session.scalars(
            select(ScorecardHonour)
            .where(ScorecardHonour.scorecard_id.in_(ids))
            .order_by(ScorecardHonour.id)
        ):
            rule = model.HonourRule(
                model.HonourTitle(rules[honour.rule]["title"]),
                Level(rules[honour.rule]["level"]),
                rules[honour.rule]["top"],
                None
                if rules[honour.rule]["min_score"] is None
                else Decimal(rules[honour.rule]["min_score"]),
                rules[honour.rule]["min_customers"],
                rules[honour.rule]["no_major_complaint"],
            )
            honours[honour.scorecard_id].append((honour.title, rule.describe()))
    return [Frozen(c, tuple(lines[c.id]), tuple(honours[c.id])) for c in cards]


@dataclass(frozen=True)
class Training:
    indicator: str
    score: Decimal
    course: model.Course


def trainings(lines: Sequence[ScorecardLine], catalogue: model.Catalogue) -> list[Training]:
    """A team's weakest indicators and their courses (the catalogue's rule, trainings.toml)."""
    weak = [line for line in lines if line.score is not None and line.score < catalogue.below]
    weak.sort(key=lambda line: (line.score, -line.weight, line.indicator))
    return [
        Training(line.indicator, line.score, catalogue.course(line.indicator))  # type: ignore[arg-type]
        for line in weak[: catalogue.most]
    ]


def split(pool: Decimal, scores: Sequence[Decimal | None], field: str = "pool") -> list[Decimal]:
    """``pool`` (CNY, to the fen) split in proportion to ``scores``: each part is its exact share
    rounded down to the fen; the fen left over go one each to the largest remainders (ties: the
    earlier entry — callers pass them by rank). A null or zero score gets nothing; the parts sum
    to the pool exactly."""
    fen = int(pool * 100)
    units = [0 if s is None or s <= 0 else int(s * 100) for s in scores]
    whole = sum(units)
    if whole == 0:
        if fen == 0:
            return [Decimal("0.00")] * len(scores)
        raise UserInputError.one((field,), "NOTHING_TO_SPLIT", "no scorecard has a score above 0")
    parts = [divmod(fen * u, whole) for u in units]
    left = fen - sum(q for q, _ in parts)
    order = sorted(range(len(parts)), key=lambda i: (-parts[i][1], i))
    extra = set(order[:left])
    return [Decimal(q + (1 if i in extra else 0)).scaleb(-2) for i, (q, _) in enumerate(parts)]


@dataclass(frozen=True)
class Share:
    card: Scorecard
    amount: Decimal


def bonus(
    session: Session,
    label: str,
    pool: Decimal,
    level: Level,
    branch_id: int | None,
    version: int | None,
    today: date,
) -> tuple[ScorecardRun, list[Share]]:
    """``pool`` split over the newest (or ``version``) frozen scorecards of ``level`` for the
    bank or ``branch_id``, by rank (``split``); ``NOT_FOUND`` naming ``period`` before the
    period is assessed."""
    period = period_of(label, today)
    run = chosen_run(runs_of(session, period.window.label, branch_id), version)
    if run is None:
        raise UserInputError.one(("period",), "NOT_FOUND", "the period has not been assessed")
    cards = scorecards(session, run, level, branch_id)
    amounts = split(pool, [c.card.score for c in cards])
    return run, [Share(c.card, a) for c, a in zip(cards, amounts, strict=True)]
