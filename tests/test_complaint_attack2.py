"""Second round of attacks on the complaint rules (CMP-1 … CMP-7), against the regulatory cases
that landed after the first: each path to a forbidden effect is refused, with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from core import clock
from tests import complaint_steps as steps
from tests.conftest import Backend, branch_id
from tests.test_complaint_attack import DELIVERY, ERRORS, MERGE, PAUSE, RESUME, WITHDRAW, _customer
from tests.test_complaint_cases import _bj, alerts_of
from tests.test_complaint_clocks import DAY, SECOND, _at, _notifications, _steps, _supervise_tasks
from tests.test_sharing import CREATE as SHARE
from tests.test_sharing import REVOKE
from tests.test_workflows import RETRY, _incidents
from workflows import operations


@contextmanager
def _shared_with_shanghai(backend: Backend, customer: dict[str, Any]) -> Iterator[None]:
    """BJ01's supervisor shares one customer's contact data with SH01's supervisors (read-only,
    for customer service), revoked afterwards (the next test's grants must not overlap it)."""
    values = {
        "receivingRole": "BRANCH_SUPERVISOR",
        "receivingBranch": branch_id(backend, "SH01SUP01"),
        "purpose": "CUSTOMER_SERVICE",
        "fieldGroups": ["contact"],
        "customers": [customer["id"]],
        "expiresAt": (clock.now() + timedelta(days=30)).isoformat(),
        "reason": "joint campaign follow-up",
    }
    created = backend.gql(SHARE, {"input": values}, staff="SUP0001")["createShareGrant"]
    assert created["errors"] == []
    try:
        yield
    finally:
        backend.gql(REVOKE, {"id": created["shareGrant"]["id"]}, staff="SUP0001")


def test_cmp7_a_read_only_share_grant_does_not_end_or_pause_a_complaint(
    backend: Backend,
) -> None:
    """A supervisor of another branch, given a customer's contact data to read for a campaign,
    paused the clock of the customer's complaint "for mediation", merged their second complaint
    away and withdrew the first, and could record a made-up proof of delivery: a share grant
    opens a customer for reading, not for changing their complaints (CMP-7, SHARE-2)."""
    customer = _customer(backend, address="北京市海淀区中关村大街1号")
    first = steps.submit(backend, customer)
    again = steps.submit(backend, customer)
    with _shared_with_shanghai(backend, customer):
        outsider = "SH01SUP01"
        paused = backend.gql(
            PAUSE,
            {"input": {"id": first["id"], "reason": "MEDIATION", "note": "调解"}},
            staff=outsider,
        )["pauseComplaintClock"]
        merged = backend.gql(
            MERGE,
            {"input": {"into": first["id"], "duplicate": again["id"], "reason": "同一事项"}},
            staff=outsider,
        )["mergeComplaints"]
        withdrawn = backend.gql(
            WITHDRAW, {"input": {"id": first["id"], "reason": "客户撤回"}}, staff=outsider
        )["withdrawComplaint"]
        receipt = {"complaint": first["id"], "kind": "ACKNOWLEDGEMENT", "proof": "客户已签收"}
        delivered = backend.post(DELIVERY, {"input": receipt}, staff=outsider).json()
    assert [(e["field"], e["code"]) for e in paused["errors"]] == [(["id"], "NOT_FOUND")]
    assert [(e["field"], e["code"]) for e in merged["errors"]] == [(["into"], "NOT_FOUND")]
    assert [(e["field"], e["code"]) for e in withdrawn["errors"]] == [(["id"], "NOT_FOUND")]
    assert [e["extensions"]["code"] for e in delivered["errors"]] == ["NOT_FOUND"]
    for complaint in (first, again):
        state = steps.read(backend, complaint)
        assert state["status"] == "REGISTERED"
        assert {"CLOCK_PAUSED", "MERGED_INTO", "MERGED_FROM", "WITHDRAWN"}.isdisjoint(
            steps.kinds(state)
        )
    # The branch's own supervisor still may.
    done = backend.gql(
        WITHDRAW, {"input": {"id": first["id"], "reason": "客户撤回"}}, staff="SUP0001"
    )["withdrawComplaint"]
    assert done["errors"] == [] and done["complaint"]["status"] == "WITHDRAWN"


def test_cmp7_a_cancelled_message_gets_no_proof_of_delivery(backend: Backend) -> None:
    """The customer withdrew; the acknowledgement letter still waiting was CANCELLED, never
    sent. A supervisor then recorded "客户已签收" for it and the complaint showed the letter
    as delivered with that proof: only a message that went out (or waits to) is delivered."""
    complaint = steps.submit(backend, _customer(backend, address="北京市海淀区中关村大街1号"))
    withdrawn = backend.gql(
        WITHDRAW, {"input": {"id": complaint["id"], "reason": "客户撤回"}}, staff="SUP0001"
    )["withdrawComplaint"]
    assert withdrawn["errors"] == []
    receipt = {"complaint": complaint["id"], "kind": "ACKNOWLEDGEMENT", "proof": "客户已签收"}
    made_up = backend.gql(DELIVERY, {"input": receipt}, staff="SUP0001")["recordMessageDelivery"]
    assert [(e["field"], e["code"]) for e in made_up["errors"]] == [(["kind"], "NOT_FOUND")]
    state = steps.read(backend, complaint)
    assert [(m["kind"], m["proofOfDelivery"]) for m in state["messages"]] == [
        ("ACKNOWLEDGEMENT", None)
    ]
    assert "DELIVERY_RECORDED" not in steps.kinds(state)


def test_cmp3_the_last_calendar_day_as_a_plan_or_rectification_deadline_is_refused(
    backend: Backend,
) -> None:
    """A handler typed 9999-12-31 as the rectification's (or the plan's) deadline: the
    investigation task was taken as COMPLETED, the step behind it failed (no instant ends that
    day) into an incident, and the complaint sat with no task at all while its clock ran. The
    date is refused naming the field; the task stays with the handler (CMP-3, CMP-5)."""
    complaint = steps.submit(backend, _customer(backend))
    steps.assign(backend, complaint)
    task = steps.task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    for answers, field in (
        (steps.systemic(rectification_deadline="9999-12-31"), "rectification_deadline"),
        (steps.investigation(plan_deadline="9999-12-31"), "plan_deadline"),
    ):
        errors = steps.complete(backend, "SH01CH01", task, answers)
        assert [(e["field"], e["code"]) for e in errors] == [(["data", field], "INVALID")]
    state = steps.read(backend, complaint)
    assert [t["elementId"] for t in state["currentTasks"]] == ["Task_Investigate"]
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.investigation())
    assert steps.read(backend, complaint)["currentTasks"][0]["elementId"] == "Task_DecisionNotice"


def test_cmp2_the_person_complained_about_does_not_own_the_rectification(
    backend: Backend,
) -> None:
    """The handler named the manager complained about as the owner of the systemic issue's
    rectification: the item recorded them as the one who answers for it (the plan's owner was
    already refused). Refused as for the plan (办法第十七条), nothing recorded."""
    complaint = steps.submit(backend, _customer(backend), complainedStaff="BJ01RM02")
    steps.assign(backend, complaint)
    task = steps.task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    errors = backend.gql(
        steps.COMPLETE,
        {"input": {"id": task, "data": steps.systemic(rectification_owner="BJ01RM02")}},
        staff="SH01CH01",
    )["completeTask"]["errors"]
    assert [(e["field"], e["code"], e["complaintCode"]) for e in errors] == [
        (["data", "rectification_owner"], "DOMAIN_RULE", "HANDLER_CONFLICT")
    ]
    state = steps.read(backend, complaint)
    assert state["rectification"] is None
    assert [t["elementId"] for t in state["currentTasks"]] == ["Task_Investigate"]


ZERO_WIDTH = "\u200b\u2060"


def test_cmp3_findings_plan_reasons_and_rectification_of_invisible_characters_are_blank(
    backend: Backend,
) -> None:
    """Findings, evidence, the plan and the reason for an extension of only zero-width characters were
    accepted by the investigation, as were a rectification's actions and recurrence check:
    the record showed nothing a regulator could read. Each is REQUIRED, naming the field."""
    complaint = steps.submit(backend, _customer(backend))
    steps.assign(backend, complaint)
    task = steps.task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    for answers, field in (
        (steps.investigation(findings=ZERO_WIDTH), "findings"),
        (steps.investigation(evidence=["扣费流水", ZERO_WIDTH]), "evidence"),
        (steps.investigation(plan=ZERO_WIDTH), "plan"),
        (
            steps.investigation(complexity="COMPLEX", extension_reason=ZERO_WIDTH),
            "extension_reason",
        ),
    ):
        errors = steps.complete(backend, "SH01CH01", task, answers)
        where = ["data", field, "1"] if field == "evidence" else ["data", field]
        assert [(e["field"], e["code"]) for e in errors] == [(where, "REQUIRED")]
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.systemic())
    steps.decide_and_call_back(backend, complaint)
    rectify = steps.task_of(backend, "HO0001", complaint, "Task_Rectify")
    answers = {
        "actions": ["补充告知流程", ZERO_WIDTH],
        "completed_on": clock.today().isoformat(),
        "recurrence_check": "核查同类投诉",
    }
    errors = steps.complete(backend, "HO0001", rectify, answers)
    assert [(e["field"], e["code"]) for e in errors] == [(["data", "actions", "1"], "REQUIRED")]
    answers.update(actions=["补充告知流程"], recurrence_check=ZERO_WIDTH)
    errors = steps.complete(backend, "HO0001", rectify, answers)
    assert [(e["field"], e["code"]) for e in errors] == [(["data", "recurrence_check"], "REQUIRED")]
    assert steps.read(backend, complaint)["rectification"]["closedAt"] is None


def test_cmp6_the_rectification_of_a_closed_complaint_still_escalates(backend: Backend) -> None:
    """The customer's part closed (decided, called back, no review) while head office still
    owed the rectification: at its deadline the complaint showed BREACHED, but the timers
    worker passed closed complaints by — no warning, no DEADLINE_MISSED, no supervise task, no
    notification, ever. The rectification's clock escalates once, at the instant (CMP-5/6)."""
    complaint = steps.submit(backend, _customer(backend))
    steps.assign(backend, complaint)
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.systemic())
    steps.decide_and_call_back(backend, complaint)
    state = steps.read(backend, complaint)
    assert state["status"] == "CLOSED"
    due = _at(state["rectification"]["dueAt"])
    assert due == clock.end_of_business_day(clock.today() + timedelta(days=20))
    steps.fire_timers(backend, due - SECOND)
    state = steps.read(backend, complaint)
    assert [s["stage"] for s in _steps(state, "DEADLINE_WARNING")] == ["RECTIFICATION"]
    assert _steps(state, "DEADLINE_MISSED") == []
    steps.fire_timers(backend, due)
    steps.fire_timers(backend, due + SECOND)
    state = steps.read(backend, complaint)
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["RECTIFICATION"]
    (supervise,) = _supervise_tasks(backend, "HO0001", complaint)
    assert any(
        "整改" in n and "届满" in n for n in _notifications(backend, "HO0001", state["reference"])
    )
    assert steps.complete(backend, "HO0001", supervise, {"action": "已督促整改责任人"}) == []


def test_cmp7_the_customer_is_told_their_repeated_complaint_was_merged(backend: Backend) -> None:
    """The customer's second complaint was acknowledged ("我行将最迟于 … 作出处理决定") and then
    merged away: its waiting messages were cancelled and nothing told the customer that the
    number they were given would get no decision of its own. They are told, in Chinese, which
    complaint answers it and its last day (CMP-7)."""
    customer = _customer(backend, email="merged@example.com")
    first = steps.submit(backend, customer)
    again = steps.submit(backend, customer)
    merged = backend.gql(
        MERGE,
        {"input": {"into": first["id"], "duplicate": again["id"], "reason": "同一事项"}},
        staff="SUP0001",
    )["mergeComplaints"]
    assert merged["errors"] == []
    kept = steps.read(backend, first)
    last = (_at(kept["decisionDueAt"]) - SECOND).astimezone(clock.BUSINESS_TIME).date()
    told = steps.read(backend, again)["messages"]
    assert [m["kind"] for m in told] == ["ACKNOWLEDGEMENT", "MERGED"]
    assert told[-1]["content"] == (
        f"您的投诉（编号 {again['reference']}）与您此前的投诉（编号 {first['reference']}）"
        f"为同一事项，已合并处理，我行将最迟于 {last:%Y-%m-%d} 作出处理决定。"
    )


CLOSE_RECTIFICATION = f"""mutation($input: CloseRectificationInput!) {{
    closeRectification(input: $input) {{ complaint {{ id }} {ERRORS} }} }}"""


def test_cmp6_the_rectification_of_a_withdrawn_complaint_keeps_its_clock(
    backend: Backend,
) -> None:
    """The customer withdrew after the investigation found a systemic issue: the bank still
    owes the rectification, but its clock stopped with the process — its deadline passed with
    no warning, no DEADLINE_MISSED and no word to head office. The item keeps a clock of its
    own until it is closed: warned before, escalated once at the instant (CMP-5, CMP-6)."""
    complaint = steps.submit(backend, _customer(backend))
    steps.assign(backend, complaint)
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.systemic())
    withdrawn = backend.gql(
        WITHDRAW, {"input": {"id": complaint["id"], "reason": "客户撤回"}}, staff="SUP0001"
    )["withdrawComplaint"]
    assert withdrawn["errors"] == []
    due = _at(steps.read(backend, complaint)["rectification"]["dueAt"])
    steps.fire_timers(backend, due - SECOND)
    state = steps.read(backend, complaint)
    assert [s["stage"] for s in _steps(state, "DEADLINE_WARNING")] == ["RECTIFICATION"]
    assert _steps(state, "DEADLINE_MISSED") == []
    steps.fire_timers(backend, due)
    steps.fire_timers(backend, due + SECOND)
    state = steps.read(backend, complaint)
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["RECTIFICATION"]
    assert (state["status"], state["overdue"]) == ("WITHDRAWN", False)
    assert any(
        "整改" in n and "届满" in n for n in _notifications(backend, "HO0001", state["reference"])
    )
    with clock.travel_to(due + SECOND, all_threads=True):
        answers = {
            "complaintId": complaint["id"],
            "actions": ["补充告知流程"],
            "completedOn": clock.today().isoformat(),
            "recurrenceCheck": "核查同类投诉",
        }
        closed = backend.gql(CLOSE_RECTIFICATION, {"input": answers})["closeRectification"]
        assert closed["errors"] == []
    clocks = backend.gql(
        "query($id: ID!) { complaint(id: $id) { deadlines { stage end } } }",
        {"id": complaint["id"]},
    )["complaint"]["deadlines"]
    assert {"stage": "RECTIFICATION", "end": "MISSED"} in clocks
    assert None not in [c["end"] for c in clocks]


def test_cmp7_a_major_repeat_merged_into_an_earlier_complaint_alerts_head_office_on_it(
    backend: Backend,
) -> None:
    """The customer first complained alone, then again for 25 people (a major complaint). The
    repeat was merged into the first: the kept complaint became major — in the regulatory
    report — with no alert and no escalation of its own; head office's only alert pointed at
    the complaint that had ended. The kept one is escalated to head office at once (CMP-7)."""
    customer = _customer(backend)
    first = steps.submit(backend, customer)
    repeat = steps.submit(backend, customer, personsInvolved=25)
    merged = backend.gql(
        MERGE,
        {"input": {"into": first["id"], "duplicate": repeat["id"], "reason": "同一事项"}},
        staff="SUP0001",
    )["mergeComplaints"]
    assert merged["errors"] == []
    state = steps.read(backend, first)
    steps_of = [s for s in state["timeline"] if s["kind"] == "MAJOR_ESCALATED"]
    assert [s["details"] for s in steps_of] == [{"to": "HEAD_OFFICE", "criteria": ["MERGED_FROM"]}]
    assert [a["kind"] for a in alerts_of(backend, first)] == ["MAJOR_COMPLAINT"]


def test_cmp9_resuming_after_the_deadline_never_names_a_past_day(backend: Backend) -> None:
    """Paused for mediation on day 3 and resumed only on day 80: the 60 paused days had run out
    on day 63 and the deadline (the end of day 75) had passed, yet the customer was told
    "我行将于 <day 75>（含）前作出处理决定" — a promise about a day already gone. They are told it
    passed, with an apology, as the progress updates say it (CMP-7, issue point 9)."""
    complaint = steps.submit(backend, _customer(backend))
    with clock.travel_to(_bj(3, 10), all_threads=True):
        note = {"id": complaint["id"], "reason": "MEDIATION", "note": "调解"}
        assert backend.gql(PAUSE, {"input": note})["pauseComplaintClock"]["errors"] == []
    with clock.travel_to(_bj(80, 10), all_threads=True):
        resumed = backend.gql(RESUME, {"input": {"id": complaint["id"]}})["resumeComplaintClock"]
        assert resumed["errors"] == []
        state = steps.read(backend, complaint)
    last = (_at(state["decisionDueAt"]) - SECOND).astimezone(clock.BUSINESS_TIME).date()
    assert last == clock.today() + timedelta(days=75)
    told = state["messages"][-1]
    assert told["kind"] == "CLOCK_RESUMED"
    assert told["content"] == (
        f"您的投诉（编号 {complaint['reference']}）已恢复处理。处理期限已于 {last:%Y-%m-%d} "
        "届满，我行深表歉意，已督办加快处理，将尽快告知处理决定。"
    )


def test_cmp6_a_supervision_recorded_as_invisible_characters_is_refused(backend: Backend) -> None:
    """The supervisor completed the supervise task of an overdue complaint with 督办措施 of
    zero-width spaces: the timeline showed supervision done with nothing in it. Text a form
    requires is REQUIRED when it shows nothing, on every form (CMP-6)."""
    complaint = steps.submit(backend, _customer(backend))
    accepted = _at(steps.read(backend, complaint)["acceptedAt"])
    steps.fire_timers(backend, clock.end_of_business_day(clock.business_date(accepted) + DAY))
    (supervise,) = _supervise_tasks(backend, "SUP0001", complaint)
    errors = steps.complete(backend, "SUP0001", supervise, {"action": ZERO_WIDTH})
    assert [(e["field"], e["code"]) for e in errors] == [(["data", "action"], "REQUIRED")]
    assert _supervise_tasks(backend, "SUP0001", complaint) == [supervise]
    assert steps.complete(backend, "SUP0001", supervise, {"action": "已督促指派处理人"}) == []


def test_cmp6_a_step_missed_before_the_complaint_ended_stays_missed_once(
    backend: Backend,
) -> None:
    """Left unassigned past its assignment deadline and withdrawn the next day before the
    timers worker ran: the missed assignment vanished (only the decision's breach was kept).
    A rectification escalated while the complaint ran was escalated a second time once the
    complaint was withdrawn (its clock restarted without the task). Each breach is recorded
    once, whatever ends the complaint (CMP-6; a breach stays a breach)."""
    unassigned = steps.submit(backend, _customer(backend))
    accepted = _at(steps.read(backend, unassigned)["acceptedAt"])
    assign_due = clock.end_of_business_day(clock.business_date(accepted) + DAY)
    with clock.travel_to(assign_due + SECOND, all_threads=True):
        withdrawn = backend.gql(
            WITHDRAW, {"input": {"id": unassigned["id"], "reason": "客户撤回"}}, staff="SUP0001"
        )["withdrawComplaint"]
        assert withdrawn["errors"] == []
    steps.fire_timers(backend, assign_due + 2 * DAY)
    state = steps.read(backend, unassigned)
    assert [s["stage"] for s in _steps(state, "DEADLINE_MISSED")] == ["ASSIGNMENT"]

    systemic = steps.submit(backend, _customer(backend))
    steps.assign(backend, systemic)
    steps.do(backend, "SH01CH01", systemic, "Task_Investigate", steps.systemic())
    due = _at(steps.read(backend, systemic)["rectification"]["dueAt"])
    steps.fire_timers(backend, due)
    with clock.travel_to(due + DAY, all_threads=True):
        withdrawn = backend.gql(
            WITHDRAW, {"input": {"id": systemic["id"], "reason": "客户撤回"}}, staff="SUP0001"
        )["withdrawComplaint"]
        assert withdrawn["errors"] == []
    steps.fire_timers(backend, due + 2 * DAY)
    missed = [s["stage"] for s in _steps(steps.read(backend, systemic), "DEADLINE_MISSED")]
    assert sorted(missed) == ["DECISION", "RECTIFICATION"]


def test_plat2_an_incident_of_a_withdrawn_complaint_is_not_retried(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording the investigation failed (an incident); the customer then withdrew. The process
    owner's retry ran the step anyway (the failed step kept the ended instance RUNNING): a
    PLAN_MADE after WITHDRAWN, the withdrawn complaint's cause and plan written, the incident
    RESOLVED. An ended instance runs no step again: INSTANCE_FINISHED, nothing written
    (PLAT-2, CMP-7)."""
    complaint = steps.submit(backend, _customer(backend))
    steps.assign(backend, complaint)
    key = f"complaint:{steps.complaint_pk(backend, complaint)}"
    original = operations._REGISTRY["record_investigation"]

    def broken(_call: operations.OperationCall) -> dict[str, Any]:
        raise ConnectionError("core banking down")

    monkeypatch.setitem(operations._REGISTRY, "record_investigation", (broken, original[1]))
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.investigation())
    [incident] = _incidents(backend, key)
    withdrawn = backend.gql(
        WITHDRAW, {"input": {"id": complaint["id"], "reason": "客户撤回"}}, staff="SUP0001"
    )["withdrawComplaint"]
    assert withdrawn["errors"] == []
    monkeypatch.setitem(operations._REGISTRY, "record_investigation", original)
    retried = backend.gql(RETRY, {"input": {"id": incident["id"]}}, staff="PO0001")
    assert [e["code"] for e in retried["retryProcessIncident"]["errors"]] == ["INSTANCE_FINISHED"]
    state = steps.read(backend, complaint)
    assert steps.kinds(state)[-1] == "WITHDRAWN" and state["cause"] is None
    assert state["process"]["instance"]["status"] == "COMPLETED"
    # The ended instance's incident left the open list (test_complaint_attack3).
    assert [i["id"] for i in _incidents(backend, key, "ENDED")] == [incident["id"]]
