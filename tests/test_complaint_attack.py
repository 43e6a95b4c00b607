"""Attacks on the complaint rules (CMP-2 … CMP-7), as a hostile insider or process owner would
try them: each path to a forbidden effect is refused, with nothing written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from core import clock
from tests import complaint_steps as steps
from tests.conftest import Backend, branch_id, create_customer
from tests.test_complaint_cases import _bj
from tests.test_workflows import ORIGINAL, _deploy, restore_original  # noqa: F401 - a fixture

ERRORS = "errors { field code message }"
WITHDRAW = f"""mutation($input: WithdrawComplaintInput!) {{ withdrawComplaint(input: $input) {{
    complaint {{ id status }} {ERRORS} }} }}"""
MERGE = f"""mutation($input: MergeComplaintsInput!) {{ mergeComplaints(input: $input) {{
    complaint {{ id status }} {ERRORS} }} }}"""
PAUSE = f"""mutation($input: PauseComplaintClockInput!) {{ pauseComplaintClock(input: $input) {{
    complaint {{ id clockPaused }} {ERRORS} }} }}"""
RESUME = f"""mutation($input: ResumeComplaintClockInput!) {{ resumeComplaintClock(input: $input) {{
    complaint {{ id }} {ERRORS} }} }}"""
DELIVERY = f"""mutation($input: RecordMessageDeliveryInput!) {{
    recordMessageDelivery(input: $input) {{ complaint {{ id }} {ERRORS} }} }}"""


DAY = timedelta(days=1)


def _customer(backend: Backend, **fields: Any) -> dict[str, Any]:
    """A customer of BJ01 whose relationship manager is RM0001."""
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    branch = branch_id(backend, "SUP0001")
    return create_customer(backend, relationshipManager=manager, branch=branch, **fields)


def _merge(
    backend: Backend, into: dict[str, Any], duplicate: dict[str, Any], staff: str = "HO0001"
) -> dict[str, Any]:
    """mergeComplaints' payload (the reason: the same matter)."""
    values = {"into": into["id"], "duplicate": duplicate["id"], "reason": "同一事项"}
    return dict(backend.gql(MERGE, {"input": values}, staff=staff)["mergeComplaints"])


def _refused(payload: dict[str, Any], field: str) -> None:
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [([field], "HANDLER_CONFLICT")]


def test_cmp2_the_person_complained_about_does_not_withdraw_pause_or_merge_it(
    backend: Backend,
) -> None:
    """The relationship manager complained about recorded the customer's withdrawal and ended
    the complaint; the supervisor complained about paused its clock "for mediation" and merged
    it away. Recusal covers every step of the complaint, not only its tasks (办法第十七条)."""
    customer = _customer(backend)
    about_manager = steps.submit(backend, customer, complainedStaff="RM0001")
    withdrawn = backend.gql(
        WITHDRAW, {"input": {"id": about_manager["id"], "reason": "客户撤回"}}, staff="RM0001"
    )["withdrawComplaint"]
    _refused(withdrawn, "id")
    assert steps.read(backend, about_manager)["status"] == "REGISTERED"
    first = steps.submit(backend, customer, complainedStaff="SUP0001")
    again = steps.submit(backend, customer, complainedStaff="SUP0001")
    paused = backend.gql(
        PAUSE,
        {"input": {"id": first["id"], "reason": "MEDIATION", "note": "调解"}},
        staff="SUP0001",
    )["pauseComplaintClock"]
    _refused(paused, "id")
    merged = _merge(backend, first, again, "SUP0001")
    _refused(merged, "into")
    for complaint in (first, again):
        state = steps.read(backend, complaint)
        assert state["status"] == "REGISTERED"
        assert {"CLOCK_PAUSED", "MERGED_INTO", "MERGED_FROM"}.isdisjoint(steps.kinds(state))
    # Anyone else who may still does.
    done = backend.gql(
        WITHDRAW, {"input": {"id": about_manager["id"], "reason": "客户撤回"}}, staff="SUP0001"
    )["withdrawComplaint"]
    assert done["errors"] == [] and done["complaint"]["status"] == "WITHDRAWN"


def test_cmp2_the_person_complained_about_records_no_proof_of_delivery(backend: Backend) -> None:
    """A letter waits for a recorded receipt; the relationship manager complained about wrote
    one (made-up proof that starts the customer's review window). Refused; the handler may."""
    complaint = steps.submit(
        backend, _customer(backend, address="北京市海淀区中关村大街1号"), complainedStaff="RM0001"
    )
    steps.assign(backend, complaint)
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.investigation())
    letter = {k: v for k, v in steps.DECISION.items() if k != "proof_of_delivery"}
    steps.do(backend, "SH01CH01", complaint, "Task_DecisionNotice", {**letter, "channel": "LETTER"})
    receipt = {"complaint": complaint["id"], "kind": "DECISION_NOTICE", "proof": "客户已签收"}
    made_up = backend.gql(DELIVERY, {"input": receipt}, staff="RM0001")["recordMessageDelivery"]
    _refused(made_up, "complaint")
    notice = steps.read(backend, complaint)["messages"][-1]
    assert (notice["kind"], notice["proofOfDelivery"]) == ("DECISION_NOTICE", None)
    recorded = backend.gql(
        DELIVERY, {"input": receipt}, staff="SH01CH01", purpose="COMPLAINT_HANDLING"
    )["recordMessageDelivery"]
    assert recorded["errors"] == []


def test_cmp2_an_extension_declared_during_a_pause_is_kept(backend: Backend) -> None:
    """Paused on day 3 for an appraisal, declared complex on day 5, resumed on day 8 (five
    natural days paused): the deadline is day 30 + 5, not day 15 + 5. The extension was lost:
    compared with the deadline the pause might reach (day 75), day 30 looked like no extension,
    and the customer was never told of it."""
    complaint = steps.submit(backend, _customer(backend), category="LOANS_AND_CREDIT")
    steps.assign(backend, complaint)
    with clock.travel_to(_bj(3, 10), all_threads=True):
        note = {"id": complaint["id"], "reason": "APPRAISAL", "note": "委托司法鉴定"}
        paused = backend.gql(PAUSE, {"input": note}, staff="SH01CH01")["pauseComplaintClock"]
        assert paused["errors"] == []
    with clock.travel_to(_bj(5, 10), all_threads=True):
        complex_case = steps.investigation(
            complexity="COMPLEX",
            extension_reason="需调取外部机构资料",
            plan_deadline=(clock.today() + 20 * DAY).isoformat(),
        )
        steps.do(backend, "SH01CH01", complaint, "Task_Investigate", complex_case)
        during = steps.read(backend, complaint)
    assert during["complexity"] == "COMPLEX" and "DEADLINE_EXTENDED" in steps.kinds(during)
    told = [m["content"] for m in during["messages"] if m["kind"] == "EXTENSION"]
    assert len(told) == 1 and "受理之日起 30 日" in told[0]
    with clock.travel_to(_bj(8, 3), all_threads=True):
        resumed = backend.gql(RESUME, {"input": {"id": complaint["id"]}}, staff="SH01CH01")
    assert resumed["resumeComplaintClock"]["errors"] == []
    state = steps.read(backend, complaint)
    assert datetime.fromisoformat(state["decisionDueAt"]) == _bj(36)
    assert [t["dueAt"] for t in state["currentTasks"]] == [state["decisionDueAt"]]


def test_cmp3_a_notice_of_invisible_characters_is_blank(backend: Backend) -> None:
    """Facts of zero-width spaces, a basis of a word joiner, reasons of a byte-order mark and
    a proof of a soft hyphen passed the trimmed-blank check: the customer got a notice of
    nothing. Each is REQUIRED, nothing is sent; a visible text still goes through."""
    complaint = steps.submit(backend, _customer(backend))
    steps.assign(backend, complaint)
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.investigation())
    task = steps.task_of(backend, "SH01CH01", complaint, "Task_DecisionNotice")
    invisible = {
        "verified_facts": " \u200b\u200b ",
        "basis": "\u2060",
        "reasons": "\ufeff",
        "proof_of_delivery": "\u00ad",
    }
    refused = steps.complete(backend, "SH01CH01", task, {**steps.DECISION, **invisible})
    assert sorted((e["field"], e["code"]) for e in refused) == [
        (["data", name], "REQUIRED") for name in sorted(invisible)
    ]
    state = steps.read(backend, complaint)
    assert state["status"] == "INVESTIGATING"
    assert "DECISION_NOTICE" not in [m["kind"] for m in state["messages"]]
    assert (
        steps.complete(backend, "SH01CH01", task, {**steps.DECISION, "basis": "\u2060第十八条"})
        == []
    )


INCIDENTS = "{ processIncidents(first: 20) { edges { node { elementId status } } } }"


@pytest.mark.usefixtures("restore_original")
def test_cmp3_a_diagram_that_skips_the_decision_closes_nothing(backend: Backend) -> None:
    """A process owner redirected the "complex" flow straight to closing: the complaint was
    CLOSED without a decision, notice or call-back, and its clock vanished (ON_TRACK, not
    overdue). Closing needs the decision; the shortcut is an incident, the clock runs on."""
    shortcut = ORIGINAL.replace(
        'sourceRef="Gateway_Complexity" targetRef="Task_ExtendComplex"',
        'sourceRef="Gateway_Complexity" targetRef="Task_CloseComplaint"',
    )
    assert shortcut != ORIGINAL and _deploy(backend, shortcut)["errors"] == []
    complaint = steps.submit(backend, _customer(backend))
    steps.assign(backend, complaint)
    complex_case = steps.investigation(complexity="COMPLEX", extension_reason="需调取外部资料")
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", complex_case)
    state = steps.read(backend, complaint)
    assert (state["status"], state["closedAt"]) == ("INVESTIGATING", None)
    assert "CLOSED" not in steps.kinds(state)
    incidents = backend.gql(INCIDENTS, staff="PO0001")["processIncidents"]["edges"]
    assert {"elementId": "Task_CloseComplaint", "status": "OPEN"} in [e["node"] for e in incidents]
    due = datetime.fromisoformat(complaint["decisionDueAt"])
    with clock.travel_to(due, all_threads=True):
        assert steps.read(backend, complaint)["overdue"] is True


def test_cmp2_naming_another_unit_does_not_let_colleagues_handle_it(backend: Backend) -> None:
    """A complaint about BJ01RM02 that named the SH01 branch as the unit complained about was
    handled by CH0001, BJ01RM02's colleague in BJ01: the unit recusal looked at SH01 only.
    The staff member's unit is the unit complained about; another one is INCONSISTENT."""
    customer = _customer(backend)
    shanghai = branch_id(backend, "SH01CH01")
    values = {
        "customerId": customer["id"],
        "channel": "HOTLINE",
        "category": "FEES_AND_CHARGES",
        "description": "客户经理误导销售",
        "complainedStaff": "BJ01RM02",
        "complainedBranch": shanghai,
        "idempotencyKey": "attack-other-unit",
    }
    refused = backend.gql(steps.SUBMIT, {"input": values}, staff="RM0001")["submitComplaint"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["complainedBranch"], "INCONSISTENT")
    ]
    assert refused["complaint"] is None
    own = {**values, "complainedBranch": branch_id(backend, "SUP0001")}
    complaint = backend.gql(steps.SUBMIT, {"input": own}, staff="RM0001")["submitComplaint"]
    task = steps.task_of(backend, "SUP0001", complaint["complaint"], "Task_AssignHandler")
    conflict = steps.complete(backend, "SUP0001", task, {"handler": "CH0001"})
    assert [(e["field"], e["code"]) for e in conflict] == [(["data", "handler"], "DOMAIN_RULE")]


def test_cmp7_only_a_repeat_of_the_same_matter_is_merged(backend: Backend) -> None:
    """A customer's complaint about a staff member's conduct at another branch was merged into
    their earlier complaint about fees: it ended unanswered, its clock gone. A merge needs the
    same category and unit complained about (INCONSISTENT); nothing is written."""
    customer = _customer(backend)
    fees = steps.submit(backend, customer)
    conduct = steps.submit(
        backend, customer, category="SERVICE_ATTITUDE", complainedStaff="SH01RM01"
    )
    merged = _merge(backend, fees, conduct, "HO0001")
    assert [(e["field"], e["code"]) for e in merged["errors"]] == [(["duplicate"], "INCONSISTENT")]
    state = steps.read(backend, conduct)
    assert state["status"] == "REGISTERED" and "MERGED_INTO" not in steps.kinds(state)
    repeat = steps.submit(backend, customer)
    same = _merge(backend, fees, repeat, "HO0001")
    assert same["errors"] == []


def test_cmp7_a_regulator_referral_of_invisible_text_names_no_transfer(backend: Backend) -> None:
    """A referral "numbered" with a zero-width space was marked regulator-referred with an
    invisible reference: the optional text kept it. Blank is blank, optional or not."""
    values = {
        "customerId": _customer(backend)["id"],
        "channel": "REGULATOR_REFERRAL",
        "category": "FEES_AND_CHARGES",
        "description": "监管转办投诉",
        "regulatorReference": "\u200b\ufeff",
        "idempotencyKey": "attack-invisible-referral",
    }
    refused = backend.gql(steps.SUBMIT, {"input": values}, staff="RM0001")["submitComplaint"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["regulatorReference"], "REQUIRED")
    ]
    assert refused["complaint"] is None


def test_cmp2_a_breach_stays_when_the_complaint_ends_before_the_worker_runs(
    backend: Backend,
) -> None:
    """Withdrawn (or merged away) two hours after its decision deadline, before the timers
    worker ran: the complaint showed ON_TRACK with no missed deadline — the breach vanished.
    Ending it records the breach, once; the worker does not escalate it again."""
    customer = _customer(backend)
    withdrawn = steps.submit(backend, customer)
    steps.assign(backend, withdrawn)
    first = steps.submit(backend, customer)
    repeat = steps.submit(backend, customer)
    due = datetime.fromisoformat(withdrawn["decisionDueAt"])
    with clock.travel_to(due + timedelta(hours=2), all_threads=True):
        ended = backend.gql(
            WITHDRAW, {"input": {"id": withdrawn["id"], "reason": "客户撤回"}}, staff="SUP0001"
        )["withdrawComplaint"]
        assert ended["errors"] == []
        merged = _merge(backend, first, repeat, "SUP0001")
        assert merged["errors"] == []
        # The never-assigned repeat also missed its assignment: that breach stays too.
        expected = {"withdrawn": ["DECISION"], "repeat": ["ASSIGNMENT", "DECISION"]}
        for name, complaint in (("withdrawn", withdrawn), ("repeat", repeat)):
            state = steps.read(backend, complaint)
            assert state["slaState"] == "BREACHED"
            assert _missed_stages(state) == expected[name]
    steps.fire_timers(backend, due + 3 * DAY)
    assert _missed_stages(steps.read(backend, withdrawn)) == ["DECISION"]
    assert _missed_stages(steps.read(backend, repeat)) == ["ASSIGNMENT", "DECISION"]


def _missed_stages(state: dict[str, Any]) -> list[str]:
    return sorted(
        s["details"]["stage"] for s in state["timeline"] if s["kind"] == "DEADLINE_MISSED"
    )


def _shortcut(flow: str, source: str, target: str, to: str) -> str:
    """The shipped diagram with a gateway on ``flow`` (``source`` → ``target``) whose condition
    always holds: straight on to ``to``, ``target`` still reachable by its default flow — so
    every stage stays reachable in its order, as deploy checks."""
    old = f'<bpmn:sequenceFlow id="{flow}" sourceRef="{source}" targetRef="{target}" />'
    new = (
        f'<bpmn:sequenceFlow id="{flow}" sourceRef="{source}" targetRef="Gateway_Shortcut" />'
        '<bpmn:exclusiveGateway id="Gateway_Shortcut" default="Flow_Shortcut_Default" />'
        '<bpmn:sequenceFlow id="Flow_Shortcut_Default" sourceRef="Gateway_Shortcut" '
        f'targetRef="{target}" />'
        '<bpmn:sequenceFlow id="Flow_Shortcut_Taken" sourceRef="Gateway_Shortcut" '
        f'targetRef="{to}"><bpmn:conditionExpression>True'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )
    shapes = (
        '<bpmndi:BPMNShape id="Gateway_Shortcut_di" bpmnElement="Gateway_Shortcut">'
        '<dc:Bounds x="5000" y="5000" width="50" height="50" /></bpmndi:BPMNShape>'
        '<bpmndi:BPMNEdge id="Flow_Shortcut_Default_di" bpmnElement="Flow_Shortcut_Default">'
        '<di:waypoint x="5050" y="5025" /><di:waypoint x="5100" y="5025" /></bpmndi:BPMNEdge>'
        '<bpmndi:BPMNEdge id="Flow_Shortcut_Taken_di" bpmnElement="Flow_Shortcut_Taken">'
        '<di:waypoint x="5025" y="5050" /><di:waypoint x="5025" y="5100" /></bpmndi:BPMNEdge>'
    )
    lane = f"<bpmn:flowNodeRef>{source}</bpmn:flowNodeRef>"
    assert old in ORIGINAL and lane in ORIGINAL
    return (
        ORIGINAL.replace(old, new)
        .replace(lane, lane + "<bpmn:flowNodeRef>Gateway_Shortcut</bpmn:flowNodeRef>")
        .replace("</bpmndi:BPMNPlane>", shapes + "</bpmndi:BPMNPlane>")
    )


@pytest.mark.usefixtures("restore_original")
def test_cmp3_a_diagram_that_skips_the_investigation_decides_nothing(backend: Backend) -> None:
    """Deploy checks that each stage is reachable in its order, not that every path passes
    through them: a gateway sent the complaint from the assignment straight to the decision,
    which was recorded and sent with nothing investigated. The decision needs the
    investigation; the shortcut is an incident, and nothing reaches the customer."""
    shortcut = _shortcut(
        "Flow_RecordAssignment_Investigate",
        "Task_RecordAssignment",
        "Task_Investigate",
        "Gateway_ComplexityMerge",
    )
    assert _deploy(backend, shortcut)["errors"] == []
    complaint = steps.submit(backend, _customer(backend))
    steps.assign(backend, complaint)
    steps.do(backend, "SH01CH01", complaint, "Task_DecisionNotice", steps.DECISION)
    state = steps.read(backend, complaint)
    assert (state["status"], state["decidedAt"], state["outcome"]) == ("INVESTIGATING", None, None)
    assert "DECISION_NOTICE" not in [m["kind"] for m in state["messages"]]
    incidents = backend.gql(INCIDENTS, staff="PO0001")["processIncidents"]["edges"]
    assert {"elementId": "Task_SendDecision", "status": "OPEN"} in [e["node"] for e in incidents]


@pytest.mark.usefixtures("restore_original")
def test_cmp4_a_diagram_that_skips_the_call_back_closes_nothing(backend: Backend) -> None:
    """The same shortcut after the decision notice: the complaint closed with no call-back (no
    satisfaction asked, no review offered). Closing needs the call-back; an incident instead."""
    shortcut = _shortcut(
        "Flow_FollowUpFork_CallBack",
        "Gateway_FollowUpFork",
        "Task_CallBack",
        "Gateway_FollowUpJoin",
    )
    assert _deploy(backend, shortcut)["errors"] == []
    complaint = steps.submit(backend, _customer(backend))
    steps.assign(backend, complaint)
    steps.do(backend, "SH01CH01", complaint, "Task_Investigate", steps.investigation())
    steps.do(backend, "SH01CH01", complaint, "Task_DecisionNotice", steps.DECISION)
    # The customer declines a review (asked beside the call-back): the flow reaches closing.
    steps.do(backend, "RM0001", complaint, "Task_ReviewRequest", {"review_requested": False})
    state = steps.read(backend, complaint)
    assert (state["status"], state["closedAt"]) == ("DECIDED", None)
    incidents = backend.gql(INCIDENTS, staff="PO0001")["processIncidents"]["edges"]
    assert {"elementId": "Task_CloseComplaint", "status": "OPEN"} in [e["node"] for e in incidents]
