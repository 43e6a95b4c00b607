"""Complaint figures per category, channel, unit, cause or month (CMP-5).

The on-time rule and the satisfaction score are the KPI indicators' own (``decided_on_time_``
``condition``, the call-back score: ``resolvers.kpis``). Only callers who see complaints' rows
read them (over the complaints they may see); callers who see aggregates only read the
complaint indicators through ``kpis``, whose suppression holds along every line (KPI-1).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from core import clock
from resolvers.complaints.deadlines import decided_on_time_condition, overdue_condition
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
    # Distinct customers, and the scores behind the average.
    customers: int = 0
    score_sum: int = 0
    scored: int = 0


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
