"""What the customers of a request show of their segments, loaded for all of them at once; the
one definition of "the segment shown" (an override in force, else the computed one)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, aliased

from store.customers import Customer
from store.segments import (
    COMPUTED_REASONS,
    DERIVED_NEEDS,
    ChangeReason,
    CustomerNeed,
    CustomerSegment,
    Need,
    SegmentChange,
    SegmentOverride,
    SegmentRuleSet,
    SegmentRun,
    ValueTier,
)
from store.staff import Staff


def override_in_force(now: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    """An override counts until it expires or is withdrawn (compared at read time: no job);
    ``now`` may be a bound parameter set when the statement runs."""
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
            if setting is not None and setting.present is not None:  # null: cleared
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
        # Staff-set needs show even before the customer's first classification.
        if cid in computed or cid in overrides or cid in needs
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


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a customer's segment as the history shows it."""

    customer_id: int
    from_tier: str | None
    to_tier: str | None
    from_private_banking: bool | None
    to_private_banking: bool | None
    reason: ChangeReason
    run_id: int | None
    rule_set_version: int | None
    changed_at: datetime
    changed_by: str | None  # who overrode or withdrew, or started the run
    override_reason: str | None  # the override's reason (override entries only)
    # Risk grade (SEG-3) before and after, and the risk model's version: on override entries
    # (they change the value tier only) the computed grade in force then, before and after.
    from_risk_grade: str | None = None
    to_risk_grade: str | None = None
    risk_rule_set_version: int | None = None
    id: int = 0  # 0: read from an expired override, not stored
    # The needs the run derived (SEG-2); None: an override entry, or kept before 0029.
    derived_needs: list[Need] | None = None


def _derived_needs(change: SegmentChange) -> list[Need] | None:
    flags = {need: getattr(change, f"to_{column}") for need, column in DERIVED_NEEDS.items()}
    if all(flag is None for flag in flags.values()):
        return None
    return [need for need, flag in flags.items() if flag]


def histories(
    session: Session, customer_ids: Sequence[int], now: datetime
) -> dict[int, list[HistoryEntry]]:
    """Every segment change of the customers, newest first (two statements).

    An override that expired by ``now`` adds its OVERRIDE_EXPIRED entry at its expiry — from the
    override's tier back to the tier computed then — read here, so no job has to write it.
    """
    creator = aliased(Staff)
    rows = session.execute(
        select(
            SegmentChange,
            SegmentRun.started_by,
            SegmentOverride.reason,
            creator.employee_no.label("overridden_by"),
        )
        .outerjoin(SegmentRun, SegmentRun.id == SegmentChange.run_id)
        .outerjoin(SegmentOverride, SegmentOverride.id == SegmentChange.override_id)
        .outerjoin(creator, creator.id == SegmentOverride.created_by_id)
        .where(SegmentChange.customer_id.in_(customer_ids))
        .order_by(SegmentChange.id)
    )
    result: dict[int, list[HistoryEntry]] = defaultdict(list)
    for change, started_by, override_reason, overridden_by in rows:
        result[change.customer_id].append(
            HistoryEntry(
                customer_id=change.customer_id,
                from_tier=change.from_tier,
                to_tier=change.to_tier,
                from_private_banking=change.from_private_banking,
                to_private_banking=change.to_private_banking,
                reason=ChangeReason(change.reason),
                run_id=change.run_id,
                rule_set_version=change.rule_set_version,
                changed_at=change.changed_at,
                changed_by=change.changed_by or started_by or overridden_by,
                override_reason=override_reason,
                from_risk_grade=change.from_risk_grade,
                to_risk_grade=change.to_risk_grade,
                risk_rule_set_version=change.risk_rule_set_version,
                id=change.id,
                derived_needs=_derived_needs(change),
            )
        )
    expired = session.execute(
        select(SegmentOverride, creator.employee_no)
        .join(creator, creator.id == SegmentOverride.created_by_id)
        .where(
            SegmentOverride.customer_id.in_(customer_ids),
            SegmentOverride.withdrawn_at.is_(None),
            SegmentOverride.expires_at <= now,
        )
    )
    for override, created_by in expired:
        entries = result[override.customer_id]
        computed = [
            e
            for e in entries
            if e.reason in COMPUTED_REASONS and e.changed_at <= override.expires_at and e.id
        ]
        then = max(computed, key=lambda e: (e.changed_at, e.id), default=None)
        entries.append(
            HistoryEntry(
                customer_id=override.customer_id,
                from_tier=ValueTier(override.tier).value,
                to_tier=None if then is None else then.to_tier,
                from_private_banking=None if then is None else then.to_private_banking,
                to_private_banking=None if then is None else then.to_private_banking,
                reason=ChangeReason.OVERRIDE_EXPIRED,
                run_id=None,
                rule_set_version=None if then is None else then.rule_set_version,
                changed_at=override.expires_at,
                changed_by=created_by,
                override_reason=override.reason,
                # The risk grade in force at the expiry, unchanged by it (like every entry).
                from_risk_grade=None if then is None else then.to_risk_grade,
                to_risk_grade=None if then is None else then.to_risk_grade,
                risk_rule_set_version=None if then is None else then.risk_rule_set_version,
            )
        )
    return {
        cid: sorted(entries, key=lambda e: (e.changed_at, e.id), reverse=True)
        for cid, entries in result.items()
    }


def _need_settings(session: Session, customer_ids: Sequence[int]) -> Any:
    """Every staff setting of the customers' needs, oldest first, with who set it."""
    return session.connection().execute(
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


def staff_needs(session: Session, customer_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The newest staff setting of each need per customer (one statement): need → row."""
    result: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in _need_settings(session, customer_ids):
        result[row.customer_id][Need(row.need)] = row  # the newest wins
    return result


def need_histories(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Every staff setting of the customers' needs, newest first (one statement)."""
    result: dict[int, list[Any]] = defaultdict(list)
    for row in _need_settings(session, customer_ids):
        result[row.customer_id].insert(0, row)
    return result
