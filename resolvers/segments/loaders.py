"""What the customers of a request show of their segments, loaded for all of them at once; the
one definition of "the segment shown" (an override in force, else the computed one)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from store.customers import Customer
from store.segments import (
    CustomerNeed,
    CustomerSegment,
    Need,
    SegmentChange,
    SegmentOverride,
    SegmentRuleSet,
)
from store.staff import Staff


def override_in_force(now: datetime) -> ColumnElement[bool]:
    """An override counts until it expires or is withdrawn (compared at read time: no job)."""
    return and_(SegmentOverride.withdrawn_at.is_(None), SegmentOverride.expires_at > now)


def overriding_tier(now: datetime, customer_id: Any = Customer.id) -> Any:
    """The tier of the override in force for ``customer_id`` (a correlated scalar subquery;
    a new override withdraws the old one, so there is at most one)."""
    return (
        select(SegmentOverride.tier)
        .where(SegmentOverride.customer_id == customer_id, override_in_force(now))
        .limit(1)
        .scalar_subquery()
    )


def computed_column(name: str, customer_id: Any = Customer.id) -> Any:
    """A column of the computed segment of ``customer_id`` (correlated scalar subquery)."""
    column = CustomerSegment.__table__.c[name]
    return select(column).where(CustomerSegment.customer_id == customer_id).scalar_subquery()


def effective_tier(now: datetime, customer_id: Any = Customer.id) -> Any:
    """The tier a customer is shown with: the override in force, else the computed one."""
    return func.coalesce(overriding_tier(now, customer_id), computed_column("tier", customer_id))


@dataclass(frozen=True)
class SegmentView:
    customer_id: int
    computed: Any  # a customer_segments row, or None (never classified)
    override: Any  # the override in force (a segment_overrides row), or None
    staff_needs: dict[Any, Any]  # need → the newest staff setting of it

    def needs(self) -> list[tuple[Need, Any]]:
        """The needs the customer has: (need, the staff setting behind it or None: derived)."""
        shown = []
        for need in Need:
            setting = self.staff_needs.get(need)
            if setting is not None:
                if setting.present:
                    shown.append((need, setting))
            elif self.computed is not None and getattr(
                self.computed, f"needs_{need.value.lower()}"
            ):
                shown.append((need, None))
        return shown


def segments(
    session: Session, customer_ids: Sequence[int], now: datetime
) -> dict[int, SegmentView]:
    """Computed segment, override in force and staff-set needs per customer: three statements
    for any page."""
    computed = {
        row.customer_id: row
        for row in session.connection().execute(
            select(CustomerSegment.__table__).where(CustomerSegment.customer_id.in_(customer_ids))
        )
    }
    overrides = {
        row.customer_id: row
        for row in session.connection().execute(
            select(
                SegmentOverride.id,
                SegmentOverride.customer_id,
                SegmentOverride.tier,
                SegmentOverride.expires_at,
                SegmentOverride.created_at,
                SegmentOverride.reason,
                Staff.employee_no.label("created_by"),
            )
            .join(Staff, Staff.id == SegmentOverride.created_by_id)
            .where(SegmentOverride.customer_id.in_(customer_ids), override_in_force(now))
        )
    }
    needs = staff_needs(session, customer_ids)
    return {
        cid: SegmentView(cid, computed.get(cid), overrides.get(cid), needs.get(cid, {}))
        for cid in customer_ids
        if cid in computed or cid in overrides
    }


def rule_set_summaries(
    session: Session, versions: Sequence[int], model: str = "VALUE"
) -> dict[int, Any]:
    """Stored rule sets of a model (value, or ``RISK``) by version (one statement)."""
    rows = session.scalars(
        select(SegmentRuleSet).where(
            SegmentRuleSet.model == model, SegmentRuleSet.version.in_(versions)
        )
    )
    return {row.version: row for row in rows}


def histories(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Every segment change of the customers, newest first (one statement)."""
    rows = session.scalars(
        select(SegmentChange)
        .where(SegmentChange.customer_id.in_(customer_ids))
        .order_by(SegmentChange.id.desc())
    )
    result: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        result[row.customer_id].append(row)
    return result


def staff_needs(session: Session, customer_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The newest staff setting of each need per customer (one statement): need → row."""
    rows = session.connection().execute(
        select(
            CustomerNeed.id,
            CustomerNeed.customer_id,
            CustomerNeed.need,
            CustomerNeed.present,
            CustomerNeed.reason,
            CustomerNeed.set_at,
            Staff.employee_no.label("set_by"),
        )
        .join(Staff, Staff.id == CustomerNeed.set_by_id)
        .where(CustomerNeed.customer_id.in_(customer_ids))
        .order_by(CustomerNeed.id)
    )
    result: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        result[row.customer_id][Need(row.need)] = row  # the newest wins
    return result
