"""The risk model (SEG-3) in SQL, for the set-based runs of ``runs``: every customer's credit
score and early-warning values in one subquery, and its grade as one CASE over them.

``risk_model.grade`` is the same model in Python; the tests hold one to the other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, false, func, literal, or_, select

from core import clock
from resolvers.segments import risk_model
from store.base import Money, UTCDateTime, int_div
from store.customers import (
    INFLOW_TYPES,
    Account,
    AccountKind,
    FinancialSnapshot,
    RiskAssessment,
    Transaction,
    TransactionType,
)
from store.segments import RiskGrade, RiskSignal

# Days past due are counted on what is owed: loans and credit cards.
CREDIT_KINDS = (AccountKind.LOAN, AccountKind.CREDIT_CARD)
OUTFLOW_TYPES = tuple(t for t in TransactionType if t not in INFLOW_TYPES)
RISK_COLUMNS = ("risk_grade", "credit_score", "days_past_due", "outflow", "aum_drop", "market_risk")


def risk_inputs(
    rules: risk_model.RiskRuleSet, now: datetime, in_scope: Callable[[Any], ColumnElement[bool]]
) -> tuple[Any, Any, Any, Any]:
    """Subqueries keyed by ``customer_id``: the latest credit score; most days past due and the
    highest product risk level held (open accounts); outflow in the window; the highest AUM of
    the snapshots in the AUM-drop window (the drop is computed against the latest AUM)."""
    ranked = (
        select(
            RiskAssessment.customer_id,
            RiskAssessment.credit_score,
            func.row_number()
            .over(
                partition_by=RiskAssessment.customer_id,
                order_by=(RiskAssessment.assessed_at.desc(), RiskAssessment.id.desc()),
            )
            .label("rank"),
        )
        .where(in_scope(RiskAssessment.customer_id))
        .subquery("ranked")
    )
    credit = (
        select(ranked.c.customer_id, ranked.c.credit_score)
        .where(ranked.c.rank == 1)
        .subquery("credit")
    )
    held = (
        select(
            Account.customer_id,
            func.max(case((Account.kind.in_(CREDIT_KINDS), Account.days_past_due), else_=0)).label(
                "days_past_due"
            ),
            func.max(
                case(
                    (
                        and_(
                            Account.kind == AccountKind.WEALTH_MANAGEMENT,
                            Account.balance > literal(0, Money()),
                        ),
                        Account.product_risk_level,
                    ),
                    else_=None,
                )
            ).label("market_risk"),
        )
        .where(Account.closed_on.is_(None), in_scope(Account.customer_id))
        .group_by(Account.customer_id)
        .subquery("held")
    )
    outflow_window = rules.threshold(RiskSignal.LARGE_OUTFLOW).window_days or 0
    outflows = (
        select(Transaction.customer_id, func.sum(Transaction.amount).label("outflow"))
        .where(
            Transaction.occurred_at >= literal(now - timedelta(days=outflow_window), UTCDateTime()),
            Transaction.type.in_(OUTFLOW_TYPES),
            in_scope(Transaction.customer_id),
        )
        .group_by(Transaction.customer_id)
        .subquery("outflows")
    )
    drop_window = rules.threshold(RiskSignal.AUM_DROP).window_days or 0
    since = clock.business_date(now) - timedelta(days=drop_window)
    peaks = (
        select(
            FinancialSnapshot.customer_id,
            func.max(FinancialSnapshot.assets_under_management).label("peak"),
        )
        .where(FinancialSnapshot.as_of >= since, in_scope(FinancialSnapshot.customer_id))
        .group_by(FinancialSnapshot.customer_id)
        .subquery("peaks")
    )
    return credit, held, outflows, peaks


def aum_drop(aum: Any, peak: Any) -> Any:
    """The fall from ``peak`` to ``aum`` in hundredths of a per cent (0 without a fall)."""
    return case(
        (
            and_(peak.is_not(None), peak > aum),
            int_div((peak - aum) * literal(10000, Integer()), peak),
        ),
        else_=0,
    )


def _money(value: Any) -> Any:
    return literal(value, Money())


def _reaches(signal: RiskSignal, column: Any, threshold: Any) -> ColumnElement[bool]:
    """``column`` (a signal's value in its stored unit) reaches ``threshold``."""
    if threshold is None:
        return false()
    if signal is RiskSignal.LARGE_OUTFLOW:
        return column >= _money(threshold)  # type: ignore[no-any-return]
    if signal is RiskSignal.AUM_DROP:
        return column >= literal(int(threshold * 100))  # type: ignore[no-any-return]
    return column >= literal(int(threshold))  # type: ignore[no-any-return]


def risk_grade(rules: risk_model.RiskRuleSet, columns: dict[RiskSignal, Any]) -> Any:
    """The grade as one CASE: HIGH when the band or any signal says HIGH, else MEDIUM when one
    says MEDIUM, else LOW (the highest wins, as ``risk_model.grade``)."""
    score = columns[RiskSignal.CREDIT_SCORE]

    def band(grade: RiskGrade) -> ColumnElement[bool]:
        found = next(b for b in rules.bands if b.grade is grade)
        inside = score >= literal(found.from_score)
        if found.below_score is not None:
            inside = and_(inside, score < literal(found.below_score))
        if rules.unscored_grade is grade:
            return or_(score.is_(None), inside)
        return inside

    def reached(grade: RiskGrade) -> list[ColumnElement[bool]]:
        return [
            _reaches(
                t.signal,
                columns[t.signal],
                t.high_at if grade is RiskGrade.HIGH else t.medium_at,
            )
            for t in rules.thresholds
        ]

    return case(
        (or_(band(RiskGrade.HIGH), *reached(RiskGrade.HIGH)), RiskGrade.HIGH.value),
        (or_(band(RiskGrade.MEDIUM), *reached(RiskGrade.MEDIUM)), RiskGrade.MEDIUM.value),
        else_=RiskGrade.LOW.value,
    )
