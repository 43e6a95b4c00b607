"""Contact reads: the contacts list, a customer's history, the cadence worklist and the
compliance rate (REL-1, REL-2).

Row access is the customers list's: a contact is seen exactly when its customer is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from resolvers.contacts import cadence
from resolvers.kpis import families
from resolvers.kpis.periods import Window
from resolvers.kpis.scope import Attribution, Level, Scope
from resolvers.segments.loaders import override_in_force
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
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


def _by_tier(tier: Any, values: dict[ValueTier, datetime]) -> Any:
    """``values[tier]`` in SQL (instants bound as the column type stores them)."""
    instant = ContactStatus.last_contacted_at.type
    return case(
        (tier == ValueTier.HIGH.value, literal(values[ValueTier.HIGH], instant)),
        (tier == ValueTier.MEDIUM.value, literal(values[ValueTier.MEDIUM], instant)),
        else_=literal(values[ValueTier.LOW], instant),
    )


@dataclass(frozen=True)
class Worklist:
    """The worklist statement as of a time, with its keys for paging."""

    statement: Select[Any]
    keys: list[SortKey]
    starts: dict[ValueTier, datetime]  # the current period's start, per tier


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
    computed = CustomerSegment.__table__
    overrides = SegmentOverride.__table__
    # Joins, not correlated subqueries: the tier is read once per customer (a new override
    # withdraws the one in force, so at most one joins).
    tier = func.coalesce(overrides.c.tier, computed.c.tier, cadence.UNCLASSIFIED.value)
    inner = (
        select(
            Customer.id.label("customer_id"),
            Customer.relationship_manager_id.label("manager_id"),
            Customer.branch_id.label("branch_id"),
            tier.label("tier"),
            ContactStatus.last_contacted_at.label("last_contacted_at"),
            ContactStatus.last_channel.label("last_channel"),
            ContactStatus.last_contact_id.label("last_contact_id"),
            Preferences.contact_method.label("contact_method"),
            Preferences.contact_time.label("contact_time"),
        )
        .select_from(Customer)
        .outerjoin(computed, computed.c.customer_id == Customer.id)
        .outerjoin(overrides, and_(overrides.c.customer_id == Customer.id, override_in_force(now)))
        .outerjoin(ContactStatus, ContactStatus.customer_id == Customer.id)
        .outerjoin(Preferences, Preferences.customer_id == Customer.id)
        .where(visible, condition)
        .subquery("worklist")
    )
    periods = {t: cadence.current_period(t, today) for t in ValueTier}
    starts = {t: p.starts_at for t, p in periods.items()}
    previous = {t: p.previous().starts_at for t, p in periods.items()}
    last = inner.c.last_contacted_at
    overdue = case(
        (or_(last.is_(None), last < _by_tier(inner.c.tier, previous)), 1), else_=0
    ).label("overdue")
    since = func.coalesce(last, literal(NEVER, last.type)).label("since")
    due = select(*inner.c, overdue, since).where(
        or_(last.is_(None), last < _by_tier(inner.c.tier, starts))
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
    return Worklist(statement, keys, starts)


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
    )


# -- compliance (REL-2, for the KPIs) -------------------------------------------------------------


@dataclass
class Compliance:
    """Cadence compliance of one group (a manager, a branch, or everyone in scope).

    ``due``: the (customer, cadence period) pairs that count in the report period — each
    customer's tier's periods that end in it, have ended by today and began on or after the
    day the customer came to the bank; ``met``: those of them with at least one contact.
    ``rate = met / due`` (null when nothing was due).
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
    (``"BRANCH"``, key: branch id) in ``report``, and over everyone: the KPI indicator
    ``CADENCE_COMPLIANCE``'s own statement (``resolvers.kpis.families``), grouped by manager or
    branch — one definition, one implementation."""
    frame = families.Frame(
        Scope(Level.BANK),
        (Level.STAFF if by == "MANAGER" else Level.BRANCH,),
        (Window(report.label, report.start, report.end),),
        and_(visible, condition),
        Attribution(now),
        now,
        today,
    )
    statement = families.cadence_compliance(frame)
    groups: dict[Any, Compliance] = {}
    total = Compliance(key=None)
    if statement is not None:
        for row in session.execute(statement):
            group = groups.setdefault(row.g0, Compliance(key=row.g0))
            group.due += int(row.due)
            group.met += int(row.met or 0)
            total.due += int(row.due)
            total.met += int(row.met or 0)
    ordered = sorted(groups.values(), key=lambda g: (g.key is None, g.key or 0))
    return ordered, total
