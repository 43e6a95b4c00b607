"""Single holders (CMP-2, CMP-4; 银行业保险业消费投诉处理管理办法 第十七条): when the only holder of
the role a task needs is the person complained about, the work is not left with nobody — it
goes to the next superior unit, and the timeline says so."""

from __future__ import annotations

from typing import Any

from tests.complaint_steps import assign, bj_customer, do, inbox_of, investigation, read, submit
from tests.conftest import Backend, branch_id, create_customer


def _sh01_customer(backend: Backend) -> dict[str, Any]:
    manager = backend.gql("{ me { id } }", staff="SH01RM01")["me"]["id"]
    return create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SH01SUP01")
    )


def test_cmp2_a_complaint_about_the_only_supervisor_is_assigned_by_the_superior_unit(
    backend: Backend,
) -> None:
    """SH01SUP01 is SH01's only supervisor and the person complained about: the assignment
    goes to head office (SH01 has no parent branch), not to nobody."""
    complaint = submit(
        backend, _sh01_customer(backend), staff="SH01RM01", complainedStaff="SH01SUP01"
    )
    assert "Task_AssignHandler" not in [e for _i, e in inbox_of(backend, "SH01SUP01", complaint)]
    assert "Task_AssignHandler" in [e for _i, e in inbox_of(backend, "HO0001", complaint)]
    state = read(backend, complaint)
    (task,) = state["currentTasks"]
    assert (task["elementId"], task["candidateRole"]) == ("Task_AssignHandler", "HEAD_OFFICE")
    rerouted = [s for s in state["timeline"] if s["kind"] == "TASK_REROUTED"]
    assert [(s["details"]["element"], s["details"]["unit"]) for s in rerouted] == [
        ("Task_AssignHandler", "总行")
    ]
    # Head office assigns a handler of another unit, and the complaint goes on.
    do(backend, "HO0001", complaint, "Task_AssignHandler", {"handler": "CH0001"})
    do(backend, "CH0001", complaint, "Task_Investigate", investigation(plan_owner="CH0001"))
    assert read(backend, complaint)["handler"] == {"employeeNo": "CH0001"}


def test_cmp2_a_branch_with_an_eligible_supervisor_keeps_its_assignment(backend: Backend) -> None:
    complaint = submit(backend, _sh01_customer(backend), staff="SH01RM01")
    assert "Task_AssignHandler" in [e for _i, e in inbox_of(backend, "SH01SUP01", complaint)]
    assert "TASK_REROUTED" not in [s["kind"] for s in read(backend, complaint)["timeline"]]


ALERTS = """{ complaintAlerts(first: 100) { edges { node { kind complaint { id } } } } }"""


def test_cmp2_a_task_nobody_in_the_bank_may_take_raises_an_alert(backend: Backend) -> None:
    """HO0001, the only head-office member, is the person complained about: the approval of a
    further extension (head office's) has nobody — head office is alerted, and the task is
    still kept from HO0001."""
    complaint = submit(backend, bj_customer(backend), complainedStaff="HO0001")
    assign(backend, complaint)
    especially = investigation(complexity="ESPECIALLY_COMPLEX", extension_reason="涉及多家机构")
    do(backend, "SH01CH01", complaint, "Task_Investigate", especially)
    # Read by the branch's supervisor: HO0001 reads no handling record of it (recusal).
    state = read(backend, complaint, staff="SUP0001")
    assert "Task_ApproveExtension" in [t["elementId"] for t in state["currentTasks"]]
    assert "Task_ApproveExtension" not in [e for _i, e in inbox_of(backend, "HO0001", complaint)]
    rerouted = [s["details"] for s in state["timeline"] if s["kind"] == "TASK_REROUTED"]
    assert [(d["element"], d["unit"]) for d in rerouted] == [("Task_ApproveExtension", None)]
    edges = backend.gql(ALERTS, staff="HO0001")["complaintAlerts"]["edges"]
    mine = [e["node"]["kind"] for e in edges if e["node"]["complaint"]["id"] == complaint["id"]]
    assert mine == ["NO_ELIGIBLE_HOLDER"]
