"""Classification runs (SEG-1, SEG-2, SEG-4): set-based, for one customer or the whole bank.

A run computes every customer of its scope in one INSERT … SELECT into the run's staging rows
(inputs, score, tier, private-banking mark, derived needs — as ``model.classify`` would), keeps
the changes with one INSERT … SELECT (from → to, why, which run), then updates the current
segments of the scope in place (one UPDATE … FROM) and inserts the missing ones. No statement
per customer: one customer and the whole bank take the same statements. Runs hold the rule set
in force (``commands.ensure_rule_set(lock=True)``), so two runs over the same customers take
turns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session

from core import clock
from resolvers.segments import applied, model, risk_model, risk_sql
from resolvers.segments.commands import ensure_measures, ensure_risk_rule_set, ensure_rule_set
from resolvers.shared import unit_of_work
from store.base import Money, UTCDateTime, int_div
from store.customers import (
    Account,
    AccountKind,
    Customer,
    FinancialSnapshot,
    Transaction,
    TransactionType,
)
from store.segments import (
    BULK_SLOT,
    DERIVED_NEEDS,
    TIER_ORDER,
    ChangeReason,
    CustomerSegment,
    RiskSignal,
    RunScope,
    RunStatus,
    SegmentChange,
    SegmentRun,
    SegmentStaging,
    ValueInput,
    ValueTier,
)

# The window of "12-month" inputs (transaction frequency, fee income).
WINDOW = timedelta(days=365)
DEPOSIT_KINDS = (AccountKind.DEMAND_DEPOSIT, AccountKind.TIME_DEPOSIT)
# Needs (SEG-2): investment — a wealth-management account or product trades in 12 months;
# financing — a loan outstanding or disbursed in 12 months; settlement — at least two payments
# or transfers a month.
INVESTMENT_TRADES = (TransactionType.PRODUCT_PURCHASE, TransactionType.PRODUCT_REDEMPTION)
SETTLEMENT_TYPES = (
    TransactionType.PAYMENT,
    TransactionType.TRANSFER_IN,
    TransactionType.TRANSFER_OUT,
)
SETTLEMENT_PAYMENTS = 24


def _count(condition: ColumnElement[bool]) -> Any:
    """How many rows of a group meet ``condition``."""
    return func.sum(case((condition, 1), else_=0))


# -- the run --------------------------------------------------------------------------


def scope_filter(
    scope: RunScope, customer_ids: list[int] | None, branch_id: int | None
) -> Callable[[Any], ColumnElement[bool]]:
    """The run's customers, as a condition on a ``customer_id`` column."""
    if scope is RunScope.CUSTOMER:
        ids = list(customer_ids or [])
        return lambda column: column.in_(ids)
    if scope is RunScope.BRANCH:
        branch_customers = select(Customer.id).where(Customer.branch_id == branch_id)
        return lambda column: column.in_(branch_customers)
    return lambda column: true()


def _money(value: Any) -> Any:
    return literal(value, Money())


def computed_segments(
    rules: model.RuleSet,
    now: datetime,
    in_scope: Callable[[Any], ColumnElement[bool]],
    risk: risk_model.RiskRuleSet,
) -> Any:
    """One SELECT: every customer in scope with its inputs, score, tier and private banking,
    and its risk values and grade (SEG-3)."""
    since = now - WINDOW
    credit = risk_sql.credit_scores(in_scope)
    peaks = risk_sql.aum_peaks(risk, now, in_scope)
    latest = (
        select(FinancialSnapshot.customer_id, func.max(FinancialSnapshot.as_of).label("as_of"))
        .where(in_scope(FinancialSnapshot.customer_id))
        .group_by(FinancialSnapshot.customer_id)
        .subquery("latest")
    )
    aum = (
        select(
            FinancialSnapshot.customer_id,
            FinancialSnapshot.assets_under_management.label("aum"),
        )
        .join(
            latest,
            and_(
                latest.c.customer_id == FinancialSnapshot.customer_id,
                latest.c.as_of == FinancialSnapshot.as_of,
            ),
        )
        .subquery("aum")
    )
    activity = (
        select(
            Transaction.customer_id,
            func.count().label("transaction_count"),
            func.sum(
                case((Transaction.type == TransactionType.FEE, Transaction.amount), else_=0)
            ).label("fee_income"),
            _count(Transaction.type.in_(INVESTMENT_TRADES)).label("investment_trades"),
            _count(Transaction.type == TransactionType.LOAN_DISBURSEMENT).label("disbursements"),
            _count(Transaction.type.in_(SETTLEMENT_TYPES)).label("payments"),
            *risk_sql.activity_columns(risk, now),
        )
        .where(Transaction.occurred_at >= literal(since, UTCDateTime()))
        .where(in_scope(Transaction.customer_id))
        .group_by(Transaction.customer_id)
        .subquery("activity")
    )
    holdings = (
        select(
            Account.customer_id,
            func.sum(case((Account.kind.in_(DEPOSIT_KINDS), Account.balance), else_=0)).label(
                "deposit_balance"
            ),
            func.sum(case((Account.kind == AccountKind.LOAN, Account.balance), else_=0)).label(
                "loan_amount"
            ),
            _count(Account.kind == AccountKind.WEALTH_MANAGEMENT).label("wealth_accounts"),
            *risk_sql.holding_columns(),
        )
        .where(Account.closed_on.is_(None), in_scope(Account.customer_id))
        .group_by(Account.customer_id)
        .subquery("holdings")
    )
    customers = Customer.__table__
    inputs = (
        select(
            customers.c.id.label("customer_id"),
            func.coalesce(aum.c.aum, 0).label("aum"),
            func.coalesce(activity.c.transaction_count, 0).label("transaction_count"),
            func.coalesce(holdings.c.deposit_balance, 0).label("deposit_balance"),
            func.coalesce(holdings.c.loan_amount, 0).label("loan_amount"),
            func.coalesce(activity.c.fee_income, 0).label("fee_income"),
            # Needs (SEG-2), derived from holdings and transactions.
            or_(
                func.coalesce(holdings.c.wealth_accounts, 0) > 0,
                func.coalesce(activity.c.investment_trades, 0) > 0,
            ).label("needs_investment"),
            or_(
                func.coalesce(holdings.c.loan_amount, 0) > 0,
                func.coalesce(activity.c.disbursements, 0) > 0,
            ).label("needs_financing"),
            (func.coalesce(activity.c.payments, 0) >= SETTLEMENT_PAYMENTS).label(
                "needs_settlement"
            ),
            # Risk (SEG-3): the values the risk model reads.
            credit.c.credit_score,
            func.coalesce(holdings.c.days_past_due, 0).label("days_past_due"),
            func.coalesce(activity.c.outflow, 0).label("outflow"),
            risk_sql.aum_drop(func.coalesce(aum.c.aum, 0), peaks.c.peak).label("aum_drop"),
            holdings.c.market_risk,
        )
        .select_from(
            customers.outerjoin(aum, aum.c.customer_id == customers.c.id)
            .outerjoin(activity, activity.c.customer_id == customers.c.id)
            .outerjoin(holdings, holdings.c.customer_id == customers.c.id)
            .outerjoin(credit, credit.c.customer_id == customers.c.id)
            .outerjoin(peaks, peaks.c.customer_id == customers.c.id)
        )
        .where(in_scope(customers.c.id))
        .subquery("inputs")
    )
    columns = {
        ValueInput.AUM: inputs.c.aum,
        ValueInput.TRANSACTION_FREQUENCY: inputs.c.transaction_count,
        ValueInput.DEPOSIT_BALANCE: inputs.c.deposit_balance,
        ValueInput.LOAN_AMOUNT: inputs.c.loan_amount,
        ValueInput.FEE_INCOME: inputs.c.fee_income,
    }

    def points(factor: model.Factor) -> Any:
        value = columns[factor.input]
        full = (
            _money(factor.full_score_at)
            if factor.input in model.MONEY_INPUTS
            else literal(int(factor.full_score_at))
        )
        return case(
            (value >= full, model.FULL), else_=int_div(value * literal(model.FULL, Integer()), full)
        )

    weighted = sum(
        (literal(f.weight_units) * points(f) for f in rules.factors if f.weight_units),
        start=literal(0),
    )
    scored = select(*inputs.c, int_div(weighted, 10000).label("score")).subquery("scored")
    lift = rules.lift_units

    def in_range(cut: model.CutOff) -> ColumnElement[bool]:
        lower = scored.c.aum >= _money(cut.from_aum)
        return lower if cut.below_aum is None else and_(lower, scored.c.aum < _money(cut.below_aum))

    whens: list[Any] = []
    if lift is not None:
        lifted = scored.c.score >= lift
        whens += [
            (and_(in_range(cut), lifted), TIER_ORDER[min(i + 1, len(TIER_ORDER) - 1)].value)
            for i, cut in enumerate(rules.cut_offs)
        ]
    whens += [(in_range(cut), cut.tier.value) for cut in rules.cut_offs]
    return select(
        scored.c.customer_id,
        scored.c.aum,
        scored.c.transaction_count,
        scored.c.deposit_balance,
        scored.c.loan_amount,
        scored.c.fee_income,
        scored.c.score,
        case(*whens, else_=ValueTier.LOW.value).label("tier"),
        (scored.c.aum >= _money(rules.private_banking_aum)).label("private_banking"),
        scored.c.needs_investment,
        scored.c.needs_financing,
        scored.c.needs_settlement,
        risk_sql.risk_grade(
            risk,
            {
                RiskSignal.CREDIT_SCORE: scored.c.credit_score,
                RiskSignal.DAYS_PAST_DUE: scored.c.days_past_due,
                RiskSignal.LARGE_OUTFLOW: scored.c.outflow,
                RiskSignal.AUM_DROP: scored.c.aum_drop,
                RiskSignal.MARKET_RISK: scored.c.market_risk,
            },
        ).label("risk_grade"),
        *(scored.c[name] for name in risk_sql.RISK_COLUMNS[1:]),
    )


def chunks(
    session: Session, in_scope: Callable[[Any], ColumnElement[bool]], size: int | None
) -> list[Callable[[Any], ColumnElement[bool]]]:
    """The scope as one condition, or as ranges of ``size`` customer keys."""
    if size is None:
        return [in_scope]
    low, high = session.execute(select(func.min(Customer.id), func.max(Customer.id))).one()
    if low is None:
        return [in_scope]

    def part(start: int) -> Callable[[Any], ColumnElement[bool]]:
        return lambda column: and_(in_scope(column), column >= start, column < start + size)

    return [part(start) for start in range(int(low), int(high) + 1, size)]


def customers_in_scope(session: Session, scope: RunScope, branch_id: int | None = None) -> int:
    """How many customers a run of ``scope`` classifies (for a progress bar)."""
    in_scope = scope_filter(scope, None, branch_id)
    statement = select(func.count()).select_from(Customer).where(in_scope(Customer.id))
    return int(session.scalar(statement) or 0)


INPUT_COLUMNS = (
    "customer_id",
    "aum",
    "transaction_count",
    "deposit_balance",
    "loan_amount",
    "fee_income",
    "score",
    "tier",
    "private_banking",
    "needs_investment",
    "needs_financing",
    "needs_settlement",
    *risk_sql.RISK_COLUMNS,
)

# The derived needs of a segment, and the columns of a change that keep them.
NEED_COLUMNS = {column: f"to_{column}" for column in DERIVED_NEEDS.values()}


def new_run(
    session: Session,
    rules: model.RuleSet,
    risk: risk_model.RiskRuleSet,
    scope: RunScope,
    started_by: str,
    branch_id: int | None,
    now: datetime,
    status: RunStatus = RunStatus.DONE,
) -> SegmentRun:
    """A run of ``scope`` under ``rules`` and ``risk`` (flushed: it has its id)."""
    run = SegmentRun(
        rule_set_version=rules.version,
        risk_rule_set_version=risk.version,
        scope=scope,
        branch_id=branch_id,
        started_by=started_by,
        started_at=now,
        customers=0,
        changed=0,
        status=status,
        progress_done=0,
        progress_total=0,
        active=BULK_SLOT if status in (RunStatus.PENDING, RunStatus.RUNNING) else None,
    )
    session.add(run)
    session.flush()
    return run


def staged_count(session: Session, run_id: int) -> int:
    """Customers a run has computed so far (counted: drivers do not all report rowcount for
    INSERT … SELECT)."""
    staging = cast(Table, SegmentStaging.__table__)
    return int(
        session.scalar(select(func.count()).select_from(staging).where(staging.c.run_id == run_id))
        or 0
    )


def stage(
    session: Session,
    run_id: int,
    rules: model.RuleSet,
    risk: risk_model.RiskRuleSet,
    now: datetime,
    part: Callable[[Any], ColumnElement[bool]],
) -> None:
    """Compute the customers of ``part`` into the run's staging rows (one INSERT … SELECT)."""
    staging = cast(Table, SegmentStaging.__table__)
    computed = computed_segments(rules, now, part, risk).subquery("computed")
    session.execute(
        insert(staging).from_select(
            ["run_id", *INPUT_COLUMNS],
            select(literal(run_id), *(computed.c[name] for name in INPUT_COLUMNS)),
        )
    )


def apply(
    session: Session,
    run: SegmentRun,
    rules: model.RuleSet,
    risk: risk_model.RiskRuleSet,
    reason: ChangeReason,
    now: datetime,
    in_scope: Callable[[Any], ColumnElement[bool]],
    *,
    keep_newer: bool = False,
) -> None:
    """Make the run's staging rows the current segments, keeping every change (from → to, why,
    which run), empty the staging rows and sync the re-assessment tasks of ``in_scope`` with
    the risk grades (SEG-5). With ``keep_newer`` (a background run, computed over a while), a
    customer classified again after the run began (its inputs changed) keeps that newer
    segment."""
    staging = cast(Table, SegmentStaging.__table__)
    current = cast(Table, CustomerSegment.__table__)
    this_run = staging.c.run_id == run.id
    if keep_newer:
        session.execute(
            delete(staging).where(
                this_run,
                staging.c.customer_id.in_(
                    select(current.c.customer_id).where(
                        current.c.classified_at > literal(now, UTCDateTime())
                    )
                ),
            )
        )
    staged = staged_count(session, run.id)
    session.execute(
        insert(cast(Table, SegmentChange.__table__)).from_select(
            [
                "customer_id",
                "from_tier",
                "to_tier",
                "from_private_banking",
                "to_private_banking",
                "reason",
                "run_id",
                "rule_set_version",
                "changed_at",
                "from_risk_grade",
                "to_risk_grade",
                "risk_rule_set_version",
                *NEED_COLUMNS.values(),
            ],
            select(
                staging.c.customer_id,
                current.c.tier,
                staging.c.tier,
                current.c.private_banking,
                staging.c.private_banking,
                case(
                    (current.c.customer_id.is_(None), ChangeReason.FIRST_CLASSIFICATION.value),
                    else_=reason.value,
                ),
                literal(run.id),
                literal(rules.version),
                literal(now, UTCDateTime()),
                current.c.risk_grade,
                staging.c.risk_grade,
                literal(risk.version),
                *(staging.c[name] for name in NEED_COLUMNS),
            )
            .select_from(staging.outerjoin(current, current.c.customer_id == staging.c.customer_id))
            .where(
                this_run,
                or_(
                    current.c.customer_id.is_(None),
                    current.c.tier != staging.c.tier,
                    current.c.private_banking != staging.c.private_banking,
                    current.c.risk_grade.is_distinct_from(staging.c.risk_grade),
                    # Derived needs are part of the segment (SEG-2): their month-end figures
                    # come from the history too.
                    *(current.c[name] != staging.c[name] for name in NEED_COLUMNS),
                ),
            ),
        )
    )
    changed = session.scalar(
        select(func.count()).select_from(SegmentChange).where(SegmentChange.run_id == run.id)
    )
    # Every staged customer is stamped with this run (``segment { run classifiedAt ruleSet }``
    # and the keep-newer rule above read them), so every row is written; one UPDATE … FROM
    # writes each row once, in place: on PostgreSQL, with the table's half-empty pages (0027),
    # a row whose score and tier did not change keeps its index entries (HOT), where deleting
    # and re-inserting the scope wrote every row and index entry anew. Customers without a row
    # yet get one.
    stamped: dict[str, Any] = {
        "run_id": literal(run.id),
        "rule_set_version": literal(rules.version),
        "risk_rule_set_version": literal(risk.version),
        "classified_at": literal(now, UTCDateTime()),
    }
    session.execute(
        update(current)
        .where(this_run, current.c.customer_id == staging.c.customer_id)
        .values(
            **stamped,
            **{name: staging.c[name] for name in INPUT_COLUMNS if name != "customer_id"},
        )
    )
    session.execute(
        insert(current).from_select(
            [*stamped, *INPUT_COLUMNS],
            select(*stamped.values(), *(staging.c[name] for name in INPUT_COLUMNS)).where(
                this_run,
                ~select(current.c.customer_id)
                .where(current.c.customer_id == staging.c.customer_id)
                .exists(),
            ),
        )
    )
    session.execute(delete(staging).where(this_run))
    # Service measures the system applies (SEG-5): re-assessment tasks follow the risk grades
    # (as of the clock: a background run applies a while after the instant it computed at).
    measure_set = ensure_measures(session)
    applied.sync_reviews(session, clock.now(), in_scope, risk.review_period_days, measure_set)
    run.customers = max(staged, 0)
    run.changed = max(int(changed or 0), 0)
    run.finished_at = clock.now()
    session.flush()


def classify(
    session: Session,
    *,
    scope: RunScope,
    started_by: str,
    reason: ChangeReason = ChangeReason.RECLASSIFIED,
    customer_ids: list[int] | None = None,
    branch_id: int | None = None,
    progress: Callable[[int], None] | None = None,
    chunk: int | None = None,
) -> SegmentRun:
    """Classify the customers of ``scope`` under the rule set in force, as one run, in the
    caller's transaction (one customer after a change of its inputs; the demo seed).

    With ``chunk``, customers are computed ``chunk`` customer keys at a time (still set-based,
    one statement per chunk) and ``progress`` hears how many were computed after each. Bulk
    runs asked for through the API or ``kehu classify`` run in the background instead
    (``jobs``): their progress can be read while they run.
    """
    session.flush()  # the statements below read what the transaction changed so far
    rules = ensure_rule_set(session, lock=True)
    risk = ensure_risk_rule_set(session, lock=True)
    now = clock.now()
    run = new_run(session, rules, risk, scope, started_by, branch_id, now)
    in_scope = scope_filter(scope, customer_ids, branch_id)
    done = 0
    for part in chunks(session, in_scope, chunk):
        stage(session, run.id, rules, risk, now, part)
        if progress is not None:
            staged = staged_count(session, run.id)
            progress(staged - done)
            done = staged
    apply(session, run, rules, risk, reason, now, in_scope)
    run.progress_done = run.progress_total = run.customers
    ids = customer_ids if scope is RunScope.CUSTOMER else ()
    note_run(session, run, list(ids or ()))
    return run


def note_run(session: Session, run: SegmentRun, customer_ids: list[int]) -> None:
    """What a run did, in the CHANGE entry of its unit of work."""
    unit_of_work.note(
        session,
        f"classification run {run.id} ({RunScope(run.scope).value}, value model version "
        f"{run.rule_set_version}, risk model version {run.risk_rule_set_version}): "
        f"{run.customers} customers, {run.changed} changed",
        customer_ids=customer_ids,
    )


def classify_after_change(session: Session, customer_id: int, started_by: str) -> None:
    """Classify one customer whose inputs just changed, in the same transaction."""
    classify(
        session,
        scope=RunScope.CUSTOMER,
        started_by=started_by,
        reason=ChangeReason.INPUTS_CHANGED,
        customer_ids=[customer_id],
    )
