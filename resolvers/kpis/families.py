"""The KPI families: one SQL aggregate per source table, grouped by scope keys and period.

Every family answers rows ``(g0[, g1], w, measures…)``: the group keys (branch, team or staff),
``w`` the index of the window a row falls in (``Frame.windows``), and the measures the
indicators read (``resolvers.kpis.indicators``). Rows are bucketed into windows in an inner
SELECT and grouped outside it (GROUP BY then names plain columns, on every backend). Nothing is
summed in Python but the handful of grouped rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from resolvers.complaints.deadlines import decided_on_time_condition
from resolvers.contacts import cadence
from resolvers.kpis.periods import Window
from resolvers.kpis.scope import Attribution, Level, Scope
from resolvers.shared.periods import Period, PeriodKind
from store.assessment import (
    SpotCheck,
    SpotCheckFinding,
    SpotCheckItem,
    SpotCheckStatus,
    StaffEvaluation,
)
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
from store.segments import COMPUTED_REASONS, SegmentChange, SegmentOverride
from store.staff import Staff
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

    def _boundaries(self, value: Any, start: Any, end: Any) -> Any:
        """The index of the window ``value`` falls in (NULL: none), by comparing it with the
        windows' bounds in order (``start``/``end`` read a window's): one comparison per bound
        passed rather than two per window — the windows are disjoint, and a series of
        consecutive periods has no gaps between them."""
        whens: list[tuple[Any, Any]] = []
        last = None
        for i, w in sorted(enumerate(self.windows), key=lambda pair: start(pair[1])):
            if last is None or last < start(w):
                whens.append((value < start(w), null()))  # before it: in no window
            whens.append((value < end(w), i))
            last = end(w)
        return case(*whens, else_=null())

    def bucket(self, moment: Any) -> Any:
        """The index of the window an instant falls in (NULL: none)."""
        return self._boundaries(moment, lambda w: w.starts_at, lambda w: w.ends_at)

    def date_bucket(self, day: Any) -> Any:
        """The index of the window a Beijing date falls in (NULL: none)."""
        return self._boundaries(day, lambda w: w.start, lambda w: w.end)

    def in_reach(self, moment: Any) -> ColumnElement[bool]:
        """In one of the windows: in one of their runs without gaps (a series: one range)."""
        spans: list[list[datetime]] = []
        for w in sorted(self.windows, key=lambda w: w.start):
            if spans and spans[-1][1] == w.starts_at:
                spans[-1][1] = w.ends_at
            else:
                spans.append([w.starts_at, w.ends_at])
        return or_(*(and_(moment >= since, moment < until) for since, until in spans))

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
        if source is not Customer and self.attribution.by_customer:
            statement = statement.join(Customer, Customer.id == customer_id)
        if self.teams:
            statement = self.attribution.join_team(statement)
        reach = self.in_reach(moment) if bucket is None else chosen.is_not(None)
        return statement.where(
            self.attribution.condition(self.scope), self.visible, reach, *where
        ).subquery("rows")

    def per_customer(
        self, source: Any, customer_id: Any, moment: Any, sums: dict[str, Any], *where: Any
    ) -> Any:
        """``sums`` per customer and window of the source rows in the windows, before the
        customers are joined: the scope's keys and conditions are applied to one row per
        customer and window (:meth:`attributed`), not to every source row."""
        rows = (
            select(
                customer_id.label("customer_id"),
                self.bucket(moment).label("w"),
                *(column.label(name) for name, column in sums.items()),
            )
            .select_from(source)
            .where(self.in_reach(moment), *where)
            .subquery("rows")
        )
        return (
            select(
                rows.c.customer_id,
                rows.c.w,
                *(func.sum(rows.c[name]).label(name) for name in sums),
            )
            .group_by(rows.c.customer_id, rows.c.w)
            .subquery("per_customer")
        )

    def attributed(self, per_customer: Any, *measures: Any) -> Select[Any]:
        """The measures per group keys and window over rows of one customer each."""
        keys = self.key_columns()
        statement = select(*keys, per_customer.c.w, *measures).select_from(per_customer)
        statement = statement.join(Customer, Customer.id == per_customer.c.customer_id)
        if self.teams:
            statement = self.attribution.join_team(statement)
        statement = statement.where(self.attribution.condition(self.scope), self.visible)
        return statement.group_by(
            *[self.attribution.key(level) for level in self.keys], per_customer.c.w
        )

    def grouped(self, rows: Any, *measures: Any) -> Select[Any]:
        """The outer SELECT: the measures per group keys and window."""
        keys = [rows.c[f"g{i}"] for i in range(len(self.keys))]
        return select(*keys, rows.c.w, *measures).group_by(*keys, rows.c.w)

    def by_staff(self, staff: Any, branch: Any) -> Frame:
        """This frame with rows attributed to the member of staff in ``staff`` and the branch
        in ``branch`` (``Attribution``). The caller's customer rows do not narrow them:
        the scope is the staff's (a supervisor's scope lies in their branch, ``scope.resolve``),
        as ``staffRatings`` and ``spotCheckPassRates`` read them — a rating a member of staff
        got from another branch's customer is theirs."""
        attribution = Attribution(self.attribution.at, staff, branch)
        return replace(self, attribution=attribution, visible=true())

    def mark_customers(self, rows: Any) -> Any:
        """``rows`` with ``first<d>`` for d = 0 … len(keys): 1 on one row of each customer in
        each group of the first d keys and window (a window function), else 0."""
        keys = [rows.c[f"g{i}"] for i in range(len(self.keys))]
        marks = [
            case(
                (
                    func.row_number().over(partition_by=[*keys[:d], rows.c.w, rows.c.customer_id])
                    == 1,
                    1,
                ),
                else_=0,
            ).label(f"first{d}")
            for d in range(len(keys) + 1)
        ]
        return select(*rows.c, *marks).subquery("marked")

    def customers_per_level(self, marked: Any, name: str) -> list[Any]:
        """``name<d>`` for d = 0 … len(keys) over :meth:`mark_customers`' rows: summed over
        the groups of one value of the first d keys, the distinct customers of that unit — what
        ``compute`` reads where a customer may lie under several keys (``PER_LEVEL``)."""
        return [
            func.sum(marked.c[f"first{d}"]).label(f"{name}{d}") for d in range(len(self.keys) + 1)
        ]


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
        # Answers the customer's own relationship manager typed in do not count: a manager
        # does not score their own customers (as evaluations refuse SELF_EVALUATION).
        or_(
            Customer.relationship_manager_id.is_(None),
            SurveyResponse.recorded_by_id != Customer.relationship_manager_id,
        ),
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


def ratings(frame: Frame) -> Select[Any]:
    """Customers' ratings of staff (KPI-2) recorded in each window, attributed to the rated
    member of staff, their team at the period's end and their branch."""
    staff = frame.by_staff(StaffEvaluation.staff_id, Staff.branch_id)
    rows = staff.rows(
        StaffEvaluation.__table__.join(Staff.__table__, Staff.id == StaffEvaluation.staff_id),
        StaffEvaluation.customer_id,
        StaffEvaluation.recorded_at,
        [StaffEvaluation.customer_id.label("customer_id"), StaffEvaluation.rating.label("rating")],
    )
    marked = staff.mark_customers(rows)
    return staff.grouped(
        marked,
        func.sum(marked.c.rating).label("rating_sum"),
        func.count().label("rated"),
        *staff.customers_per_level(marked, "raters"),
    )


def inspections(frame: Frame) -> Select[Any]:
    """Spot-check items (KPI-2) of completed checks inspected in each window, passed when no
    criterion failed; attributed to the member of staff responsible for the checked record,
    their team at the period's end, and the record's branch as drawn (the item's)."""
    staff = frame.by_staff(SpotCheckItem.responsible_id, SpotCheckItem.branch_id)
    failed = exists().where(
        SpotCheckFinding.item_id == SpotCheckItem.id, SpotCheckFinding.passed.is_(False)
    )
    rows = staff.rows(
        SpotCheckItem.__table__.join(SpotCheck.__table__, SpotCheck.id == SpotCheckItem.check_id),
        SpotCheckItem.customer_id,
        SpotCheckItem.inspected_at,
        [
            SpotCheckItem.customer_id.label("customer_id"),
            case((failed, 0), else_=1).label("passed"),
        ],
        SpotCheck.status == SpotCheckStatus.COMPLETED,
    )
    marked = staff.mark_customers(rows)
    return staff.grouped(
        marked,
        func.sum(marked.c.passed).label("passed"),
        func.count().label("inspected"),
        *staff.customers_per_level(marked, "customers"),
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
    purchase = case((Transaction.type == TransactionType.PRODUCT_PURCHASE, 1), else_=None)
    # Per customer first, straight from the transactions (a hash aggregate), then per group:
    # cheaper than three DISTINCTs, and the customers are joined to one row per customer and
    # window rather than to every transaction.
    per_customer = frame.per_customer(
        Transaction.__table__.join(Account.__table__, Account.id == Transaction.account_id),
        Transaction.customer_id,
        Transaction.occurred_at,
        {"deposit": deposit, "loan": loan, "fee": fee, "purchases": purchase},
    )
    p = per_customer.c
    return frame.attributed(
        per_customer,
        func.sum(p.deposit).label("deposit"),
        func.count(p.deposit).label("depositors"),
        func.sum(p.loan).label("loan"),
        func.count(p.loan).label("borrowers"),
        func.sum(p.fee).label("fee"),
        func.count(p.fee).label("fee_payers"),
        # The purchases family's measures from the same scan (SHARED).
        func.count(p.purchases).label("buyers"),
        func.sum(case((p.purchases >= 2, 1), else_=0)).label("repeaters"),
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
    # Only customers with an account closed in reach can have closed their last one there:
    # their accounts are grouped, not every customer's.
    closing = select(Account.customer_id).where(
        Account.closed_on >= min(w.start for w in frame.windows),
        Account.closed_on <= max(w.last_day for w in frame.windows),
    )
    last = (
        select(Account.customer_id, func.max(Account.closed_on).label("closed_on"))
        .where(Account.customer_id.in_(closing))
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


def _due_periods(frame: Frame) -> tuple[Any, datetime, datetime] | None:
    """Every (window, tier, cadence period) due, as a table of constants, with the first start
    and the last end (None: nothing due)."""
    rows = []
    instant = UTCDateTime()
    starts, ends = [], []
    for i, window in enumerate(frame.windows):
        report = Period(PeriodKind.MONTH, window.start, window.end)  # only its dates are read
        for tier, kind in cadence.CADENCE.items():
            previous: datetime | None = None
            for period in cadence.periods_ending_in(kind, report):
                if period.end > frame.today:
                    continue  # a running period is not judged yet
                starts.append(period.starts_at)
                ends.append(period.ends_at)
                joined = period.starts_at + timedelta(days=1)
                rows.append(
                    select(
                        literal(i, Integer).label("w"),
                        literal(tier.value, String(32)).label("tier"),
                        literal(period.starts_at, instant).label("starts_at"),
                        literal(period.ends_at, instant).label("ends_at"),
                        # Began on or after the day the customer joined (Beijing dates).
                        literal(joined, instant).label("joined"),
                        # The previous period's (same window and tier; NULL: the first).
                        literal(previous, instant).label("previous"),
                    )
                )
                previous = joined
    if not rows:
        return None
    table = (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("due")
    return table, min(starts), max(ends)


_COMPUTED = [r.value for r in COMPUTED_REASONS]


def _computed_then(at: Any, customer_id: Any) -> Any:
    """The computed tier of the customer's last computed change before ``at`` (correlated;
    by change time, as :func:`_computed_intervals`)."""
    return (
        select(SegmentChange.to_tier)
        .where(
            SegmentChange.customer_id == customer_id,
            SegmentChange.reason.in_(_COMPUTED),
            SegmentChange.changed_at < at,
        )
        .order_by(SegmentChange.changed_at.desc(), SegmentChange.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _override_then(at: Any, customer_id: Any) -> Any:
    """The tier of the override in force just before ``at`` (correlated; as the distribution
    reads the history: created before, expiring and withdrawn at or after). A new override
    withdraws the old one, so at most one was in force at an instant: no ordering needed."""
    return (
        select(SegmentOverride.tier)
        .where(
            SegmentOverride.customer_id == customer_id,
            SegmentOverride.created_at < at,
            SegmentOverride.expires_at >= at,
            or_(SegmentOverride.withdrawn_at.is_(None), SegmentOverride.withdrawn_at >= at),
        )
        .limit(1)
        .scalar_subquery()
    )


def _overridden(since: datetime, until: datetime) -> Any:
    """An override of the customer in force at some instant from ``since`` to ``until``
    (correlated): created before ``until``, not expired or withdrawn before ``since``."""
    return exists().where(
        SegmentOverride.customer_id == Customer.id,
        SegmentOverride.created_at < until,
        SegmentOverride.expires_at >= since,
        or_(SegmentOverride.withdrawn_at.is_(None), SegmentOverride.withdrawn_at >= since),
    )


def _moved(since: datetime, until: datetime) -> Any:
    """How the customer's tier is read for the periods from ``since`` to ``until`` (correlated;
    once per customer): 0 steady — no computed change from ``since`` to ``until`` and no
    override then, one lookup for all its periods; 1 moved — computed changes only, their
    intervals; 2 overridden — lookups per period. Changes and overrides from ``until`` on
    cannot hold a period's end (a period is judged by the tier just before it ended): a
    customer classified after the report's windows is steady in them."""
    changed = exists().where(
        SegmentChange.customer_id == Customer.id,
        SegmentChange.reason.in_(_COMPUTED),
        SegmentChange.changed_at >= since,
        SegmentChange.changed_at < until,
    )
    return case((_overridden(since, until), 2), (changed, 1), else_=0)


def _computed_intervals(people: Any, until: datetime) -> Any:
    """The computed tiers of the moved customers (no override) as intervals ``(since, until]``
    of the instants ``at`` whose last computed change before ``at`` gave ``tier`` (NULL:
    unbounded): each computed change up to the next one (a window function), and LOW before
    the first (or all along). Changes from ``until`` on cannot be the last before a period's
    end: left out."""
    changes = (
        select(
            SegmentChange.customer_id.label("customer_id"),
            SegmentChange.to_tier.label("tier"),
            SegmentChange.changed_at.label("since"),
            func.lead(SegmentChange.changed_at)
            .over(
                partition_by=SegmentChange.customer_id,
                order_by=(SegmentChange.changed_at, SegmentChange.id),
            )
            .label("until"),
        )
        .join(people, people.c.customer_id == SegmentChange.customer_id)
        .where(
            people.c.moved == 1,
            SegmentChange.reason.in_(_COMPUTED),
            SegmentChange.changed_at < until,
        )
    )
    first = (
        select(func.min(SegmentChange.changed_at))
        .where(
            SegmentChange.customer_id == people.c.customer_id,
            SegmentChange.reason.in_(_COMPUTED),
        )
        .scalar_subquery()
    )
    before = select(
        people.c.customer_id,
        literal(cadence.UNCLASSIFIED.value, String(32)).label("tier"),
        literal(None, UTCDateTime()).label("since"),
        first.label("until"),
    ).where(people.c.moved == 1)
    return union_all(changes, before).subquery("intervals")


def cadence_compliance(frame: Frame) -> Any:
    """Due (customer, cadence period) pairs and those met (REL-2; ``contactCadence`` reads the
    same statement). A period is judged by the tier the customer had just before it ended: the
    override in force then, else the computed tier of its last computed change before then
    (``segment_changes``, by change time), else LOW. Read per customer (:func:`_moved`): a
    steady one's single tier is hash-joined to the periods; a moved one's computed intervals
    are joined to the periods whose end they hold (on the customer and the tier: no lookup per
    pair); one with an override in the window (rare) gets index lookups of its few overrides
    and changes per period. A pair is met when a contact lies in its period: the contacts are
    joined to the pairs (a hash join on the customer), not probed per pair. Steady customers
    are counted by their first due period of each window; only moved and overridden ones are
    grouped per customer."""
    found = _due_periods(frame)
    if found is None:
        return None
    due, since, until = found
    unclassified = literal(cadence.UNCLASSIFIED.value, String(16))
    # Each customer's last computed change before the first period began: a steady customer's
    # tier all along (no computed change from then to the last period's end). One pass over
    # the changes (a window function) rather than a lookup per customer.
    last = (
        select(
            SegmentChange.customer_id.label("customer_id"),
            SegmentChange.to_tier.label("tier"),
            func.row_number()
            .over(
                partition_by=SegmentChange.customer_id,
                order_by=(SegmentChange.changed_at.desc(), SegmentChange.id.desc()),
            )
            .label("n"),
        )
        .where(SegmentChange.reason.in_(_COMPUTED), SegmentChange.changed_at < since)
        .subquery("last_change")
    )
    people = (
        select(
            *frame.key_columns(),
            Customer.id.label("customer_id"),
            Customer.created_at.label("created_at"),
            _moved(since, until).label("moved"),
            last.c.tier.label("last_tier"),
        )
        .select_from(Customer)
        .outerjoin(last, and_(last.c.customer_id == Customer.id, last.c.n == 1))
    )
    if frame.teams:
        people = frame.attribution.join_team(people)
    inner = people.where(frame.attribution.condition(frame.scope), frame.visible).subquery()
    steady_tier = func.coalesce(inner.c.last_tier, unclassified)
    # Once per customer (a database would otherwise inline it into every pair).
    people_cte = (
        select(*inner.c, case((inner.c.moved == 0, steady_tier), else_=None).label("steady"))
        .cte("people")
        .prefix_with("MATERIALIZED")
    )
    p = people_cte.c
    keys = [p[f"g{i}"] for i in range(len(frame.keys))]
    columns = [*keys, due.c.w, p.customer_id, due.c.starts_at, due.c.ends_at]
    joined = p.created_at < due.c.joined
    at = due.c.ends_at
    # Most customers: steady in the window, one tier for all their periods (a hash join). The
    # periods due of a (window, tier) are those that began after the customer joined, a run up
    # to the last: the first of the run (the one whose previous period did not qualify) marks
    # the customer as due in the window — customers are counted without grouping per customer.
    first = case((or_(due.c.previous.is_(None), p.created_at >= due.c.previous), 1), else_=0)
    steady = (
        select(*columns, first.label("first"))
        .select_from(people_cte)
        .join(due, and_(due.c.tier == p.steady, joined))
    )
    columns.append(literal(None, Integer).label("first"))  # counted per customer below
    # Moved by computed changes only: the interval of the computed tier holding each period's
    # end (joins on the customer and the tier, no lookup per pair).
    spans = _computed_intervals(people_cte, until)
    computed = (
        select(*columns)
        .select_from(people_cte)
        .join(spans, spans.c.customer_id == p.customer_id)
        .join(
            due,
            and_(
                due.c.tier == spans.c.tier,
                joined,
                or_(spans.c.since.is_(None), spans.c.since < at),
                or_(spans.c.until.is_(None), spans.c.until >= at),
            ),
        )
    )
    # With one (rare: a supervisor's decision): the override in force at each period's end,
    # else the computed tier then — index lookups per period.
    tier_then = func.coalesce(
        _override_then(at, p.customer_id),
        _computed_then(at, p.customer_id),
        unclassified,
    )
    overridden = (
        select(*columns)
        .select_from(people_cte)
        .join(due, joined)
        .where(p.moved == 2, tier_then == due.c.tier)
    )
    pairs = union_all(steady, computed, overridden).cte("pairs").prefix_with("MATERIALIZED")
    pair_keys = [pairs.c[f"g{i}"] for i in range(len(frame.keys))]
    # The pairs met: each contact joined to the pair whose period holds it (a hash join on the
    # customer, no probe per pair), one row per pair (a customer's pairs differ in their
    # period: the same period is judged by one tier).
    pair = [*pair_keys, pairs.c.w, pairs.c.customer_id, pairs.c.starts_at, pairs.c.ends_at]
    met = (
        select(*pair)
        .join(
            Contact,
            and_(
                Contact.customer_id == pairs.c.customer_id,
                Contact.contacted_at >= pairs.c.starts_at,
                Contact.contacted_at < pairs.c.ends_at,
            ),
        )
        .group_by(*pair)
        .subquery("met")
    )
    met_keys = [met.c[f"g{i}"] for i in range(len(frame.keys))]
    # The customers of the moved and overridden pairs (few), one row each per window.
    moved = (
        select(*pair_keys, pairs.c.w)
        .where(pairs.c.first.is_(None))
        .group_by(*pair_keys, pairs.c.w, pairs.c.customer_id)
        .subquery("moved")
    )
    moved_keys = [moved.c[f"g{i}"] for i in range(len(frame.keys))]
    zero = literal(0, Integer)
    parts = union_all(
        select(
            *pair_keys,
            pairs.c.w,
            func.count().label("due"),
            func.coalesce(func.sum(pairs.c.first), 0).label("customers"),
            zero.label("met"),
        ).group_by(*pair_keys, pairs.c.w),
        select(*moved_keys, moved.c.w, zero, func.count(), zero).group_by(*moved_keys, moved.c.w),
        select(*met_keys, met.c.w, zero, zero, func.count()).group_by(*met_keys, met.c.w),
    ).subquery("parts")
    c = parts.c
    return frame.grouped(
        parts,
        func.sum(c.due).label("due"),
        func.sum(c.customers).label("customers"),
        func.sum(c.met).label("met"),
    )


# PostgreSQL settings a family's statement runs with, back to the server's after. JIT off: the
# planner prices these aggregates high and JIT-compiles them — cadence about 1.8 s of compiling
# for 0.2 s of running (bench/cadence.py), flows 0.3 s. Work memory: cadence's pairs of a
# customer and a due period (500,000 for 100,000 customers over a quarter's series) and flows'
# sums per customer and window (300,000 from 800,000 transactions) are hashed; in the default
# 4 MB they spill to disk in 64 to 128 batches. Flows without parallel workers: with the memory
# the planner would have each worker aggregate every transaction again for a merge join, and
# without it the workers' partial sums per customer are merged again by the leader alone.
TUNING: dict[str, dict[str, str]] = {
    "cadence": {"jit": "off", "work_mem": "64MB"},
    "flows": {"jit": "off", "work_mem": "64MB", "max_parallel_workers_per_gather": "0"},
}


def execute(session: Session, name: str, statement: Any) -> list[Any]:
    """Runs a family's statement: its rows as mappings (on PostgreSQL with :data:`TUNING`)."""
    tuning = TUNING.get(name) if session.get_bind().dialect.name == "postgresql" else None
    if not tuning:
        return list(session.execute(statement).mappings())
    # One statement to set them for the transaction, one to put back the session's values.
    names = ", ".join(f"'{setting}'" for setting in tuning)
    session.execute(
        text(
            "SELECT "
            + ", ".join(f"set_config('{name}', '{value}', true)" for name, value in tuning.items())
        )
    )
    rows = list(session.execute(statement).mappings())
    session.execute(
        text(f"SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name IN ({names})")
    )
    return rows


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
    "ratings": ratings,
    "inspections": inspections,
}
# family → the family whose statement answers it too, when both are needed (one scan of the
# transactions for money flows and purchases).
SHARED = {"purchases": "flows"}
# Families whose rows carry windows as columns (b0, b1 …) rather than a ``w`` column.
WIDE = {"base"}
# Families with one more group column (the lost-customer reason).
SPLIT = {"lost": "reason"}
# Families attributed to staff (``Frame.by_staff``), whose customers measure (the name here) is
# counted per level: ``compute`` reads ``<name><d>`` for a unit at depth d of the group keys.
PER_LEVEL = {"ratings": "raters", "inspections": "customers"}
