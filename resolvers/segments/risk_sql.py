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


def credit_scores(in_scope: Callable[[Any], ColumnElement[bool]]) -> Any:
    """Subquery: each customer's credit score of its latest risk assessment (null: none)."""
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
    return (
        select(ranked.c.customer_id, ranked.c.credit_score)
        .where(ranked.c.rank == 1)
        .subquery("credit")
    )


def holding_columns() -> list[Any]:
    """Aggregates over a customer's open accounts: most days past due on loans and cards, the
    highest product risk level of the wealth products it holds a balance in."""
    return [
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
    ]


def activity_columns(rules: risk_model.RiskRuleSet, now: datetime) -> list[Any]:
    """Aggregates over a customer's transactions of the value model's 12-month window: the
    outflow within the LARGE_OUTFLOW window (at most 365 days, so inside it)."""
    days = rules.threshold(RiskSignal.LARGE_OUTFLOW).window_days or 0
    since = literal(now - timedelta(days=days), UTCDateTime())
    outflow = and_(Transaction.occurred_at >= since, Transaction.type.in_(OUTFLOW_TYPES))
    return [func.sum(case((outflow, Transaction.amount), else_=0)).label("outflow")]


def aum_peaks(
    rules: risk_model.RiskRuleSet, now: datetime, in_scope: Callable[[Any], ColumnElement[bool]]
) -> Any:
    """Subquery: each customer's highest AUM among the snapshots of the AUM-drop window (the
    drop is computed against the latest AUM)."""
    days = rules.threshold(RiskSignal.AUM_DROP).window_days or 0
    since = clock.business_date(now) - timedelta(days=days)
    return (
        select(
            FinancialSnapshot.customer_id,
            func.max(FinancialSnapshot.assets_under_management).label("peak"),
        )
        .where(FinancialSnapshot.as_of >= since, in_scope(FinancialSnapshot.customer_id))
        .group_by(FinancialSnapshot.customer_id)
        .subquery("peaks")
    )


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
