"""The KPI families: one SQL aggregate per source table, grouped by scope keys and period.

Every family answers rows ``(g0[, g1], w, measures…)``: the group keys (branch, team or staff),
``w`` the index of the window a row falls in (``Frame.windows``), and the measures the
indicators read (``resolvers.kpis.indicators``). Rows are bucketed into windows in an inner
SELECT and grouped outside it (GROUP BY then names plain columns, on every backend). Nothing is
summed in Python but the handful of grouped rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)

from resolvers.complaints.deadlines import decided_on_time_condition
from resolvers.contacts import cadence
from resolvers.kpis.periods import Window
from resolvers.kpis.scope import Attribution, Level, Scope
from resolvers.segments.loaders import override_in_force
from resolvers.shared.periods import Period, PeriodKind
from store.base import UTCDateTime
from store.complaints import Complaint, ComplaintStatus
from store.contacts import Contact
from store.customers import (
    INFLOW_TYPES,
    Account,
    AccountKind,
    Customer,
    Transaction,
    TransactionType,
)
from store.segments import COMPUTED_REASONS, CustomerSegment, SegmentChange, SegmentOverride
from store.surveys import METRIC_RECOMMEND as RECOMMEND
from store.surveys import METRIC_SATISFACTION as SATISFACTION
from store.surveys import SurveyAnswer, SurveyResponse

# How far back a lost customer's reasons are looked for.
LOST_LOOKBACK = timedelta(days=180)
DEPOSIT_KINDS = (AccountKind.DEMAND_DEPOSIT, AccountKind.TIME_DEPOSIT)


@dataclass(frozen=True)
class Frame:
    """One computation: which customers (``scope`` and the caller's ``visible`` rows), grouped
    by ``keys``, bucketed into ``windows`` (mutually disjoint), as of ``now``/``today``."""

    scope: Scope
    keys: tuple[Level, ...]
    windows: tuple[Window, ...]
    visible: ColumnElement[bool]
    attribution: Attribution
    now: datetime
    today: date

    @property
    def teams(self) -> bool:
        return Level.TEAM in self.keys or self.scope.level is Level.TEAM

    def key_columns(self) -> list[Any]:
        return [self.attribution.key(level).label(f"g{i}") for i, level in enumerate(self.keys)]

    def bucket(self, moment: Any) -> Any:
        """The index of the window an instant falls in (NULL: none)."""
        return case(
            *(
                (and_(moment >= w.starts_at, moment < w.ends_at), i)
                for i, w in enumerate(self.windows)
            ),
            else_=None,
        )

    def date_bucket(self, day: Any) -> Any:
        """The index of the window a Beijing date falls in (NULL: none)."""
        return case(
            *((and_(day >= w.start, day < w.end), i) for i, w in enumerate(self.windows)),
            else_=None,
        )

    def in_reach(self, moment: Any) -> ColumnElement[bool]:
        return or_(*(and_(moment >= w.starts_at, moment < w.ends_at) for w in self.windows))

    def rows(
        self,
        source: Any,
        customer_id: Any,
        moment: Any,
        columns: Sequence[Any],
        *where: Any,
        bucket: Any = None,
    ) -> Any:
        """The inner SELECT: group keys, window index ``w`` and ``columns`` of each source row of
        a customer in scope, in one of the windows."""
        chosen = self.bucket(moment) if bucket is None else bucket
        statement = select(*self.key_columns(), chosen.label("w"), *columns).select_from(source)
        if source is not Customer:
            statement = statement.join(Customer, Customer.id == customer_id)
        if self.teams:
            statement = self.attribution.join_team(statement)
        reach = self.in_reach(moment) if bucket is None else chosen.is_not(None)
        return statement.where(
            self.attribution.condition(self.scope), self.visible, reach, *where
        ).subquery("rows")

    def grouped(self, rows: Any, *measures: Any) -> Select[Any]:
        """The outer SELECT: the measures per group keys and window."""
        keys = [rows.c[f"g{i}"] for i in range(len(self.keys))]
        return select(*keys, rows.c.w, *measures).group_by(*keys, rows.c.w)


def _count_distinct(column: Any) -> Any:
    return func.count(func.distinct(column))


def survey(frame: Frame) -> Select[Any]:
    rows = frame.rows(
        SurveyAnswer.__table__.join(
            SurveyResponse.__table__, SurveyResponse.id == SurveyAnswer.response_id
        ),
        SurveyResponse.customer_id,
        SurveyResponse.recorded_at,
        [
            SurveyResponse.customer_id.label("customer_id"),
            SurveyAnswer.metric.label("metric"),
            SurveyAnswer.scale.label("scale"),
            cast(SurveyAnswer.yes_no, Integer).label("yes"),
        ],
        SurveyAnswer.metric.in_([SATISFACTION, RECOMMEND]),
    )
    satisfaction = rows.c.metric == SATISFACTION
    recommend = rows.c.metric == RECOMMEND
    return frame.grouped(
        rows,
        func.sum(case((satisfaction, rows.c.scale))).label("score_sum"),
        func.count(case((satisfaction, rows.c.scale))).label("scored"),
        func.sum(case((recommend, rows.c.yes))).label("recommend_yes"),
        func.count(case((recommend, rows.c.yes))).label("recommend_answered"),
        _count_distinct(rows.c.customer_id).label("responders"),
    )


def _complaints(frame: Frame, moment: Any, columns: Sequence[Any], *where: Any) -> Any:
    return frame.rows(
        Complaint,
        Complaint.customer_id,
        moment,
        [Complaint.customer_id.label("customer_id"), *columns],
        *where,
    )


def accepted(frame: Frame) -> Select[Any]:
    rows = _complaints(frame, Complaint.accepted_at, [], Complaint.status != ComplaintStatus.MERGED)
    return frame.grouped(
        rows,
        func.count().label("complaints"),
        _count_distinct(rows.c.customer_id).label("complainants"),
    )


def decided(frame: Frame) -> Select[Any]:
    on_time = case((decided_on_time_condition(), 1), else_=0).label("on_time")
    rows = _complaints(frame, Complaint.decided_at, [on_time])
    return frame.grouped(
        rows,
        func.count().label("decided"),
        func.sum(rows.c.on_time).label("on_time"),
        _count_distinct(rows.c.customer_id).label("complainants"),
    )


def closed(frame: Frame) -> Select[Any]:
    rows = _complaints(
        frame,
        Complaint.closed_at,
        [Complaint.satisfaction_score.label("score")],
        Complaint.satisfaction_score.is_not(None),
    )
    return frame.grouped(
        rows,
        func.sum(rows.c.score).label("score_sum"),
        func.count().label("scored"),
        _count_distinct(rows.c.customer_id).label("complainants"),
    )


def reviews(frame: Frame) -> Select[Any]:
    rows = _complaints(frame, Complaint.review_requested_at, [])
    return frame.grouped(
        rows,
        func.count().label("requests"),
        _count_distinct(rows.c.customer_id).label("complainants"),
    )


def new(frame: Frame) -> Select[Any]:
    rows = frame.rows(Customer, Customer.id, Customer.created_at, [])
    return frame.grouped(rows, func.count().label("customers"))


def base(frame: Frame) -> Select[Any]:
    """Customers registered before each window's end: one column per window (``b<i>``), no
    bucketing (a customer counts in every window after it joined)."""
    keys = frame.key_columns()
    statement = select(
        *keys,
        *(
            func.sum(case((Customer.created_at < w.ends_at, 1), else_=0)).label(f"b{i}")
            for i, w in enumerate(frame.windows)
        ),
    ).select_from(Customer)
    if frame.teams:
        statement = frame.attribution.join_team(statement)
    statement = statement.where(
        frame.attribution.condition(frame.scope),
        frame.visible,
        Customer.created_at < max(w.ends_at for w in frame.windows),
    )
    return statement.group_by(*[frame.attribution.key(level) for level in frame.keys])


def purchases(frame: Frame) -> Select[Any]:
    rows = frame.rows(
        Transaction,
        Transaction.customer_id,
        Transaction.occurred_at,
        [Transaction.customer_id.label("customer_id")],
        Transaction.type == TransactionType.PRODUCT_PURCHASE,
    )
    keys = [rows.c[f"g{i}"] for i in range(len(frame.keys))]
    per_customer = (
        select(*keys, rows.c.w, func.count().label("n"))
        .group_by(*keys, rows.c.w, rows.c.customer_id)
        .subquery("buyers")
    )
    return frame.grouped(
        per_customer,
        func.count().label("buyers"),
        func.sum(case((per_customer.c.n >= 2, 1), else_=0)).label("repeaters"),
    )


def flows(frame: Frame) -> Select[Any]:
    amount = Transaction.amount
    deposit_account = Account.kind.in_(DEPOSIT_KINDS)
    deposit = case(
        (and_(deposit_account, Transaction.type.in_(INFLOW_TYPES)), amount),
        (deposit_account, -amount),
        else_=None,
    )
    loan_account = Account.kind == AccountKind.LOAN
    loan = case(
        (and_(loan_account, Transaction.type == TransactionType.LOAN_DISBURSEMENT), amount),
        (and_(loan_account, Transaction.type == TransactionType.LOAN_REPAYMENT), -amount),
        else_=None,
    )
    fee = case((Transaction.type == TransactionType.FEE, amount), else_=None)
    rows = frame.rows(
        Transaction.__table__.join(Account.__table__, Account.id == Transaction.account_id),
        Transaction.customer_id,
        Transaction.occurred_at,
        [
            Transaction.customer_id.label("customer_id"),
            deposit.label("deposit"),
            loan.label("loan"),
            fee.label("fee"),
        ],
    )
    # Per customer first (a hash aggregate), then per group: cheaper than three DISTINCTs.
    keys = [rows.c[f"g{i}"] for i in range(len(frame.keys))]
    c = rows.c
    per_customer = (
        select(
            *keys,
            c.w,
            func.sum(c.deposit).label("deposit"),
            func.sum(c.loan).label("loan"),
            func.sum(c.fee).label("fee"),
        )
        .group_by(*keys, c.w, c.customer_id)
        .subquery("per_customer")
    )
    p = per_customer.c
    return frame.grouped(
        per_customer,
        func.sum(p.deposit).label("deposit"),
        func.count(p.deposit).label("depositors"),
        func.sum(p.loan).label("loan"),
        func.count(p.loan).label("borrowers"),
        func.sum(p.fee).label("fee"),
        func.count(p.fee).label("fee_payers"),
    )


def _rank(tier: Any) -> Any:
    return case((tier == "HIGH", 2), (tier == "MEDIUM", 1), else_=0)


def tiers(frame: Frame) -> Select[Any]:
    up = case((_rank(SegmentChange.to_tier) > _rank(SegmentChange.from_tier), 1), else_=0)
    rows = frame.rows(
        SegmentChange,
        SegmentChange.customer_id,
        SegmentChange.changed_at,
        [SegmentChange.customer_id.label("customer_id"), up.label("up")],
        SegmentChange.reason.in_([r.value for r in COMPUTED_REASONS]),
        SegmentChange.from_tier.is_not(None),
        SegmentChange.from_tier != SegmentChange.to_tier,
    )
    c = rows.c
    return frame.grouped(
        rows,
        func.sum(c.up).label("up"),
        func.sum(1 - c.up).label("down"),
        _count_distinct(case((c.up == 1, c.customer_id))).label("up_customers"),
        _count_distinct(case((c.up == 0, c.customer_id))).label("down_customers"),
    )


def lost(frame: Frame) -> Select[Any]:
    """Lost customers per reason (``reason`` is an extra group column)."""
    last = (
        select(Account.customer_id, func.max(Account.closed_on).label("closed_on"))
        .group_by(Account.customer_id)
        .having(func.count() == func.count(Account.closed_on))
        .subquery("last_closed")
    )
    since = case(
        *(
            (
                last.c.closed_on.between(w.start, w.last_day),
                literal(w.starts_at - LOST_LOOKBACK, UTCDateTime()),
            )
            for w in frame.windows
        ),
        else_=None,
    )
    until = case(
        *(
            (last.c.closed_on.between(w.start, w.last_day), literal(w.ends_at, UTCDateTime()))
            for w in frame.windows
        ),
        else_=None,
    )
    rows = frame.rows(
        last,
        last.c.customer_id,
        cast(last.c.closed_on, Date),
        [
            last.c.customer_id.label("customer_id"),
            since.label("since"),
            until.label("until"),
        ],
        bucket=frame.date_bucket(last.c.closed_on),
    )
    c = rows.c
    complained = exists().where(
        Complaint.customer_id == c.customer_id,
        Complaint.accepted_at >= c.since,
        Complaint.accepted_at < c.until,
    )
    dropped = exists().where(
        SegmentChange.customer_id == c.customer_id,
        SegmentChange.reason.in_([r.value for r in COMPUTED_REASONS]),
        _rank(SegmentChange.to_tier) < _rank(SegmentChange.from_tier),
        SegmentChange.from_tier.is_not(None),
        SegmentChange.changed_at >= c.since,
        SegmentChange.changed_at < c.until,
    )
    contacted = exists().where(
        Contact.customer_id == c.customer_id,
        Contact.contacted_at >= c.since,
        Contact.contacted_at < c.until,
    )
    reason = case(
        (complained, "COMPLAINT"),
        (dropped, "TIER_DOWN"),
        (~contacted, "NOT_CONTACTED"),
        else_="OTHER",
    )
    keys = [c[f"g{i}"] for i in range(len(frame.keys))]
    reasoned = select(*keys, c.w, reason.label("reason")).subquery("reasoned")
    outer_keys = [reasoned.c[f"g{i}"] for i in range(len(frame.keys))]
    return select(
        *outer_keys, reasoned.c.w, reasoned.c.reason, func.count().label("customers")
    ).group_by(*outer_keys, reasoned.c.w, reasoned.c.reason)


def _due_periods(frame: Frame) -> Any:
    """Every (window, tier, cadence period) due, as a table of constants (None: nothing due)."""
    rows = []
    instant = UTCDateTime()
    for i, window in enumerate(frame.windows):
        report = Period(PeriodKind.MONTH, window.start, window.end)  # only its dates are read
        for tier, kind in cadence.CADENCE.items():
            for period in cadence.periods_ending_in(kind, report):
                if period.end > frame.today:
                    continue  # a running period is not judged yet
                rows.append(
                    select(
                        literal(i, Integer).label("w"),
                        literal(tier.value, String(32)).label("tier"),
                        literal(period.starts_at, instant).label("starts_at"),
                        literal(period.ends_at, instant).label("ends_at"),
                        # Began on or after the day the customer joined (Beijing dates).
                        literal(period.starts_at + timedelta(days=1), instant).label("joined"),
                    )
                )
    if not rows:
        return None
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("due")


def cadence_compliance(frame: Frame) -> Any:
    """Due (customer, cadence period) pairs and those met, as two grouped parts united: the
    pairs come from a join with the due periods' table; the met ones from the contacts in
    those periods (each contact falls in one period of its customer's tier) — no probe per
    pair."""
    due = _due_periods(frame)
    if due is None:
        return None
    computed = CustomerSegment.__table__
    overrides = SegmentOverride.__table__
    tier = func.coalesce(overrides.c.tier, computed.c.tier, cadence.UNCLASSIFIED.value)

    def tiered(source: Any) -> Any:
        return source.outerjoin(computed, computed.c.customer_id == Customer.id).outerjoin(
            overrides,
            and_(overrides.c.customer_id == Customer.id, override_in_force(frame.now)),
        )

    in_period = and_(due.c.tier == tier, Customer.created_at < due.c.joined)
    pairs = select(*frame.key_columns(), due.c.w, Customer.id.label("customer_id")).select_from(
        tiered(Customer.__table__).join(due, in_period)
    )
    contacted = (
        select(
            *frame.key_columns(),
            due.c.w,
            Customer.id.label("customer_id"),
            due.c.starts_at,
        )
        .distinct()
        .select_from(
            tiered(
                Contact.__table__.join(
                    due,
                    and_(
                        Contact.contacted_at >= due.c.starts_at,
                        Contact.contacted_at < due.c.ends_at,
                    ),
                ).join(Customer.__table__, Customer.id == Contact.customer_id)
            )
        )
        .where(in_period)
    )
    parts = []
    for statement in (pairs, contacted):
        if frame.teams:
            statement = frame.attribution.join_team(statement)
        parts.append(
            statement.where(frame.attribution.condition(frame.scope), frame.visible).subquery()
        )
    zero = literal(0, Integer)
    first, second = parts
    # Periods due per customer first (a hash aggregate), then per group (no DISTINCT).
    keys = [first.c[f"g{i}"] for i in range(len(frame.keys))]
    per_customer = (
        select(*keys, first.c.w, func.count().label("n"))
        .group_by(*keys, first.c.w, first.c.customer_id)
        .subquery("per_customer")
    )
    return union_all(
        frame.grouped(
            per_customer,
            func.sum(per_customer.c.n).label("due"),
            func.count().label("customers"),
            zero.label("met"),
        ),
        frame.grouped(
            second, zero.label("due"), zero.label("customers"), func.count().label("met")
        ),
    )


# family name → its statement (None: nothing to compute for these windows).
FAMILIES: dict[str, Callable[[Frame], Any]] = {
    "survey": survey,
    "accepted": accepted,
    "decided": decided,
    "closed": closed,
    "reviews": reviews,
    "new": new,
    "base": base,
    "purchases": purchases,
    "flows": flows,
    "tiers": tiers,
    "lost": lost,
    "cadence": cadence_compliance,
}
# Families whose rows carry windows as columns (b0, b1 …) rather than a ``w`` column.
WIDE = {"base"}
# Families with one more group column (the lost-customer reason).
SPLIT = {"lost": "reason"}
