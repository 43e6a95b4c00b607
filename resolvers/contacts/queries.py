"""Contact reads: the contacts list, a customer's history, the cadence worklist and the
compliance rate (REL-1, REL-2).

Row access is the customers list's: a contact is seen exactly when its customer is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from resolvers.contacts import cadence
from resolvers.kpis import families
from resolvers.kpis.periods import Window
from resolvers.kpis.scope import Attribution, Level, Scope
from resolvers.segments.loaders import override_in_force
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from resolvers.shared.statements import built_once
from store.contacts import Contact, ContactStatus
from store.customers import Customer, Preferences
from store.segments import CustomerSegment, SegmentOverride, ValueTier

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
    # The KPI family's statement (CADENCE_COMPLIANCE): one definition of compliance.
    frame = families.Frame(
        scope=Scope(Level.BANK),
        keys=(Level.STAFF if by == "MANAGER" else Level.BRANCH,),
        windows=(Window(report.label, report.start, report.end),),
        visible=and_(visible, condition),
        attribution=Attribution(now),
        now=now,
        today=today,
    )
    statement = families.cadence_compliance(frame)
    if statement is not None:
        for row in families.execute(session, "cadence", statement):
            group = groups.setdefault(row["g0"], Compliance(key=row["g0"]))
            group.due, group.met = int(row["due"]), int(row["met"] or 0)
    total = Compliance(
        key=None,
        due=sum(g.due for g in groups.values()),
        met=sum(g.met for g in groups.values()),
    )
    ordered = sorted(groups.values(), key=lambda g: (g.key is None, g.key or 0))
    return ordered, total
