"""Segment reads: the distribution (counts and AUM by tier, and by branch), runs, rule sets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from resolvers.segments.distribution import (
    aggregate,
    by_need,
    keyed,
    suppressed,
)
from resolvers.segments.loaders import override_in_force
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.customers import Customer
from store.segments import (
    DERIVED_NEEDS,
    CustomerSegment,
    SegmentOverride,
    SegmentRuleSet,
    SegmentRun,
)

# Cells counting fewer customers than this are suppressed: an aggregate must not describe a
# handful of identifiable customers (marketing analysts see distributions, never rows).
MINIMUM_CELL = 5


@dataclass(frozen=True)
class Cell:
    tier: str | None  # None: customers not classified yet (or a risk-grade distribution)
    branch: Any  # (id, code, name, city) or None when not grouped by branch
    customers: int | None  # None: suppressed
    aum: Decimal | None  # None: suppressed
    risk_grade: str | None = None  # by risk grade (SEG-3): the grade; None: not graded yet
    need: str | None = None  # by need (SEG-2)

    @property
    def suppressed(self) -> bool:
        return self.customers is None


def shown_segments(now: datetime, visible: ColumnElement[bool]) -> Any:
    """Every ``visible`` customer with the tier shown (override in force, else computed; NULL:
    never classified) and the AUM of its computed segment, as a subquery — no per-row work."""
    customers = Customer.__table__
    computed = CustomerSegment.__table__
    overrides = SegmentOverride.__table__
    return (
        select(
            customers.c.id.label("customer_id"),
            customers.c.branch_id,
            func.coalesce(overrides.c.tier, computed.c.tier).label("tier"),
            func.coalesce(computed.c.aum, 0).label("aum"),
            computed.c.risk_grade,
            *(computed.c[name] for name in DERIVED_NEEDS.values()),
        )
        .select_from(
            customers.outerjoin(computed, computed.c.customer_id == customers.c.id).outerjoin(
                overrides, and_(overrides.c.customer_id == customers.c.id, override_in_force(now))
            )
        )
        .where(visible)
        .subquery("shown")
    )


def distribution(
    session: Session,
    now: datetime,
    visible: ColumnElement[bool],
    by_branch: bool,
    minimum: int = MINIMUM_CELL,
    dimension: str = "VALUE_TIER",
) -> list[Cell]:
    """Customers and their AUM per tier — or per risk grade (SEG-3), or per need (SEG-2: a
    customer under each of its needs), by ``dimension`` — and branch, one statement; small
    cells suppressed."""
    shown = shown_segments(now, visible)
    if dimension == "NEED":
        shown = by_need(shown)
        key = shown.c.need
    else:
        key = shown.c.risk_grade if dimension == "RISK_GRADE" else shown.c.tier
    rows = session.execute(aggregate(shown, [key.label("key")], by_branch)).all()
    branches = [(r.id, r.code, r.name, r.city) if by_branch else None for r in rows]
    counts = {
        (row.key, branch): int(row.customers) for row, branch in zip(rows, branches, strict=True)
    }
    # Small cells, and as many others as it takes for none to be alone in its row (tier or
    # risk grade) or branch: the totals minus the others would reveal it.
    hidden = suppressed(counts, minimum, row=lambda key: key[0], column=lambda key: key[1])
    cells: list[Cell] = []
    for row, branch in zip(rows, branches, strict=True):
        # The sum keeps the Money type: an exact Decimal on both backends.
        aum = row.aum if row.aum is not None else Decimal("0.00")
        small = (row.key, branch) in hidden
        count = int(row.customers)
        cells.append(
            Cell(
                branch=branch,
                customers=None if small else count,
                aum=None if small else aum,
                **keyed(dimension, row.key),  # type: ignore[arg-type]
            )
        )
    return cells


def run_page(session: Session, request: PageRequest) -> Page:
    """Classification runs, newest first."""
    keys = [SortKey(SegmentRun.id, True, int)]
    return paginate(session, select(SegmentRun), keys, request, lambda r: [r.id])


def rule_set_page(session: Session, request: PageRequest, model: str = "VALUE") -> Page:
    """Every stored version of a model (the value model, or ``RISK``), newest first."""
    keys = [SortKey(SegmentRuleSet.version, True, int)]
    statement = select(SegmentRuleSet).where(SegmentRuleSet.model == model)
    return paginate(session, statement, keys, request, lambda r: [r.version])


def newest_rule_set(
    session: Session, lock: bool = False, model: str = "VALUE"
) -> SegmentRuleSet | None:
    """The stored rule set in force of a model (the newest), or None before any is stored; with
    ``lock``, its row is locked until the transaction ends (PostgreSQL: runs and model changes
    take their turns; SQLite has one writer anyway)."""
    statement = (
        select(SegmentRuleSet)
        .where(SegmentRuleSet.model == model)
        .order_by(SegmentRuleSet.version.desc())
        .limit(1)
    )
    return session.scalars(statement.with_for_update() if lock else statement).first()
