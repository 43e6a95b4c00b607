"""What the customers of a request show in nested fields, loaded for all of them at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session, joinedload

from core import clock
from store.customers import (
    INFLOW_TYPES,
    Account,
    FinancialSnapshot,
    InformationSource,
    Preferences,
    RiskAssessment,
    Transaction,
    Verification,
    VerificationDue,
)


@lru_cache(maxsize=8)
def _latest_statement(model: Any, order: tuple[str, ...]) -> Any:
    """The ranking statement of ``_latest``, built once per model (ids bound at run time)."""
    table = model.__table__
    ordering = [
        table.c[name.lstrip("-")].desc() if name.startswith("-") else table.c[name]
        for name in order
    ]
    ranked = (
        select(
            *table.c,
            func.row_number()
            .over(partition_by=table.c.customer_id, order_by=ordering)
            .label("rank"),
        )
        .where(table.c.customer_id.in_(bindparam("customer_ids", expanding=True)))
        .subquery()
    )
    return select(*(ranked.c[c.key] for c in table.c)).where(ranked.c.rank == 1)


def _latest(
    session: Session, model: Any, order: tuple[str, ...], customer_ids: Sequence[int]
) -> dict[int, Any]:
    """The newest row of ``model`` per customer, as plain rows, in one statement.

    The rows are ranked inside one subquery restricted to the customers asked for, so the
    database reads only their rows (joining the ranking back to the table scanned it whole).
    ``order`` names columns, ``-`` for descending.
    """
    statement = _latest_statement(model, order)
    rows = session.connection().execute(statement, {"customer_ids": list(customer_ids)}).all()
    return {row.customer_id: row for row in rows}


def latest_snapshots(session: Session, customer_ids: Sequence[int]) -> dict[int, Any]:
    """The newest financial snapshot of each customer."""
    return _latest(session, FinancialSnapshot, ("-as_of", "-id"), customer_ids)


def latest_risk(session: Session, customer_ids: Sequence[int]) -> dict[int, Any]:
    """The newest risk assessment of each customer."""
    return _latest(session, RiskAssessment, ("-assessed_at", "-id"), customer_ids)


def _per_customer(
    session: Session,
    model: Any,
    customer_ids: Sequence[int],
    order: Sequence[Any],
    options: Sequence[Any] = (),
) -> dict[int, list[Any]]:
    """Every row of ``model`` for the given customers, grouped by customer, one statement."""
    rows = session.scalars(
        select(model).options(*options).where(model.customer_id.in_(customer_ids)).order_by(*order)
    )
    result: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        result[row.customer_id].append(row)
    return result


def snapshots(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    order = (FinancialSnapshot.as_of.desc(), FinancialSnapshot.id.desc())
    return _per_customer(session, FinancialSnapshot, customer_ids, order)


def risk_history(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    order = (RiskAssessment.assessed_at.desc(), RiskAssessment.id.desc())
    return _per_customer(session, RiskAssessment, customer_ids, order)


def accounts(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    return _per_customer(session, Account, customer_ids, (Account.id,))


def preferences(session: Session, customer_ids: Sequence[int]) -> dict[int, Preferences]:
    rows = session.scalars(select(Preferences).where(Preferences.customer_id.in_(customer_ids)))
    return {row.customer_id: row for row in rows}


def sources(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    return _per_customer(session, InformationSource, customer_ids, (InformationSource.id.desc(),))


def verification_status(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    order = (VerificationDue.due_on, VerificationDue.information_kind)
    return _per_customer(session, VerificationDue, customer_ids, order)


def verifications(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    order = (Verification.verified_at.desc(), Verification.id.desc())
    return _per_customer(
        session, Verification, customer_ids, order, [joinedload(Verification.verified_by)]
    )


@dataclass(frozen=True)
class TransactionSummary:
    """Frequency and amounts derived from a customer's transactions over a window (INFO-2)."""

    customer_id: int
    days: int
    count: int
    inflow: Decimal
    outflow: Decimal
    last_occurred_at: datetime | None


def transaction_summaries(
    session: Session, customer_ids: Sequence[int], days: int
) -> dict[int, TransactionSummary]:
    """Count, money in and money out per customer over the last ``days`` days, one statement."""
    since = clock.now() - timedelta(days=days)
    inflow = Transaction.type.in_(list(INFLOW_TYPES))
    zero = Decimal("0.00")
    statement = (
        select(
            Transaction.customer_id,
            func.count(),
            func.sum(case((inflow, Transaction.amount), else_=None)),
            func.sum(case((inflow, None), else_=Transaction.amount)),
            func.max(Transaction.occurred_at),
        )
        .where(Transaction.customer_id.in_(customer_ids), Transaction.occurred_at >= since)
        .group_by(Transaction.customer_id)
    )
    result: dict[int, TransactionSummary] = {}
    # The aggregates keep the column types, so Money and UTC conversion apply to them too.
    for customer_id, count, money_in, money_out, last in session.execute(statement):
        result[customer_id] = TransactionSummary(
            customer_id=customer_id,
            days=days,
            count=count,
            inflow=money_in if money_in is not None else zero,
            outflow=money_out if money_out is not None else zero,
            last_occurred_at=last,
        )
    return {
        cid: result.get(cid) or TransactionSummary(cid, days, 0, zero, zero, None)
        for cid in customer_ids
    }
