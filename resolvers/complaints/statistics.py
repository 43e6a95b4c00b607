"""Complaint figures per category, channel, unit, cause or month (CMP-5).

The on-time rule and the satisfaction score are the KPI indicators' own (``decided_on_time_``
``condition``, the call-back score: ``resolvers.kpis``), and for callers who see aggregates only
the rows are protected by the KPIs' suppression rule (``resolvers.shared.suppression``): rows
describing fewer customers than the minimum are merged into one ``SUPPRESSED`` row — with as
many other rows as it takes for no row to stand alone and for the merged row to reach the
minimum — so the counts still add up to the total and none can be subtracted back out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from core import clock
from resolvers.complaints.deadlines import decided_on_time_condition, overdue_condition
from resolvers.shared.suppression import suppressed
from store.base import business_month
from store.complaints import Complaint, ComplaintStatus
from store.staff import Branch


def unit_of() -> ColumnElement[int]:
    """The unit a complaint is about (CMP-5): the one complained about, or — when the customer
    named none — the branch handling it."""
    return func.coalesce(Complaint.complained_branch_id, Complaint.branch_id)


STATISTIC_DIMENSIONS: dict[str, Any] = {
    "CATEGORY": Complaint.category,
    "CHANNEL": Complaint.channel,
    "UNIT": unit_of(),
    "CAUSE": Complaint.cause,
}


@dataclass(frozen=True)
class StatisticRow:
    key: str
    count: int
    closed: int
    decided_on_time: int
    decided: int
    average_satisfaction: Decimal | None
    overdue_open: int
    major: int = 0
    regulator_referred: int = 0
    withdrawn: int = 0
    merged: int = 0
    # For merging rows (suppression): distinct customers, and the scores behind the average.
    customers: int = 0
    score_sum: int = 0
    scored: int = 0


SUPPRESSED_KEY = "SUPPRESSED"


def suppress_small(
    rows: list[StatisticRow], minimum: int, customers: int | None = None
) -> list[StatisticRow]:
    """``rows`` with those describing fewer than ``minimum`` customers merged into one
    ``SUPPRESSED`` row (see the module docstring); nothing to hide: ``rows`` unchanged.
    ``customers`` (the distinct customers of all rows) under ``minimum``, or a merged row
    still under it: no rows at all — a lone total or merged row of a few customers is those
    customers' record, as the KPIs withhold such a cell (KPI-1)."""
    if customers is not None and customers < minimum:
        return []
    counts = {r.key: r.customers for r in rows}
    hidden = suppressed(counts, minimum, row=lambda _: 0, column=lambda k: k)
    if not hidden:
        return rows
    shown = sorted((r for r in rows if r.key not in hidden), key=lambda r: (r.customers, r.key))
    merged = [r for r in rows if r.key in hidden]
    while shown and sum(r.customers for r in merged) < minimum:
        merged.append(shown.pop(0))
    if sum(r.customers for r in merged) < minimum:
        return []
    kept = {r.key for r in shown}
    return [r for r in rows if r.key in kept] + [_merge(merged)]


def customers_of(
    session: Session, visible: ColumnElement[bool] | None, where: ColumnElement[bool]
) -> int:
    """The distinct customers of the complaints ``where`` selects (the total's population)."""
    statement = select(func.count(func.distinct(Complaint.customer_id))).where(where)
    if visible is not None:
        statement = statement.where(visible)
    return int(session.scalar(statement) or 0)


def _merge(rows: list[StatisticRow]) -> StatisticRow:
    scored = sum(r.scored for r in rows)
    score_sum = sum(r.score_sum for r in rows)
    return StatisticRow(
        key=SUPPRESSED_KEY,
        count=sum(r.count for r in rows),
        closed=sum(r.closed for r in rows),
        decided_on_time=sum(r.decided_on_time for r in rows),
        decided=sum(r.decided for r in rows),
        average_satisfaction=(
            (Decimal(score_sum) / Decimal(scored)).quantize(Decimal("0.01")) if scored else None
        ),
        overdue_open=sum(r.overdue_open for r in rows),
        major=sum(r.major for r in rows),
        regulator_referred=sum(r.regulator_referred for r in rows),
        withdrawn=sum(r.withdrawn for r in rows),
        merged=sum(r.merged for r in rows),
        customers=sum(r.customers for r in rows),
        score_sum=score_sum,
        scored=scored,
    )


def statistics(
    session: Session,
    visible: ColumnElement[bool] | None,
    dimension: str,
    where: ColumnElement[bool],
) -> list[StatisticRow]:
    """Counts, on-time decisions, satisfaction and overdue complaints per dimension (CMP-5)."""
    if dimension == "MONTH":
        key: Any = business_month(Complaint.accepted_at)
    else:
        key = STATISTIC_DIMENSIONS[dimension]
    now = clock.now()
    statement = (
        select(
            key.label("key"),
            func.count().label("count"),
            func.sum(case((Complaint.status == ComplaintStatus.CLOSED, 1), else_=0)),
            func.sum(case((decided_on_time_condition(), 1), else_=0)),
            func.sum(case((Complaint.decided_at.is_not(None), 1), else_=0)),
            func.avg(Complaint.satisfaction_score),
            func.sum(
                case(
                    (and_(Complaint.status != ComplaintStatus.CLOSED, overdue_condition(now)), 1),
                    else_=0,
                )
            ),
            func.sum(case((Complaint.major.is_(True), 1), else_=0)),
            func.sum(case((Complaint.regulator_reference.is_not(None), 1), else_=0)),
            func.sum(case((Complaint.status == ComplaintStatus.WITHDRAWN, 1), else_=0)),
            func.sum(case((Complaint.status == ComplaintStatus.MERGED, 1), else_=0)),
            func.count(func.distinct(Complaint.customer_id)),
            func.sum(Complaint.satisfaction_score),
            func.count(Complaint.satisfaction_score),
        )
        .where(where)
        .group_by(key)
        .order_by(key)
    )
    if visible is not None:
        statement = statement.where(visible)
    rows = []
    branch_codes = (
        {pk: code for pk, code in session.execute(select(Branch.id, Branch.code))}
        if dimension == "UNIT"
        else {}
    )
    for (
        value,
        count,
        closed,
        timely,
        decided,
        satisfaction,
        overdue,
        major,
        referred,
        withdrawn,
        merged,
        customers,
        score_sum,
        scored,
    ) in session.execute(statement):
        if dimension == "MONTH":
            label = f"{int(value) // 100:04d}-{int(value) % 100:02d}"
        elif dimension == "UNIT":
            label = branch_codes.get(value, str(value))
        else:
            label = "UNKNOWN" if value is None else getattr(value, "value", str(value))
        rows.append(
            StatisticRow(
                key=label,
                count=int(count),
                closed=int(closed or 0),
                decided_on_time=int(timely or 0),
                decided=int(decided or 0),
                average_satisfaction=(
                    Decimal(str(satisfaction)).quantize(Decimal("0.01"))
                    if satisfaction is not None
                    else None
                ),
                overdue_open=int(overdue or 0),
                major=int(major or 0),
                regulator_referred=int(referred or 0),
                withdrawn=int(withdrawn or 0),
                merged=int(merged or 0),
                customers=int(customers or 0),
                score_sum=int(score_sum or 0),
                scored=int(scored or 0),
            )
        )
    return rows
