"""Recusal on every path to a complaint's tasks (CMP-2, CMP-4; 办法第十七条 回避制度).

The person complained about is the actor in each test: given a task by reassignment, claiming
it, completing it, reassigning it, finding it in their inbox, or named by the diagram as the
call-back's assignee. Each path is refused (or rerouted) by the one rule, with nothing written.
"""

from __future__ import annotations

from typing import Any

import pytest

from store.staff import Staff
from tests.complaint_steps import (
    DECISION,
    TASKS,
    assign,
    complaint_pk,
    complete,
    do,
    investigation,
    kinds,
    read,
    submit,
    task_of,
    tasks_of,
)
from tests.conftest import Backend, branch_id, create_customer
from tests.test_workflows import ORIGINAL, _deploy, restore_original  # noqa: F401 - a fixture

CLAIM = """mutation($i: ClaimTaskInput!) {
  claimTask(input: $i) { task { assignee { employeeNo } } errors { field code complaintCode message } } }"""
REASSIGN = """mutation($i: ReassignTaskInput!) {
  reassignTask(input: $i) { task { assignee { employeeNo } }
                            errors { field code complaintCode message } } }"""
TASK = "query($id: ID!) { task(id: $id) { status assignee { employeeNo } } }"


def _customer(backend: Backend, manager: str = "RM0001") -> dict[str, Any]:
    """A customer of BJ01 whose relationship manager is ``manager``."""
    manager_id = backend.gql("{ me { id } }", staff=manager)["me"]["id"]
    return create_customer(
        backend, relationshipManager=manager_id, branch=branch_id(backend, "SUP0001")
    )


def _errors(payload: dict[str, Any]) -> list[tuple[list[str], str, str | None]]:
    return [(e["field"], e["code"], e["complaintCode"]) for e in payload["errors"]]


def _inbox(backend: Backend, staff: str, complaint: dict[str, Any]) -> list[str]:
    key = f"complaint:{complaint_pk(backend, complaint)}"
    edges = backend.gql(TASKS, tasks_of("complaint"), staff=staff)["myTasks"]["edges"]
    return [
        e["node"]["elementId"] for e in edges if e["node"]["processInstance"]["businessKey"] == key
    ]


def test_cmp4_reassigning_the_investigation_to_the_person_complained_about_is_refused(
    backend: Backend,
) -> None:
    """The reported case: reassignTask gave BJ01CH01 the investigation of a complaint about
    BJ01CH01, who then completed it. Nor may it go to a colleague of the unit complained about
    (whose supervisor no longer reassigns it: the task belongs to the superior unit)."""
    complaint = submit(backend, _customer(backend), complainedStaff="BJ01CH01")
    assign(backend, complaint)
    task = task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    for person in ("BJ01CH01", "CH0001"):
        refused = backend.gql(REASSIGN, {"i": {"id": task, "assignee": person}}, staff="HO0001")[
            "reassignTask"
        ]
        assert _errors(refused) == [(["assignee"], "DOMAIN_RULE", "HANDLER_CONFLICT")], person
        assert "BJ01CH01" not in refused["errors"][0]["message"]
        theirs = backend.post(
            REASSIGN, {"i": {"id": task, "assignee": person}}, staff="SUP0001"
        ).json()
        assert theirs["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert backend.gql(TASK, {"id": task})["task"]["assignee"]["employeeNo"] == "SH01CH01"
    assert "Task_Investigate" not in _inbox(backend, "BJ01CH01", complaint)
    # So the person complained about cannot complete it either: it is someone else's.
    done = backend.post(
        "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { errors { code } } }",
        {"i": {"id": task, "data": investigation()}},
        staff="BJ01CH01",
    ).json()
    assert done["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "PLAN_MADE" not in kinds(read(backend, complaint))


def _supervisor_path(backend: Backend, path: str, task: str) -> None:
    """SUP0001, the supervisor complained about, takes one path to the assignment task."""
    if path == "inbox":
        assert "Task_AssignHandler" not in _inbox_of_task(backend, "SUP0001", task)
    elif path == "claim":
        claimed = backend.gql(CLAIM, {"i": {"id": task}}, staff="SUP0001")["claimTask"]
        assert _errors(claimed) == [(["id"], "DOMAIN_RULE", "HANDLER_CONFLICT")]
        assert claimed["task"] is None
    elif path == "complete":
        errors = complete(backend, "SUP0001", task, {"handler": "SH01CH01"})
        assert [(e["field"], e["code"], e["complaintCode"]) for e in errors] == [
            (["id"], "DOMAIN_RULE", "HANDLER_CONFLICT")
        ]
    elif path == "reassign":  # the supervisor complained about picks who does it
        moved = backend.gql(REASSIGN, {"i": {"id": task, "assignee": "BJ01SUP01"}}, staff="SUP0001")
        assert _errors(moved["reassignTask"]) == [(["id"], "DOMAIN_RULE", "HANDLER_CONFLICT")]
    else:  # head office hands it to them
        given = backend.gql(REASSIGN, {"i": {"id": task, "assignee": "SUP0001"}}, staff="HO0001")
        assert _errors(given["reassignTask"]) == [(["assignee"], "DOMAIN_RULE", "HANDLER_CONFLICT")]


def _inbox_of_task(backend: Backend, staff: str, task: str) -> list[str]:
    edges = backend.gql(TASKS, tasks_of("complaint"), staff=staff)["myTasks"]["edges"]
    return [e["node"]["elementId"] for e in edges if e["node"]["id"] == task]


@pytest.mark.parametrize("path", ["inbox", "claim", "complete", "reassign", "reassigned_to"])
def test_cmp4_the_supervisor_complained_about_takes_no_path_to_the_assignment(
    backend: Backend, path: str
) -> None:
    """A complaint about the branch supervisor SUP0001: the assignment task is not in their
    inbox, and claiming, completing, reassigning it or being given it is refused, with nothing
    written; the other supervisor of the branch (BJ01SUP01) assigns the handler."""
    complaint = submit(backend, _customer(backend), complainedStaff="SUP0001")
    task = task_of(backend, "BJ01SUP01", complaint, "Task_AssignHandler")
    _supervisor_path(backend, path, task)
    assert backend.gql(TASK, {"id": task})["task"] == {"status": "OPEN", "assignee": None}
    state = read(backend, complaint)
    assert state["handler"] is None and "TASK_COMPLETED" not in kinds(state)
    do(backend, "BJ01SUP01", complaint, "Task_AssignHandler", {"handler": "SH01CH01"})
    assert read(backend, complaint)["handler"]["employeeNo"] == "SH01CH01"


def test_cmp4_head_office_staff_complained_about_take_no_bank_wide_task(
    backend: Backend,
) -> None:
    """Bank-wide tasks too: a complaint about HO0001 keeps HO0001 out of its head-office tasks
    (here the approval of an especially complex case's extension): not in their inbox, no
    claim, no completion — another head-office member does it."""
    complaint = submit(backend, _customer(backend), complainedStaff="HO0001")
    assign(backend, complaint)
    answers = investigation(complexity="ESPECIALLY_COMPLEX", extension_reason="需外部鉴定")
    do(backend, "SH01CH01", complaint, "Task_Investigate", answers)
    current = backend.gql(
        "query($id: ID!) { complaint(id: $id) { currentTasks { id elementId candidateRole } } }",
        {"id": complaint["id"]},
        staff="SUP0001",
    )["complaint"]["currentTasks"]
    task, element = next(
        (t["id"], t["elementId"]) for t in current if t["candidateRole"] == "HEAD_OFFICE"
    )
    assert element not in _inbox(backend, "HO0001", complaint)
    claimed = backend.gql(CLAIM, {"i": {"id": task}}, staff="HO0001")["claimTask"]
    assert _errors(claimed) == [(["id"], "DOMAIN_RULE", "HANDLER_CONFLICT")]
    errors = complete(backend, "HO0001", task, {"extension_approved": True})
    assert [(e["field"], e["code"]) for e in errors] == [(["id"], "DOMAIN_RULE")]
    assert backend.gql(TASK, {"id": task})["task"] == {"status": "OPEN", "assignee": None}


def test_cmp4_the_call_back_skips_the_relationship_manager_complained_about(
    backend: Backend,
) -> None:
    """The customer's own manager BJ01RM02 is complained about: the diagram names them as the
    call-back's assignee, and the call-back goes to another manager of the branch instead
    (the first by employee number, BJ01RM01), noted in the timeline."""
    customer = _customer(backend, "BJ01RM02")
    complaint = submit(backend, customer, "SUP0001", complainedStaff="BJ01RM02")
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    assert "Task_CallBack" not in _inbox(backend, "BJ01RM02", complaint)
    task = task_of(backend, "BJ01RM01", complaint, "Task_CallBack")
    assert backend.gql(TASK, {"id": task})["task"]["assignee"]["employeeNo"] == "BJ01RM01"
    state = read(backend, complaint)
    rerouted = [step for step in state["timeline"] if step["kind"] == "TASK_REROUTED"]
    assert [step["details"]["to"] for step in rerouted] == ["BJ01RM01"]
    # Moving it back to them is refused, and they cannot complete it.
    back = backend.gql(REASSIGN, {"i": {"id": task, "assignee": "BJ01RM02"}}, staff="SUP0001")
    assert _errors(back["reassignTask"]) == [(["assignee"], "DOMAIN_RULE", "HANDLER_CONFLICT")]
    answers = {"satisfaction_score": 5, "satisfied": True, "comments": "满意"}
    theirs = backend.post(
        "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { errors { code } } }",
        {"i": {"id": task, "data": answers}},
        staff="BJ01RM02",
    ).json()
    assert theirs["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    do(backend, "BJ01RM01", complaint, "Task_CallBack", answers)
    # The review question follows the call-back to the same stand-in (CMP-4).
    assert "Task_ReviewRequest" not in _inbox(backend, "BJ01RM02", complaint)
    do(backend, "BJ01RM01", complaint, "Task_ReviewRequest", {"review_requested": False})
    assert read(backend, complaint)["status"] == "CLOSED"


def test_cmp4_the_resolution_plan_has_no_owner_the_complaint_is_about(backend: Backend) -> None:
    """Carrying out the resolution plan is handling the complaint: its owner is not the person
    complained about (the investigation is refused naming the field, nothing written)."""
    complaint = submit(backend, _customer(backend), complainedStaff="BJ01RM02")
    assign(backend, complaint)
    task = task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    errors = complete(backend, "SH01CH01", task, investigation(plan_owner="BJ01RM02"))
    assert [(e["field"], e["code"], e["complaintCode"]) for e in errors] == [
        (["data", "plan_owner"], "DOMAIN_RULE", "HANDLER_CONFLICT")
    ]
    assert "PLAN_MADE" not in kinds(read(backend, complaint))
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation(plan_owner="BJ01RM01"))


def _set_active(backend: Backend, numbers: list[str], active: bool) -> None:
    with backend.engine.begin() as connection:
        connection.execute(
            Staff.__table__.update()
            .where(Staff.employee_no.in_(numbers))  # type: ignore[attr-defined]
            .values(active=active)
        )


def test_cmp4_without_another_manager_the_call_back_goes_to_the_supervisor(
    backend: Backend,
) -> None:
    """XA01's only active manager, the customer's own XA01RM01, is complained about: the
    call-back goes to the branch's supervisor XA01SUP01, who does it."""
    manager = backend.gql("{ me { id } }", staff="XA01RM01")["me"]["id"]
    customer = create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "XA01SUP01")
    )
    complaint = submit(backend, customer, "XA01SUP01", complainedStaff="XA01RM01")
    do(backend, "XA01SUP01", complaint, "Task_AssignHandler", {"handler": "SH01CH01"})
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    others = ["XA01RM02", "XA01RM03", "XA01RM04"]
    _set_active(backend, others, False)
    try:
        do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    finally:
        _set_active(backend, others, True)
    task = task_of(backend, "XA01SUP01", complaint, "Task_CallBack")
    assert backend.gql(TASK, {"id": task})["task"]["assignee"]["employeeNo"] == "XA01SUP01"
    answers = {"satisfaction_score": 4, "satisfied": True, "comments": "满意"}
    do(backend, "XA01SUP01", complaint, "Task_CallBack", answers)
    # Managers are back by now: the review question goes to the first of them, never XA01RM01.
    assert "Task_ReviewRequest" not in _inbox(backend, "XA01RM01", complaint)
    do(backend, "XA01RM02", complaint, "Task_ReviewRequest", {"review_requested": False})
    assert read(backend, complaint)["status"] == "CLOSED"


@pytest.mark.usefixtures("restore_original")
def test_cmp4_a_diagram_without_the_handler_as_assignee_still_keeps_the_unit_out(
    backend: Backend,
) -> None:
    """A process owner drops the investigation's assignee: the task waits for the handlers of
    the customer's branch — the unit complained about — and none of them sees it in their
    inbox or may claim it (the rule holds in code, whatever the diagram says)."""
    unassigned = ORIGINAL.replace(
        """<spiffworkflow:property name="assignee" value='assignment["handler_id"]' />""", "", 1
    )
    assert _deploy(backend, unassigned)["errors"] == []
    complaint = submit(backend, _customer(backend), complainedStaff="BJ01RM02")
    assign(backend, complaint)
    current = backend.gql(
        "query($id: ID!) { complaint(id: $id) { currentTasks { id elementId } } }",
        {"id": complaint["id"]},
        staff="SUP0001",
    )["complaint"]["currentTasks"]
    task = next(t["id"] for t in current if t["elementId"] == "Task_Investigate")
    for handler in ("CH0001", "BJ01CH01"):
        assert _inbox(backend, handler, complaint) == [], handler
        claimed = backend.gql(CLAIM, {"i": {"id": task}}, staff=handler)["claimTask"]
        assert _errors(claimed) == [(["id"], "DOMAIN_RULE", "HANDLER_CONFLICT")], handler
    assert backend.gql(TASK, {"id": task})["task"] == {"status": "OPEN", "assignee": None}
