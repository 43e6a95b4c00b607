"""Who handles a complaint when its handler's task changes hands (CMP-2; recusal, CMP-4).

The complaint's handler is one fact: whoever holds the handler's task (investigation, decision)
after a reassignment or a claim is the handler — the complaint row, the process data that names
the decision's assignee and the timeline follow, and the previous handler no longer sees the
complaint through handling it. A complaint about the customer's own branch sends the handler's
tasks to the superior unit (the branch's parent, head office for a branch without one), whose
handlers and supervisors take them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from store.staff import Branch, Staff
from tests.complaint_steps import DECISION, assign, do, investigation, read, submit, task_of
from tests.conftest import Backend
from tests.test_complaint_recusal import CLAIM, REASSIGN, TASK, _customer, _errors, _inbox
from tests.test_workflows import ORIGINAL, _deploy, restore_original  # noqa: F401 - a fixture

SEEN = "query($id: ID!) { complaint(id: $id) { id handler { employeeNo } } }"
UNASSIGNED = ORIGINAL.replace(
    """<spiffworkflow:property name="assignee" value='assignment["handler_id"]' />""", "", 1
)


def _handler_steps(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [s["details"] for s in state["timeline"] if s["kind"] == "HANDLER_ASSIGNED"]


def _sees(backend: Backend, staff: str, complaint: dict[str, Any]) -> bool:
    answer = backend.post(SEEN, {"id": complaint["id"]}, staff=staff).json()
    return (answer.get("data") or {}).get("complaint") is not None


def _reassign(backend: Backend, supervisor: str, task: str, person: str) -> None:
    moved = backend.gql(REASSIGN, {"i": {"id": task, "assignee": person}}, staff=supervisor)
    assert moved["reassignTask"]["errors"] == [], moved
    assert moved["reassignTask"]["task"]["assignee"]["employeeNo"] == person


def _followed(backend: Backend, complaint: dict[str, Any], new: str, old: str) -> None:
    """The complaint's handler is ``new``: on the complaint, in the timeline, in who sees it."""
    state = read(backend, complaint)
    assert state["handler"]["employeeNo"] == new
    assert _handler_steps(state)[-1]["handler"] == new
    assert _handler_steps(state)[-1]["previous"] == old
    assert _sees(backend, new, complaint)
    assert not _sees(backend, old, complaint)


def test_cmp2_reassigning_the_investigation_makes_the_new_assignee_the_handler(
    backend: Backend,
) -> None:
    """SUP0001 moves the investigation from SH01CH01 to CH0001 (a complaint about another
    branch's staff): CH0001 is the handler, sees the complaint, and is given the decision;
    SH01CH01 no longer sees the complaint nor gets its decision."""
    complaint = submit(backend, _customer(backend), complainedStaff="GZ01RM01")
    assign(backend, complaint)
    task = task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    _reassign(backend, "SUP0001", task, "CH0001")
    _followed(backend, complaint, "CH0001", "SH01CH01")
    do(backend, "CH0001", complaint, "Task_Investigate", investigation())
    decision = task_of(backend, "CH0001", complaint, "Task_DecisionNotice")
    assert backend.gql(TASK, {"id": decision})["task"]["assignee"]["employeeNo"] == "CH0001"
    assert "Task_DecisionNotice" not in _inbox(backend, "SH01CH01", complaint)
    do(backend, "CH0001", complaint, "Task_DecisionNotice", DECISION)
    assert read(backend, complaint)["handler"]["employeeNo"] == "CH0001"


def test_cmp2_reassigning_the_decision_makes_the_new_assignee_the_handler(
    backend: Backend,
) -> None:
    """The decision task moves from SH01CH01 to CH0001: CH0001 is the handler and decides."""
    complaint = submit(backend, _customer(backend), complainedStaff="GZ01RM01")
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    task = task_of(backend, "SH01CH01", complaint, "Task_DecisionNotice")
    _reassign(backend, "HO0001", task, "CH0001")
    _followed(backend, complaint, "CH0001", "SH01CH01")
    do(backend, "CH0001", complaint, "Task_DecisionNotice", DECISION)
    assert read(backend, complaint)["decidedAt"] is not None


@pytest.mark.usefixtures("restore_original")
def test_cmp2_claiming_the_investigation_makes_the_claimant_the_handler(
    backend: Backend,
) -> None:
    """A diagram leaves the investigation unassigned: CH0001 claims it although SH01CH01 was
    assigned; CH0001 is the handler and the decision goes to CH0001."""
    assert _deploy(backend, UNASSIGNED)["errors"] == []
    complaint = submit(backend, _customer(backend), complainedStaff="GZ01RM01")
    assign(backend, complaint)
    task = task_of(backend, "CH0001", complaint, "Task_Investigate")
    claimed = backend.gql(CLAIM, {"i": {"id": task}}, staff="CH0001")["claimTask"]
    assert claimed["errors"] == [] and claimed["task"]["assignee"]["employeeNo"] == "CH0001"
    _followed(backend, complaint, "CH0001", "SH01CH01")
    do(backend, "CH0001", complaint, "Task_Investigate", investigation())
    decision = task_of(backend, "CH0001", complaint, "Task_DecisionNotice")
    assert backend.gql(TASK, {"id": decision})["task"]["assignee"]["employeeNo"] == "CH0001"


@pytest.mark.usefixtures("restore_original")
def test_cmp2_completing_an_unassigned_investigation_makes_the_candidate_the_handler(
    backend: Backend,
) -> None:
    """Doing the unassigned investigation without claiming it first takes it as well: the
    decision goes to CH0001, who did the investigation, not to SH01CH01."""
    assert _deploy(backend, UNASSIGNED)["errors"] == []
    complaint = submit(backend, _customer(backend), complainedStaff="GZ01RM01")
    assign(backend, complaint)
    do(backend, "CH0001", complaint, "Task_Investigate", investigation())
    _followed(backend, complaint, "CH0001", "SH01CH01")
    decision = task_of(backend, "CH0001", complaint, "Task_DecisionNotice")
    assert backend.gql(TASK, {"id": decision})["task"]["assignee"]["employeeNo"] == "CH0001"


@pytest.fixture
def bj01_under_sh01(backend: Backend) -> Iterator[None]:
    """BJ01 reports to SH01 (its parent branch) for the test."""
    with backend.engine.begin() as connection:
        ids = dict(connection.execute(select(Branch.code, Branch.id)).all())
        connection.execute(
            Branch.__table__.update()  # type: ignore[attr-defined]
            .where(Branch.id == ids["BJ01"])
            .values(parent_id=ids["SH01"])
        )
    try:
        yield
    finally:
        with backend.engine.begin() as connection:
            connection.execute(
                Branch.__table__.update()  # type: ignore[attr-defined]
                .where(Branch.id == ids["BJ01"])
                .values(parent_id=None)
            )


@pytest.mark.usefixtures("bj01_under_sh01")
def test_cmp2_a_complaint_about_the_branch_is_handled_by_its_parent_branch(
    backend: Backend,
) -> None:
    """A complaint about BJ01's staff: everyone of BJ01 is recused from handling it, so the
    handler's tasks belong to SH01, the parent branch — its supervisor reassigns the
    investigation to its handler, who becomes the handler; BJ01's supervisor may not."""
    complaint = submit(backend, _customer(backend), complainedStaff="BJ01RM02")
    assign(backend, complaint, "GZ01CH01")
    task = task_of(backend, "GZ01CH01", complaint, "Task_Investigate")
    refused = backend.post(
        REASSIGN, {"i": {"id": task, "assignee": "SH01CH01"}}, staff="SUP0001"
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # SH01's supervisor finds the task on the complaint, though the customer is not theirs.
    current = backend.gql(
        "query($id: ID!) { complaint(id: $id) { currentTasks { id elementId } } }",
        {"id": complaint["id"]},
        staff="SH01SUP01",
    )["complaint"]["currentTasks"]
    assert [t["id"] for t in current if t["elementId"] == "Task_Investigate"] == [task]
    _reassign(backend, "SH01SUP01", task, "SH01CH01")
    _followed(backend, complaint, "SH01CH01", "GZ01CH01")
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    assert not _sees(backend, "SH01SUP01", complaint)  # nothing of it waits at SH01 now


@pytest.mark.usefixtures("restore_original", "bj01_under_sh01")
def test_cmp2_an_unassigned_investigation_of_a_branch_complaint_waits_at_the_parent(
    backend: Backend,
) -> None:
    """The diagram leaves the investigation unassigned: it waits in the inbox of SH01's
    handler (not of BJ01's), who claims it and handles the complaint."""
    assert _deploy(backend, UNASSIGNED)["errors"] == []
    complaint = submit(backend, _customer(backend), complainedStaff="BJ01RM02")
    assign(backend, complaint, "GZ01CH01")
    assert _inbox(backend, "CH0001", complaint) == []
    task = task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    claimed = backend.gql(CLAIM, {"i": {"id": task}}, staff="SH01CH01")["claimTask"]
    assert claimed["errors"] == []
    _followed(backend, complaint, "SH01CH01", "GZ01CH01")


@pytest.fixture
def head_office_handler(backend: Backend) -> Iterator[str]:
    """GZ01CH01 works at head office for the test."""
    with backend.engine.begin() as connection:
        ids = dict(connection.execute(select(Branch.code, Branch.id)).all())
        table = Staff.__table__
        connection.execute(
            table.update().where(Staff.employee_no == "GZ01CH01").values(branch_id=ids["HO"])  # type: ignore[attr-defined]
        )
    try:
        yield "GZ01CH01"
    finally:
        with backend.engine.begin() as connection:
            connection.execute(
                table.update()  # type: ignore[attr-defined]
                .where(Staff.employee_no == "GZ01CH01")
                .values(branch_id=ids["GZ01"])
            )


@pytest.mark.usefixtures("restore_original")
def test_cmp2_a_branch_without_a_parent_has_its_complaint_handled_at_head_office(
    backend: Backend, head_office_handler: str
) -> None:
    """BJ01 has no parent branch: the unassigned investigation of a complaint about BJ01 waits
    for head office's handler, who claims it; head office reassigns it within head office."""
    assert _deploy(backend, UNASSIGNED)["errors"] == []
    complaint = submit(backend, _customer(backend), complainedStaff="BJ01RM02")
    assign(backend, complaint)
    assert _inbox(backend, "CH0001", complaint) == []
    task = task_of(backend, head_office_handler, complaint, "Task_Investigate")
    claimed = backend.gql(CLAIM, {"i": {"id": task}}, staff=head_office_handler)["claimTask"]
    assert claimed["errors"] == []
    _followed(backend, complaint, head_office_handler, "SH01CH01")
    refused = backend.gql(REASSIGN, {"i": {"id": task, "assignee": "SH01CH01"}}, staff="HO0001")
    assert _errors(refused["reassignTask"]) == [(["assignee"], "NOT_A_CANDIDATE", None)]
