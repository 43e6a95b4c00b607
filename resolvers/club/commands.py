"""Club commands (REL-4): create an event, invite a segment, register a customer, record their
attendance, set a tier's membership.

Runs inside the caller's unit of work and never commits. An event of a branch the caller does
not work for answers as an event that does not exist (existence is not revealed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers.care import calendar as care_calendar
from resolvers.outbox import commands as outbox
from resolvers.segments.loaders import computed_column, effective_tier
from resolvers.shared import unit_of_work, validation
from resolvers.surveys import commands as surveys
from store.club import ClubEvent, ClubEventKind, ClubInvitation, ClubRegistration, ClubTier
from store.customers import Customer, Preferences
from store.segments import CustomerNeed, Need, RiskGrade, ValueTier
from store.staff import Branch, Staff
from store.surveys import SurveyOccasion

MAX_TITLE = 200
MAX_CAPACITY = 10_000
# Events are planned for the coming year at most.
MAX_PLANNED = timedelta(days=366)
_NEED_COLUMNS = {
    Need.INVESTMENT: "needs_investment",
    Need.FINANCING: "needs_financing",
    Need.SETTLEMENT: "needs_settlement",
}


def events_in_reach(actor: Staff, row_scopes: frozenset[str]) -> ColumnElement[bool]:
    """The events a caller works with: their branch's, every branch's for head office."""
    if "bank" in row_scopes:
        return true()
    return ClubEvent.branch_id == actor.branch_id


def event_in_reach(session: Session, event_id: int, reach: ColumnElement[bool]) -> ClubEvent:
    """The event, locked for the rest of the transaction where the database can lock a row."""
    found = session.scalar(
        select(ClubEvent).where(ClubEvent.id == event_id, reach).with_for_update()
    )
    if found is None:
        raise UserInputError.one(("eventId",), "NOT_FOUND", "no club event with this ID")
    return found


def member_tiers() -> Any:
    return select(ClubTier.tier)


def _title(given: str, problems: Problems) -> str:
    try:
        return validation.text(given, "title", max_length=MAX_TITLE)
    except UserInputError as exc:
        problems.extend(exc)
        return ""


def _check_start(starts_at: datetime, problems: Problems) -> None:
    problem = validation.instant_problem(starts_at)
    if problem is not None:
        problems.add(("startsAt",), "INVALID", problem)
    elif starts_at <= clock.now():
        problems.add(("startsAt",), "DATE_IN_PAST", "must be in the future")
    elif starts_at > clock.now() + MAX_PLANNED:
        problems.add(("startsAt",), "TOO_LONG", "must be within a year")


def _check_capacity(capacity: int, problems: Problems) -> None:
    if not 1 <= capacity <= MAX_CAPACITY:
        problems.add(("capacity",), "OUT_OF_RANGE", f"must be 1 … {MAX_CAPACITY}")


def _open_for_changes(event: ClubEvent, problems: Problems) -> None:
    """A cancelled or begun event takes no more changes, invitations or registrations."""
    if event.cancelled_at is not None:
        problems.add(("eventId",), "EVENT_CANCELLED", "the event was cancelled")
    elif event.starts_at <= clock.now():
        problems.add(("eventId",), "EVENT_STARTED", "the event has begun")


@dataclass(frozen=True)
class NewEvent:
    kind: ClubEventKind
    title: str
    branch_id: int | None
    starts_at: datetime
    capacity: int


def create_event(
    session: Session, actor: Staff, row_scopes: frozenset[str], given: NewEvent
) -> ClubEvent:
    """A club event of the caller's branch (head office: of any branch it names)."""
    problems = Problems()
    title = _title(given.title, problems)
    _check_start(given.starts_at, problems)
    _check_capacity(given.capacity, problems)
    branch_id = actor.branch_id if given.branch_id is None else given.branch_id
    if branch_id != actor.branch_id and "bank" not in row_scopes:
        # Another branch's events are not the caller's to plan: as if it did not exist.
        problems.add(("branchId",), "NOT_FOUND", "no branch with this ID")
    elif session.get(Branch, branch_id) is None:
        problems.add(("branchId",), "NOT_FOUND", "no branch with this ID")
    problems.raise_if_any()
    event = ClubEvent(
        kind=given.kind,
        title=title,
        branch_id=branch_id,
        starts_at=given.starts_at.astimezone(UTC),
        capacity=given.capacity,
        registered=0,
        created_by_id=actor.id,
        created_at=clock.now(),
    )
    session.add(event)
    session.flush()
    unit_of_work.note(session, f"club event created: {given.kind.value}")
    return event


@dataclass(frozen=True)
class Segment:
    """Who is invited: members of the event's branch in these tiers (None: every member tier),
    with all of these needs, in these risk grades (None: any, including no grade)."""

    tiers: Sequence[ValueTier] | None
    needs: Sequence[Need]
    risk_grades: Sequence[RiskGrade] | None


def _has_need(need: Need) -> Any:
    """A customer's need as staff set it last, else as derived from their holdings."""
    staff_setting = (
        select(CustomerNeed.present)
        .where(CustomerNeed.customer_id == Customer.id, CustomerNeed.need == need)
        .order_by(CustomerNeed.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(staff_setting, computed_column(_NEED_COLUMNS[need])) == true()


def invite(
    session: Session,
    actor: Staff,
    event: ClubEvent,
    segment: Segment,
    visible: ColumnElement[bool],
) -> int:
    """Invite the segment's club members of the event's branch whom the caller sees, in one
    statement; a customer already invited is skipped, so inviting twice adds no one. Returns how
    many were invited now."""
    problems = Problems()
    _open_for_changes(event, problems)
    problems.raise_if_any()
    now = clock.now()
    tier = effective_tier(now)
    conditions = [
        Customer.branch_id == event.branch_id,
        visible,
        tier.in_(member_tiers()),
        ~exists().where(
            ClubInvitation.event_id == event.id, ClubInvitation.customer_id == Customer.id
        ),
    ]
    if segment.tiers is not None:
        conditions.append(tier.in_([t.value for t in segment.tiers]))
    conditions += [_has_need(need) for need in dict.fromkeys(segment.needs)]
    if segment.risk_grades is not None:
        conditions.append(computed_column("risk_grade").in_([g.value for g in segment.risk_grades]))
    chosen = select(
        literal(event.id),
        Customer.id,
        literal(actor.id),
        literal(now, ClubInvitation.__table__.c.invited_at.type),
    ).where(and_(*conditions))
    statement = _insert_skipping_duplicates(session).from_select(
        ["event_id", "customer_id", "invited_by_id", "invited_at"], chosen
    )
    # A customer a concurrent call invited meanwhile is skipped on the unique key, never an
    # error (the event's row lock queues calls for one event today; this holds without it).
    invited = session.scalars(
        statement.on_conflict_do_nothing(index_elements=["event_id", "customer_id"]).returning(
            ClubInvitation.customer_id
        )
    ).all()
    # (RETURNING, not rowcount: psycopg reports -1 for an INSERT … SELECT run by the ORM.)
    count = len(invited)
    unit_of_work.note(session, f"club invitations: {count}")
    return count


def _insert_skipping_duplicates(session: Session) -> Any:
    """An INSERT into club_invitations in the dialect's own form (ON CONFLICT DO NOTHING)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(ClubInvitation)
    return sqlite.insert(ClubInvitation)


def _is_member(session: Session, customer_id: int) -> bool:
    tier = effective_tier(clock.now(), customer_id)
    return bool(session.scalar(select(tier.in_(member_tiers()))))


def register(
    session: Session, actor: Staff, event: ClubEvent, customer_id: int
) -> ClubRegistration:
    """Register a club member for an event with a free seat.

    The seat is taken by one conditional update: of two registrations for the last seat, the
    second finds ``registered = capacity`` (on PostgreSQL after waiting for the first's lock)
    and is refused, with nothing written. A duplicate registration is refused before a seat is
    taken; a concurrent duplicate fails on the unique key and rolls back its seat.
    """
    problems = Problems()
    _open_for_changes(event, problems)
    if not _is_member(session, customer_id):
        problems.add(("customerId",), "NOT_A_MEMBER", "the customer's tier is not a club tier")
    already = session.scalar(
        select(ClubRegistration.id).where(
            ClubRegistration.event_id == event.id, ClubRegistration.customer_id == customer_id
        )
    )
    if already is not None:
        problems.add(("customerId",), "ALREADY_REGISTERED", "already registered for this event")
    problems.raise_if_any()
    taken = session.execute(
        update(ClubEvent)
        .where(ClubEvent.id == event.id, ClubEvent.registered < ClubEvent.capacity)
        .values(registered=ClubEvent.registered + 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(taken, "rowcount", 0):
        raise UserInputError.one(("eventId",), "FULL", "the event has no free seat")
    session.expire(event, ["registered"])
    registration = ClubRegistration(
        event_id=event.id,
        customer_id=customer_id,
        registered_by_id=actor.id,
        registered_at=clock.now(),
    )
    try:
        # A savepoint: the registration of a concurrent call for the same customer fails on
        # the unique key here, and the whole call (with its seat) is refused as a duplicate.
        with session.begin_nested():
            session.add(registration)
            session.flush()
    except IntegrityError:
        raise UserInputError.one(
            ("customerId",), "ALREADY_REGISTERED", "already registered for this event"
        ) from None
    unit_of_work.note(session, "club registration", customer_ids=[customer_id])
    return registration


def _registration(
    session: Session, event: ClubEvent, customer_id: int, problems: Problems
) -> ClubRegistration | None:
    """The customer's registration for the event (a problem noted when there is none)."""
    registration = session.scalar(
        select(ClubRegistration).where(
            ClubRegistration.event_id == event.id, ClubRegistration.customer_id == customer_id
        )
    )
    if registration is None:
        problems.add(("customerId",), "NOT_REGISTERED", "not registered for this event")
    return registration


def record_attendance(
    session: Session, actor: Staff, event: ClubEvent, customer_id: int, attended: bool
) -> ClubRegistration:
    """Whether a registered customer came (from the event's start on; correctable). One who
    came gets the event's survey request (REL-5)."""
    problems = Problems()
    registration = _registration(session, event, customer_id, problems)
    if event.cancelled_at is not None:
        problems.add(("eventId",), "EVENT_CANCELLED", "the event was cancelled")
    elif event.starts_at > clock.now():
        problems.add(("eventId",), "EVENT_NOT_STARTED", "attendance is recorded once it began")
    problems.raise_if_any()
    assert registration is not None
    if attended and registration.attended_at is None:
        registration.attended_at = clock.now()
        registration.attendance_recorded_by_id = actor.id
        session.flush()
        # REL-5: a customer who came is asked how it was (once per event).
        surveys.request_survey(session, actor, customer_id, SurveyOccasion.CLUB_EVENT, event.id)
    elif not attended and registration.attended_at is not None:
        registration.attended_at = None
        registration.attendance_recorded_by_id = actor.id
    session.flush()
    unit_of_work.note(
        session,
        f"club attendance: {'present' if attended else 'absent'}",
        customer_ids=[customer_id],
    )
    return registration


# What registrants read (Chinese) when their event is cancelled or moved.
CANCELLED_SUBJECT = "活动取消通知"
CANCELLED_BODY = (
    "尊敬的{name}：很抱歉，您报名参加的“{title}”（原定{when}）已取消。"
    "给您带来不便，敬请谅解，如有疑问请联系您的客户经理。"
)
MOVED_SUBJECT = "活动时间变更通知"
MOVED_BODY = (
    "尊敬的{name}：您报名参加的“{title}”时间已变更为{when}（北京时间）。"
    "如不能参加，请联系您的客户经理取消报名。"
)
MAX_REASON = 500


def _beijing(moment: datetime) -> str:
    return moment.astimezone(clock.BUSINESS_TIME).strftime("%Y年%m月%d日 %H:%M")


def _tell_registrants(session: Session, event: ClubEvent, subject: str, body: str) -> int:
    """Queue ``body`` to every registrant over their preferred channel, at once (what they
    registered for changed: not held for a preferred time). Two statements to read them."""
    rows = session.execute(
        select(Customer, Preferences)
        .join(ClubRegistration, ClubRegistration.customer_id == Customer.id)
        .outerjoin(Preferences, Preferences.customer_id == Customer.id)
        .where(ClubRegistration.event_id == event.id)
        .order_by(Customer.id)
    ).all()
    signature = (
        care_calendar.plan().texts["signature"].format(bank=care_calendar.plan().texts["bank"])
    )
    for customer, preferences in rows:
        text = body.format(name=customer.name, title=event.title, when=_beijing(event.starts_at))
        outbox.queue_preferred(session, customer, preferences, subject, text + signature)
    return len(rows)


def cancel_event(session: Session, actor: Staff, event: ClubEvent, reason: str) -> ClubEvent:
    """Cancel an event before it begins, with a reason (kept, not sent); every registrant is
    told through the outbox. Later invitations, registrations and changes are refused
    (``EVENT_CANCELLED``); registrations stay as they were, for the record."""
    problems = Problems()
    _open_for_changes(event, problems)
    why = ""
    try:
        why = validation.text(reason, "reason", max_length=MAX_REASON)
    except UserInputError as exc:
        problems.extend(exc)
    problems.raise_if_any()
    event.cancelled_at = clock.now()
    event.cancelled_by_id = actor.id
    event.cancel_reason = why
    told = _tell_registrants(session, event, CANCELLED_SUBJECT, CANCELLED_BODY)
    session.flush()
    unit_of_work.note(session, f"club event cancelled: {told} registrants told")
    return event


@dataclass(frozen=True)
class EventChange:
    """What to change (None: unchanged)."""

    title: str | None = None
    capacity: int | None = None
    starts_at: datetime | None = None


def update_event(session: Session, event: ClubEvent, change: EventChange) -> ClubEvent:
    """Change an event's title, capacity or start before it begins. A capacity below the
    seats taken is refused (``BELOW_REGISTERED``); a new start is checked as at creation and
    told to the registrants through the outbox."""
    problems = Problems()
    _open_for_changes(event, problems)
    title = None if change.title is None else _title(change.title, problems)
    if change.capacity is not None:
        _check_capacity(change.capacity, problems)
        if change.capacity < event.registered:
            problems.add(("capacity",), "BELOW_REGISTERED", "fewer seats than customers registered")
    if change.starts_at is not None:
        _check_start(change.starts_at, problems)
    problems.raise_if_any()
    if title is not None:
        event.title = title
    if change.capacity is not None:
        # Under the event's row lock (taken to find it): no registration slips in between.
        event.capacity = change.capacity
    moved = change.starts_at is not None and change.starts_at != event.starts_at
    if change.starts_at is not None:
        event.starts_at = change.starts_at.astimezone(UTC)
    session.flush()
    if moved:
        _tell_registrants(session, event, MOVED_SUBJECT, MOVED_BODY)
    unit_of_work.note(session, "club event changed")
    return event


def withdraw_registration(
    session: Session, actor: Staff, event: ClubEvent, customer_id: int
) -> ClubEvent:
    """Withdraw a customer's registration before the event begins: the row goes (the audit
    log keeps the withdrawal) and the seat is free again; the customer may register again."""
    problems = Problems()
    registration = _registration(session, event, customer_id, problems)
    _open_for_changes(event, problems)
    problems.raise_if_any()
    session.delete(registration)
    event.registered = event.registered - 1
    session.flush()
    unit_of_work.note(session, "club registration withdrawn", customer_ids=[customer_id])
    return event


def set_membership(
    session: Session, tier: ValueTier, level: str | None, label: str | None
) -> ClubTier | None:
    """Make a tier's customers members at ``level`` (with its Chinese label), or (``level``
    None) no longer members."""
    found = session.get(ClubTier, tier)
    if level is None:
        if found is not None:
            session.delete(found)
            session.flush()
        return None
    problems = Problems()
    cleaned = label_text = ""
    try:
        cleaned = validation.text(level, "level", max_length=32).upper()
        if not cleaned.replace("_", "").isalnum() or not cleaned.isascii():
            problems.add(("level",), "INVALID", "letters, digits and _ only")
    except UserInputError as exc:
        problems.extend(exc)
    try:
        label_text = validation.text(label or "", "label", max_length=100)
    except UserInputError as exc:
        problems.extend(exc)
    problems.raise_if_any()
    if found is None:
        found = ClubTier(tier=tier, level=cleaned, label=label_text)
        session.add(found)
    else:
        found.level, found.label = cleaned, label_text
    session.flush()
    return found
