"""A care run (REL-4): every customer's birthday, festival and scheduled call-back care on one
Beijing date, set-based.

Per occasion of the day one statement finds the customers not yet cared for on it (their tier,
contact preferences, marketing consent and address), and multi-row INSERTs write the outbox
messages and the care rows. The statements grow with the day's occasions, never with the
customers. ``(customer, occasion, date)`` is unique in the database: running a day twice — or
twice at once — creates nothing new (the second concurrent run fails whole and creates nothing).

What a marketing opt-out suppresses: the tier's birthday offer or gift (marketing). Greetings
are care, not marketing: they are sent to every customer over the channel the customer prefers
(SMS, e-mail, WeChat; a customer who prefers a call or a visit gets the care as the manager's
task, without a message), queued for the day's send time of the customer's preferred contact
time. A scheduled call-back is a contact of purpose CARE_AND_FEEDBACK whose next step is due on
the date: the care run lists it among the day's care tasks of the manager (the follow-up task
itself is in the manager's inbox already), with no message.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, exists, extract, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.errors import UserInputError
from resolvers.care import calendar
from resolvers.segments.loaders import effective_tier
from store.base import allocate_ids, for_row
from store.care import CareOccasion, CareRun
from store.contacts import Contact, ContactPurpose
from store.customers import ContactMethod, Customer, Preferences
from store.db import take_write_lock
from store.outbox import OutboxMessage, OutboxStatus
from store.segments import ValueTier

BIRTHDAY = "BIRTHDAY"
CALL_BACK = "CALL_BACK"
# Channels a greeting goes over, by the customer's contact method (a call or a visit is made by
# the manager: a task, not a message). No recorded method: SMS, the bank's default.
MESSAGE_CHANNELS = {
    ContactMethod.SMS: "SMS",
    ContactMethod.EMAIL: "EMAIL",
    ContactMethod.WECHAT: "WECHAT",
    None: "SMS",
}


@dataclass(frozen=True)
class Occasion:
    code: str
    subject: str
    greeting: str | None  # None: no message (a call-back)
    condition: Any  # which customers it is for (SQL)
    offers: bool  # the tier's offer goes with it (birthdays)


def check_date(day: date, plan: calendar.CarePlan, today: date | None = None) -> None:
    """A run is for today … ``days_ahead`` days ahead, or back ``days_back`` days at most."""
    today = today or clock.today()
    if day > today + timedelta(days=plan.days_ahead):
        raise UserInputError.one(
            ("date",), "TOO_FAR_AHEAD", f"care runs at most {plan.days_ahead} day(s) ahead"
        )
    if day < today - timedelta(days=plan.days_back):
        raise UserInputError.one(
            ("date",), "TOO_FAR_BACK", f"care runs at most {plan.days_back} days back"
        )


def occasions_on(day: date, plan: calendar.CarePlan) -> list[Occasion]:
    texts = plan.texts
    birthdays = or_(
        *(
            and_(
                extract("month", Customer.birth_date) == m, extract("day", Customer.birth_date) == d
            )
            for m, d in calendar.birthdays_kept_on(day)
        )
    )
    found = [Occasion(BIRTHDAY, texts["birthday_subject"], texts["birthday"], birthdays, True)]
    for festival in plan.festivals_on(day):
        subject = texts["festival_subject"].format(festival=festival.name)
        found.append(Occasion(festival.code, subject, festival.greeting, True, False))
    call_back = exists().where(
        Contact.customer_id == Customer.id,
        Contact.purpose == ContactPurpose.CARE_AND_FEEDBACK,
        Contact.next_step_due_on == day,
    )
    found.append(Occasion(CALL_BACK, "回访", None, call_back, False))
    return found


def run(
    session: Session,
    day: date,
    started_by: str,
    progress: Callable[[int], None] | None = None,
    plan: calendar.CarePlan | None = None,
    now: datetime | None = None,
) -> CareRun:
    """Care for every customer on ``day`` (a Beijing date) as of ``now`` (default: the
    clock's); runs in the caller's transaction, a writer already (on SQLite a unit of work takes
    the write lock first: ``unit_of_work.run``, or ``take_write_lock`` in :func:`run_daily`).
    ``progress`` hears of each occasion done (the day's occasions: :func:`occasions_on`)."""
    plan = plan or calendar.plan()
    now = now or clock.now()
    check_date(day, plan, clock.business_date(now))
    care_run = CareRun(run_on=day, started_by=started_by, started_at=now, occasions=0, messages=0)
    session.add(care_run)
    session.flush()
    for occasion in occasions_on(day, plan):
        rows = _candidates(session, occasion, day, now)
        made, sent = _write(session, care_run.id, occasion, day, rows, plan, now)
        care_run.occasions += made
        care_run.messages += sent
        if progress is not None:
            progress(1)
    session.flush()
    return care_run


def _candidates(session: Session, occasion: Occasion, day: date, now: datetime) -> list[Any]:
    done = exists().where(
        CareOccasion.customer_id == Customer.id,
        CareOccasion.occasion == occasion.code,
        CareOccasion.occasion_on == day,
    )
    columns: list[Any] = [
        Customer.id,
        Customer.name,
        Customer.relationship_manager_id,
        effective_tier(now).label("tier"),
        Preferences.contact_method,
        Preferences.contact_time,
        Preferences.marketing_opt_in,
    ]
    if occasion.greeting is not None:
        # Sealed: opened per row, and only when a message is sent.
        columns += [Customer.phone, Customer.email]
    statement = (
        select(*columns)
        .outerjoin(Preferences, Preferences.customer_id == Customer.id)
        .where(occasion.condition, ~done)
        .order_by(Customer.id)
    )
    return list(session.execute(statement))


def _write(
    session: Session,
    run_id: int,
    occasion: Occasion,
    day: date,
    rows: list[Any],
    plan: calendar.CarePlan,
    now: datetime,
) -> tuple[int, int]:
    """The care rows and their messages, in pages of multi-row INSERTs."""
    texts = plan.texts
    bank = texts["bank"]
    care: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    with_message = [r for r in rows if occasion.greeting and r.contact_method in MESSAGE_CHANNELS]
    ids = iter(
        allocate_ids(session.connection(), OutboxMessage.__table__, len(with_message))  # type: ignore[arg-type]
        if with_message
        else []
    )
    for row in rows:
        tier = row.tier or ValueTier.LOW.value
        offer = plan.offers.get(tier) if occasion.offers and row.marketing_opt_in else None
        message_id = None
        channel = None
        if occasion.greeting and row.contact_method in MESSAGE_CHANNELS:
            channel = MESSAGE_CHANNELS[row.contact_method]
            message_id = next(ids)
            recipient = row.email if channel == "EMAIL" else row.phone
            body = occasion.greeting.format(name=row.name, bank=bank)
            if offer:
                body += offer + "。"
            body += texts["signature"].format(bank=bank)
            send_at = datetime.combine(
                day, plan.send_time(row.contact_time), clock.BUSINESS_TIME
            ).astimezone(UTC)
            messages.append(
                {
                    "id": message_id,
                    "customer_id": row.id,
                    "channel": channel,
                    "recipient": for_row(recipient, message_id),
                    "subject": occasion.subject,
                    "body": for_row(body, message_id),
                    "status": OutboxStatus.QUEUED if recipient else OutboxStatus.FAILED,
                    "attempts": 0,
                    "next_attempt_at": send_at if recipient else None,
                    "last_error": None
                    if recipient
                    else for_row("no address of the customer on this channel", message_id),
                    "created_at": now,
                }
            )
        care.append(
            {
                "customer_id": row.id,
                "occasion": occasion.code,
                "occasion_on": day,
                "tier": tier,
                "offer": offer[:200] if offer else None,
                "relationship_manager_id": row.relationship_manager_id,
                "channel": channel,
                "message_id": message_id,
                "run_id": run_id,
            }
        )
    # One executemany per table (Core, not the ORM's bulk path: that splits the rows by which
    # values are None, i.e. by customer).
    if messages:
        session.execute(insert(cast(Table, OutboxMessage.__table__)), messages)
    if care:
        session.execute(insert(cast(Table, CareOccasion.__table__)), care)
    return len(care), len(messages)


def run_daily(
    unit_of_work: Callable[[], AbstractContextManager[Session]], moment: datetime
) -> CareRun | None:
    """The worker's daily care: once per Beijing day (the day's first run; later ticks find it
    and do nothing)."""
    day = clock.business_date(moment)
    done = select(CareRun.id).where(CareRun.run_on == day).limit(1)
    with unit_of_work() as session:
        if session.scalar(done) is not None:  # every later tick of the day: one cheap read
            return None
    try:
        with unit_of_work() as session:
            # A writer before it reads (SQLite), and a second look: another worker may have
            # run the day in between.
            take_write_lock(session)
            if session.scalar(done) is not None:
                return None
            return run(session, day, "worker", now=moment)
    except IntegrityError:
        # Another worker cared for the day at the same moment: its run stands, this one is void.
        return None
