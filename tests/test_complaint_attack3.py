"""Third round of attacks on the complaint rules (CMP-4 … CMP-7): a breach across a pause, a
pause that runs out by itself, pauses across midnight, the owners of rectification and plans,
recusal of the unit complained about, incidents of ended instances — each through the HTTP API
and ``kehu worker --once --now``, at the exact instants."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from core import clock
from tests import complaint_steps as steps
from tests.conftest import Backend
from tests.test_complaint_pause_clocks import PAUSE, RESUME
from tests.test_workflows import restore_original  # noqa: F401 - a fixture

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
STATE = """query($id: ID!) { complaint(id: $id) {
    decisionDueAt slaState overdue pausedDays clockPaused
    pauses { startedAt endedAt pausedDays latestEndAt }
    currentTasks { elementId dueAt }
    deadlines { stage dueAt end }
    timeline { kind actor details }
    messages { kind content } } }"""


def _bj(day: int, hour: int = 0, second: int = 0) -> datetime:
    """``hour`` o'clock Beijing time on the ``day``-th day after today (Beijing)."""
    start = clock.end_of_business_day(clock.today() + timedelta(days=day - 1))
    return start + timedelta(hours=hour, seconds=second)


def _state(backend: Backend, complaint: dict[str, Any]) -> dict[str, Any]:
    return dict(backend.gql(STATE, {"id": complaint["id"]}, staff="HO0001")["complaint"])


def _pause(backend: Backend, complaint: dict[str, Any], staff: str = "SUP0001") -> list[Any]:
    values = {"id": complaint["id"], "reason": "MEDIATION", "note": "人民调解委员会调解"}
    return list(backend.gql(PAUSE, {"input": values}, staff=staff)["pauseComplaintClock"]["errors"])


def _resume(backend: Backend, complaint: dict[str, Any], staff: str = "SUP0001") -> list[Any]:
    payload = backend.gql(RESUME, {"input": {"id": complaint["id"]}}, staff=staff)
    return list(payload["resumeComplaintClock"]["errors"])


def _missed(state: dict[str, Any]) -> list[str]:
    return [s["details"]["stage"] for s in state["timeline"] if s["kind"] == "DEADLINE_MISSED"]


def _due_of(state: dict[str, Any], stage: str) -> list[datetime]:
    return [datetime.fromisoformat(d["dueAt"]) for d in state["deadlines"] if d["stage"] == stage]


# --- 1. a breach stays a breach across a pause (第十九条 vs 第十五条) ------------------------


def test_cmp6_an_assignment_breached_before_a_pause_keeps_its_due_time_and_escalates_once(
    backend: Backend,
) -> None:
    """Accepted on day 0, nobody assigned: the assignment is due at 00:00 Beijing after day 1.
    Paused on day 3 before the worker ran: the passed due time does not move with the pause,
    the worker escalates it once (day 3), and resuming on day 6 neither moves it nor escalates
    it again. The decision deadline, still running at the pause, moves by the 3 days paused."""
    complaint = steps.submit(backend, steps.bj_customer(backend))
    decision_due = datetime.fromisoformat(complaint["decisionDueAt"])
    assigned_by = _bj(2)
    assert _due_of(_state(backend, complaint), "ASSIGNMENT") == [assigned_by]
    with clock.travel_to(_bj(3, 10), all_threads=True):
        assert _pause(backend, complaint) == []
        paused = _state(backend, complaint)
    assert _due_of(paused, "ASSIGNMENT") == [assigned_by]
    assert paused["overdue"] is True and paused["slaState"] == "BREACHED"
    steps.fire_timers(backend, _bj(3, 11))
    assert _missed(_state(backend, complaint)) == ["ASSIGNMENT"]
    with clock.travel_to(_bj(6, 10), all_threads=True):
        assert _resume(backend, complaint) == []
    state = _state(backend, complaint)
    assert _due_of(state, "ASSIGNMENT") == [assigned_by]
    assert datetime.fromisoformat(state["decisionDueAt"]) == decision_due + 3 * DAY
    steps.fire_timers(backend, _bj(7))
    # (the supervise task opened on day 3 has a clock of its own, escalated on its own)
    assert _missed(_state(backend, complaint)).count("ASSIGNMENT") == 1


def test_cmp6_an_assignment_escalated_before_a_pause_is_not_escalated_again(
    backend: Backend,
) -> None:
    """The same breach, escalated by the worker at its instant before the pause: one
    DEADLINE_MISSED for it whatever the pause does."""
    complaint = steps.submit(backend, steps.bj_customer(backend))
    steps.fire_timers(backend, _bj(2) - SECOND)
    assert _missed(_state(backend, complaint)) == []
    steps.fire_timers(backend, _bj(2))
    assert _missed(_state(backend, complaint)) == ["ASSIGNMENT"]
    with clock.travel_to(_bj(3, 10), all_threads=True):
        assert _pause(backend, complaint) == []
    with clock.travel_to(_bj(6, 10), all_threads=True):
        assert _resume(backend, complaint) == []
    steps.fire_timers(backend, _bj(7))
    state = _state(backend, complaint)
    assert _missed(state).count("ASSIGNMENT") == 1
    assert _due_of(state, "ASSIGNMENT") == [_bj(2)]


# --- 2. a pause that runs out by itself resumes the clock ------------------------------------


def _resumed(state: dict[str, Any]) -> tuple[int, int]:
    steps_ = [s for s in state["timeline"] if s["kind"] == "CLOCK_RESUMED"]
    told = [m for m in state["messages"] if m["kind"] == "CLOCK_RESUMED"]
    return len(steps_), len(told)


def test_cmp7_a_pause_that_runs_out_resumes_the_clock_and_tells_the_customer_once(
    backend: Backend,
) -> None:
    """Paused on day 2 with the whole 60-day allowance: the pause may count up to the 00:00
    Beijing that ends its 60th natural day. The worker a second before does nothing; at the
    instant it resumes the clock as resumeComplaintClock would (CLOCK_RESUMED, the customer told
    the new last day, in Chinese); a second later nothing more."""
    complaint = steps.submit(backend, steps.bj_customer(backend))
    steps.assign(backend, complaint)
    decision_due = datetime.fromisoformat(complaint["decisionDueAt"])
    with clock.travel_to(_bj(2, 9), all_threads=True):
        assert _pause(backend, complaint, staff="SH01CH01") == []
    ends = _bj(62)
    assert datetime.fromisoformat(_state(backend, complaint)["pauses"][0]["latestEndAt"]) == ends
    steps.fire_timers(backend, ends - SECOND)
    with clock.travel_to(ends - SECOND, all_threads=True):
        before = _state(backend, complaint)
    assert _resumed(before) == (0, 0) and before["clockPaused"] is True
    steps.fire_timers(backend, ends)
    with clock.travel_to(ends, all_threads=True):
        state = _state(backend, complaint)
    assert _resumed(state) == (1, 1)
    assert state["clockPaused"] is False and state["pausedDays"] == 60
    assert datetime.fromisoformat(state["pauses"][0]["endedAt"]) == ends
    due = decision_due + 60 * DAY
    assert datetime.fromisoformat(state["decisionDueAt"]) == due
    last = clock.business_date(due) - DAY
    (told,) = [m["content"] for m in state["messages"] if m["kind"] == "CLOCK_RESUMED"]
    assert told.endswith(f"已恢复处理，我行将于 {last:%Y-%m-%d}（含）前作出处理决定。")
    (step,) = [s for s in state["timeline"] if s["kind"] == "CLOCK_RESUMED"]
    assert step["actor"] is None and step["details"]["paused_days"] == 60
    steps.fire_timers(backend, ends + SECOND)
    with clock.travel_to(ends + SECOND, all_threads=True):
        assert _resumed(_state(backend, complaint)) == (1, 1)


def test_cmp7_a_pause_run_out_long_ago_resumes_with_the_apology(backend: Backend) -> None:
    """The worker was down until after the resumed deadline: one CLOCK_RESUMED, worded for a
    deadline that passed (never a last day in the past)."""
    complaint = steps.submit(backend, steps.bj_customer(backend))
    steps.assign(backend, complaint)
    with clock.travel_to(_bj(2, 9), all_threads=True):
        assert _pause(backend, complaint, staff="SH01CH01") == []
    due = datetime.fromisoformat(complaint["decisionDueAt"]) + 60 * DAY
    steps.fire_timers(backend, due + SECOND)
    state = _state(backend, complaint)
    assert _resumed(state) == (1, 1)
    (told,) = [m["content"] for m in state["messages"] if m["kind"] == "CLOCK_RESUMED"]
    assert "已恢复处理。" in told and "（含）前" not in told


# --- 3. pauses across midnight count their time, not the dates they touch ---------------------


def _paused(
    backend: Backend, complaint: dict[str, Any], start: datetime, end: datetime
) -> dict[str, Any]:
    with clock.travel_to(start, all_threads=True):
        assert _pause(backend, complaint) == []
    with clock.travel_to(end, all_threads=True):
        assert _resume(backend, complaint) == []
        return _state(backend, complaint)


def test_cmp7_short_pauses_across_midnight_count_no_day(backend: Backend) -> None:
    """Paused at 23:59:59 and resumed at 00:00:01 Beijing, three nights running: two seconds a
    night touch two dates each time, and the clock counted a whole day for each. The pauses'
    time together (six seconds) counts no day: the deadline stays where it was."""
    complaint = steps.submit(backend, steps.bj_customer(backend))
    decision_due = datetime.fromisoformat(complaint["decisionDueAt"])
    for night in (2, 3, 4):
        state = _paused(backend, complaint, _bj(night) - SECOND, _bj(night) + SECOND)
        assert state["pausedDays"] == 0
        assert datetime.fromisoformat(state["decisionDueAt"]) == decision_due
    assert [p["pausedDays"] for p in state["pauses"]] == [0, 0, 0]


def test_cmp7_the_pauses_time_is_rounded_once_at_twelve_hours(backend: Backend) -> None:
    """Six hours, then 5:59:59 (together 11:59:59): no day. One second more in a third pause
    (together 12:00:00): one day, counted by the pause that reached it."""
    complaint = steps.submit(backend, steps.bj_customer(backend))
    decision_due = datetime.fromisoformat(complaint["decisionDueAt"])
    _paused(backend, complaint, _bj(2, 1), _bj(2, 7))
    state = _paused(backend, complaint, _bj(2, 8), _bj(2, 14, -1))
    assert state["pausedDays"] == 0
    assert datetime.fromisoformat(state["decisionDueAt"]) == decision_due
    state = _paused(backend, complaint, _bj(3, 1), _bj(3, 1, 1))
    assert state["pausedDays"] == 1
    assert [p["pausedDays"] for p in state["pauses"]] == [0, 0, 1]
    assert datetime.fromisoformat(state["decisionDueAt"]) == decision_due + DAY


# --- 4. who owns a plan or a rectification, and by when ---------------------------------------


def _investigated(backend: Backend, answers: dict[str, Any]) -> list[tuple[list[str], str]]:
    complaint = steps.submit(backend, steps.bj_customer(backend))
    steps.assign(backend, complaint)
    task = steps.task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    errors = steps.complete(backend, "SH01CH01", task, answers)
    return [(e["field"], e.get("complaintCode") or e["code"]) for e in errors]


def test_cmp5_plan_and_rectification_owners_are_staff_who_work_on_complaints(
    backend: Backend,
) -> None:
    """An auditor, a security administrator and a process owner check the work; they were
    accepted as owners of the plan and of the rectification. Refused naming the field; head
    office (and a handler for the plan) are accepted."""
    for outsider in ("AUD0001", "SEC0001", "PO0001"):
        refused = _investigated(
            backend, steps.systemic(plan_owner=outsider, rectification_owner=outsider)
        )
        assert refused == [
            (["data", "plan_owner"], "INVALID_HANDLER"),
            (["data", "rectification_owner"], "INVALID_HANDLER"),
        ], outsider
    assert _investigated(backend, steps.systemic(rectification_owner="HO0001")) == []


def test_cmp5_a_rectification_deadline_is_at_most_a_year_away(backend: Backend) -> None:
    """2999-12-31 was accepted: a timer no one lives to see. One year from today (Beijing) is
    the last day accepted; the day after is refused naming the field."""
    today = clock.today()
    # 29 February: the last day accepted is 28 February next year.
    a_year = date(today.year + 1, today.month, min(today.day, 28 if today.month == 2 else 31))
    if (today.month, today.day) != (2, 29):
        a_year = today.replace(year=today.year + 1)
    for late in ("2999-12-31", (a_year + DAY).isoformat()):
        refused = _investigated(backend, steps.systemic(rectification_deadline=late))
        assert refused == [(["data", "rectification_deadline"], "DEADLINE_TOO_LATE")], late
    assert _investigated(backend, steps.systemic(rectification_deadline=a_year.isoformat())) == []


# --- 5. recusal of the unit complained about ---------------------------------------------------


def test_cmp2_the_staff_of_a_branch_complained_about_do_not_withdraw_pause_or_merge(
    backend: Backend,
) -> None:
    """A complaint about the BJ01 branch as a unit: BJ01's supervisor paused its clock, merged
    a repeat into it and withdrew it. Refused as the handler's tasks are (HANDLER_CONFLICT,
    nothing written); head office acts."""
    from tests.conftest import branch_id
    from tests.test_complaint_attack import MERGE, WITHDRAW

    customer = steps.bj_customer(backend)
    about_bj = {"complainedBranch": branch_id(backend, "SUP0001"), "complainedStaff": None}
    first = steps.submit(backend, customer, **about_bj)
    again = steps.submit(backend, customer, **about_bj)
    merge = {"into": first["id"], "duplicate": again["id"], "reason": "同一事项"}
    paused = _pause(backend, first, staff="SUP0001")
    merged = backend.gql(MERGE, {"input": merge}, staff="SUP0001")["mergeComplaints"]["errors"]
    withdrawn = [
        backend.gql(WITHDRAW, {"input": {"id": first["id"], "reason": "客户撤回"}}, staff=who)[
            "withdrawComplaint"
        ]["errors"]
        for who in ("SUP0001", "RM0001")
    ]
    codes = [(e["field"], e["code"]) for e in [*paused, *merged, *withdrawn[0], *withdrawn[1]]]
    assert codes == [
        (["id"], "HANDLER_CONFLICT"),
        (["into"], "HANDLER_CONFLICT"),
        (["id"], "HANDLER_CONFLICT"),
        (["id"], "HANDLER_CONFLICT"),
    ]
    state = _state(backend, first)
    assert state["clockPaused"] is False
    assert {"CLOCK_PAUSED", "WITHDRAWN", "MERGED_FROM"}.isdisjoint(
        s["kind"] for s in state["timeline"]
    )
    assert _pause(backend, first, staff="HO0001") == []


# --- 6. incidents of ended instances ----------------------------------------------------------


def test_plat2_ending_an_instance_ends_its_open_incidents(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording the investigation failed (an incident); then the customer withdrew, or the
    complaint was merged into an earlier one. The incidents stayed OPEN in processIncidents for
    ever, waiting for a retry that is refused. Ending the instance ends them: ENDED, with when
    and by whom, out of the open list."""
    from tests.test_complaint_attack import MERGE, WITHDRAW
    from tests.test_workflows import INCIDENTS
    from workflows import operations

    customer = steps.bj_customer(backend)
    earlier = steps.submit(backend, customer)
    withdrawn, merged = steps.submit(backend, customer), steps.submit(backend, customer)
    original = operations._REGISTRY["record_investigation"]

    def broken(_call: operations.OperationCall) -> dict[str, Any]:
        raise ConnectionError("core banking down")

    monkeypatch.setitem(operations._REGISTRY, "record_investigation", (broken, original[1]))
    keys = []
    for complaint in (withdrawn, merged):
        steps.assign(backend, complaint)
        steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.investigation())
        keys.append(f"complaint:{steps.complaint_pk(backend, complaint)}")

    def incidents(status: str) -> list[Any]:
        where = {"status": {"eq": status}}
        found = backend.gql(INCIDENTS, {"where": where}, staff="PO0001")["processIncidents"]
        return [e["node"] for e in found["edges"] if e["node"]["instance"]["businessKey"] in keys]

    assert len(incidents("OPEN")) == 2
    ended = backend.gql(
        WITHDRAW, {"input": {"id": withdrawn["id"], "reason": "客户撤回"}}, staff="SUP0001"
    )["withdrawComplaint"]
    merge = {"into": earlier["id"], "duplicate": merged["id"], "reason": "同一事项"}
    joined = backend.gql(MERGE, {"input": merge}, staff="SUP0001")["mergeComplaints"]
    assert ended["errors"] == [] and joined["errors"] == []
    assert incidents("OPEN") == []
    assert sorted(i["instance"]["businessKey"] for i in incidents("ENDED")) == sorted(keys)


HANDLING = """query($id: ID!) { complaint(id: $id) {
    reference status outcome cause planDeadline withdrawalReason
    timeline { kind } messages { kind } pauses { note } rectification { issue } } }"""


def test_cmp2_the_person_complained_about_does_not_read_the_handling_record(
    backend: Backend,
) -> None:
    """BJ01RM02 manages the customer and is the one complained about: they read the findings,
    the evidence, the plan and the decision's wording in the timeline and the messages. They
    still see that the complaint exists and where it stands (reference, status, outcome), not
    how it is handled: timeline, messages, pause notes, cause, plan deadline and rectification
    are null, as withheld text is. The branch's supervisor and head office read it all."""
    from tests.test_complaint_recusal import _customer

    customer = _customer(backend, "BJ01RM02")
    complaint = steps.submit(backend, customer, "SUP0001", complainedStaff="BJ01RM02")
    steps.assign(backend, complaint)
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.systemic())
    assert _pause(backend, complaint, staff="SH01CH01") == []
    seen = backend.gql(HANDLING, {"id": complaint["id"]}, staff="BJ01RM02")["complaint"]
    assert seen["reference"] == complaint["reference"] and seen["status"] == "INVESTIGATING"
    assert {k: seen[k] for k in ("cause", "planDeadline", "timeline", "messages")} == {
        "cause": None,
        "planDeadline": None,
        "timeline": None,
        "messages": None,
    }
    assert seen["pauses"] == [{"note": None}] and seen["rectification"] is None
    for reader in ("SUP0001", "HO0001"):
        full = backend.gql(HANDLING, {"id": complaint["id"]}, staff=reader)["complaint"]
        assert full["cause"] == "PROCESS_DEFECT" and full["timeline"], reader
        assert full["pauses"][0]["note"] and full["rectification"]["issue"], reader


# --- 8. migrating an instance keeps its breaches ------------------------------------------------


@pytest.mark.usefixtures("restore_original")
def test_plat2_migrating_an_overdue_instance_does_not_escalate_the_breach_again(
    backend: Backend,
) -> None:
    """The assignment was due at 00:00 Beijing after day 1 and escalated at that instant; the
    process owner then migrated the instance to a relabelled version. The task waiting there
    keeps its due time and its escalation: the worker does not escalate the same breach again,
    nor open a second supervise task."""
    from tests.test_workflows import MIGRATE, ORIGINAL, _deploy

    complaint = steps.submit(backend, steps.bj_customer(backend))
    steps.fire_timers(backend, _bj(2))
    assert _missed(_state(backend, complaint)) == ["ASSIGNMENT"]
    instance = backend.gql(
        "query($id: ID!) { complaint(id: $id) { process { instance { id } } } }",
        {"id": complaint["id"]},
    )["complaint"]["process"]["instance"]["id"]
    relabelled = _deploy(
        backend, ORIGINAL.replace('name="Assign a handler', 'name="Assign the handler')
    )
    assert relabelled["errors"] == []
    with clock.travel_to(_bj(2, 9), all_threads=True):
        moved = backend.gql(
            MIGRATE,
            {"input": {"instance": instance, "version": relabelled["version"]["id"]}},
            staff="PO0001",
        )["migrateProcessInstance"]
    assert moved["errors"] == []
    steps.fire_timers(backend, _bj(2, 10))
    state = _state(backend, complaint)
    assert _missed(state) == ["ASSIGNMENT"]
    (due,) = [t["dueAt"] for t in state["currentTasks"] if t["elementId"] == "Task_AssignHandler"]
    assert datetime.fromisoformat(due) == _bj(2)
    supervise = [t for t in state["currentTasks"] if t["elementId"] == "Task_SuperviseOverdue"]
    assert len(supervise) == 1
