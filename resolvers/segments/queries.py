"""Segment reads: the distribution (counts and AUM by tier, and by branch), runs, rule sets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from resolvers.segments.loaders import override_in_force
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.customers import Customer
from store.segments import CustomerSegment, SegmentOverride, SegmentRuleSet, SegmentRun
from store.staff import Branch

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
    by_risk: bool = False,
) -> list[Cell]:
    """Customers and their AUM per tier — or per risk grade, ``by_risk`` (SEG-3) — and branch,
    one statement; small cells suppressed."""
    shown = shown_segments(now, visible)
    keys: list[Any] = [shown.c.risk_grade if by_risk else shown.c.tier]
    if by_branch:
        keys += [Branch.id, Branch.code, Branch.name, Branch.city]
    statement = select(
        *keys, func.count().label("customers"), func.sum(shown.c.aum).label("aum")
    ).select_from(shown)
    if by_branch:
        statement = statement.join(Branch, Branch.id == shown.c.branch_id)
    statement = statement.group_by(*keys).order_by(*keys)
    cells: list[Cell] = []
    for row in session.execute(statement):
        count = int(row.customers)
        # The sum keeps the Money type: an exact Decimal on both backends.
        aum = row.aum if row.aum is not None else Decimal("0.00")
        branch = (row.id, row.code, row.name, row.city) if by_branch else None
        small = count < minimum
        key = row[0]
        cells.append(
            Cell(
                None if by_risk else key,
                branch,
                None if small else count,
                None if small else aum,
                key if by_risk else None,
            )
        )
    return _complementary(cells) if by_branch else cells


def _complementary(cells: list[Cell]) -> list[Cell]:
    """Per tier, never exactly one suppressed branch: the bank-wide count minus the others would
    reveal it. The smallest shown cell of that tier is suppressed with it."""
    result = list(cells)
    for key in {(cell.tier, cell.risk_grade) for cell in cells}:
        row = [i for i, cell in enumerate(result) if (cell.tier, cell.risk_grade) == key]
        hidden = [i for i in row if result[i].suppressed]
        shown = sorted(
            (i for i in row if not result[i].suppressed), key=lambda i: result[i].customers or 0
        )
        if len(hidden) == 1 and shown:
            smallest = result[shown[0]]
            result[shown[0]] = Cell(smallest.tier, smallest.branch, None, None, smallest.risk_grade)
    return result


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
