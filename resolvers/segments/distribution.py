"""The segment distribution over time (SEG-4, SEG-6) and the suppression of small cells.

Month-end figures come from the history, not from today's segments: a customer's tier at the
end of a Beijing month is the override in force then, else the computed tier of its last
computed change before then (``segment_changes``); its risk grade (SEG-3, ``by_risk``) that of
the same change (overrides change the value tier only); its AUM is that of its newest financial
snapshot recorded before then — what the bank knew at that moment, so a month's figures never
change afterwards (a snapshot recorded later with an older date does not rewrite them). A
month's figures are the state just before 00:00
Beijing on the first of the next month (a change at that very instant belongs to the next
month); the month in progress is reported as of now. Every month, tier and branch of a range is
one SELECT, whatever the number of months.

Suppression: a cell of fewer than ``minimum`` customers is withheld, and so are as few other
cells as it takes for no withheld cell to be the only one of its row or column (each tier over
the branches, each branch over the tiers, the whole list when not by branch): a published
total minus the shown cells of a row must never give a withheld cell back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems
from resolvers.shared.suppression import suppressed
from store.base import UTCDateTime
from store.customers import Customer, FinancialSnapshot
from store.segments import COMPUTED_REASONS, SegmentChange, SegmentOverride
from store.staff import Branch

__all__ = ["MonthCell", "MonthEnd", "month_ends", "over_time", "suppressed"]

# The longest range one request reads (three years of month ends).
MAX_MONTHS = 36
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def aggregate(shown: Any, keys: list[Any], by_branch: bool) -> Any:
    """Customers and summed AUM of ``shown`` (a subquery with ``branch_id`` and ``aum``) per
    ``keys``, and per branch (id, code, name, city) with ``by_branch``."""
    if by_branch:
        keys = [*keys, Branch.id, Branch.code, Branch.name, Branch.city]
    statement = select(
        *keys, func.count().label("customers"), func.sum(shown.c.aum).label("aum")
    ).select_from(shown)
    if by_branch:
        statement = statement.join(Branch, Branch.id == shown.c.branch_id)
    return statement.group_by(*keys).order_by(*keys)


@dataclass(frozen=True)
class MonthEnd:
    month: str  # "2026-01"
    at: datetime  # the figures are the state just before this instant (UTC)


def month_ends(first: str, last: str, now: datetime) -> list[MonthEnd]:
    """The Beijing months ``first`` … ``last`` ("YYYY-MM"), or ``UserInputError`` naming the
    argument: malformed, reversed, longer than ``MAX_MONTHS``, or after the current month."""
    problems = Problems()
    parsed: list[tuple[int, int]] = []
    for name, value in (("fromMonth", first), ("toMonth", last)):
        match = MONTH.match(value or "")
        if match is None:
            problems.add((name,), "INVALID", "must be a month like 2026-01")
        else:
            parsed.append((int(match[1]), int(match[2])))
    problems.raise_if_any()
    (y1, m1), (y2, m2) = parsed
    count = (y2 - y1) * 12 + (m2 - m1) + 1
    today = clock.business_date(now)
    if count < 1:
        problems.add(("toMonth",), "INVALID_RANGE", "must not come before fromMonth")
    elif count > MAX_MONTHS:
        problems.add(("toMonth",), "INVALID_RANGE", f"at most {MAX_MONTHS} months at once")
    if (y2, m2) > (today.year, today.month):
        problems.add(("toMonth",), "FUTURE", "must not lie after the current month")
    problems.raise_if_any()
    result = []
    for i in range(count):
        year, month = divmod(m1 - 1 + i, 12)
        start = date(y1 + year, month + 1, 1)
        following = (start + timedelta(days=31)).replace(day=1)
        end = datetime.combine(following, time(0), clock.BUSINESS_TIME).astimezone(UTC)
        result.append(MonthEnd(f"{start:%Y-%m}", min(end, now)))
    return result


def _months(ends: Sequence[MonthEnd]) -> Any:
    """The month ends as a table (one SELECT of constants per month, united)."""
    rows = [
        select(
            literal(end.month, String(7)).label("month"),
            literal(end.at, UTCDateTime()).label("at"),
        )
        for end in ends
    ]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("months")


def shown_at_month_ends(ends: Sequence[MonthEnd], visible: ColumnElement[bool]) -> Any:
    """Every ``visible`` customer that existed at each month end, with the tier shown then
    (NULL: not classified yet), its risk grade then (NULL: not graded yet) and its AUM then, as a
    subquery."""
    months = _months(ends)
    customers = Customer.__table__
    last_change = (
        select(
            months.c.month,
            SegmentChange.customer_id,
            func.max(SegmentChange.id).label("change_id"),
        )
        .join(months, SegmentChange.changed_at < months.c.at)
        .where(SegmentChange.reason.in_([r.value for r in COMPUTED_REASONS]))
        .group_by(months.c.month, SegmentChange.customer_id)
        .subquery("last_change")
    )
    changes = SegmentChange.__table__.alias("change")
    overrides = (
        select(months.c.month, SegmentOverride.customer_id, SegmentOverride.tier)
        .join(
            months,
            and_(
                SegmentOverride.created_at < months.c.at,
                SegmentOverride.expires_at >= months.c.at,
                or_(
                    SegmentOverride.withdrawn_at.is_(None),
                    SegmentOverride.withdrawn_at >= months.c.at,
                ),
            ),
        )
        .subquery("overrides")
    )
    latest = (
        select(
            months.c.month,
            FinancialSnapshot.customer_id,
            func.max(FinancialSnapshot.as_of).label("as_of"),
        )
        .join(months, FinancialSnapshot.recorded_at < months.c.at)
        .group_by(months.c.month, FinancialSnapshot.customer_id)
        .subquery("latest")
    )
    snapshots = FinancialSnapshot.__table__.alias("snapshot")
    return (
        select(
            months.c.month,
            customers.c.id.label("customer_id"),
            customers.c.branch_id,
            func.coalesce(overrides.c.tier, changes.c.to_tier).label("tier"),
            changes.c.to_risk_grade.label("risk_grade"),
            func.coalesce(snapshots.c.assets_under_management, 0).label("aum"),
        )
        .select_from(
            months.join(customers, customers.c.created_at < months.c.at)
            .outerjoin(
                last_change,
                and_(
                    last_change.c.month == months.c.month,
                    last_change.c.customer_id == customers.c.id,
                ),
            )
            .outerjoin(changes, changes.c.id == last_change.c.change_id)
            .outerjoin(
                overrides,
                and_(
                    overrides.c.month == months.c.month, overrides.c.customer_id == customers.c.id
                ),
            )
            .outerjoin(
                latest,
                and_(latest.c.month == months.c.month, latest.c.customer_id == customers.c.id),
            )
            .outerjoin(
                snapshots,
                and_(
                    snapshots.c.customer_id == customers.c.id,
                    snapshots.c.as_of == latest.c.as_of,
                ),
            )
        )
        .where(visible)
        .subquery("shown")
    )


@dataclass(frozen=True)
class MonthCell:
    month: str
    tier: str | None
    branch: Any  # (id, code, name, city) or None when not grouped by branch
    customers: int | None  # None: suppressed
    aum: Decimal | None
    risk_grade: str | None = None  # by risk grade (SEG-3): the grade; None: not graded yet

    @property
    def suppressed(self) -> bool:
        return self.customers is None


def over_time(
    session: Session,
    ends: Sequence[MonthEnd],
    visible: ColumnElement[bool],
    by_branch: bool,
    minimum: int,
    by_risk: bool = False,
) -> list[MonthCell]:
    """Customers and AUM per month end and tier — or risk grade, ``by_risk`` — (and branch):
    one statement; each month's table suppressed on its own."""
    shown = shown_at_month_ends(ends, visible)
    grouped = shown.c.risk_grade if by_risk else shown.c.tier
    rows = session.execute(aggregate(shown, [shown.c.month, grouped.label("key")], by_branch))
    counts: dict[tuple[str, str | None, Any], int] = {}
    sums: dict[tuple[str, str | None, Any], Decimal] = {}
    for row in rows:
        branch = (row.id, row.code, row.name, row.city) if by_branch else None
        key = (row.month, row.key, branch)
        counts[key] = int(row.customers)
        sums[key] = _money(row.aum)
    cells: list[MonthCell] = []
    for month in (end.month for end in ends):
        table = {key: n for key, n in counts.items() if key[0] == month}
        hidden = suppressed(table, minimum, row=lambda k: k[1], column=lambda k: k[2])
        cells += [
            MonthCell(
                month,
                None if by_risk else key[1],
                key[2],
                None if key in hidden else n,
                None if key in hidden else sums[key],
                key[1] if by_risk else None,
            )
            for key, n in table.items()
        ]
    return cells


def _money(value: Any) -> Decimal:
    """A sum of AUM as exact money: SQLite sums the integer fen of the column (its Money type is
    lost through the united month table), PostgreSQL returns a Decimal."""
    if value is None:
        return Decimal("0.00")
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))
