"""Complaint lifecycles through the HTTP API and the timers worker (CMP-1 … CMP-6)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from core import clock
from tests.complaint_steps import (
    DECISION,
    SUBMIT,
    assign,
    bj_customer,
    complete,
    decide_and_call_back,
    do,
    fire_timers,
    investigation,
    kinds,
    on_the_spot,
    read,
    submit,
    systemic,
    task_of,
)
from tests.conftest import Backend, branch_id

DAY = timedelta(days=1)


def _days_allowed(complaint: dict[str, Any]) -> int:
    accepted = datetime.fromisoformat(complaint["acceptedAt"])
    due = datetime.fromisoformat(complaint["decisionDueAt"])
    return (due - accepted).days


def test_cmp1_submission_registers_once_and_starts_the_process(backend: Backend) -> None:
    customer = bj_customer(backend)
    values = {
        "customerId": customer["id"],
        "channel": "BRANCH_COUNTER",
        "category": "SERVICE_ATTITUDE",
        "description": "柜员态度恶劣",
        "idempotencyKey": "counter-retry-1",
    }
    first = backend.gql(SUBMIT, {"input": values}, staff="RM0001")["submitComplaint"]
    again = backend.gql(SUBMIT, {"input": values}, staff="RM0001")["submitComplaint"]
    assert first["created"] is True and again["created"] is False
    assert again["complaint"]["id"] == first["complaint"]["id"]
    complaint = read(backend, first["complaint"])
    assert complaint["status"] == "REGISTERED"
    # Fifteen natural days from acceptance, ending at midnight Beijing time.
    assert 15 <= _days_allowed(complaint) <= 16
    assert datetime.fromisoformat(complaint["decisionDueAt"]).hour == 16  # 00:00 +08:00
    assert kinds(complaint)[0] == "REGISTERED"
    assert [m["kind"] for m in complaint["messages"]] == ["ACKNOWLEDGEMENT"]
    assert complaint["process"]["instance"]["activeElementIds"] == ["Task_AssignHandler"]
    assert complaint["currentTasks"][0]["candidateRole"] == "BRANCH_SUPERVISOR"
    listed = backend.gql(
        "{ complaints(first: 100, where: {status: {in: [REGISTERED]}}) { edges { node { id } } } }",
        staff="SUP0001",
        purpose="COMPLAINT_HANDLING",
    )["complaints"]["edges"]
    assert first["complaint"]["id"] in {e["node"]["id"] for e in listed}


def test_cmp1_bad_submission_names_the_fields_and_writes_nothing(backend: Backend) -> None:
    customer = bj_customer(backend)
    before = backend.gql("{ complaints(first: 1) { totalCount } }")["complaints"]["totalCount"]
    payload = backend.gql(
        SUBMIT,
        {
            "input": {
                "customerId": customer["id"],
                "channel": "EMAIL",
                "category": "CARDS",
                "description": "   ",
                "amountInDispute": "12.345",
                "complainedStaff": "NOBODY99",
                "idempotencyKey": "bad-1",
            }
        },
        staff="RM0001",
    )["submitComplaint"]
    fields = {(".".join(e["field"]), e["code"]) for e in payload["errors"]}
    assert fields == {
        ("description", "REQUIRED"),
        ("amountInDispute", "INVALID_AMOUNT"),
        ("complainedStaff", "NOT_FOUND"),
    }
    after = backend.gql("{ complaints(first: 1) { totalCount } }")["complaints"]["totalCount"]
    assert after == before
    forbidden = backend.post(
        SUBMIT,
        {
            "input": {
                "customerId": customer["id"],
                "channel": "EMAIL",
                "category": "CARDS",
                "description": "x",
                "idempotencyKey": "k",
            }
        },
        staff="MKT0001",
    ).json()
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_cmp2_the_person_or_unit_complained_about_cannot_handle_it(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    # CH0001 works in BJ01, the unit the complaint is about.
    errors = complete(backend, "SUP0001", task, {"handler": "CH0001"})
    assert [(e["field"], e["code"], e["complaintCode"]) for e in errors] == [
        (["data", "handler"], "DOMAIN_RULE", "HANDLER_CONFLICT")
    ]
    errors = complete(backend, "SUP0001", task, {"handler": "RM0001"})
    assert (errors[0]["code"], errors[0]["complaintCode"]) == ("DOMAIN_RULE", "INVALID_HANDLER")
    state = read(backend, complaint)
    assert state["status"] == "REGISTERED" and state["handler"] is None
    assert state["process"]["instance"]["activeElementIds"] == ["Task_AssignHandler"]
    assert "TASK_COMPLETED" not in kinds(state)  # nothing half-written
    assign(backend, complaint)
    state = read(backend, complaint)
    assert state["handler"]["employeeNo"] == "SH01CH01" and state["status"] == "INVESTIGATING"


def test_on_the_spot_resolution_to_close(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    do(
        backend,
        "SH01CH01",
        complaint,
        "Task_Investigate",
        on_the_spot(),
    )
    decide_and_call_back(backend, complaint, satisfied=True, score=5)
    state = read(backend, complaint)
    assert state["status"] == "CLOSED" and state["resolvedOnTheSpot"] is True
    assert state["satisfactionScore"] == 5 and state["slaState"] == "ON_TRACK"
    assert kinds(state)[-1] == "CLOSED"
    assert "RESOLVED_ON_THE_SPOT" in kinds(state)
    notice = next(m for m in state["messages"] if m["kind"] == "DECISION_NOTICE")
    assert notice["proofOfDelivery"] == DECISION["proof_of_delivery"]
    assert "救济途径" in notice["content"]
    instance = state["process"]["instance"]
    assert instance["status"] == "COMPLETED" and instance["activeElementIds"] == []
    assert "End_Closed" in instance["completedElementIds"]
    assert instance["stateSize"] <= 64 * 1024
    assert state["currentTasks"] == []


def test_standard_complaint_with_a_plan_is_decided_on_time(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    state = read(backend, complaint)
    assert "PLAN_MADE" in kinds(state) and state["complexity"] == "STANDARD"
    step = [s for s in state["timeline"] if s["kind"] == "TASK_COMPLETED"][-1]
    assert step["actor"] == "SH01CH01" and step["details"]["answers"]["evidence"]
    decide_and_call_back(backend, complaint)
    state = read(backend, complaint)
    assert state["status"] == "CLOSED" and state["outcome"] == "UPHELD"
    assert datetime.fromisoformat(state["decidedAt"]) <= datetime.fromisoformat(
        state["decisionDueAt"]
    )


def test_complex_case_is_extended_to_30_days_and_the_customer_told(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    do(
        backend,
        "SH01CH01",
        complaint,
        "Task_Investigate",
        investigation(complexity="COMPLEX", extension_reason="需调取外部机构资料"),
    )
    state = read(backend, complaint)
    assert state["complexity"] == "COMPLEX" and 30 <= _days_allowed(state) <= 31
    assert [m["kind"] for m in state["messages"]][-1] == "EXTENSION"
    assert state["currentTasks"][0]["elementId"] == "Task_DecisionNotice"
    assert state["currentTasks"][0]["dueAt"] == state["decisionDueAt"]


def test_especially_complex_case_needs_head_office_approval(backend: Backend) -> None:
    approved = submit(backend, bj_customer(backend))
    refused = submit(backend, bj_customer(backend))
    far = (clock.today() + timedelta(days=50)).isoformat()
    for complaint in (approved, refused):
        assign(backend, complaint)
        do(
            backend,
            "SH01CH01",
            complaint,
            "Task_Investigate",
            investigation(
                complexity="ESPECIALLY_COMPLEX", extension_reason="涉及多家机构", plan_deadline=far
            ),
        )
        assert read(backend, complaint)["complexity"] == "STANDARD"  # not before approval
    do(backend, "HO0001", approved, "Task_ApproveExtension", {"extension_approved": True})
    do(backend, "HO0001", refused, "Task_ApproveExtension", {"extension_approved": False})
    approved_state, refused_state = read(backend, approved), read(backend, refused)
    assert approved_state["complexity"] == "ESPECIALLY_COMPLEX"
    assert 60 <= _days_allowed(approved_state) <= 61
    assert refused_state["complexity"] == "COMPLEX" and 30 <= _days_allowed(refused_state) <= 31
    assert [m["kind"] for m in approved_state["messages"]].count("EXTENSION") == 1


def test_deadlines_beyond_60_days_are_refused(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    task = task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    too_late = (clock.today() + timedelta(days=75)).isoformat()
    errors = complete(
        backend,
        "SH01CH01",
        task,
        investigation(
            complexity="ESPECIALLY_COMPLEX", extension_reason="复杂", plan_deadline=too_late
        ),
    )
    assert [(e["field"], e["complaintCode"]) for e in errors] == [
        (["data", "plan_deadline"], "DEADLINE_TOO_LATE")
    ]
    beyond_standard = (clock.today() + timedelta(days=20)).isoformat()
    errors = complete(backend, "SH01CH01", task, investigation(plan_deadline=beyond_standard))
    assert errors[0]["complaintCode"] == "DEADLINE_TOO_LATE" and "15-day" in errors[0]["message"]
    assert read(backend, complaint)["process"]["instance"]["activeElementIds"][0] == (
        "Task_Investigate"
    )


def test_cmp6_warning_progress_updates_and_escalation_of_a_missed_deadline(
    backend: Backend,
) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    state = read(backend, complaint)
    due = datetime.fromisoformat(state["decisionDueAt"])
    # Nothing is due yet.
    fire_timers(backend, clock.now() + timedelta(hours=1))
    assert read(backend, complaint)["slaState"] == "ON_TRACK"
    # Ten days on: progress updates went out every five days.
    fire_timers(backend, clock.now() + 5 * DAY + timedelta(minutes=1))
    fire_timers(backend, clock.now() + 10 * DAY + timedelta(minutes=1))
    state = read(backend, complaint)
    assert [m["kind"] for m in state["messages"]].count("PROGRESS") == 2
    assert state["slaState"] == "ON_TRACK"
    # Two days before the deadline: the supervisor is warned.
    fire_timers(backend, due - 2 * DAY)
    state = read(backend, complaint)
    assert state["slaState"] == "AT_RISK" and "DEADLINE_WARNING" in kinds(state)
    assert kinds(state).count("DEADLINE_WARNING") == 1
    # Past the deadline: escalated; the supervisor sees it without asking.
    later = due + timedelta(hours=1)
    result = fire_timers(backend, later)
    assert result.failed == 0
    state = read(backend, complaint)
    assert state["slaState"] == "BREACHED" and "DEADLINE_MISSED" in kinds(state)
    with clock.travel_to(later, all_threads=True):
        assert read(backend, complaint)["overdue"] is True
        supervise = task_of(backend, "SUP0001", complaint, "Task_SuperviseOverdue")
        overdue = backend.gql(
            "{ complaints(first: 100, where: {overdue: {eq: true}}) { edges { node { id } } } }",
            staff="SUP0001",
            purpose="COMPLAINT_HANDLING",
        )["complaints"]["edges"]
        assert complaint["id"] in {e["node"]["id"] for e in overdue}
        assert complete(backend, "SUP0001", supervise, {"action": "已督促处理人当日答复"}) == []
        do(backend, "SH01CH01", complaint, "Task_Investigate", on_the_spot())
        do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
        state = read(backend, complaint)
    assert state["status"] == "DECIDED" and state["slaState"] == "BREACHED"
    # Running the worker again changes nothing: no timer fires twice.
    again = fire_timers(backend, later)
    assert read(backend, complaint)["timeline"] == state["timeline"]
    assert again.failed == 0


def test_cmp4_dissatisfied_customer_asks_for_a_review(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    decide_and_call_back(backend, complaint, satisfied=False, score=2)
    do(
        backend,
        "RM0001",
        complaint,
        "Task_ReviewRequest",
        {"review_requested": True, "reason": "退费金额不足"},
    )
    state = read(backend, complaint)
    assert state["status"] == "UNDER_REVIEW"
    review_due = datetime.fromisoformat(state["reviewDueAt"])
    assert (review_due - clock.now()).days in (29, 30)
    do(
        backend,
        "HO0001",
        complaint,
        "Task_Review",
        {"review_outcome": "DECISION_CHANGED", "explanation": "补退利息"},
    )
    state = read(backend, complaint)
    assert state["status"] == "CLOSED" and state["reviewOutcome"] == "DECISION_CHANGED"
    assert [m["kind"] for m in state["messages"]][-1] == "REVIEW_DECISION"


def test_cmp4_no_review_request_within_30_days_closes_the_complaint(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    decide_and_call_back(backend, complaint, satisfied=False, score=1)
    assert read(backend, complaint)["status"] == "DECIDED"
    fire_timers(backend, clock.now() + 29 * DAY)
    assert read(backend, complaint)["status"] == "DECIDED"
    fire_timers(backend, clock.now() + 31 * DAY)
    state = read(backend, complaint)
    assert state["status"] == "CLOSED" and state["currentTasks"] == []
    assert state["process"]["instance"]["status"] == "COMPLETED"


def test_cmp5_systemic_issue_raises_a_rectification_tracked_to_closure(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", systemic())
    state = read(backend, complaint)
    assert state["rectification"]["closedAt"] is None
    # CMP-7: an owner and a deadline (the end of its last day, Beijing time).
    assert state["rectification"]["owner"] == {"employeeNo": "HO0001"}
    due = clock.end_of_business_day(clock.today() + timedelta(days=20)).isoformat()
    assert state["rectification"]["dueAt"] == due
    decide_and_call_back(backend, complaint)
    state = read(backend, complaint)
    # The complaint is closed for the customer; head office still owes the rectification.
    assert state["status"] == "CLOSED"
    assert state["process"]["instance"]["status"] == "RUNNING"
    assert [t["elementId"] for t in state["currentTasks"]] == ["Task_Rectify"]
    do(
        backend,
        "HO0001",
        complaint,
        "Task_Rectify",
        {
            "actions": ["修订开户告知书", "全行培训"],
            "completed_on": clock.today().isoformat(),
            "recurrence_check": "整改后未再收到同类投诉",
        },
    )
    state = read(backend, complaint)
    assert state["rectification"]["actions"] == ["修订开户告知书", "全行培训"]
    assert state["rectification"]["recurrenceCheck"] == "整改后未再收到同类投诉"
    assert state["rectification"]["closedAt"] is not None
    assert state["process"]["instance"]["status"] == "COMPLETED"


def test_cmp5_statistics_by_category_channel_unit_cause_and_month(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend), category="CARDS", channel="ONLINE")
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation(cause="SYSTEM_FAULT"))
    decide_and_call_back(backend, complaint, score=4)
    query = """query($by: ComplaintDimension!) { complaintStatistics(by: $by) {
        key count closed decided decidedOnTime onTimeRate averageSatisfaction overdueOpen } }"""
    by_category = {
        r["key"]: r for r in backend.gql(query, {"by": "CATEGORY"})["complaintStatistics"]
    }
    assert by_category["CARDS"]["closed"] >= 1 and by_category["CARDS"]["onTimeRate"] == "1.0000"
    channels = {r["key"] for r in backend.gql(query, {"by": "CHANNEL"})["complaintStatistics"]}
    assert "ONLINE" in channels
    units = {r["key"] for r in backend.gql(query, {"by": "UNIT"})["complaintStatistics"]}
    assert "BJ01" in units
    causes = {r["key"] for r in backend.gql(query, {"by": "CAUSE"})["complaintStatistics"]}
    assert "SYSTEM_FAULT" in causes
    months = backend.gql(query, {"by": "MONTH"})["complaintStatistics"]
    assert f"{clock.now():%Y-%m}" in {r["key"] for r in months}
    # Marketing analysts (no customer rows) read the complaint indicators through `kpis`.
    refused = backend.post(query, {"by": "CATEGORY"}, staff="MKT0001").json()
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_tasks_only_candidates_complete_once_and_forms_are_validated(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    # Another branch's supervisor does not see the task, and may not complete it.
    other = backend.post(
        "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { errors { code } } }",
        {"i": {"id": task, "data": {"handler": "SH01CH01"}}},
        staff="SH01SUP01",
    ).json()
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    errors = complete(backend, "SUP0001", task, {"handler": 42, "colour": "red"})
    assert {(".".join(e["field"]), e["code"]) for e in errors} == {
        ("data.handler", "FORM_INVALID"),
        ("data.colour", "FORM_INVALID"),
    }
    assert complete(backend, "SUP0001", task, {}) == [
        {
            "field": ["data", "handler"],
            "code": "FORM_INVALID",
            "complaintCode": None,
            "message": "is required",
        }
    ]
    assert complete(backend, "SUP0001", task, {"handler": "SH01CH01"}) == []
    twice = complete(backend, "SUP0001", task, {"handler": "SH01CH01"})
    assert twice[0]["code"] == "TASK_NOT_OPEN"
    # The investigation is assigned to the handler: a colleague may not take it over.
    investigate = task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    stolen = backend.post(
        "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { errors { code } } }",
        {"i": {"id": investigate, "data": investigation()}},
        staff="CH0001",
    ).json()
    assert stolen["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    schema = backend.gql(
        "query($id: ID!) { task(id: $id) { formSchema formName } }",
        {"id": investigate},
        staff="SH01CH01",
    )["task"]
    assert schema["formName"] == "investigate"
    assert "complexity" in schema["formSchema"]["required"]


def test_claim_and_reassign_tasks(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    claim = "mutation($i: ClaimTaskInput!) { claimTask(input: $i) { task { assignee { employeeNo } } errors { code } } }"
    claimed = backend.gql(claim, {"i": {"id": task}}, staff="SUP0001")["claimTask"]
    assert claimed["task"]["assignee"]["employeeNo"] == "SUP0001"
    reassign = """mutation($i: ReassignTaskInput!) {
        reassignTask(input: $i) { task { assignee { employeeNo } } errors { field code } } }"""
    refused = backend.gql(reassign, {"i": {"id": task, "assignee": "RM0001"}}, staff="HO0001")[
        "reassignTask"
    ]
    assert refused["errors"] == [{"field": ["assignee"], "code": "NOT_A_CANDIDATE"}]
    moved = backend.gql(reassign, {"i": {"id": task, "assignee": "BJ01SUP01"}}, staff="HO0001")[
        "reassignTask"
    ]
    assert moved["task"]["assignee"]["employeeNo"] == "BJ01SUP01"
    mine = backend.gql(
        "{ myTasks(first: 100, where: {claimed: {eq: true}}) { edges { node { id } } } }",
        staff="BJ01SUP01",
    )["myTasks"]["edges"]
    assert task in {e["node"]["id"] for e in mine}
    not_mine = backend.post(
        "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { errors { code } } }",
        {"i": {"id": task, "data": {"handler": "SH01CH01"}}},
        staff="SUP0001",
    ).json()
    assert not_mine["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_complaint_handlers_see_the_customers_of_their_open_complaints(backend: Backend) -> None:
    """SHARE-1 row scope `rows:complaints`: assigned, open complaints only."""
    customer = bj_customer(backend)
    query = "query($id: ID!) { customer(id: $id) { id name phone } }"

    def sees() -> bool:
        body = backend.post(
            query, {"id": customer["id"]}, staff="SH01CH01", purpose="COMPLAINT_HANDLING"
        ).json()
        return bool(body["data"] and body["data"]["customer"])

    assert not sees()
    complaint = submit(backend, customer)
    assert not sees()  # registered, not yet assigned
    assign(backend, complaint)
    assert sees()
    listed = backend.gql(
        "{ customers(first: 100) { edges { node { id } } } }",
        staff="SH01CH01",
        purpose="COMPLAINT_HANDLING",
    )["customers"]["edges"]
    assert customer["id"] in {e["node"]["id"] for e in listed}
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    decide_and_call_back(backend, complaint)
    assert read(backend, complaint)["status"] == "CLOSED"
    assert not sees()
    # The handler still sees the complaint record itself, not the customer behind it.
    own = backend.gql(
        "query($id: ID!) { complaint(id: $id) { reference customer { id } } }",
        {"id": complaint["id"]},
        staff="SH01CH01",
        purpose="COMPLAINT_HANDLING",
    )["complaint"]
    assert own["reference"] == complaint["reference"]
    assert own["customer"] is None


def test_complaints_of_invisible_customers_are_not_found(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    body = backend.post(
        "query($id: ID!) { complaint(id: $id) { id } }",
        {"id": complaint["id"]},
        staff="SH01SUP01",
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (
        backend.gql(
            "query($id: ID!) { node(id: $id) { id } }", {"id": complaint["id"]}, staff="SH01SUP01"
        )["node"]
        is None
    )


def test_share4_reading_a_complaint_is_audited(backend: Backend) -> None:
    """Each field is recorded with the effect the reader got: FULL, MASKED, or not at all."""
    customer = bj_customer(backend)
    complaint = submit(backend, customer)
    read_it = """query ReadComplaint($id: ID!) {
        complaint(id: $id) { description amountInDispute timeline { kind } } }"""
    for staff, purpose in (("SUP0001", "COMPLAINT_HANDLING"), ("AUD0001", "AUDIT")):
        backend.post(read_it, {"id": complaint["id"]}, staff=staff, purpose=purpose)
    backend.client.app.state.auditor.flush()  # type: ignore[attr-defined]
    entries = backend.gql(
        """{ auditLog(first: 20, where: {action: {eq: READ}}) {
             edges { node { actor operation fields { field effect } } } } }""",
        staff="AUD0001",
        purpose="AUDIT",
    )["auditLog"]["edges"]
    latest: dict[str, dict[str, str]] = {}
    for edge in entries:  # newest first
        node = edge["node"]
        if node["operation"] == "ReadComplaint" and node["actor"] not in latest:
            latest[node["actor"]] = {f["field"]: f["effect"] for f in node["fields"]}
    assert latest["SUP0001"]["Complaint.description"] == "FULL"
    assert latest["SUP0001"]["Complaint.amountInDispute"] == "FULL"
    assert "Complaint.timeline" in latest["SUP0001"]
    # Auditors get the amount as a band and no description: the log says exactly that.
    assert latest["AUD0001"]["Complaint.amountInDispute"] == "MASKED"
    assert "Complaint.description" not in latest["AUD0001"]


def test_plat1_statements_of_complaint_and_task_lists_do_not_grow_with_the_page(
    backend: Backend,
) -> None:
    """Performance rule: nested data of a list loads in one statement per relation."""
    from store.db import StatementCounter

    for _ in range(12):
        complaint = submit(backend, bj_customer(backend))
        assign(backend, complaint)
    complaints = """query($n: Int!) { complaints(first: $n) { edges { node {
        reference customer { name } handler { employeeNo branch { code } }
        complainedStaff { employeeNo } timeline { kind actor } messages { kind }
        currentTasks { name assignee { employeeNo } formSchema processInstance { businessKey } }
        rectification { issue } process { instance { activeElementIds } version { number } }
    } } } }"""
    tasks = """query($n: Int!) { myTasks(first: $n) { edges { node {
        name formSchema assignee { employeeNo } processInstance { businessKey version { number } }
    } } } }"""
    for query, staff in ((complaints, "SUP0001"), (tasks, "SH01CH01")):
        # Warm the per-process caches (policy decisions, process versions) first, with the
        # largest page: other tests leave complaints on older diagram versions, each loaded
        # once per process, whichever page first shows one.
        backend.gql(query, {"n": 12}, staff=staff, purpose="COMPLAINT_HANDLING")
        counts = []
        for size in (3, 12):
            with StatementCounter(backend.engine) as counter:
                data = backend.gql(query, {"n": size}, staff=staff, purpose="COMPLAINT_HANDLING")
            assert len(next(iter(data.values()))["edges"]) == size
            counts.append(counter.count)
        assert counts[0] == counts[1], (staff, counts)


def test_bank_wide_statistics_cannot_be_narrowed_to_one_customer(backend: Backend) -> None:
    """Roles without customer rows get no complaint statistics at all — they read the complaint
    indicators through `kpis` — so no filter (a `customerId` would be one customer's complaint
    record and tell whether that person banks here) gives them anything."""
    customer = bj_customer(backend)
    submit(backend, customer, category="CARDS")
    query = """query($where: ComplaintWhere) { complaintStatistics(by: CATEGORY, where: $where) {
        key count averageSatisfaction } }"""
    own = backend.gql(query, {"where": {"customer": {"eq": customer["id"]}}}, staff="HO0001")
    assert {r["key"] for r in own["complaintStatistics"]} == {"CARDS"}
    for staff in ("MKT0001", "SEC0001", "PO0001"):
        body = backend.post(
            query, {"where": {"customer": {"eq": customer["id"]}}}, staff=staff
        ).json()
        assert body["data"] is None, (staff, body)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        branch = {"where": {"branch": {"eq": branch_id(backend, "SUP0001")}}}
        body = backend.post(query, branch, staff=staff).json()
        assert body["data"] is None and "`kpis`" in body["errors"][0]["message"], (staff, body)


OVERDUE_VIEWS = """query($id: ID!, $where: ComplaintWhere!) {
  complaint(id: $id) { overdue slaState }
  overdue: complaints(first: 100, where: {and: [$where, {overdue: {eq: true}}]}) {
    edges { node { id } } }
  breached: complaints(first: 100, where: {and: [$where, {slaState: {eq: BREACHED}}]}) {
    edges { node { id } } }
  complaintStatistics(by: CATEGORY, where: $where) { overdueOpen decided decidedOnTime }
}"""


def _overdue_views(backend: Backend, complaint: dict[str, Any], customer: str) -> tuple[Any, ...]:
    """What each view says about one complaint: the field, both filters, the statistics."""
    found = backend.gql(
        OVERDUE_VIEWS,
        {"id": complaint["id"], "where": {"customer": {"eq": customer}}},
        staff="RM0001",
    )
    (row,) = found["complaintStatistics"]
    return (
        found["complaint"]["overdue"],
        found["complaint"]["slaState"],
        [e["node"]["id"] for e in found["overdue"]["edges"]] == [complaint["id"]],
        [e["node"]["id"] for e in found["breached"]["edges"]] == [complaint["id"]],
        row["overdueOpen"],
    )


def test_cmp6_one_overdue_rule_the_deadline_instant_itself_is_overdue(backend: Backend) -> None:
    """The field, the filters, slaState and the statistics agree at the boundary, before any
    timer has run: a second before the deadline nothing is overdue; at the deadline instant
    everything says so."""
    customer = bj_customer(backend)
    complaint = submit(backend, customer)
    assign(backend, complaint)  # the assignment's own clock is not what is tested here
    due = datetime.fromisoformat(complaint["decisionDueAt"])
    with clock.travel_to(due - timedelta(seconds=1), all_threads=True):
        assert _overdue_views(backend, complaint, customer["id"]) == (
            False,
            "ON_TRACK",
            False,
            False,
            0,
        )
    with clock.travel_to(due, all_threads=True):
        assert _overdue_views(backend, complaint, customer["id"]) == (
            True,
            "BREACHED",
            True,
            True,
            1,
        )


def test_cmp5_a_decision_at_the_deadline_instant_is_not_on_time(backend: Backend) -> None:
    customer = bj_customer(backend)
    complaint = submit(backend, customer)
    due = datetime.fromisoformat(complaint["decisionDueAt"])
    with clock.travel_to(due, all_threads=True):
        assign(backend, complaint)
        do(backend, "SH01CH01", complaint, "Task_Investigate", on_the_spot())
        do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
        found = backend.gql(
            OVERDUE_VIEWS,
            {"id": complaint["id"], "where": {"customer": {"eq": customer["id"]}}},
            staff="RM0001",
        )
    assert found["complaint"] == {"overdue": False, "slaState": "BREACHED"}
    assert found["complaintStatistics"] == [{"overdueOpen": 0, "decided": 1, "decidedOnTime": 0}]


def test_cmp6_date_time_filters_compare_utc_instants(backend: Backend) -> None:
    customer = bj_customer(backend)
    complaint = submit(backend, customer)
    accepted = datetime.fromisoformat(read(backend, complaint)["acceptedAt"])
    beijing = timezone(timedelta(hours=8))
    query = """query($where: ComplaintWhere!) { complaints(first: 5, where: $where) {
        edges { node { id } } } }"""

    def listed(**accepted_at: str) -> bool:
        where = {"customer": {"eq": customer["id"]}, "acceptedAt": accepted_at}
        edges = backend.gql(query, {"where": where}, staff="RM0001")["complaints"]["edges"]
        return [e["node"]["id"] for e in edges] == [complaint["id"]]

    # The same instant written in Beijing time: inclusive at both ends.
    assert listed(gte=accepted.astimezone(beijing).isoformat())
    assert listed(lte=accepted.astimezone(beijing).isoformat())
    assert not listed(gte=(accepted + timedelta(seconds=1)).astimezone(beijing).isoformat())
    # A time without an offset names no instant: refused, naming the input.
    body = backend.post(
        query,
        {"where": {"acceptedAt": {"gte": "2026-01-01T00:00:00"}}},
        staff="RM0001",
    ).json()
    (error,) = body["errors"]
    assert error["extensions"]["fields"][0]["code"] == "INVALID"
