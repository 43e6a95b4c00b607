"""Driving complaints through the API, as the staff of each lane would (CMP tests' helpers)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from core import clock
from kehu.worker import RunResult, run_once
from tests.conftest import Backend, branch_id, create_customer

SUBMIT = """
mutation($input: SubmitComplaintInput!) {
  submitComplaint(input: $input) {
    created
    complaint { id reference status decisionDueAt }
    errors { field code message }
  }
}
"""
TASKS = """
query($where: TaskWhere, $after: String) {
  myTasks(where: $where, first: 100, after: $after) {
    edges { node { id name elementId candidateRole dueAt overdue formName
                   processInstance { businessKey } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
COMPLETE = """
mutation($input: CompleteTaskInput!) {
  completeTask(input: $input) { task { id status } errors { field code complaintCode message } }
}
"""
COMPLAINT = """
query($id: ID!) {
  complaint(id: $id) {
    id reference status complexity slaState overdue acceptedAt decisionDueAt decidedAt outcome
    satisfactionScore reviewDueAt reviewOutcome closedAt systemic cause resolvedOnTheSpot
    handler { employeeNo }
    timeline { kind actor at details }
    messages { kind channel content proofOfDelivery }
    currentTasks { elementId candidateRole dueAt }
    rectification { issue actions closedAt dueAt owner { employeeNo } recurrenceCheck }
    process { instance { status activeElementIds completedElementIds stateSize nextDueAt }
              version { number processKey } }
  }
}
"""
_keys = itertools.count(1)


def bj_customer(backend: Backend) -> dict[str, Any]:
    """A customer of RM0001 in BJ01 (the supervisor SUP0001's branch)."""
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    return create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )


def submit(
    backend: Backend, customer: dict[str, Any], staff: str = "RM0001", **extra: Any
) -> dict[str, Any]:
    values = {
        "customerId": customer["id"],
        "channel": "HOTLINE",
        "category": "FEES_AND_CHARGES",
        "description": "账户管理费扣收未提前告知",
        "requestedRemedy": "退还管理费",
        "amountInDispute": "120.00",
        "complainedStaff": "BJ01RM02",
        "idempotencyKey": f"hotline-{next(_keys)}",
    }
    values.update(extra)
    payload = backend.gql(SUBMIT, {"input": values}, staff=staff)["submitComplaint"]
    assert payload["errors"] == [], payload["errors"]
    return dict(payload["complaint"])


def task_of(backend: Backend, staff: str, complaint: dict[str, Any], element: str) -> str:
    """The id of the open task ``element`` of this complaint in ``staff``'s inbox."""
    found = inbox_of(backend, staff, complaint)
    for task_id, element_id in found:
        if element_id == element:
            return task_id
    key = f"complaint:{complaint_pk(backend, complaint)}"
    raise AssertionError(f"{staff} has no {element} for {key}, only {[e for _, e in found]}")


def inbox_of(backend: Backend, staff: str, complaint: dict[str, Any]) -> list[tuple[str, str]]:
    """The (id, element) of every open task of this complaint in ``staff``'s inbox."""
    key = f"complaint:{complaint_pk(backend, complaint)}"
    variables: dict[str, Any] = tasks_of("complaint")
    found: list[tuple[str, str]] = []
    while True:  # page through: a long suite leaves many open tasks in one inbox
        page = backend.gql(TASKS, variables, staff=staff)["myTasks"]
        found += [
            (str(edge["node"]["id"]), edge["node"]["elementId"])
            for edge in page["edges"]
            if edge["node"]["processInstance"]["businessKey"] == key
        ]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        variables["after"] = page["pageInfo"]["endCursor"]


def tasks_of(process: str, overdue: bool | None = None) -> dict[str, Any]:
    """Variables of ``TASKS``: the inbox's tasks of ``process`` (only overdue ones, or none)."""
    where: dict[str, Any] = {"process": {"eq": process}}
    if overdue is not None:
        where["overdue"] = {"eq": overdue}
    return {"where": where}


def complaint_pk(backend: Backend, complaint: dict[str, Any]) -> int:
    return int(complaint["reference"].rsplit("-", 1)[1])


def complete(
    backend: Backend, staff: str, task_id: str, data: dict[str, Any]
) -> list[dict[str, Any]]:
    """Complete a task; returns the payload errors (empty when it went through)."""
    payload = backend.gql(COMPLETE, {"input": {"id": task_id, "data": data}}, staff=staff)[
        "completeTask"
    ]
    return list(payload["errors"])


def do(
    backend: Backend, staff: str, complaint: dict[str, Any], element: str, data: dict[str, Any]
) -> None:
    errors = complete(backend, staff, task_of(backend, staff, complaint, element), data)
    assert errors == [], errors


def read(backend: Backend, complaint: dict[str, Any], staff: str = "HO0001") -> dict[str, Any]:
    return dict(backend.gql(COMPLAINT, {"id": complaint["id"]}, staff=staff)["complaint"])


def on_the_spot() -> dict[str, Any]:
    """Investigation answers of a complaint resolved on the spot (no plan)."""
    values = investigation(on_the_spot=True)
    for key in ("plan", "plan_owner", "plan_deadline"):
        values.pop(key)
    return values


def investigation(**extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "findings": "系统按月扣收账户管理费，开户时未告知",
        "evidence": ["开户申请书影印件", "扣费流水"],
        "coordination_notes": "已与运营管理部核对收费规则",
        "cause": "PROCESS_DEFECT",
        "systemic": False,
        "on_the_spot": False,
        "complexity": "STANDARD",
        "plan": "退还已扣管理费并补充告知",
        "plan_owner": "SH01CH01",
        "plan_deadline": (clock.today() + timedelta(days=10)).isoformat(),
    }
    values.update(extra)
    return values


def systemic(**extra: Any) -> dict[str, Any]:
    """Investigation answers of a systemic issue: its rectification's owner and deadline."""
    values = investigation(
        systemic=True,
        rectification_owner="HO0001",
        rectification_deadline=(clock.today() + timedelta(days=20)).isoformat(),
    )
    values.update(extra)
    return values


# Handed over at the counter: the handler's record is the proof, so the notice is delivered
# at once (channels with a sender are delivered by the outbox sweep; see test_delivery.py).
DECISION = {
    "verified_facts": "开户时未书面告知账户管理费",
    "basis": "《商业银行服务价格管理办法》第十八条",
    "reasons": "收费前未履行告知义务，应予退还",
    "outcome": "UPHELD",
    "channel": "IN_PERSON",
    "proof_of_delivery": "客户签收回执 20261129-0001",
}


def assign(backend: Backend, complaint: dict[str, Any], handler: str = "SH01CH01") -> None:
    do(backend, "SUP0001", complaint, "Task_AssignHandler", {"handler": handler})


def decide_and_call_back(
    backend: Backend, complaint: dict[str, Any], satisfied: bool = True, score: int = 5
) -> None:
    do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    do(
        backend,
        "RM0001",
        complaint,
        "Task_CallBack",
        {"satisfaction_score": score, "satisfied": satisfied, "comments": "处理及时"},
    )
    if satisfied:
        # A satisfied customer may still ask for a review (CMP-4); this one declines.
        do(backend, "RM0001", complaint, "Task_ReviewRequest", {"review_requested": False})


def fire_timers(backend: Backend, at: datetime) -> RunResult:
    """``kehu worker --once --now <at>``, in process."""
    return run_once(backend.engine, at)


def kinds(complaint: dict[str, Any]) -> list[str]:
    return [step["kind"] for step in complaint["timeline"]]
