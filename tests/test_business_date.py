"""The business date is Beijing's: between 00:00 and 08:00 Beijing time the UTC date
is still yesterday, yet "today" for validation, due lists, validity and age is Beijing's today."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from stdnum.cn import ric

from core import clock
from tests.complaint_steps import (
    TASKS,
    assign,
    bj_customer,
    complaint_pk,
    decide_and_call_back,
    do,
    fire_timers,
    investigation,
    read,
    submit,
    tasks_of,
)
from tests.conftest import SOURCE, Backend, create_customer, create_errors
from tests.test_consent import _consent, _register

BEIJING = ZoneInfo("Asia/Shanghai")
# A business date of our own: tomorrow in Beijing, so the clock only moves a little (tokens are
# minted inside the moved clock, like every other request of these tests).
DAY = clock.now().astimezone(BEIJING).date() + timedelta(days=1)


def beijing(day: date, at: time) -> datetime:
    return datetime.combine(day, at, BEIJING)


AT_0030 = beijing(DAY, time(0, 30))  # 16:30 UTC of the day before
LAST_SECOND = beijing(DAY, time(23, 59, 59))  # 15:59:59 UTC of DAY
MIDNIGHT = beijing(DAY + timedelta(days=1), time(0, 0))  # 16:00 UTC of DAY


@pytest.fixture
def at(request: pytest.FixtureRequest) -> Iterator[datetime]:
    with clock.travel_to(request.param, all_threads=True):
        yield request.param


SNAPSHOT = """
mutation($input: RecordFinancialSnapshotInput!) {
  recordFinancialSnapshot(input: $input) { financialSnapshot { asOf } errors { field code } }
}
"""
IMPORT = """
mutation($input: ImportTransactionsInput!) {
  importTransactions(input: $input) { accountsCreated errors { field code } }
}
"""
RISK = """
mutation($input: RecordRiskAssessmentInput!) {
  recordRiskAssessment(input: $input) { riskAssessment { validUntil isValid } errors { field code } }
}
"""
STATUS = """
query($id: ID!) { customer(id: $id) { age verificationStatus { informationKind dueOn isDue } } }
"""
DUE = """
query($after: String) {
  customersDueForReverification(where: {informationKind: {eq: FINANCIAL}}, first: 100, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { dueOn customer { id } } }
  }
}
"""
_sequence = iter(range(1, 500))


def _id_number(birth: date) -> str:
    body = f"650102{birth:%Y%m%d}{next(_sequence):03d}"
    return body + ric.calc_check_digit(body + "0")


def _snapshot_errors(backend: Backend, customer: dict[str, Any], as_of: date) -> list[Any]:
    values = {
        "customerId": customer["id"],
        "asOf": as_of.isoformat(),
        "annualIncome": "1.00",
        "totalAssets": "1.00",
        "totalLiabilities": "0",
        "assetsUnderManagement": "0",
        "source": {"kind": "QUESTIONNAIRE", "detail": "annual financial questionnaire"},
    }
    payload = backend.gql(SNAPSHOT, {"input": values})["recordFinancialSnapshot"]
    return [(e["field"], e["code"]) for e in payload["errors"]]


def _account_errors(backend: Backend, customer: dict[str, Any], opened: date) -> list[Any]:
    account = {
        "accountNo": f"6228{_id_number(date(1990, 1, 1))[6:17]}",
        "kind": "DEMAND_DEPOSIT",
        "openedOn": opened.isoformat(),
    }
    values = {"customerId": customer["id"], "accounts": [account], "transactions": []}
    payload = backend.gql(IMPORT, {"input": {**values, "source": SOURCE}})["importTransactions"]
    return [(e["field"], e["code"]) for e in payload["errors"]]


@pytest.mark.parametrize("at", [AT_0030, LAST_SECOND], indirect=True, ids=["0030", "235959"])
def test_beijing_today_is_not_in_the_future_and_tomorrow_is(backend: Backend, at: datetime) -> None:
    today = at.astimezone(BEIJING).date()
    customer = create_customer(backend)
    assert _snapshot_errors(backend, customer, today) == []
    assert _snapshot_errors(backend, customer, today + timedelta(days=1)) == [
        (["asOf"], "DATE_IN_FUTURE")
    ]
    assert _account_errors(backend, customer, today) == []
    assert _account_errors(backend, customer, today + timedelta(days=1)) == [
        (["accounts", "0", "openedOn"], "DATE_IN_FUTURE")
    ]
    born_today = create_customer(backend, idNumber=_id_number(today))
    assert born_today["birthDate"] == today.isoformat()
    errors = create_errors(backend, idNumber=_id_number(today + timedelta(days=1)))
    assert [(e["field"], e["code"]) for e in errors] == [(["idNumber"], "INVALID_ID_NUMBER")]


@pytest.mark.parametrize("at", [MIDNIGHT], indirect=True, ids=["000000"])
def test_at_beijing_midnight_the_new_day_is_today(backend: Backend, at: datetime) -> None:
    new_day = DAY + timedelta(days=1)
    customer = create_customer(backend)
    assert _snapshot_errors(backend, customer, new_day) == []
    assert _account_errors(backend, customer, new_day) == []
    assert _snapshot_errors(backend, customer, new_day + timedelta(days=1)) == [
        (["asOf"], "DATE_IN_FUTURE")
    ]


@pytest.mark.parametrize("at", [AT_0030], indirect=True, ids=["0030"])
def test_due_dates_validity_and_age_count_in_beijing_days(backend: Backend, at: datetime) -> None:
    """Registered at 00:30 Beijing: due dates and validity count from Beijing's today."""
    birth = DAY.replace(year=DAY.year - 30) if (DAY.month, DAY.day) != (2, 29) else DAY
    customer = create_customer(backend, idNumber=_id_number(birth))
    status = backend.gql(STATUS, {"id": customer["id"]})["customer"]
    if birth != DAY:
        assert status["age"] == 30  # the birthday is Beijing's today
    due = {s["informationKind"]: s["dueOn"] for s in status["verificationStatus"]}
    assert due["FINANCIAL"] == (DAY + timedelta(days=180)).isoformat()
    risk = backend.gql(
        RISK,
        {
            "input": {
                "customerId": customer["id"],
                "riskTolerance": "C3_BALANCED",
                "creditStatus": "NORMAL",
                "source": {"kind": "QUESTIONNAIRE", "detail": "risk questionnaire"},
            }
        },
    )["recordRiskAssessment"]
    assert risk["errors"] == []
    assert risk["riskAssessment"] == {
        "validUntil": (DAY + timedelta(days=365)).isoformat(),
        "isValid": True,
    }


def _due_ids(backend: Backend) -> dict[str, str]:
    found: dict[str, str] = {}
    after = None
    while True:
        page = backend.gql(DUE, {"after": after})["customersDueForReverification"]
        found.update({e["node"]["customer"]["id"]: e["node"]["dueOn"] for e in page["edges"]})
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def test_the_due_list_and_is_due_use_beijing_today(backend: Backend) -> None:
    """Due on a day: on the list (and ``isDue``) from 00:00 Beijing that day, not 08:00."""
    with clock.travel_to(beijing(DAY, time(12)), all_threads=True):
        customer = create_customer(backend)
    due_on = DAY + timedelta(days=180)
    with clock.travel_to(beijing(due_on, time(0, 30)), all_threads=True):
        assert _due_ids(backend).get(customer["id"]) == due_on.isoformat()
        status = backend.gql(STATUS, {"id": customer["id"]})["customer"]["verificationStatus"]
        assert {s["informationKind"]: s["isDue"] for s in status}["FINANCIAL"] is True
    with clock.travel_to(beijing(due_on, time(0, 0)) - timedelta(seconds=1), all_threads=True):
        assert customer["id"] not in _due_ids(backend)


def test_moments_are_read_as_utc_and_dated_in_beijing() -> None:
    assert clock.business_date(datetime(2026, 3, 14, 16, 0, tzinfo=UTC)) == date(2026, 3, 15)
    assert clock.business_date(datetime(2026, 3, 14, 15, 59, 59, tzinfo=UTC)) == date(2026, 3, 14)
    assert clock.business_date(datetime(2026, 3, 14, 16, 0)) == date(2026, 3, 15)
    with clock.travel_to(datetime(2026, 3, 14, 16, 30, tzinfo=UTC)):
        assert clock.today() == date(2026, 3, 15)


@pytest.mark.parametrize("at", [AT_0030], indirect=True, ids=["0030"])
def test_an_agreement_signed_today_in_beijing_is_in_force(backend: Backend, at: datetime) -> None:
    party = _register(backend, signed=DAY.isoformat(), expires="2030-12-31")
    recorded = _consent(backend, bj_customer(backend), party)
    assert recorded["errors"] == []
    assert recorded["consent"]["inForce"] is True


def test_complaint_statistics_count_months_in_beijing(backend: Backend) -> None:
    """Accepted at 00:30 Beijing on the 1st (16:30 UTC on the last day of the month before)."""
    first = (DAY.replace(day=1) + timedelta(days=92)).replace(day=1)
    before_first = first - timedelta(days=1)
    query = "{ complaintStatistics(by: MONTH) { key count } }"

    def counts() -> dict[str, int]:
        rows = backend.gql(query)["complaintStatistics"]
        return {r["key"]: r["count"] for r in rows}

    before = counts()
    with clock.travel_to(beijing(first, time(0, 30)), all_threads=True):
        submit(backend, bj_customer(backend))
    after = counts()
    assert after.get(f"{first:%Y-%m}") == before.get(f"{first:%Y-%m}", 0) + 1
    assert after.get(f"{before_first:%Y-%m}") == before.get(f"{before_first:%Y-%m}")


def _decided_unsatisfied(backend: Backend) -> dict[str, Any]:
    """A complaint decided and called back at 00:30 Beijing on DAY, the customer dissatisfied."""
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    decide_and_call_back(backend, complaint, satisfied=False, score=2)
    return complaint


@pytest.mark.parametrize("at", [AT_0030], indirect=True, ids=["0030"])
def test_a_review_is_due_at_beijing_midnight_after_30_natural_days_CMP_4(
    backend: Backend, at: datetime
) -> None:
    """Requested at 00:30 Beijing on DAY: the 30th natural day after DAY ends at midnight."""
    complaint = _decided_unsatisfied(backend)
    request = {"review_requested": True, "reason": "退费金额不足"}
    do(backend, "RM0001", complaint, "Task_ReviewRequest", request)
    state = read(backend, complaint)
    assert state["status"] == "UNDER_REVIEW"
    key = f"complaint:{complaint_pk(backend, complaint)}"
    end = beijing(DAY + timedelta(days=31), time(0))
    assert datetime.fromisoformat(state["reviewDueAt"]) == end
    # One second before that midnight the review is not overdue; at midnight it is.
    for moment, overdue in ((end - timedelta(seconds=1), False), (end, True)):
        with clock.travel_to(moment, all_threads=True):
            assert read(backend, complaint)["overdue"] is overdue
            tasks = backend.gql(TASKS, tasks_of("complaint"), staff="HO0001")["myTasks"]
            review = [t["node"] for t in tasks["edges"] if t["node"]["elementId"] == "Task_Review"]
            mine = [t for t in review if t["processInstance"]["businessKey"] == key]
            assert [(datetime.fromisoformat(t["dueAt"]), t["overdue"]) for t in mine] == [
                (end, overdue)
            ]
            listed = backend.gql(TASKS, tasks_of("complaint", True), staff="HO0001")
            keys = {e["node"]["processInstance"]["businessKey"] for e in listed["myTasks"]["edges"]}
            assert (key in keys) is overdue


def test_the_review_window_closes_at_beijing_midnight_after_30_natural_days_CMP_4(
    backend: Backend,
) -> None:
    """Decided at 00:30 Beijing on DAY: a review may be asked for until the end of DAY + 30."""
    with clock.travel_to(AT_0030, all_threads=True):
        complaint = _decided_unsatisfied(backend)
    end = beijing(DAY + timedelta(days=31), time(0))
    fire_timers(backend, end - timedelta(seconds=1))
    assert read(backend, complaint)["status"] == "DECIDED"
    fire_timers(backend, end + timedelta(seconds=1))  # SpiffWorkflow fires after the instant
    assert read(backend, complaint)["status"] == "CLOSED"
