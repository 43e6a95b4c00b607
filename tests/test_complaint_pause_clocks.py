"""A pause of the clock (external appraisal, testing, mediation) covers every clock of the
complaint that runs during it (CMP-7; 银行业保险业消费投诉处理管理办法 第十九条), through the
HTTP API and the timers worker: the decision deadline, the stages' due times, the resolution
plan's deadline and the rectification item's — and only those that ran before it started."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core import clock
from tests.complaint_steps import (
    assign,
    bj_customer,
    do,
    fire_timers,
    investigation,
    submit,
)
from tests.conftest import Backend

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
PAUSE = """mutation($input: PauseComplaintClockInput!) { pauseComplaintClock(input: $input) {
    complaint { id } errors { field code message } } }"""
RESUME = """mutation($input: ResumeComplaintClockInput!) { resumeComplaintClock(input: $input) {
    complaint { id pausedDays } errors { field code message } } }"""
CASE = """query($id: ID!) { complaint(id: $id) {
    decisionDueAt planDeadline rectification { dueAt } currentTasks { elementId dueAt }
    deadlines { stage dueAt end } timeline { kind details } } }"""


def _bj(day: int, hour: int = 0) -> datetime:
    """``hour`` o'clock Beijing time on the ``day``-th day after today (Beijing)."""
    return clock.end_of_business_day(clock.today() + timedelta(days=day - 1)) + timedelta(
        hours=hour
    )


def _systemic(plan_day: int, rectify_day: int) -> dict[str, Any]:
    return investigation(
        systemic=True,
        plan_deadline=(clock.today() + timedelta(days=plan_day)).isoformat(),
        rectification_owner="HO0001",
        rectification_deadline=(clock.today() + timedelta(days=rectify_day)).isoformat(),
    )


def _case(backend: Backend, complaint: dict[str, Any]) -> dict[str, Any]:
    return dict(backend.gql(CASE, {"id": complaint["id"]})["complaint"])


def _pause_and_resume(
    backend: Backend, complaint: dict[str, Any], start: datetime, end: datetime
) -> None:
    with clock.travel_to(start, all_threads=True):
        values = {"id": complaint["id"], "reason": "MEDIATION", "note": "人民调解委员会调解"}
        assert (
            backend.gql(PAUSE, {"input": values}, staff="SH01CH01")["pauseComplaintClock"]["errors"]
            == []
        )
    with clock.travel_to(end, all_threads=True):
        resumed = backend.gql(RESUME, {"input": {"id": complaint["id"]}}, staff="SH01CH01")
        assert resumed["resumeComplaintClock"]["errors"] == []


def _due(state: dict[str, Any], element: str) -> datetime:
    (due,) = [t["dueAt"] for t in state["currentTasks"] if t["elementId"] == element]
    return datetime.fromisoformat(due)


def _missed(backend: Backend, complaint: dict[str, Any]) -> list[str]:
    steps = _case(backend, complaint)["timeline"]
    return [s["details"]["stage"] for s in steps if s["kind"] == "DEADLINE_MISSED"]


def test_cmp7_a_pause_moves_the_plan_and_the_rectification_with_the_decision(
    backend: Backend,
) -> None:
    """Investigated on day 0 (plan due with day 10, rectification with day 12), paused by a
    mediation from day 1 10:00 to day 6 03:00 Beijing: five natural days move every clock."""
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", _systemic(10, 12))
    before = _case(backend, complaint)
    rectify_due = _bj(13)
    assert _due(before, "Task_Rectify") == rectify_due
    _pause_and_resume(backend, complaint, _bj(1, 10), _bj(6, 3))
    state = _case(backend, complaint)
    assert datetime.fromisoformat(state["decisionDueAt"]) == _bj(21)
    assert datetime.fromisoformat(state["planDeadline"]) == _bj(16)
    assert datetime.fromisoformat(state["rectification"]["dueAt"]) == rectify_due + 5 * DAY
    assert _due(state, "Task_Rectify") == rectify_due + 5 * DAY
    # Shown: the timeline says what the pause moved besides the decision deadline.
    resumed = [s for s in state["timeline"] if s["kind"] == "CLOCK_RESUMED"][-1]
    assert resumed["details"]["also_moved"] == ["planDeadline", "rectification.dueAt"]
    # The rectification's clock escalates at its moved instant, not a second before.
    fire_timers(backend, rectify_due + 5 * DAY - SECOND)
    assert "RECTIFICATION" not in _missed(backend, complaint)
    fire_timers(backend, rectify_due + 5 * DAY)
    assert _missed(backend, complaint) == ["RECTIFICATION"]


def test_cmp7_a_clock_set_during_the_pause_keeps_its_own_due_time(backend: Backend) -> None:
    """Investigated while the clock stood still (day 2): the rectification due with day 12 is
    not moved back when the pause ends (it was never moved on), nor by its days."""
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    with clock.travel_to(_bj(1, 10), all_threads=True):
        values = {"id": complaint["id"], "reason": "APPRAISAL", "note": "司法鉴定"}
        assert (
            backend.gql(PAUSE, {"input": values}, staff="SH01CH01")["pauseComplaintClock"]["errors"]
            == []
        )
    answers = _systemic(10, 12)  # the days counted from today, given on day 2
    with clock.travel_to(_bj(2, 10), all_threads=True):
        do(backend, "SH01CH01", complaint, "Task_Investigate", answers)
    with clock.travel_to(_bj(6, 3), all_threads=True):
        resumed = backend.gql(RESUME, {"input": {"id": complaint["id"]}}, staff="SH01CH01")
        assert resumed["resumeComplaintClock"]["errors"] == []
    state = _case(backend, complaint)
    assert datetime.fromisoformat(state["rectification"]["dueAt"]) == _bj(13)
    assert _due(state, "Task_Rectify") == _bj(13)
    fire_timers(backend, _bj(13) - SECOND)
    assert _missed(backend, complaint) == []
    fire_timers(backend, _bj(13))
    assert _missed(backend, complaint) == ["RECTIFICATION"]
