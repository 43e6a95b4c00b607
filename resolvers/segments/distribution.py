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

By need (SEG-2, ``NEED``), a customer counts under each need it has then (several at once, or
none: a customer without a need is in no cell): the newest staff setting of that need made by
then (``customer_needs``; a cleared setting or none: the derived need), else the need its last
computed change derived (``segment_changes.to_needs_*``; a change recorded before 0029 derived
none). Today's distribution reads the current segment the same way.

Suppression: a cell of fewer than ``minimum`` customers is withheld, and so are as few other
cells as it takes for no withheld cell to be the only one of its row or column (each tier over
the branches, each branch over the tiers, the whole list when not by branch): a published
total minus the shown cells of a row must never give a withheld cell back. Need cells overlap (a
customer with two needs is in two cells): over the branches they still add up to the need's
bank-wide count, which the list without branches publishes, so the rule holds there as it is;
over one branch's needs (or the bank's list) they add up to nothing published — the number of
customers with a need is not shown, nor a cell for those without — and the rule is kept there
too, so a withheld need cell always has a withheld companion in its branch: a published
customer total (by tier or risk grade) minus shown need cells bounds nothing exactly.
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
    case,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems
from resolvers.shared.suppression import suppressed
from store.base import UTCDateTime
from store.customers import Customer, FinancialSnapshot
from store.segments import (
    COMPUTED_REASONS,
    DERIVED_NEEDS,
    CustomerNeed,
    SegmentChange,
    SegmentOverride,
)
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


def segments_then(points: Any, key: Any, scope: Any = None) -> tuple[Any, Any]:
    """For each row of ``points`` (a table with its ``key`` column and an instant ``at``): each
    customer's last computed segment change before ``at`` (``key``, customer_id, change_id) and
    the override in force just before ``at`` (``key``, customer_id, tier), as two subqueries.
    ``scope``: a subquery of the customer ids to read (None: all)."""
    computed = SegmentChange.reason.in_([r.value for r in COMPUTED_REASONS])
    last_change = (
        select(
            key.label(key.name),
            SegmentChange.customer_id,
            func.max(SegmentChange.id).label("change_id"),
        )
        .join(points, SegmentChange.changed_at < points.c.at)
        .where(computed, true() if scope is None else SegmentChange.customer_id.in_(scope))
        .group_by(key, SegmentChange.customer_id)
        .subquery("last_change")
    )
    overrides = (
        select(key.label(key.name), SegmentOverride.customer_id, SegmentOverride.tier)
        .join(
            points,
            and_(
                SegmentOverride.created_at < points.c.at,
                SegmentOverride.expires_at >= points.c.at,
                or_(
                    SegmentOverride.withdrawn_at.is_(None),
                    SegmentOverride.withdrawn_at >= points.c.at,
                ),
            ),
        )
        .where(true() if scope is None else SegmentOverride.customer_id.in_(scope))
        .subquery("overrides")
    )
    return last_change, overrides


def shown_at_month_ends(ends: Sequence[MonthEnd], visible: ColumnElement[bool]) -> Any:
    """Every ``visible`` customer that existed at each month end, with the tier shown then
    (NULL: not classified yet), its risk grade then (NULL: not graded yet) and its AUM then, as a
    subquery."""
    months = _months(ends)
    customers = Customer.__table__
    last_change, overrides = segments_then(months, months.c.month)
    changes = SegmentChange.__table__.alias("change")
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
            months.c.at,
            customers.c.id.label("customer_id"),
            customers.c.branch_id,
            func.coalesce(overrides.c.tier, changes.c.to_tier).label("tier"),
            changes.c.to_risk_grade.label("risk_grade"),
            func.coalesce(snapshots.c.assets_under_management, 0).label("aum"),
            *(changes.c[f"to_{name}"].label(name) for name in DERIVED_NEEDS.values()),
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


def by_need(shown: Any, monthly: bool = False) -> Any:
    """``shown`` once per need each customer has (``need``) — the newest staff setting of it
    (made before the month end with ``monthly``), else the derived need (``shown``'s ``needs_…``
    columns): one pass over ``shown`` against the three needs, as a subquery with ``shown``'s
    columns."""
    needs = union_all(
        *(select(literal(need.value, String(32)).label("need")) for need in DERIVED_NEEDS)
    ).subquery("needs")
    setting = CustomerNeed.__table__.alias("setting")
    # One index seek per customer and need (customer, need, id): the newest setting's
    # ``present`` — null when cleared or never set. A join to the grouped settings made SQLite
    # scan all of them for every customer.
    conditions = [setting.c.customer_id == shown.c.customer_id, setting.c.need == needs.c.need]
    if monthly:
        conditions.append(setting.c.set_at < shown.c.at)
    newest = (
        select(setting.c.present)
        .where(*conditions)
        .order_by(setting.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    derived = case(
        *((needs.c.need == need.value, shown.c[column]) for need, column in DERIVED_NEEDS.items()),
        else_=false(),
    )
    # Each customer against the three needs: an outer join that is never empty (the three
    # rows always match), written so, as SQLite keeps the customers as its outer loop then
    # (an inner join let it read every customer three times, its segment and override too).
    return (
        select(*shown.c, needs.c.need.label("need"))
        .select_from(shown.outerjoin(needs, true()))
        .where(func.coalesce(newest, derived, false()))
        .subquery("by_need")
    )


@dataclass(frozen=True)
class MonthCell:
    month: str
    tier: str | None
    branch: Any  # (id, code, name, city) or None when not grouped by branch
    customers: int | None  # None: suppressed
    aum: Decimal | None
    risk_grade: str | None = None  # by risk grade (SEG-3): the grade; None: not graded yet
    need: str | None = None  # by need (SEG-2)

    @property
    def suppressed(self) -> bool:
        return self.customers is None


def keyed(dimension: str, key: str | None) -> dict[str, str | None]:
    """A cell's key in the field of its dimension (tier, risk grade or need)."""
    field = {"VALUE_TIER": "tier", "RISK_GRADE": "risk_grade", "NEED": "need"}[dimension]
    return {"tier": None, field: key}


def over_time(
    session: Session,
    ends: Sequence[MonthEnd],
    visible: ColumnElement[bool],
    by_branch: bool,
    minimum: int,
    dimension: str = "VALUE_TIER",
) -> list[MonthCell]:
    """Customers and AUM per month end and tier — or risk grade, or need (``dimension``) — (and
    branch): one statement; each month's table suppressed on its own."""
    shown = shown_at_month_ends(ends, visible)
    if dimension == "NEED":
        shown = by_need(shown, monthly=True)
        grouped = shown.c.need
    else:
        grouped = shown.c.risk_grade if dimension == "RISK_GRADE" else shown.c.tier
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
                month=month,
                branch=key[2],
                customers=None if key in hidden else n,
                aum=None if key in hidden else sums[key],
                **keyed(dimension, key[1]),  # type: ignore[arg-type]
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
