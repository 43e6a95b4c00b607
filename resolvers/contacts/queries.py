"""Contact reads: the contacts list, a customer's history, the cadence worklist and the
compliance rate (REL-1, REL-2).

Row access is the customers list's: a contact is seen exactly when its customer is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from resolvers.contacts import cadence
from resolvers.segments.loaders import override_in_force
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from resolvers.shared.statements import built_once
from store.base import UTCDateTime
from store.contacts import Contact, ContactStatus
from store.customers import Customer, Preferences
from store.segments import (
    COMPUTED_REASONS,
    CustomerSegment,
    SegmentChange,
    SegmentOverride,
    ValueTier,
)

# A stand-in for "never contacted" in the worklist's order (sorts before every contact).
NEVER = datetime(1900, 1, 1, tzinfo=UTC)


def contact_keys(descending: bool = True) -> list[SortKey]:
    """Contacts by when they were made (newest first by default), then by id."""
    return [
        SortKey(Contact.contacted_at, descending, datetime),
        SortKey(Contact.id, descending, int),
    ]


def contacts_of(visible: ColumnElement[bool], condition: ColumnElement[bool]) -> Select[Any]:
    return (
        select(Contact).join(Customer, Customer.id == Contact.customer_id).where(visible, condition)
    )


def contact_page(
    session: Session,
    visible: ColumnElement[bool],
    condition: ColumnElement[bool],
    keys: list[SortKey],
    request: PageRequest,
) -> Page:
    """One page of the contacts the caller sees (``visible``: their customers)."""
    statement = contacts_of(visible, condition)
    return paginate(session, statement, keys, request, lambda c: [c.contacted_at, c.id])


# -- the cadence worklist (REL-2) ----------------------------------------------------------------


_INSTANT = ContactStatus.last_contacted_at.type
# The instants a worklist depends on, bound when it runs (``Worklist.parameters``): the built
# statement does not change with the time, so one object serves every request of a caller.
_NOW = bindparam("worklist_now", type_=_INSTANT)
_STARTS = {t: bindparam(f"worklist_{t.value.lower()}_start", type_=_INSTANT) for t in ValueTier}
_PREVIOUS = {
    t: bindparam(f"worklist_{t.value.lower()}_previous", type_=_INSTANT) for t in ValueTier
}


def _by_tier(tier: Any, values: dict[ValueTier, Any]) -> Any:
    """``values[tier]`` in SQL."""
    return case(
        (tier == ValueTier.HIGH.value, values[ValueTier.HIGH]),
        (tier == ValueTier.MEDIUM.value, values[ValueTier.MEDIUM]),
        else_=values[ValueTier.LOW],
    )


@dataclass(frozen=True)
class Worklist:
    """The worklist statement as of a time, with its keys for paging."""

    statement: Select[Any]
    keys: list[SortKey]
    starts: dict[ValueTier, datetime]  # the current period's start, per tier
    parameters: dict[str, Any]  # the instants its statement is run with


def worklist(
    now: datetime,
    today: date,
    visible: ColumnElement[bool],
    condition: ColumnElement[bool],
    tiers: list[str] | None = None,
    only_overdue: bool | None = None,
) -> Worklist:
    """Customers (``visible`` and ``condition``) not contacted yet in their tier's current
    period: overdue first (not contacted in the previous period either, or never), then the
    longest since the last contact (never contacted first), then by customer.

    One statement: the tier is computed once per customer in an inner query, the latest
    contact is one row of ``contact_status``.
    """
    periods = {t: cadence.current_period(t, today) for t in ValueTier}
    starts = {t: p.starts_at for t, p in periods.items()}
    parameters = {
        _NOW.key: now,
        **{_STARTS[t].key: starts[t] for t in ValueTier},
        **{_PREVIOUS[t].key: p.previous().starts_at for t, p in periods.items()},
    }
    # Built once per caller's rows and filters (``resolvers.shared.statements``).
    statement, keys = built_once(
        ("worklist", None if tiers is None else tuple(tiers), only_overdue),
        (visible, condition),
        lambda: _build(visible, condition, tiers, only_overdue),
    )
    return Worklist(statement, keys, starts, parameters)


def _build(
    visible: ColumnElement[bool],
    condition: ColumnElement[bool],
    tiers: list[str] | None,
    only_overdue: bool | None,
) -> tuple[Select[Any], list[SortKey]]:
    computed = CustomerSegment.__table__
    overrides = SegmentOverride.__table__
    # Joins, not correlated subqueries: the tier is read once per customer (a new override
    # withdraws the one in force, so at most one joins).
    tier = func.coalesce(overrides.c.tier, computed.c.tier, cadence.UNCLASSIFIED.value)
    # Enumerations as stored (their members' names): the page maps them to members once per
    # value, not through SQLAlchemy's per-row enum processing.
    inner = (
        select(
            Customer.id.label("customer_id"),
            Customer.relationship_manager_id.label("manager_id"),
            Customer.branch_id.label("branch_id"),
            type_coerce(tier, String).label("tier"),
            ContactStatus.last_contacted_at.label("last_contacted_at"),
            type_coerce(ContactStatus.last_channel, String).label("last_channel"),
            ContactStatus.last_contact_id.label("last_contact_id"),
            type_coerce(Preferences.contact_method, String).label("contact_method"),
            type_coerce(Preferences.contact_time, String).label("contact_time"),
        )
        .select_from(Customer)
        .outerjoin(computed, computed.c.customer_id == Customer.id)
        .outerjoin(overrides, and_(overrides.c.customer_id == Customer.id, override_in_force(_NOW)))
        .outerjoin(ContactStatus, ContactStatus.customer_id == Customer.id)
        .outerjoin(Preferences, Preferences.customer_id == Customer.id)
        .where(visible, condition)
        .subquery("worklist")
    )
    last = inner.c.last_contacted_at
    overdue = case(
        (or_(last.is_(None), last < _by_tier(inner.c.tier, _PREVIOUS)), 1), else_=0
    ).label("overdue")
    since = func.coalesce(last, literal(NEVER, last.type)).label("since")
    due = select(*inner.c, overdue, since).where(
        or_(last.is_(None), last < _by_tier(inner.c.tier, _STARTS))
    )
    if tiers is not None:
        due = due.where(inner.c.tier.in_(tiers))
    if only_overdue is not None:
        due = due.where(overdue == (1 if only_overdue else 0))
    # Ordered by plain columns of a subquery: a cursor names its columns (cheaply) per row.
    ranked = due.subquery("due")
    statement = select(*ranked.c)
    keys = [
        SortKey(ranked.c.overdue, True, int),
        SortKey(ranked.c.since, False, datetime),
        SortKey(ranked.c.customer_id, False, int),
    ]
    return statement, keys


def worklist_page(
    session: Session,
    now: datetime,
    today: date,
    visible: ColumnElement[bool],
    condition: ColumnElement[bool],
    request: PageRequest,
    tiers: list[str] | None = None,
    only_overdue: bool | None = None,
) -> Page:
    """One page of the worklist (see :func:`worklist`)."""
    found = worklist(now, today, visible, condition, tiers, only_overdue)
    return paginate(
        session,
        found.statement,
        found.keys,
        request,
        lambda r: [r.overdue, r.since, r.customer_id],
        parameters=found.parameters,
    )


# -- compliance (REL-2, for the KPIs) -------------------------------------------------------------


@dataclass
class Compliance:
    """Cadence compliance of one group (a manager, a branch, or everyone in scope).

    ``due``: the (customer, cadence period) pairs that count in the report period — the
    periods of each tier's cadence that end in it, have ended by today and began on or after
    the day the customer came to the bank, of the tier the customer had just before the period
    ended (the override in force then, else the computed tier of its last computed change before
    then — ``segment_changes``; none: LOW); ``met``: those of them with at least one contact.
    ``rate = met / due`` (null when nothing was due). The group is the customer's manager or
    branch today: manager changes are kept only as sealed field changes (INFO-5), which SQL
    cannot read.
    """

    key: Any
    due: int = 0
    met: int = 0

    @property
    def rate(self) -> Decimal | None:
        if self.due == 0:
            return None
        return (Decimal(self.met) / Decimal(self.due)).quantize(
            Decimal("0.0001"), rounding=ROUND_DOWN
        )


def _due_periods(report: cadence.Period, today: date) -> tuple[Any, datetime, datetime] | None:
    """The cadence periods judged in ``report`` as a table (one SELECT of constants each,
    united) — tier, start and end instants (``at``: the end), and ``joined_before``: a customer
    created before it joined by the period's first day — with the first start and last end
    (None: no period has ended yet)."""
    judged = [
        (tier, period)
        for tier, kind in cadence.CADENCE.items()
        for period in cadence.periods_ending_in(kind, report)
        if period.end <= today  # ended: a running period is not judged yet
    ]
    if not judged:
        return None
    instant = UTCDateTime()
    rows = [
        select(
            literal(i, Integer()).label("pkey"),
            literal(tier.value, String(16)).label("tier"),
            literal(period.starts_at, instant).label("starts_at"),
            literal(period.ends_at, instant).label("at"),
            literal(cadence.midnight(period.start + timedelta(days=1)), instant).label(
                "joined_before"
            ),
        )
        for i, (tier, period) in enumerate(judged)
    ]
    table = (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("periods")
    return table, min(p.starts_at for _, p in judged), max(p.ends_at for _, p in judged)


def _steady_tier(since: datetime, until: datetime) -> Any:
    """The customer's tier when it cannot have changed from ``since`` on — no computed change
    and no override in force at or after ``since`` — else NULL (correlated; one per customer):
    most customers' periods then need no history lookup each."""
    changed = exists().where(
        SegmentChange.customer_id == Customer.id,
        SegmentChange.reason.in_(_COMPUTED),
        SegmentChange.changed_at >= since,
    )
    overridden = exists().where(
        SegmentOverride.customer_id == Customer.id,
        SegmentOverride.expires_at >= since,
        or_(SegmentOverride.withdrawn_at.is_(None), SegmentOverride.withdrawn_at >= since),
    )
    unclassified = literal(cadence.UNCLASSIFIED.value, String(16))
    return case(
        (or_(changed, overridden), None),
        else_=func.coalesce(_computed_then(until, Customer.id), unclassified),
    )


_COMPUTED = [r.value for r in COMPUTED_REASONS]


def _computed_then(at: Any, customer_id: Any) -> Any:
    """The computed tier of the customer's last computed change before ``at`` (correlated)."""
    return (
        select(SegmentChange.to_tier)
        .where(
            SegmentChange.customer_id == customer_id,
            SegmentChange.reason.in_(_COMPUTED),
            SegmentChange.changed_at < at,
        )
        .order_by(SegmentChange.id.desc())
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


def compliance(
    session: Session,
    now: datetime,
    today: date,
    visible: ColumnElement[bool],
    condition: ColumnElement[bool],
    report: cadence.Period,
    by: str,
) -> tuple[list[Compliance], Compliance]:
    """Compliance per manager (``by="MANAGER"``, key: manager id or None) or per branch
    (``"BRANCH"``, key: branch id) in ``report``, and over everyone: counted in SQL — one
    statement for the groups in scope, one aggregate over (customer, period) pairs whatever the
    number of customers and contacts."""
    key = Customer.relationship_manager_id if by == "MANAGER" else Customer.branch_id
    groups = {
        k: Compliance(key=k)
        for k in session.scalars(select(key).where(visible, condition).distinct())
    }
    found = _due_periods(report, today)
    if found is not None:
        periods, since, until = found
        people = (
            select(
                Customer.id,
                key.label("key"),
                Customer.created_at,
                _steady_tier(since, until).label("steady"),
            )
            .where(visible, condition)
            # Once per customer (a database would otherwise inline it into every pair).
            .cte("people")
            .prefix_with("MATERIALIZED")
        )
        # A customer whose tier moved in the window: per period, index lookups of its changes
        # and overrides (a few each).
        unclassified = literal(cadence.UNCLASSIFIED.value, String(16))
        tier_then = case(
            (people.c.steady.is_not(None), people.c.steady),
            else_=func.coalesce(
                _override_then(periods.c.at, people.c.id),
                _computed_then(periods.c.at, people.c.id),
                unclassified,
            ),
        )
        contacted = exists().where(
            Contact.customer_id == people.c.id,
            Contact.contacted_at >= periods.c.starts_at,
            Contact.contacted_at < periods.c.at,
        )
        pairs = (
            select(people.c.key, case((contacted, 1), else_=0).label("met"))
            .select_from(people)
            .join(periods, people.c.created_at < periods.c.joined_before)
            .where(tier_then == periods.c.tier)
            .subquery("pairs")
        )
        if session.get_bind().dialect.name == "postgresql":
            # The planner prices the per-pair lookups high and JIT-compiles the statement: about
            # 1.8 s of compiling for 0.2 s of running (bench/cadence.py). Off for this
            # transaction only.
            session.execute(text("SET LOCAL jit = off"))
        counted = session.execute(
            select(pairs.c.key, func.count(), func.sum(pairs.c.met)).group_by(pairs.c.key)
        )
        for group_key, due, met in counted:
            group = groups.setdefault(group_key, Compliance(key=group_key))
            group.due, group.met = int(due), int(met or 0)
    total = Compliance(
        key=None,
        due=sum(g.due for g in groups.values()),
        met=sum(g.met for g in groups.values()),
    )
    ordered = sorted(groups.values(), key=lambda g: (g.key is None, g.key or 0))
    return ordered, total
