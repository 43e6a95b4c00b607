"""A clock at every stage of a complaint, held in code (CMP-3, CMP-6; issue 11 points 1-3, 9).

Through the HTTP API and the timers worker (``kehu worker --once --now``), at the exact
boundaries: the due instant (Beijing midnight) and one second before it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from core import clock
from tests.complaint_steps import (
    DECISION,
    assign,
    bj_customer,
    complaint_pk,
    complete,
    decide_and_call_back,
    do,
    fire_timers,
    inbox_of,
    investigation,
    kinds,
    on_the_spot,
    read,
    submit,
    systemic,
    task_of,
)
from tests.conftest import Backend
from tests.test_workflows import ORIGINAL, _deploy, restore_original

__all__ = ["restore_original"]  # a fixture of test_workflows, used here too

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
SUPERVISE = "Task_SuperviseOverdue"


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _deadline(start: datetime, days: int) -> datetime:
    """Midnight Beijing time ending the ``days``-th natural day after ``start``."""
    return clock.end_of_business_day(clock.business_date(start) + timedelta(days=days))


def _last_day(deadline: datetime) -> date:
    return clock.business_date(deadline) - DAY


def _steps(state: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s["details"] or {} for s in state["timeline"] if s["kind"] == kind]


def _supervise_tasks(backend: Backend, staff: str, complaint: dict[str, Any]) -> list[str]:
    return [task for task, element in inbox_of(backend, staff, complaint) if element == SUPERVISE]


def _notifications(backend: Backend, staff: str, reference: str) -> list[str]:
    edges = backend.gql(
        "{ notifications(first: 100) { edges { node { summary } } } }", staff=staff
    )["notifications"]["edges"]
    return [e["node"]["summary"] for e in edges if reference in e["node"]["summary"]]


def _clocks(backend: Backend, complaint: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    found = backend.gql(
        "query($id: ID!) { complaint(id: $id) { deadlines { stage dueAt end } } }",
        {"id": complaint["id"]},
        staff="HO0001",
    )["complaint"]["deadlines"]
    return [(d["stage"], d["dueAt"], d["end"]) for d in found]


def _task_due(state: dict[str, Any], element: str) -> datetime:
    (due,) = [t["dueAt"] for t in state["currentTasks"] if t["elementId"] == element]
    return _at(due)


def _especially_complex(backend: Backend, complaint: dict[str, Any]) -> None:
    """Assigned and investigated: especially complex, waiting for head office's approval."""
    assign(backend, complaint)
    do(
        backend,
        "SH01CH01",
        complaint,
        "Task_Investigate",
        investigation(complexity="ESPECIALLY_COMPLEX", extension_reason="涉及多家机构"),
    )


def test_cmp6_an_unassigned_complaint_is_warned_and_escalated_at_its_assignment_deadline(
    backend: Backend,
) -> None:
    """The assignment is due at the end of the day after acceptance: the supervisor hears of it
    before (a notification, AT_RISK) and is given a supervise task at the instant itself."""
    complaint = submit(backend, bj_customer(backend))
    state = read(backend, complaint)
    due = _deadline(_at(state["acceptedAt"]), 1)
    assert _task_due(state, "Task_AssignHandler") == due
    fire_timers(backend, due - SECOND)
    state = read(backend, complaint)
    assert [s["stage"] for s in _steps(state, "DEADLINE_WARNING")] == ["ASSIGNMENT"]
    assert _steps(state, "DEADLINE_MISSED") == []
    assert (state["slaState"], state["overdue"]) == ("AT_RISK", False)
    assert len(_notifications(backend, "SUP0001", complaint["reference"])) == 1
    assert _supervise_tasks(backend, "SUP0001", complaint) == []
    fire_timers(backend, due)
    with clock.travel_to(due, all_threads=True):
        state = read(backend, complaint)
        assert (state["slaState"], state["overdue"]) == ("BREACHED", True)
        assert len(_supervise_tasks(backend, "SUP0001", complaint)) == 1
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["ASSIGNMENT"]
    assert len(_notifications(backend, "SUP0001", complaint["reference"])) == 2
    # Running the worker again changes nothing: once per deadline.
    assert fire_timers(backend, due).failed == 0
    assert read(backend, complaint)["timeline"] == state["timeline"]


def test_cmp6_the_decision_deadline_runs_while_head_office_considers_an_extension(
    backend: Backend,
) -> None:
    """No pause while head office decides: the approval is due at the running deadline, the
    supervisor is warned and the breach escalated; an approval after it extends nothing, and
    the statistics count the decision as late (CMP-3, CMP-5, CMP-6)."""
    customer = bj_customer(backend)
    complaint = submit(backend, customer)
    _especially_complex(backend, complaint)
    state = read(backend, complaint)
    due = _at(state["decisionDueAt"])
    assert due == _deadline(_at(state["acceptedAt"]), 15)
    assert _task_due(state, "Task_ApproveExtension") == due
    next_due = backend.gql(
        "query($id: ID!) { complaint(id: $id) { nextDueAt } }", {"id": complaint["id"]}
    )["complaint"]["nextDueAt"]
    assert _at(next_due) == due
    fire_timers(backend, due - 3 * DAY)
    state = read(backend, complaint)
    assert [s["stage"] for s in _steps(state, "DEADLINE_WARNING")] == ["DECISION"]
    assert state["slaState"] == "AT_RISK"
    fire_timers(backend, due)
    state = read(backend, complaint)
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["DECISION"]
    with clock.travel_to(due + DAY, all_threads=True):
        do(backend, "HO0001", complaint, "Task_ApproveExtension", {"extension_approved": True})
        state = read(backend, complaint)
        assert (state["overdue"], state["slaState"]) == (True, "BREACHED")
        do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
        statistics = backend.gql(
            """query($where: ComplaintWhere!) {
                 complaintStatistics(by: CATEGORY, where: $where) { decided decidedOnTime } }""",
            {"where": {"customer": {"eq": customer["id"]}}},
            staff="RM0001",
        )["complaintStatistics"]
    assert _at(state["decisionDueAt"]) == due and state["complexity"] == "STANDARD"
    assert "EXTENSION_REFUSED" in kinds(state) and "DEADLINE_EXTENDED" not in kinds(state)
    assert "EXTENSION" not in [m["kind"] for m in state["messages"]]
    assert statistics == [{"decided": 1, "decidedOnTime": 0}]
    assert read(backend, complaint)["slaState"] == "BREACHED"


def _declare_complex(backend: Backend, complaint: dict[str, Any], at: datetime) -> dict[str, Any]:
    with clock.travel_to(at, all_threads=True):
        do(
            backend,
            "SH01CH01",
            complaint,
            "Task_Investigate",
            investigation(complexity="COMPLEX", extension_reason="需调取外部机构资料"),
        )
        return read(backend, complaint)


def test_cmp3_an_extension_a_second_before_the_deadline_is_granted_at_the_instant_refused(
    backend: Backend,
) -> None:
    """The customer is told the last day of the new deadline (not the day after it)."""
    in_time, late = submit(backend, bj_customer(backend)), submit(backend, bj_customer(backend))
    for complaint in (in_time, late):
        assign(backend, complaint)
    due = _at(in_time["decisionDueAt"])
    accepted = _at(read(backend, in_time)["acceptedAt"])
    granted = _declare_complex(backend, in_time, due - SECOND)
    new_due = _deadline(accepted, 30)
    assert _at(granted["decisionDueAt"]) == new_due and granted["complexity"] == "COMPLEX"
    (extension,) = [m["content"] for m in granted["messages"] if m["kind"] == "EXTENSION"]
    assert f"延长至 {_last_day(new_due):%Y-%m-%d}" in extension
    assert f"{clock.business_date(new_due):%Y-%m-%d}" not in extension
    assert _task_due(granted, "Task_DecisionNotice") == new_due
    assert (granted["overdue"], granted["slaState"]) == (False, "ON_TRACK")
    # The history stays: the 15-day deadline was replaced in time by the 30-day one.
    assert [(stage, _at(at), end) for stage, at, end in _clocks(backend, in_time)] == [
        ("DECISION", due, "EXTENDED"),
        ("ASSIGNMENT", _deadline(accepted, 1), "MET"),
        ("DECISION", new_due, None),
    ]
    refused = _declare_complex(backend, late, _at(late["decisionDueAt"]))
    assert _at(refused["decisionDueAt"]) == _at(late["decisionDueAt"])
    assert refused["complexity"] == "STANDARD"
    assert "EXTENSION_REFUSED" in kinds(refused) and "DEADLINE_EXTENDED" not in kinds(refused)
    assert (refused["overdue"], refused["slaState"]) == (True, "BREACHED")


def test_cmp6_a_breach_escalates_once_whatever_steps_it_spans(backend: Backend) -> None:
    """A breached investigation that moves on to the decision is one missed deadline: one
    DEADLINE_MISSED, one supervise task."""
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    due = _at(complaint["decisionDueAt"])
    fire_timers(backend, due)
    with clock.travel_to(due + DAY, all_threads=True):
        do(backend, "SH01CH01", complaint, "Task_Investigate", on_the_spot())
    fire_timers(backend, due + 2 * DAY)
    state = read(backend, complaint)
    # (The supervision itself, left undone for a day, went up to head office: another clock.)
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["DECISION", "SUPERVISION"]
    assert len(_supervise_tasks(backend, "SUP0001", complaint)) == 1
    assert state["slaState"] == "BREACHED"


def test_cmp6_call_back_review_and_rectification_have_clocks(backend: Backend) -> None:
    """The call-back (7 days), the review decision (30 days from the request) and the
    rectification item (the deadline the investigation gave it) are due at Beijing midnight;
    each breach gets a supervise task — the review's and the rectification's at head office."""
    called = submit(backend, bj_customer(backend))
    assign(backend, called)
    given = clock.today() + timedelta(days=20)
    do(backend, "SH01CH01", called, "Task_Investigate", systemic())
    do(backend, "SH01CH01", called, "Task_DecisionNotice", DECISION)
    state = read(backend, called)
    call_back_due = _deadline(_at(state["decidedAt"]), 7)
    assert _task_due(state, "Task_CallBack") == call_back_due
    rectify_due = _task_due(state, "Task_Rectify")
    assert rectify_due == clock.end_of_business_day(given)  # the day given, to its midnight
    fire_timers(backend, call_back_due - SECOND)
    assert "DEADLINE_MISSED" not in kinds(read(backend, called))
    fire_timers(backend, call_back_due)
    state = read(backend, called)
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["CALL_BACK"]
    (supervise,) = _supervise_tasks(backend, "SUP0001", called)
    assert complete(backend, "SUP0001", supervise, {"action": "已督促客户经理回访"}) == []
    fire_timers(backend, rectify_due - SECOND)
    assert [s["stage"] for s in _steps(read(backend, called), "DEADLINE_MISSED")] == ["CALL_BACK"]
    fire_timers(backend, rectify_due)
    state = read(backend, called)
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["CALL_BACK", "RECTIFICATION"]
    assert len(_supervise_tasks(backend, "HO0001", called)) == 1

    reviewed = submit(backend, bj_customer(backend))
    assign(backend, reviewed)
    do(backend, "SH01CH01", reviewed, "Task_Investigate", investigation())
    decide_and_call_back(backend, reviewed, satisfied=False, score=2)
    do(backend, "RM0001", reviewed, "Task_ReviewRequest", {"review_requested": True})
    state = read(backend, reviewed)
    review_due = _at(state["reviewDueAt"])
    assert _task_due(state, "Task_Review") == review_due
    fire_timers(backend, review_due - SECOND)
    assert "REVIEW_DEADLINE_MISSED" not in kinds(read(backend, reviewed))
    fire_timers(backend, review_due)
    state = read(backend, reviewed)
    assert [s["stage"] for s in _steps(state, "REVIEW_DEADLINE_MISSED")] == ["REVIEW_DECISION"]
    assert len(_supervise_tasks(backend, "HO0001", reviewed)) == 1
    with clock.travel_to(review_due, all_threads=True):
        assert (read(backend, reviewed)["overdue"], read(backend, reviewed)["slaState"]) == (
            True,
            "BREACHED",
        )


def test_cmp6_a_supervise_task_is_completed_like_any_other_and_noted(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    fire_timers(backend, _deadline(_at(read(backend, complaint)["acceptedAt"]), 1))
    (task,) = _supervise_tasks(backend, "SUP0001", complaint)
    assert complete(backend, "SUP0001", task, {}) != []  # the form is checked
    assert complete(backend, "SUP0001", task, {"action": "已督促当日指派"}) == []
    assert _supervise_tasks(backend, "SUP0001", complaint) == []
    step = _steps(read(backend, complaint), "TASK_COMPLETED")[-1]
    assert step["element"] == SUPERVISE and step["answers"] == {"action": "已督促当日指派"}
    assign(backend, complaint)  # the process carries on
    assert read(backend, complaint)["status"] == "INVESTIGATING"


def test_cmp3_progress_updates_go_on_after_a_breach_worded_for_it_and_catch_up_once(
    backend: Backend,
) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    accepted = _at(read(backend, complaint)["acceptedAt"])
    due = _at(complaint["decisionDueAt"])
    last = f"{_last_day(due):%Y-%m-%d}"
    fire_timers(backend, accepted + 5 * DAY)
    (before,) = [
        m["content"] for m in read(backend, complaint)["messages"] if m["kind"] == "PROGRESS"
    ]
    assert f"最迟于 {last}" in before
    # Down from day 6 to day 40: one catch-up message, worded for a missed deadline.
    fire_timers(backend, accepted + 40 * DAY)
    progress = [
        m["content"] for m in read(backend, complaint)["messages"] if m["kind"] == "PROGRESS"
    ]
    assert len(progress) == 2
    assert f"已于 {last} 届满" in progress[1] and "最迟于" not in progress[1]
    # And they go on every five days while the complaint waits for its decision.
    fire_timers(backend, accepted + 45 * DAY)
    progress = [
        m["content"] for m in read(backend, complaint)["messages"] if m["kind"] == "PROGRESS"
    ]
    assert len(progress) == 3
    acknowledgement = read(backend, complaint)["messages"][0]["content"]
    assert f"最迟于 {last}" in acknowledgement


def _extend_by(xml: str, days: str) -> str:
    old = '<spiffworkflow:parameter id="days" type="any" value="30" />'
    assert xml.count(old) == 1
    return xml.replace(old, f'<spiffworkflow:parameter id="days" type="any" value="{days}" />')


def test_cmp3_sixty_days_need_a_recorded_head_office_approval_whatever_the_diagram(
    backend: Backend, restore_original: None
) -> None:
    """A diagram that extends to 60 days without the approval step deploys (60 is a valid
    extension) — and the operation refuses it at run time with a typed error; nothing moves.
    90 days never deploy (PARAMETER_INVALID, naming the element)."""
    (refused,) = _deploy(backend, _extend_by(ORIGINAL, "90"))["errors"]
    assert (refused["field"], refused["code"]) == (
        ["bpmn", "Task_ExtendComplex"],
        "PARAMETER_INVALID",
    )
    assert _deploy(backend, _extend_by(ORIGINAL, "60"))["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    task = task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    errors = complete(
        backend,
        "SH01CH01",
        task,
        investigation(complexity="COMPLEX", extension_reason="需调取外部机构资料"),
    )
    assert [(e["field"], e["complaintCode"]) for e in errors] == [
        (["data", "days"], "EXTENSION_NOT_APPROVED")
    ]
    state = read(backend, complaint)
    assert state["complexity"] == "STANDARD" and _at(state["decisionDueAt"]) == _at(
        complaint["decisionDueAt"]
    )
    assert task_of(backend, "SH01CH01", complaint, "Task_Investigate") == task


def test_cmp3_sixty_days_with_head_office_approval_end_on_day_60_and_the_customer_is_told(
    backend: Backend,
) -> None:
    complaint = submit(backend, bj_customer(backend))
    _especially_complex(backend, complaint)
    do(backend, "HO0001", complaint, "Task_ApproveExtension", {"extension_approved": True})
    state = read(backend, complaint)
    day_60 = _deadline(_at(state["acceptedAt"]), 60)
    assert _at(state["decisionDueAt"]) == day_60 and state["complexity"] == "ESPECIALLY_COMPLEX"
    (approval,) = [s for s in state["timeline"] if s["kind"] == "EXTENSION_APPROVED"]
    assert approval["actor"] == "HO0001"
    (extension,) = [m["content"] for m in state["messages"] if m["kind"] == "EXTENSION"]
    assert f"延长至 {_last_day(day_60):%Y-%m-%d}（含当日）" in extension
    assert _task_due(state, "Task_DecisionNotice") == day_60


def test_cmp6_a_step_done_in_time_after_its_warning_is_back_on_track(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    due = _deadline(_at(read(backend, complaint)["acceptedAt"]), 1)
    fire_timers(backend, due - SECOND)
    assert read(backend, complaint)["slaState"] == "AT_RISK"
    with clock.travel_to(due - SECOND, all_threads=True):
        assign(backend, complaint)
    fire_timers(backend, due)
    state = read(backend, complaint)
    assert (state["slaState"], state["overdue"]) == ("ON_TRACK", False)
    assert _steps(state, "DEADLINE_MISSED") == []
    assert [end for stage, _at_, end in _clocks(backend, complaint) if stage == "ASSIGNMENT"] == [
        "MET"
    ]


def test_cmp7_a_pause_moves_every_running_clock_but_never_undoes_a_breach(
    backend: Backend,
) -> None:
    """The one place a pause of the clock (external appraisal, mediation) plugs in."""
    from resolvers.complaints.deadlines import postpone
    from store.complaints import Complaint
    from store.db import make_session_factory, transaction

    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    due = _at(complaint["decisionDueAt"])
    with transaction(make_session_factory(backend.engine)) as session:
        row = session.get_one(Complaint, complaint_pk(backend, complaint))
        postpone(session, row, 10 * DAY)
    state = read(backend, complaint)
    assert _at(state["decisionDueAt"]) == due + 10 * DAY
    assert _task_due(state, "Task_Investigate") == due + 10 * DAY
    fire_timers(backend, due)
    assert "DEADLINE_MISSED" not in kinds(read(backend, complaint))
    fire_timers(backend, due + 10 * DAY)
    assert [s["stage"] for s in _steps(read(backend, complaint), "DEADLINE_MISSED")] == ["DECISION"]
    with transaction(make_session_factory(backend.engine)) as session:
        row = session.get_one(Complaint, complaint_pk(backend, complaint))
        postpone(session, row, 10 * DAY)
    assert _at(read(backend, complaint)["decisionDueAt"]) == due + 10 * DAY


def test_cmp6_a_supervision_left_undone_for_a_day_goes_to_head_office_once(
    backend: Backend,
) -> None:
    complaint = submit(backend, bj_customer(backend))
    assignment_due = _deadline(_at(read(backend, complaint)["acceptedAt"]), 1)
    fire_timers(backend, assignment_due)
    supervision_due = _deadline(assignment_due, 1)
    fire_timers(backend, supervision_due - SECOND)
    assert _supervise_tasks(backend, "HO0001", complaint) == []
    fire_timers(backend, supervision_due)
    state = read(backend, complaint)
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["ASSIGNMENT", "SUPERVISION"]
    assert len(_supervise_tasks(backend, "HO0001", complaint)) == 1
    # Head office is the top: its own supervision is not escalated again.
    fire_timers(backend, supervision_due + 5 * DAY)
    state = read(backend, complaint)
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["ASSIGNMENT", "SUPERVISION"]
    assert len(_supervise_tasks(backend, "HO0001", complaint)) == 1
