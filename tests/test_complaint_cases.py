"""What the regulator also expects of complaints (CMP-7), through the HTTP API and the timers
worker: major and regulator-referred complaints, withdrawal, merging, pausing the clock,
statistics by the unit complained about, and rectification items (CMP-5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core import clock
from tests.complaint_steps import (
    DECISION,
    SUBMIT,
    assign,
    bj_customer,
    decide_and_call_back,
    do,
    fire_timers,
    investigation,
    kinds,
    read,
    submit,
    systemic,
    task_of,
)
from tests.conftest import Backend, branch_id

DAY = timedelta(days=1)
CASE = """query($id: ID!) { complaint(id: $id) {
    status major personsInvolved regulatorReferred regulatorReference mergedInto mergedComplaints
    withdrawnAt
    withdrawalReason pausedDays clockPaused decisionDueAt overdue slaState
    pauses { reason note startedAt latestEndAt endedAt pausedDays }
    timeline { kind actor details } messages { kind content }
    currentTasks { elementId dueAt }
    process { instance { status nextDueAt } } } }"""
ALERTS = """query($where: ComplaintAlertWhere) { complaintAlerts(first: 100, where: $where) {
    edges { node { id kind acknowledgedAt acknowledgedBy { employeeNo }
                   complaint { id reference major } } } } }"""
REPORT = """query($where: ComplaintWhere) { regulatoryComplaints(first: 100, where: $where) {
    totalCount edges { node { id major regulatorReferred } } } }"""
WITHDRAW = """mutation($input: WithdrawComplaintInput!) { withdrawComplaint(input: $input) {
    complaint { id status } errors { field code message } } }"""
MERGE = """mutation($input: MergeComplaintsInput!) { mergeComplaints(input: $input) {
    complaint { id status } errors { field code message } } }"""
PAUSE = """mutation($input: PauseComplaintClockInput!) { pauseComplaintClock(input: $input) {
    complaint { id clockPaused decisionDueAt } errors { field code message } } }"""
RESUME = """mutation($input: ResumeComplaintClockInput!) { resumeComplaintClock(input: $input) {
    complaint { id clockPaused pausedDays decisionDueAt } errors { field code message } } }"""
ACKNOWLEDGE = """mutation($input: AcknowledgeComplaintAlertInput!) {
    acknowledgeComplaintAlert(input: $input) {
      alert { id acknowledgedAt acknowledgedBy { employeeNo } } errors { field code } } }"""


def case(backend: Backend, complaint: dict[str, Any]) -> dict[str, Any]:
    return dict(backend.gql(CASE, {"id": complaint["id"]})["complaint"])


def change(
    backend: Backend, mutation: str, values: dict[str, Any], staff: str = "HO0001"
) -> dict[str, Any]:
    """Run one of the mutations above; returns its payload."""
    data = backend.gql(mutation, {"input": values}, staff=staff)
    return dict(next(iter(data.values())))


def errors(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def alerts_of(backend: Backend, complaint: dict[str, Any]) -> list[dict[str, Any]]:
    edges = backend.gql(ALERTS)["complaintAlerts"]["edges"]
    return [e["node"] for e in edges if (e["node"]["complaint"] or {}).get("id") == complaint["id"]]


def reported(backend: Backend, customer: dict[str, Any]) -> list[str]:
    where = {"customer": {"eq": customer["id"]}}
    edges = backend.gql(REPORT, {"where": where})["regulatoryComplaints"]["edges"]
    return [e["node"]["id"] for e in edges]


# --- major complaints -------------------------------------------------------------------------


def test_cmp7_a_major_complaint_is_flagged_escalated_at_once_and_reported(
    backend: Backend,
) -> None:
    """20 persons (the default threshold) or 1,000,000.00 CNY make a complaint major; one
    below does not. A major complaint raises head office's alert at intake, enters the
    timeline and the regulatory report, and is taken up once."""
    customer = bj_customer(backend)
    below = submit(backend, customer, personsInvolved=19, amountInDispute="999999.99")
    by_persons = submit(backend, customer, personsInvolved=20)
    by_amount = submit(backend, customer, amountInDispute="1000000.00")
    assert case(backend, below)["major"] is False
    assert "MAJOR_ESCALATED" not in kinds(case(backend, below))
    assert alerts_of(backend, below) == []
    for complaint, criteria in ((by_persons, ["PERSONS"]), (by_amount, ["AMOUNT"])):
        state = case(backend, complaint)
        assert state["major"] is True
        step = next(s for s in state["timeline"] if s["kind"] == "MAJOR_ESCALATED")
        assert step["details"] == {"to": "HEAD_OFFICE", "criteria": criteria}
        (alert,) = alerts_of(backend, complaint)
        assert alert["kind"] == "MAJOR_COMPLAINT" and alert["acknowledgedAt"] is None
    assert case(backend, by_persons)["personsInvolved"] == 20
    assert sorted(reported(backend, customer)) == sorted([by_persons["id"], by_amount["id"]])
    # Head office takes the alert up, once; no one else sees head office's alerts.
    (alert,) = alerts_of(backend, by_persons)
    taken = change(backend, ACKNOWLEDGE, {"id": alert["id"]})
    assert taken["errors"] == [] and taken["alert"]["acknowledgedBy"] == {"employeeNo": "HO0001"}
    again = change(backend, ACKNOWLEDGE, {"id": alert["id"]})
    assert errors(again) == [(["id"], "NOT_OPEN")]
    open_alerts = backend.gql(ALERTS, {"where": {"acknowledged": {"eq": False}}})
    assert alert["id"] not in {e["node"]["id"] for e in open_alerts["complaintAlerts"]["edges"]}
    refused = backend.post(ALERTS, staff="SUP0001").json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_cmp2_head_office_staff_complained_about_do_not_take_up_the_alert(
    backend: Backend,
) -> None:
    """A major complaint about a head office member: taking up its alert is acting on the
    complaint, so that member is refused (HANDLER_CONFLICT) and the alert stays open."""
    complaint = submit(backend, bj_customer(backend), personsInvolved=25, complainedStaff="HO0001")
    (alert,) = alerts_of(backend, complaint)
    refused = change(backend, ACKNOWLEDGE, {"id": alert["id"]}, staff="HO0001")
    assert errors(refused) == [(["id"], "HANDLER_CONFLICT")] and refused["alert"] is None
    (still,) = alerts_of(backend, complaint)
    assert still["acknowledgedAt"] is None


def test_cmp7_persons_involved_out_of_range_is_refused_naming_the_field(backend: Backend) -> None:
    customer = bj_customer(backend)
    for persons in (0, 100_001):
        payload = backend.gql(
            SUBMIT,
            {
                "input": {
                    "customerId": customer["id"],
                    "channel": "HOTLINE",
                    "category": "CARDS",
                    "description": "集体投诉",
                    "personsInvolved": persons,
                    "idempotencyKey": f"persons-{persons}",
                }
            },
            staff="RM0001",
        )["submitComplaint"]
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [
            (["personsInvolved"], "INVALID")
        ]
        assert payload["errors"][0]["message"] == "must be between 1 and 100000"


# --- regulator referrals ----------------------------------------------------------------------


def test_cmp7_regulator_referrals_are_marked_and_reported(backend: Backend) -> None:
    customer = bj_customer(backend)
    values = {
        "customerId": customer["id"],
        "channel": "REGULATOR_REFERRAL",
        "category": "CARDS",
        "description": "监管转办：信用卡年费争议",
        "idempotencyKey": "referral-without-number",
    }
    missing = backend.gql(SUBMIT, {"input": values}, staff="RM0001")["submitComplaint"]
    assert [(e["field"], e["code"]) for e in missing["errors"]] == [
        (["regulatorReference"], "REQUIRED")
    ]
    assert reported(backend, customer) == []
    referred = submit(
        backend, customer, channel="REGULATOR_REFERRAL", regulatorReference="银保监转 2026-118"
    )
    plain = submit(backend, customer)
    state = case(backend, referred)
    assert state["regulatorReferred"] is True
    assert state["regulatorReference"] == "银保监转 2026-118"
    assert case(backend, plain)["regulatorReferred"] is False
    assert reported(backend, customer) == [referred["id"]]
    stats = backend.gql(
        """query($where: ComplaintWhere) { complaintStatistics(by: CHANNEL, where: $where) {
            key count regulatorReferred major } }""",
        {"where": {"customer": {"eq": customer["id"]}}},
    )["complaintStatistics"]
    assert {r["key"]: r["regulatorReferred"] for r in stats} == {
        "HOTLINE": 0,
        "REGULATOR_REFERRAL": 1,
    }
    listed = backend.gql(
        """query($where: ComplaintWhere) { complaints(first: 10, where: $where) {
            edges { node { id } } } }""",
        {"where": {"customer": {"eq": customer["id"]}, "regulatorReferred": {"eq": True}}},
    )["complaints"]["edges"]
    assert [e["node"]["id"] for e in listed] == [referred["id"]]


# --- withdrawal -------------------------------------------------------------------------------


def test_cmp7_a_withdrawn_complaint_ends_with_its_reason_and_nothing_follows(
    backend: Backend,
) -> None:
    customer = bj_customer(backend)
    complaint = submit(backend, customer, category="DIGITAL_CHANNELS")
    assign(backend, complaint)
    blank = change(backend, WITHDRAW, {"id": complaint["id"], "reason": "   "}, staff="RM0001")
    assert errors(blank) == [(["reason"], "REQUIRED")]
    assert case(backend, complaint)["status"] == "INVESTIGATING"  # nothing half-written
    done = change(
        backend, WITHDRAW, {"id": complaint["id"], "reason": "客户已与网点协商解决"}, "RM0001"
    )
    assert done["errors"] == [] and done["complaint"]["status"] == "WITHDRAWN"
    state = case(backend, complaint)
    assert state["withdrawalReason"] == "客户已与网点协商解决"
    assert state["withdrawnAt"] is not None
    step = state["timeline"][-1]
    assert (step["kind"], step["actor"], step["details"]) == (
        "WITHDRAWN",
        "RM0001",
        {"reason": "客户已与网点协商解决"},
    )
    assert state["currentTasks"] == []
    assert state["process"]["instance"] == {"status": "COMPLETED", "nextDueAt": None}
    # The handler's access to the customer ends with the complaint.
    seen = backend.post(
        "query($id: ID!) { customer(id: $id) { id } }",
        {"id": customer["id"]},
        staff="SH01CH01",
        purpose="COMPLAINT_HANDLING",
    ).json()
    assert not (seen.get("data") or {}).get("customer")
    # Past every deadline: no timer fires, no message goes out, nothing is overdue.
    due = datetime.fromisoformat(state["decisionDueAt"])
    assert fire_timers(backend, due + 40 * DAY).failed == 0
    with clock.travel_to(due + DAY, all_threads=True):
        later = case(backend, complaint)
    assert later["timeline"] == state["timeline"] and later["messages"] == state["messages"]
    assert (later["overdue"], later["slaState"]) == (False, "ON_TRACK")
    again = change(backend, WITHDRAW, {"id": complaint["id"], "reason": "再次撤回"}, "RM0001")
    assert errors(again) == [(["id"], "NOT_OPEN")]
    # Another branch's supervisor does not see it: the same answer as for a missing one.
    other = change(backend, WITHDRAW, {"id": complaint["id"], "reason": "x"}, "SH01SUP01")
    assert errors(other) == [(["id"], "NOT_FOUND")]
    refused = backend.post(
        WITHDRAW, {"input": {"id": complaint["id"], "reason": "x"}}, staff="AUD0001"
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- merging ----------------------------------------------------------------------------------


def test_cmp7_a_repeated_complaint_is_merged_into_the_earlier_one(backend: Backend) -> None:
    customer = bj_customer(backend)
    first = submit(backend, customer)
    repeated = submit(backend, customer, personsInvolved=25)
    stranger = submit(backend, bj_customer(backend))
    across = change(
        backend, MERGE, {"into": first["id"], "duplicate": stranger["id"], "reason": "同一事项"}
    )
    assert errors(across) == [(["duplicate"], "DIFFERENT_CUSTOMERS")]
    backwards = change(
        backend, MERGE, {"into": repeated["id"], "duplicate": first["id"], "reason": "同一事项"}
    )
    assert errors(backwards) == [(["into"], "NOT_EARLIER")]
    assert case(backend, first)["status"] == case(backend, repeated)["status"] == "REGISTERED"
    refused = backend.post(
        MERGE,
        {"input": {"into": first["id"], "duplicate": repeated["id"], "reason": "同一事项"}},
        staff="RM0001",
        purpose="COMPLAINT_HANDLING",
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    merged = change(
        backend,
        MERGE,
        {"into": first["id"], "duplicate": repeated["id"], "reason": "同一笔管理费的重复投诉"},
        staff="SUP0001",
    )
    assert merged["errors"] == [] and merged["complaint"]["id"] == first["id"]
    kept, ended = case(backend, first), case(backend, repeated)
    assert ended["status"] == "MERGED" and ended["mergedInto"] == first["id"]
    # The repeated one keeps its own record and links to the kept one.
    assert kinds(ended)[0] == "REGISTERED" and kinds(ended)[-1] == "MERGED_INTO"
    assert ended["timeline"][-1]["details"]["into"] == first["reference"]
    assert ended["currentTasks"] == [] and ended["process"]["instance"]["status"] == "COMPLETED"
    assert kept["mergedComplaints"] == [repeated["id"]] and ended["mergedComplaints"] == []
    assert kept["timeline"][-1]["kind"] == "MERGED_FROM"
    assert kept["timeline"][-1]["details"]["duplicate"] == repeated["reference"]
    # The kept one speaks for everyone and carries on with its own clock.
    assert kept["personsInvolved"] == 25 and kept["major"] is True
    assert kept["decisionDueAt"] == first["decisionDueAt"] and kept["status"] == "REGISTERED"
    again = change(
        backend, MERGE, {"into": first["id"], "duplicate": repeated["id"], "reason": "再次"}
    )
    assert errors(again) == [(["duplicate"], "NOT_OPEN")]
    assign(backend, first)  # the kept complaint's process runs on


# --- pausing the clock ------------------------------------------------------------------------


def _bj(day: int, hour: int = 0) -> datetime:
    """``hour`` o'clock Beijing time, ``day`` days after today (Beijing)."""
    return clock.end_of_business_day(clock.today() + timedelta(days=day - 1)) + timedelta(
        hours=hour
    )


def _steps(state: dict[str, Any]) -> list[str]:
    """The timeline's kinds without delivery failures (the test customer has no address on the
    channel, so each message to them is followed by DELIVERY_FAILED)."""
    return [kind for kind in kinds(state) if kind != "DELIVERY_FAILED"]


def test_cmp7_an_appraisal_pauses_the_clock_and_shifts_the_deadline_by_its_natural_days(
    backend: Backend,
) -> None:
    """Paused on day 1 at 10:00, resumed on day 6 at 03:00 (Beijing): five natural days; the
    deadline moves from the end of day 15 to the end of day 20, still at 00:00 Beijing."""
    complaint = submit(backend, bj_customer(backend), category="LOANS_AND_CREDIT")
    assign(backend, complaint)
    due = datetime.fromisoformat(complaint["decisionDueAt"])
    assert due == _bj(16)
    with clock.travel_to(_bj(1, 10), all_threads=True):
        paused = change(
            backend,
            PAUSE,
            {"id": complaint["id"], "reason": "APPRAISAL", "note": "委托司法鉴定中心鉴定签名"},
            staff="SH01CH01",
        )
        assert paused["errors"] == []
        twice = change(
            backend, PAUSE, {"id": complaint["id"], "reason": "TESTING", "note": "x"}, "SH01CH01"
        )
        assert errors(twice) == [(["id"], "CLOCK_ALREADY_PAUSED")]
        state = case(backend, complaint)
    # While paused: the deadline if the pause lasts as long as allowed (60 natural days).
    assert state["clockPaused"] is True
    assert datetime.fromisoformat(state["decisionDueAt"]) == due + 60 * DAY
    # The handler's task is due when the complaint is.
    assert [t["dueAt"] for t in state["currentTasks"]] == [state["decisionDueAt"]]
    (pause,) = state["pauses"]
    assert pause["reason"] == "APPRAISAL" and pause["note"] == "委托司法鉴定中心鉴定签名"
    assert datetime.fromisoformat(pause["latestEndAt"]) == _bj(61)
    assert pause["endedAt"] is None and _steps(state)[-1] == "CLOCK_PAUSED"
    # The customer is told at once that the appraisal time does not count.
    told = state["messages"][-1]
    assert told["kind"] == "CLOCK_PAUSED" and "鉴定" in told["content"]
    with clock.travel_to(_bj(6, 3), all_threads=True):
        resumed = change(backend, RESUME, {"id": complaint["id"]}, staff="SH01CH01")
    assert resumed["errors"] == []
    assert resumed["complaint"]["clockPaused"] is False
    assert resumed["complaint"]["pausedDays"] == 5
    shifted = due + 5 * DAY
    assert datetime.fromisoformat(resumed["complaint"]["decisionDueAt"]) == shifted
    state = case(backend, complaint)
    assert state["pauses"][0]["pausedDays"] == 5 and _steps(state)[-1] == "CLOCK_RESUMED"
    # ... and, when the clock runs again, the new last day (day 20).
    last_day = clock.today() + 20 * DAY
    assert state["messages"][-1]["kind"] == "CLOCK_RESUMED"
    assert f"{last_day:%Y-%m-%d}（含）前" in state["messages"][-1]["content"]
    assert [t["dueAt"] for t in state["currentTasks"]] == [state["decisionDueAt"]]
    # The one overdue rule sees the shifted deadline: a second before it, nothing is overdue.
    with clock.travel_to(shifted - timedelta(seconds=1), all_threads=True):
        assert (case(backend, complaint)["overdue"], case(backend, complaint)["slaState"]) == (
            False,
            "ON_TRACK",
        )
    with clock.travel_to(shifted, all_threads=True):
        assert case(backend, complaint)["overdue"] is True
    not_paused = change(backend, RESUME, {"id": complaint["id"]}, staff="SH01CH01")
    assert errors(not_paused) == [(["id"], "CLOCK_NOT_PAUSED")]


def test_cmp7_a_pause_counts_at_most_60_days_and_never_after_the_deadline(
    backend: Backend,
) -> None:
    complaint = submit(backend, bj_customer(backend), category="LOANS_AND_CREDIT")
    due = datetime.fromisoformat(complaint["decisionDueAt"])
    with clock.travel_to(_bj(2, 9), all_threads=True):
        assert (
            change(
                backend,
                PAUSE,
                {"id": complaint["id"], "reason": "MEDIATION", "note": "人民调解委员会"},
            )["errors"]
            == []
        )
    # Resumed 70 days later: the pause stopped counting at its 60th day.
    with clock.travel_to(_bj(72, 9), all_threads=True):
        resumed = change(backend, RESUME, {"id": complaint["id"]})
        assert resumed["complaint"]["pausedDays"] == 60
        assert datetime.fromisoformat(resumed["complaint"]["decisionDueAt"]) == due + 60 * DAY
        used = change(
            backend, PAUSE, {"id": complaint["id"], "reason": "TESTING", "note": "第三方检测"}
        )
    assert errors(used) == [(["id"], "PAUSE_ALLOWANCE_USED")]
    (pause,) = case(backend, complaint)["pauses"]
    assert datetime.fromisoformat(pause["endedAt"]) == _bj(62)
    # A complaint past its deadline cannot pause: the breach stays a breach.
    late = submit(backend, bj_customer(backend), category="LOANS_AND_CREDIT")
    late_due = datetime.fromisoformat(late["decisionDueAt"])
    with clock.travel_to(late_due, all_threads=True):
        refused = change(backend, PAUSE, {"id": late["id"], "reason": "APPRAISAL", "note": "鉴定"})
    assert errors(refused) == [(["id"], "PAUSE_NOT_ALLOWED")]
    with clock.travel_to(late_due - timedelta(seconds=1), all_threads=True):
        allowed = change(backend, PAUSE, {"id": late["id"], "reason": "APPRAISAL", "note": "鉴定"})
    assert allowed["errors"] == []


# --- statistics by unit -----------------------------------------------------------------------


def test_cmp5_statistics_by_unit_count_the_unit_complained_about(backend: Backend) -> None:
    """A BJ01 customer complains about the SH01 branch: the complaint counts for SH01."""
    customer = bj_customer(backend)
    submit(
        backend, customer, complainedBranch=branch_id(backend, "SH01SUP01"), complainedStaff=None
    )
    submit(backend, customer, complainedStaff=None)  # no unit named: the handling branch
    rows = backend.gql(
        """query($where: ComplaintWhere) { complaintStatistics(by: UNIT, where: $where) {
            key count } }""",
        {"where": {"customer": {"eq": customer["id"]}}},
    )["complaintStatistics"]
    assert {r["key"]: r["count"] for r in rows} == {"SH01": 1, "BJ01": 1}


# --- rectification ----------------------------------------------------------------------------


def test_cmp5_a_rectification_has_an_owner_and_closes_only_when_the_issue_did_not_recur(
    backend: Backend,
) -> None:
    customer = bj_customer(backend)
    complaint = submit(backend, customer, category="PERSONAL_INFORMATION")
    assign(backend, complaint)
    task = task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    missing = backend.gql(
        """mutation($input: CompleteTaskInput!) { completeTask(input: $input) {
            errors { field code } } }""",
        {"input": {"id": task, "data": investigation(systemic=True, cause="THIRD_PARTY")}},
        staff="SH01CH01",
    )["completeTask"]["errors"]
    assert missing == [
        {"field": ["data", "rectification_owner"], "code": "REQUIRED"},
        {"field": ["data", "rectification_deadline"], "code": "REQUIRED"},
    ]
    do(backend, "SH01CH01", complaint, "Task_Investigate", systemic(cause="THIRD_PARTY"))
    decide_and_call_back(backend, complaint)
    # The rectification task is the owner's, due at the item's deadline.
    rectify = task_of(backend, "HO0001", complaint, "Task_Rectify")
    tasks = backend.gql(
        "query($id: ID!) { task(id: $id) { dueAt assignee { employeeNo } } }", {"id": rectify}
    )["task"]
    assert tasks["assignee"] == {"employeeNo": "HO0001"}
    assert datetime.fromisoformat(tasks["dueAt"]) == _bj(21)
    # Ten days later the same issue comes in again (same category, cause and unit).
    with clock.travel_to(_bj(10, 9), all_threads=True):
        again = submit(backend, customer, category="PERSONAL_INFORMATION")
        assign(backend, again)
        do(backend, "SH01CH01", again, "Task_Investigate", investigation(cause="THIRD_PARTY"))
        answers = {
            "actions": ["第三方合作机构数据接口整改"],
            "completed_on": (clock.today() - timedelta(days=5)).isoformat(),
            "recurrence_check": "核查整改完成后同类投诉",
        }
        recurred = backend.gql(
            """mutation($input: CompleteTaskInput!) { completeTask(input: $input) {
                errors { field code complaintCode } } }""",
            {"input": {"id": rectify, "data": answers}},
        )["completeTask"]["errors"]
        assert recurred == [
            {"field": ["data", "completed_on"], "code": "DOMAIN_RULE", "complaintCode": "RECURRED"}
        ]
        assert read(backend, complaint)["rectification"]["closedAt"] is None
    # Actions completed after the repeat, and nothing since: the item closes.
    with clock.travel_to(_bj(30, 9), all_threads=True):
        answers["completed_on"] = (clock.today() - timedelta(days=1)).isoformat()
        do(backend, "HO0001", complaint, "Task_Rectify", answers)
        state = read(backend, complaint)
    assert state["rectification"]["closedAt"] is not None
    assert state["rectification"]["recurrenceCheck"] == "核查整改完成后同类投诉"


def test_plat1_statements_of_the_alert_list_do_not_grow_with_the_page(backend: Backend) -> None:
    from store.db import StatementCounter

    for _ in range(12):
        submit(backend, bj_customer(backend), personsInvolved=20)
    # The newest alerts, this test's own: what earlier tests left (acknowledged alerts,
    # complaints with a handler) would change what a page loads, not how it grows.
    query = """query($n: Int!) { complaintAlerts(last: $n) { edges { node {
        kind acknowledgedBy { employeeNo }
        complaint { reference major customer { name } timeline { kind } handler { employeeNo } }
    } } } }"""
    backend.gql(query, {"n": 1})  # warm the per-process caches
    counts = []
    for size in (3, 12):
        with StatementCounter(backend.engine) as counter:
            edges = backend.gql(query, {"n": size})["complaintAlerts"]["edges"]
        majors = [e for e in edges if e["node"]["kind"] == "MAJOR_COMPLAINT"]
        assert len(edges) == size and all(e["node"]["complaint"]["major"] for e in majors)
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_cmp7_a_decision_ends_an_open_pause_and_no_warning_comes_for_the_old_deadline(
    backend: Backend,
) -> None:
    """Decided on day 3 with the clock paused since day 1: two natural days paused, judged
    against the shifted deadline. The warning timer set for the old deadline warns of nothing."""
    decided = submit(backend, bj_customer(backend), category="LOANS_AND_CREDIT")
    waiting = submit(backend, bj_customer(backend), category="LOANS_AND_CREDIT")
    due = datetime.fromisoformat(decided["decisionDueAt"])
    for complaint in (decided, waiting):
        assign(backend, complaint)
    with clock.travel_to(_bj(1, 10), all_threads=True):
        for complaint in (decided, waiting):
            note = {"id": complaint["id"], "reason": "TESTING", "note": "第三方检测"}
            assert change(backend, PAUSE, note)["errors"] == []
    with clock.travel_to(_bj(3, 11), all_threads=True):
        do(backend, "SH01CH01", decided, "Task_Investigate", investigation())
        do(backend, "SH01CH01", decided, "Task_DecisionNotice", DECISION)
        state = case(backend, decided)
    assert state["clockPaused"] is False and state["pausedDays"] == 2
    assert datetime.fromisoformat(state["decisionDueAt"]) == due + 2 * DAY
    assert state["slaState"] == "ON_TRACK" and "CLOCK_RESUMED" in kinds(state)
    # The old warning instant (3 days before the old deadline) passes: nothing is said.
    assert fire_timers(backend, due - 3 * DAY + timedelta(hours=1)).failed == 0
    paused = case(backend, waiting)
    assert "DEADLINE_WARNING" not in kinds(paused) and paused["slaState"] == "ON_TRACK"


CLOSE_RECTIFICATION = """mutation($input: CloseRectificationInput!) {
    closeRectification(input: $input) { complaint { id } errors { field code message } } }"""


def test_cmp5_a_withdrawn_complaint_keeps_its_rectification_owed_until_closed(
    backend: Backend,
) -> None:
    """The customer withdraws after the investigation found a systemic issue: the process ends,
    the bank still owes the rectification, and head office closes it with the same check."""
    customer = bj_customer(backend)
    complaint = submit(backend, customer, category="ACCOUNT_AND_PAYMENT")
    running = submit(backend, customer, category="ACCOUNT_AND_PAYMENT")
    for each in (complaint, running):
        assign(backend, each)
        do(backend, "SH01CH01", each, "Task_Investigate", systemic(cause="SYSTEM_FAULT"))
    answers = {
        "complaintId": complaint["id"],
        "actions": ["修复跨行转账系统缺陷"],
        "completedOn": clock.today().isoformat(),
        "recurrenceCheck": "上线后核查同类投诉",
    }
    # While its task waits, an item is closed through the task.
    waiting = change(backend, CLOSE_RECTIFICATION, {**answers, "complaintId": running["id"]})
    assert errors(waiting) == [(["complaintId"], "NOT_OPEN")]
    withdrawn = change(backend, WITHDRAW, {"id": complaint["id"], "reason": "客户撤回"}, "RM0001")
    assert withdrawn["errors"] == []
    state = read(backend, complaint)
    assert state["rectification"]["closedAt"] is None and state["currentTasks"] == []
    refused = backend.post(CLOSE_RECTIFICATION, {"input": answers}, staff="SUP0001").json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    blank = change(backend, CLOSE_RECTIFICATION, {**answers, "recurrenceCheck": " "})
    assert errors(blank) == [(["recurrenceCheck"], "REQUIRED")]
    future = (clock.today() + DAY).isoformat()
    ahead = change(backend, CLOSE_RECTIFICATION, {**answers, "completedOn": future})
    assert errors(ahead) == [(["completedOn"], "INVALID")]
    no_action = change(backend, CLOSE_RECTIFICATION, {**answers, "actions": ["  "]})
    assert errors(no_action) == [(["actions", "0"], "REQUIRED")]
    closed = change(backend, CLOSE_RECTIFICATION, answers)
    assert closed["errors"] == []
    state = read(backend, complaint)
    assert state["rectification"]["actions"] == ["修复跨行转账系统缺陷"]
    assert state["rectification"]["recurrenceCheck"] == "上线后核查同类投诉"
    assert state["rectification"]["closedAt"] is not None
    assert kinds(state)[-1] == "RECTIFICATION_CLOSED"
    again = change(backend, CLOSE_RECTIFICATION, answers)
    assert errors(again) == [(["complaintId"], "NOT_OPEN")]


def test_cmp7_the_major_thresholds_are_settings(backend: Backend) -> None:
    """With KEHU_MAJOR_COMPLAINT_PERSONS=5, five persons make a complaint major, four do not."""
    import dataclasses

    from starlette.testclient import TestClient

    from kehu.app import create_app

    settings = dataclasses.replace(
        backend.settings, major_complaint_persons=5, embedded_worker=False
    )
    with TestClient(create_app(settings, backend.engine)) as client:
        other = Backend(backend.name, settings, backend.engine, client)
        customer = bj_customer(other)
        four = submit(other, customer, personsInvolved=4)
        five = submit(other, customer, personsInvolved=5)
    assert (case(backend, four)["major"], case(backend, five)["major"]) == (False, True)
    # Node lookup of an alert: for head office; anyone else gets null, as for a missing one.
    (alert,) = alerts_of(backend, five)
    query = "query($id: ID!) { node(id: $id) { id ... on ComplaintAlert { kind } } }"
    assert backend.gql(query, {"id": alert["id"]})["node"] == {
        "id": alert["id"],
        "kind": "MAJOR_COMPLAINT",
    }
    assert backend.gql(query, {"id": alert["id"]}, staff="SUP0001")["node"] is None
