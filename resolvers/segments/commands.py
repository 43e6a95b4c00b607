"""Segment changes (SEG-1, SEG-2, SEG-4): value rule sets, overrides, staff-set needs.

Every function here runs inside the caller's unit of work and never commits. Classification
runs are ``runs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.errors import ConflictError, Problems, UserInputError
from resolvers.segments import measures, model, risk_model
from resolvers.segments.loaders import override_in_force
from resolvers.segments.queries import newest_rule_set
from resolvers.shared import unit_of_work, validation
from store.segments import (
    ChangeReason,
    CustomerNeed,
    CustomerSegment,
    Need,
    RiskGrade,
    SegmentChange,
    SegmentOverride,
    SegmentRuleSet,
    ValueTier,
)
from store.staff import Staff

MAX_OVERRIDE = timedelta(days=366)


# -- rule sets -------------------------------------------------------------------------------


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def summary(self) -> str: ...

    def definition(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Versioned)


@dataclass(frozen=True)
class _Model(Generic[R]):
    """A model whose rule sets are versions of data: the value model, the risk model."""

    name: str  # segment_rule_sets.model
    label: str  # as the owners call it in messages
    file_name: str
    load_file: Callable[[], R]
    check: Callable[[Mapping[str, Any], int, str], R]


VALUE_MODEL = _Model(
    model.VALUE, "value", "value_model.toml", model.load_file, model.check_rule_set
)
RISK_MODEL = _Model(
    risk_model.RISK,
    "risk",
    "risk_model.toml",
    risk_model.load_file,
    risk_model.check_risk_rule_set,
)

MEASURES_MODEL = _Model(
    measures.MEASURES,
    "service measures",
    "service_measures.toml",
    measures.load_file,
    measures.check_measures,
)


def _in_force(session: Session, kind: _Model[R]) -> R:
    """The newest stored rule set of ``kind``; the reviewed file's when none is stored yet."""
    row = newest_rule_set(session, model=kind.name)
    if row is None:
        return kind.load_file()
    return kind.check(row.definition, row.version, row.summary)


def _ensure(session: Session, kind: _Model[R], lock: bool) -> R:
    """The rule set in force of ``kind``, storing the reviewed file as version 1 into an empty
    database (``lock``: see ``ensure_rule_set``)."""
    row = newest_rule_set(session, lock=lock, model=kind.name)
    if row is not None:
        return kind.check(row.definition, row.version, row.summary)
    rules = kind.load_file()
    session.add(
        SegmentRuleSet(
            model=kind.name,
            version=1,
            definition=rules.definition(),
            summary=rules.summary[:500] or kind.file_name,
            changed_by="system",
            changed_at=clock.now(),
        )
    )
    _flush_version(session, kind)
    return rules


def _flush_version(session: Session, kind: _Model[Any]) -> None:
    """Write a new version; another transaction writing the same number first is a CONFLICT."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"the {kind.label} model changed meanwhile; reload it and try again"
        ) from exc


def _change(
    session: Session,
    kind: _Model[R],
    changed_by: str,
    expected_version: int,
    raw: Mapping[str, Any],
    summary: str,
) -> SegmentRuleSet:
    """A new version of ``kind`` (checked), numbered after the one the owner edited."""
    text = validation.text(summary, "summary", max_length=500)
    current = _ensure(session, kind, lock=True)
    if expected_version != current.version:
        raise ConflictError(
            f"the {kind.label} model is at version {current.version}; reload it and edit that "
            "version"
        )
    rules = kind.check(raw, current.version + 1, text)
    row = SegmentRuleSet(
        model=kind.name,
        version=rules.version,
        definition=rules.definition(),
        summary=text,
        changed_by=changed_by,
        changed_at=clock.now(),
    )
    session.add(row)
    _flush_version(session, kind)
    unit_of_work.note(session, f"{kind.label} model version {rules.version}: {text}")
    return row


def rule_set_in_force(session: Session) -> model.RuleSet:
    """The newest stored value rule set; the reviewed file's when none is stored yet."""
    return _in_force(session, VALUE_MODEL)


def ensure_rule_set(session: Session, lock: bool = False) -> model.RuleSet:
    """The rule set in force, storing the reviewed file as version 1 into an empty database.

    With ``lock`` the caller holds the rule set in force until its transaction ends: two runs
    never replace the same customers' segments at once (their inserts would collide), and a
    run never straddles a model change.
    """
    return _ensure(session, VALUE_MODEL, lock)


def change_value_rule_set(
    session: Session,
    changed_by: str,
    expected_version: int,
    raw: Mapping[str, Any],
    summary: str,
) -> SegmentRuleSet:
    """A new version of the value model (checked: ``model.check_rule_set``).

    ``expected_version`` is the version the owner edited: another owner's newer version is a
    CONFLICT, never silently replaced. The new version applies to runs from now on; segments
    computed under older versions keep saying which version made them.
    """
    return _change(session, VALUE_MODEL, changed_by, expected_version, raw, summary)


def risk_rule_set_in_force(session: Session) -> risk_model.RiskRuleSet:
    """The newest stored risk rule set; the reviewed file's when none is stored yet."""
    return _in_force(session, RISK_MODEL)


def ensure_risk_rule_set(session: Session, lock: bool = False) -> risk_model.RiskRuleSet:
    """The risk rule set in force (SEG-3), as ``ensure_rule_set``."""
    return _ensure(session, RISK_MODEL, lock)


def change_risk_rule_set(
    session: Session,
    changed_by: str,
    expected_version: int,
    raw: Mapping[str, Any],
    summary: str,
) -> SegmentRuleSet:
    """A new version of the risk model (checked: ``risk_model.check_risk_rule_set``), as
    ``change_value_rule_set``."""
    return _change(session, RISK_MODEL, changed_by, expected_version, raw, summary)


def measures_in_force(session: Session) -> measures.MeasureSet:
    """The service measures in force (SEG-5); the reviewed file's when none are stored yet."""
    return _in_force(session, MEASURES_MODEL)


def ensure_measures(session: Session) -> measures.MeasureSet:
    """The service measures in force, storing the reviewed file as version 1 when none are."""
    return _ensure(session, MEASURES_MODEL, lock=False)


def change_service_measures(
    session: Session,
    changed_by: str,
    expected_version: int,
    raw: Mapping[str, Any],
    summary: str,
) -> SegmentRuleSet:
    """A new version of the service measures (checked: ``measures.check_measures``), as
    ``change_value_rule_set``; the measures the system applies follow it at once (the caller
    syncs the re-assessment tasks in the same transaction)."""
    return _change(session, MEASURES_MODEL, changed_by, expected_version, raw, summary)


# -- overrides -------------------------------------------------------------------------------


def _effective(session: Session, customer_id: int, now: datetime) -> tuple[Any, Any]:
    """(override in force or None, computed segment or None) of one customer."""
    override = session.scalars(
        select(SegmentOverride).where(
            SegmentOverride.customer_id == customer_id, override_in_force(now)
        )
    ).first()
    computed = session.get(CustomerSegment, customer_id)
    return override, computed


def override_segment(
    session: Session,
    created_by: Staff,
    customer_id: int,
    tier: ValueTier,
    reason: str | None,
    expires_at: datetime | None,
) -> SegmentOverride:
    """A supervisor's override of a customer's tier until ``expires_at`` (SEG-4).

    A newer override replaces the one in force. When it expires, the computed segment applies
    again at once: reads compare the expiry with the clock, no job runs.
    """
    problems = Problems()
    text = ""
    try:
        text = validation.text(reason or "", "reason", max_length=300)
    except UserInputError as exc:
        problems.extend(exc)
    now = clock.now()
    problem = None if expires_at is None else validation.instant_problem(expires_at)
    if expires_at is None:
        problems.add(("expiresAt",), "REQUIRED", "an override needs an expiry")
    elif problem is not None:
        problems.add(("expiresAt",), "INVALID", problem)
    elif expires_at <= now:
        problems.add(("expiresAt",), "EXPIRED", "must lie in the future")
    elif expires_at > now + MAX_OVERRIDE:
        problems.add(("expiresAt",), "TOO_LONG", "an override lasts at most a year")
    problems.raise_if_any()
    assert expires_at is not None
    changed_by, created_by_id = created_by.employee_no, created_by.id
    previous, computed = _effective(session, customer_id, now)
    before_tier = (
        previous.tier if previous is not None else computed.tier if computed is not None else None
    )
    if previous is not None:
        previous.withdrawn_at = now
    override = SegmentOverride(
        customer_id=customer_id,
        tier=tier,
        reason=text,
        expires_at=expires_at,
        created_by_id=created_by_id,
        created_at=now,
    )
    session.add(override)
    session.flush()
    private = computed.private_banking if computed is not None else False
    session.add(
        SegmentChange(
            customer_id=customer_id,
            from_tier=None if before_tier is None else ValueTier(before_tier).value,
            to_tier=tier.value,
            from_private_banking=None if computed is None else private,
            to_private_banking=private,
            reason=ChangeReason.OVERRIDE,
            override_id=override.id,
            changed_at=now,
            changed_by=changed_by,
            **_risk_in_force(computed),
        )
    )
    unit_of_work.note(
        session, f"segment override until {expires_at:%Y-%m-%d}", customer_ids=[customer_id]
    )
    return override


def _risk_in_force(computed: CustomerSegment | None) -> dict[str, Any]:
    """An override entry's risk grade: the computed one, unchanged (overrides change the value
    tier only)."""
    grade = None if computed is None or computed.risk_grade is None else computed.risk_grade
    return {
        "from_risk_grade": None if grade is None else RiskGrade(grade).value,
        "to_risk_grade": None if grade is None else RiskGrade(grade).value,
        "risk_rule_set_version": None if computed is None else computed.risk_rule_set_version,
    }


def withdraw_override(session: Session, customer_id: int, withdrawn_by: Staff) -> SegmentOverride:
    """End the override in force now; the computed segment applies again."""
    now = clock.now()
    override, computed = _effective(session, customer_id, now)
    if override is None:
        raise UserInputError.one(("customerId",), "NO_OVERRIDE", "has no override in force")
    override.withdrawn_at = now
    if computed is not None:
        session.add(
            SegmentChange(
                customer_id=customer_id,
                from_tier=ValueTier(override.tier).value,
                to_tier=ValueTier(computed.tier).value,
                from_private_banking=computed.private_banking,
                to_private_banking=computed.private_banking,
                reason=ChangeReason.OVERRIDE_WITHDRAWN,
                override_id=override.id,
                rule_set_version=computed.rule_set_version,
                changed_at=now,
                changed_by=withdrawn_by.employee_no,
                **_risk_in_force(computed),
            )
        )
    session.flush()
    return override


# -- needs (SEG-2) ---------------------------------------------------------------------------


def set_need(
    session: Session, set_by_id: int, customer_id: int, need: Need, present: bool, reason: str
) -> CustomerNeed:
    """Staff say whether a customer has a need, and why: it counts instead of the derived one
    from now on; earlier settings are kept (who, when, why)."""
    text = validation.text(reason, "reason", max_length=300)
    return _record_need(session, set_by_id, customer_id, need, present, text)


def _record_need(
    session: Session, set_by_id: int, customer_id: int, need: Need, present: bool | None, text: str
) -> CustomerNeed:
    row = CustomerNeed(
        customer_id=customer_id,
        need=need,
        present=present,
        reason=text,
        set_by_id=set_by_id,
        set_at=clock.now(),
    )
    session.add(row)
    session.flush()
    done = "set" if present is not None else "cleared"
    unit_of_work.note(session, f"need {need.value} {done}", customer_ids=[customer_id])
    return row


def clear_need(
    session: Session, set_by_id: int, customer_id: int, need: Need, reason: str
) -> CustomerNeed:
    """Staff put a need they set back to the derived value, and say why (SEG-2): a setting
    without ``present`` ends the staff one; the history keeps both."""
    text = validation.text(reason, "reason", max_length=300)
    newest = session.scalar(
        select(CustomerNeed.present)
        .where(CustomerNeed.customer_id == customer_id, CustomerNeed.need == need)
        .order_by(CustomerNeed.id.desc())
        .limit(1)
    )
    if newest is None:  # never set, or already cleared
        raise UserInputError.one(
            ("need",), "NOT_SET_BY_STAFF", "staff have not set this need: it is derived"
        )
    return _record_need(session, set_by_id, customer_id, need, None, text)
