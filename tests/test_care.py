"""Care (REL-4) on SQLite and PostgreSQL: customers made through the API, ``kehu care run`` and
the timers worker; lunar festivals from the library, the 29 February birthday in leap and other
years, idempotent runs (twice: nothing new), the marketing opt-out, and the date horizon."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from core import clock
from core.ids import pk_of
from kehu import worker
from kehu.cli import app
from resolvers.care import calendar
from schema.shared.base import node_id
from store.care import CareOccasion
from store.db import StatementCounter
from store.outbox import OutboxMessage
from tests.conftest import Backend, command_env, create_customer, new_id_number

runner = CliRunner()
SOURCE = {"kind": "PROACTIVE_CONTACT", "detail": "客户经理回访"}


@pytest.fixture
def env(backend: Backend, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The CLI on the suite's own database (the customers the API made)."""
    with command_env(backend, tmp_path, backend.settings.database_url) as values:
        yield values


def _beijing(day: date, at: time = time(8)) -> datetime:
    return datetime.combine(day, at, clock.BUSINESS_TIME)


def _care(env: dict[str, str], day: date, today: date | None = None) -> Any:
    with clock.travel_to(_beijing(today or day), all_threads=True):
        return runner.invoke(app, ["care", "run", "--date", day.isoformat()], env=env)


def _customer(backend: Backend, birth: date, opt_in: bool = True, method: str = "SMS") -> int:
    customer = create_customer(
        backend, staff="RM0001", idNumber=new_id_number(birth), phone="13912345678"
    )
    payload = backend.gql(
        """mutation($input: RecordPreferencesInput!) {
             recordPreferences(input: $input) { errors { code } } }""",
        {
            "input": {
                "customerId": customer["id"],
                "contactMethod": method,
                "contactTime": "WORKDAY_EVENING",
                "marketingOptIn": opt_in,
                "source": SOURCE,
            }
        },
        staff="RM0001",
    )["recordPreferences"]
    assert payload["errors"] == []
    return pk_of(customer["id"], "Customer", "customerId")


CARE = """
query($id: ID!) { customer(id: $id) {
  care { occasion occasionOn tier offer channel deliveryStatus sendAt } } }
"""


def _care_api(backend: Backend, customer_id: int) -> list[dict[str, Any]]:
    """The customer's care as the relationship manager reads it over the API."""
    gid = node_id("Customer", customer_id)
    return list(backend.gql(CARE, {"id": gid}, staff="RM0001")["customer"]["care"])


def _occasions(backend: Backend, customer_id: int) -> list[tuple[str, date, str | None]]:
    with Session(backend.engine) as session:
        rows = session.scalars(
            select(CareOccasion)
            .where(CareOccasion.customer_id == customer_id)
            .order_by(CareOccasion.occasion_on, CareOccasion.occasion)
        )
        return [(r.occasion, r.occasion_on, r.offer) for r in rows]


def _messages(backend: Backend, customer_id: int) -> list[OutboxMessage]:
    with Session(backend.engine, expire_on_commit=False) as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.customer_id == customer_id)
                .order_by(OutboxMessage.id)
            )
        )


@pytest.mark.parametrize(
    ("day", "festival"),
    [
        (date(2026, 2, 17), "SPRING_FESTIVAL"),
        (date(2027, 2, 6), "SPRING_FESTIVAL"),
        (date(2028, 1, 26), "SPRING_FESTIVAL"),
        (date(2029, 2, 13), "SPRING_FESTIVAL"),
        (date(2026, 9, 25), "MID_AUTUMN"),
        (date(2027, 9, 15), "MID_AUTUMN"),
        (date(2028, 10, 3), "MID_AUTUMN"),
        (date(2027, 10, 1), "NATIONAL_DAY"),
    ],
)
def test_festivals_fall_on_their_lunar_and_solar_dates_rel4(day: date, festival: str) -> None:
    """REL-4: dates as the lunardate library gives them (checked against it, not by hand);
    the day before is no festival."""
    from lunardate import LunarDate

    plan = calendar.plan()
    assert [f.code for f in plan.festivals_on(day)] == [festival]
    assert plan.festivals_on(date.fromordinal(day.toordinal() - 1)) == []
    if festival != "NATIONAL_DAY":
        month, day_ = (1, 1) if festival == "SPRING_FESTIVAL" else (8, 15)
        assert LunarDate(day.year, month, day_).to_solar_date() == day


def test_a_29_february_birthday_is_kept_on_28_february_in_other_years_rel4(
    backend: Backend, env: dict[str, str]
) -> None:
    """REL-4: born 2000-02-29 (from the ID number): cared for on 2027-02-28 (no 29th that year),
    on 2028-02-29 and not on 2028-02-28 (a leap year); the tier's offer goes with it."""
    customer = _customer(backend, date(2000, 2, 29))
    for day in (date(2027, 2, 27), date(2027, 2, 28), date(2028, 2, 28), date(2028, 2, 29)):
        result = _care(env, day)
        assert result.exit_code == 0, result.output
        assert f"Care for {day.isoformat()}" in result.output  # the progress bar
    offer = calendar.plan().offers["LOW"]  # not classified: LOW
    assert _occasions(backend, customer) == [
        ("BIRTHDAY", date(2027, 2, 28), offer),
        ("BIRTHDAY", date(2028, 2, 29), offer),
    ]
    messages = _messages(backend, customer)
    assert [(m.channel, m.subject, m.status.value) for m in messages] == [
        ("SMS", "生日祝福", "QUEUED"),
        ("SMS", "生日祝福", "QUEUED"),
    ]
    assert "生日快乐" in messages[0].body and offer in messages[0].body
    assert messages[0].recipient == "13912345678"
    # Sent at the customer's preferred time: a workday evening, 19:00 Beijing.
    assert messages[0].next_attempt_at == _beijing(date(2027, 2, 28), time(19))
    assert _care_api(backend, customer) == [
        {
            "occasion": "BIRTHDAY",
            "occasionOn": "2028-02-29",
            "tier": "LOW",
            "offer": offer,
            "channel": "SMS",
            "deliveryStatus": "QUEUED",
            "sendAt": "2028-02-29T11:00:00+00:00",
        },
        {
            "occasion": "BIRTHDAY",
            "occasionOn": "2027-02-28",
            "tier": "LOW",
            "offer": offer,
            "channel": "SMS",
            "deliveryStatus": "QUEUED",
            "sendAt": "2027-02-28T11:00:00+00:00",
        },
    ]


def test_running_a_day_twice_creates_nothing_new_rel4(
    backend: Backend, env: dict[str, str]
) -> None:
    """REL-4: the second run of 2027-02-06 (Spring Festival, a birthday) adds no care and no
    message; the database's unique key keeps it so."""
    customer = _customer(backend, date(1990, 2, 6))
    first = _care(env, date(2027, 2, 6))
    assert first.exit_code == 0, first.output
    assert _occasions(backend, customer) == [
        ("BIRTHDAY", date(2027, 2, 6), calendar.plan().offers["LOW"]),
        ("SPRING_FESTIVAL", date(2027, 2, 6), None),
    ]
    again = _care(env, date(2027, 2, 6))
    assert again.exit_code == 0, again.output
    assert ": 0 care tasks, 0 messages queued" in again.output
    assert len(_occasions(backend, customer)) == 2
    assert len(_messages(backend, customer)) == 2
    with Session(backend.engine) as session, pytest.raises(Exception, match=r"(?i)unique"):
        session.add(
            CareOccasion(
                customer_id=customer,
                occasion="BIRTHDAY",
                occasion_on=date(2027, 2, 6),
                tier="LOW",
                run_id=1,
            )
        )
        session.flush()


def test_a_marketing_opt_out_keeps_the_greeting_but_not_the_offer_rel4(
    backend: Backend, env: dict[str, str]
) -> None:
    """REL-4: the birthday offer is marketing (left out); the greeting is care (sent). A
    customer who prefers a call gets the care as the manager's task, no message."""
    opted_out = _customer(backend, date(1985, 9, 15), opt_in=False)
    calls = _customer(backend, date(1986, 9, 15), method="PHONE")
    result = _care(env, date(2027, 9, 15))  # also Mid-Autumn
    assert result.exit_code == 0, result.output
    assert _occasions(backend, opted_out) == [
        ("BIRTHDAY", date(2027, 9, 15), None),
        ("MID_AUTUMN", date(2027, 9, 15), None),
    ]
    bodies = [m.body for m in _messages(backend, opted_out)]
    assert len(bodies) == 2 and "生日快乐" in bodies[0] and "中秋快乐" in bodies[1]
    assert all(offer not in b for b in bodies for offer in calendar.plan().offers.values())
    assert [o[0] for o in _occasions(backend, calls)] == ["BIRTHDAY", "MID_AUTUMN"]
    assert _messages(backend, calls) == []
    assert [(c["occasion"], c["offer"], c["channel"]) for c in _care_api(backend, opted_out)] == [
        ("BIRTHDAY", None, "SMS"),
        ("MID_AUTUMN", None, "SMS"),
    ]
    assert [
        (c["occasion"], c["channel"], c["deliveryStatus"]) for c in _care_api(backend, calls)
    ] == [
        ("BIRTHDAY", None, None),
        ("MID_AUTUMN", None, None),
    ]


def test_care_runs_too_far_ahead_or_back_are_refused_rel4(
    backend: Backend, env: dict[str, str]
) -> None:
    """REL-4: a run is for tomorrow at most, and 30 days back at most (care.toml)."""
    today = date(2027, 3, 10)
    assert _care(env, date(2027, 3, 11), today).exit_code == 0
    ahead = _care(env, date(2027, 3, 12), today)
    assert ahead.exit_code == 2 and "TOO_FAR_AHEAD" in ahead.output
    assert _care(env, date(2027, 2, 8), today).exit_code == 0
    back = _care(env, date(2027, 2, 7), today)
    assert back.exit_code == 2 and "TOO_FAR_BACK" in back.output


def test_the_worker_cares_once_per_beijing_day_rel4(backend: Backend) -> None:
    """REL-4: the timers worker runs the day's care on its first tick of the Beijing day
    (2027-10-01 00:00 Beijing is 2027-09-30 16:00 UTC) and not again that day."""
    customer = _customer(backend, date(1970, 5, 5))
    start = _beijing(date(2027, 10, 1), time(0))
    with clock.travel_to(start, all_threads=True):
        worker.run_once(backend.engine)
    assert _occasions(backend, customer) == [("NATIONAL_DAY", date(2027, 10, 1), None)]
    late = _beijing(date(2027, 10, 1), time(23, 59))
    with clock.travel_to(late, all_threads=True), StatementCounter(backend.engine) as counter:
        worker.run_once(backend.engine)
    assert len(_occasions(backend, customer)) == 1
    assert counter.count < 20


def test_a_care_contact_due_that_day_is_a_scheduled_call_back_rel4(
    backend: Backend, env: dict[str, str]
) -> None:
    """REL-4: a CARE_AND_FEEDBACK contact whose next step is due on 2027-03-05 is that day's
    CALL_BACK care task (no message); a consultation's next step is not care."""
    customer = _customer(backend, date(1980, 7, 1))
    gid = node_id("Customer", customer)
    log = """mutation($input: LogContactInput!) { logContact(input: $input) { errors { code } } }"""
    with clock.travel_to(_beijing(date(2027, 3, 1), time(10)), all_threads=True):
        for purpose, due in (("CARE_AND_FEEDBACK", "2027-03-05"), ("CONSULTATION", "2027-03-06")):
            given = {
                "customerId": gid,
                "channel": "VISIT",
                "purpose": purpose,
                "contactedAt": clock.now().isoformat(),
                "summary": "客户近期住院，约定出院后回访",
                "nextStep": "电话回访",
                "nextStepDueOn": due,
            }
            payload = backend.gql(log, {"input": given}, staff="RM0001")["logContact"]
            assert payload["errors"] == []
    for day in (date(2027, 3, 4), date(2027, 3, 5), date(2027, 3, 6)):
        assert _care(env, day).exit_code == 0
    assert _occasions(backend, customer) == [("CALL_BACK", date(2027, 3, 5), None)]
    # No care message: the one message is the survey the first visit opened (REL-5).
    assert [m.subject for m in _messages(backend, customer)] == ["满意度调查邀请"]


CARE_TASKS = """
query($where: CareTaskWhere, $first: Int) { careTasks(where: $where, first: $first) {
  totalCount
  edges { node { occasion occasionOn tier channel deliveryStatus sendAt
                 customer { id name } relationshipManager { employeeNo } } } } }
"""


def _tasks(backend: Backend, staff: str = "RM0001", first: int = 50, **where: Any) -> Any:
    found = backend.gql(CARE_TASKS, {"where": where, "first": first}, staff=staff)["careTasks"]
    return found


def test_care_tasks_of_many_customers_by_day_occasion_and_status_rel4(
    backend: Backend, env: dict[str, str]
) -> None:
    """REL-4: ``careTasks`` lists the care of the customers one sees, across customers, filtered
    by date range (inclusive), occasion, delivery status; one page in a constant number of
    statements; another branch's manager sees none of them."""
    by_sms = _customer(backend, date(1975, 6, 17))
    by_call = _customer(backend, date(1975, 6, 17), method="PHONE")
    by_mail = _customer(backend, date(1975, 6, 17), method="EMAIL")
    next_day = _customer(backend, date(1975, 6, 18))
    ours = [node_id("Customer", c) for c in (by_sms, by_call, by_mail, next_day)]
    for day in (date(2031, 6, 17), date(2031, 6, 18)):
        assert _care(env, day).exit_code == 0
    mine = {"customer": {"in": ours}}
    first_day = _tasks(backend, **mine, occasionOn={"gte": "2031-06-17", "lte": "2031-06-17"})
    assert first_day["totalCount"] == 3
    assert [
        (n["node"]["customer"]["id"], n["node"]["channel"], n["node"]["deliveryStatus"])
        for n in first_day["edges"]
    ] == [(ours[0], "SMS", "QUEUED"), (ours[1], None, None), (ours[2], "EMAIL", "FAILED")]
    assert {n["node"]["occasion"] for n in first_day["edges"]} == {"BIRTHDAY"}
    assert {n["node"]["relationshipManager"]["employeeNo"] for n in first_day["edges"]} == {
        "RM0001"
    }
    # The range's last day is in it; the day before the first is not.
    both = _tasks(backend, **mine, occasionOn={"gte": "2031-06-17", "lte": "2031-06-18"})
    assert [n["node"]["occasionOn"] for n in both["edges"]] == [
        "2031-06-17",
        "2031-06-17",
        "2031-06-17",
        "2031-06-18",
    ]
    assert _tasks(backend, **mine, occasionOn={"lte": "2031-06-16"})["totalCount"] == 0
    calls = _tasks(backend, **mine, withMessage={"eq": False})
    assert [n["node"]["customer"]["id"] for n in calls["edges"]] == [ours[1]]
    queued = _tasks(backend, **mine, deliveryStatus={"in": ["QUEUED"]}, occasion={"eq": "BIRTHDAY"})
    assert queued["totalCount"] == 2  # no e-mail address: that greeting FAILED at once
    failed = _tasks(backend, **mine, deliveryStatus={"eq": "FAILED"})
    assert [n["node"]["customer"]["id"] for n in failed["edges"]] == [ours[2]]
    assert _tasks(backend, **mine, occasion={"eq": "SPRING_FESTIVAL"})["totalCount"] == 0
    # The branch's supervisor sees them; another branch's manager sees none (as customers).
    assert _tasks(backend, "SUP0001", **mine)["totalCount"] == 4
    assert _tasks(backend, "SH01RM01", **mine)["totalCount"] == 0
    # A page of 1 and a page of 4: the same number of statements.
    counts = []
    for size in (1, 4):
        with StatementCounter(backend.engine) as counter:
            assert len(_tasks(backend, first=size, **mine)["edges"]) == size
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
