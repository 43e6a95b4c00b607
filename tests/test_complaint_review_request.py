"""A review request at any stage of the follow-up (CMP-4; 银行业保险业消费投诉处理管理办法
第二十一条), through the HTTP API and the timers worker: the customer may ask for a review
whether or not the call-back recorded dissatisfaction — before the call-back, after a satisfied
one — within 30 natural days of receiving the decision notice, ending at 00:00 Beijing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core import clock
from tests.complaint_steps import (
    DECISION,
    do,
    fire_timers,
    investigation,
    kinds,
    read,
    submit,
)
from tests.conftest import Backend, branch_id, create_customer
from tests.test_workflows import ORIGINAL, _deploy, restore_original  # noqa: F401 - a fixture

REQUEST = """mutation($input: RequestComplaintReviewInput!) { requestComplaintReview(input: $input) {
    complaint { id status reviewDueAt } errors { field code message } } }"""
# Decided and handed over at the counter at 10:00 Beijing on 2027-01-03: the notice is delivered
# then, so the window's last day is 02-02 and it ends at 2027-02-03 00:00 Beijing.
DECIDED = datetime(2027, 1, 3, 2, 0, tzinfo=UTC)
WINDOW_END = datetime(2027, 2, 2, 16, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
CALL_BACK = {"satisfaction_score": 5, "satisfied": True, "comments": "处理及时"}
# The diagram before this change: it asks about a review only after the call-back.
OLD_DIAGRAM = (Path(__file__).parent / "data" / "complaint_review_after_call_back.bpmn").read_text()


def _customer(backend: Backend) -> dict[str, Any]:
    """A customer of SH01RM01 in SH01 (whose superior unit is head office)."""
    manager = backend.gql("{ me { id } }", staff="SH01RM01")["me"]["id"]
    return create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SH01SUP01")
    )


def _decided(backend: Backend) -> dict[str, Any]:
    with clock.travel_to(DECIDED - timedelta(days=2), all_threads=True):
        complaint = submit(backend, _customer(backend), staff="SH01RM01")
        do(backend, "SH01SUP01", complaint, "Task_AssignHandler", {"handler": "SH01CH01"})
        do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    with clock.travel_to(DECIDED, all_threads=True):
        do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    return complaint


def _request(
    backend: Backend, complaint: dict[str, Any], staff: str, at: datetime
) -> dict[str, Any]:
    with clock.travel_to(at, all_threads=True):
        data = backend.gql(
            REQUEST, {"input": {"id": complaint["id"], "reason": "对退费金额有异议"}}, staff=staff
        )
    return dict(data["requestComplaintReview"])


def _codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


def test_cmp4_review_requested_before_the_call_back_up_to_the_window_end(
    backend: Backend,
) -> None:
    """The call-back is late (still not done on day 30): the handler records the customer's
    request one second before the window ends and the review runs to the superior unit with its
    own 30-day clock; at the end instant itself the request is refused."""
    late = _decided(backend)
    refused = _request(backend, late, "SH01CH01", WINDOW_END)
    assert _codes(refused) == [(["id"], "REVIEW_WINDOW_CLOSED")]
    assert read(backend, late)["status"] == "DECIDED"  # nothing written
    in_time = _decided(backend)
    done = _request(backend, in_time, "SH01CH01", WINDOW_END - SECOND)
    assert done["errors"] == []
    # 30 natural days from the request (02-02, Beijing): the review ends 03-05 00:00 Beijing.
    review_due = datetime(2027, 3, 4, 16, 0, tzinfo=UTC)
    assert done["complaint"]["status"] == "UNDER_REVIEW"
    assert done["complaint"]["reviewDueAt"] == review_due.isoformat()
    state = read(backend, in_time)
    assert sorted(t["elementId"] for t in state["currentTasks"]) == ["Task_CallBack", "Task_Review"]
    step = [s for s in state["timeline"] if s["kind"] == "REVIEW_REQUESTED"][-1]
    assert (step["actor"], step["details"]) == ("SH01CH01", {"reviewer": "总行"})
    # Its clock escalates like the others: not one second early, at the instant.
    fire_timers(backend, review_due - SECOND)
    assert "REVIEW_DEADLINE_MISSED" not in kinds(read(backend, in_time))
    fire_timers(backend, review_due)
    assert kinds(read(backend, in_time)).count("REVIEW_DEADLINE_MISSED") == 1
    # The late call-back and the review both done: the complaint closes.
    with clock.travel_to(review_due + SECOND, all_threads=True):
        do(backend, "SH01RM01", in_time, "Task_CallBack", CALL_BACK)
        assert read(backend, in_time)["status"] == "UNDER_REVIEW"
        review = {"review_outcome": "DECISION_UPHELD", "explanation": "原处理决定并无不当"}
        do(backend, "HO0001", in_time, "Task_Review", review)
    assert read(backend, in_time)["status"] == "CLOSED"


def test_cmp4_review_requested_after_a_satisfied_call_back_by_a_supervisor(
    backend: Backend,
) -> None:
    complaint = _decided(backend)
    with clock.travel_to(DECIDED + timedelta(days=2), all_threads=True):
        do(backend, "SH01RM01", complaint, "Task_CallBack", CALL_BACK)
    done = _request(backend, complaint, "SH01SUP01", DECIDED + timedelta(days=20))
    assert done["errors"] == [] and done["complaint"]["status"] == "UNDER_REVIEW"
    again = _request(backend, complaint, "HO0001", DECIDED + timedelta(days=21))
    assert _codes(again) == [(["id"], "REVIEW_ALREADY_REQUESTED")]
    # Only staff who record it for the customer: not a relationship manager's right here.
    with clock.travel_to(DECIDED + timedelta(days=21), all_threads=True):
        refused = backend.post(REQUEST, {"input": {"id": complaint["id"]}}, staff="SH01RM01").json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_cmp4_no_review_request_before_the_decision(
    backend: Backend,
) -> None:
    complaint = submit(backend, _customer(backend), staff="SH01RM01")
    early = _request(backend, complaint, "SH01SUP01", clock.now())
    assert _codes(early) == [(["id"], "NOT_DECIDED")]


def test_cmp4_the_worker_closes_the_window_at_its_end_without_a_breach(backend: Backend) -> None:
    """The window is the customer's, not a deadline the bank misses: at its end the worker
    closes it (no DEADLINE_MISSED, no supervise task) and the called-back complaint closes."""
    complaint = _decided(backend)
    with clock.travel_to(DECIDED + timedelta(days=1), all_threads=True):
        do(backend, "SH01RM01", complaint, "Task_CallBack", CALL_BACK)
    fire_timers(backend, WINDOW_END - SECOND)
    state = read(backend, complaint)
    assert state["status"] == "DECIDED"
    assert [t["elementId"] for t in state["currentTasks"]] == ["Task_ReviewRequest"]
    with clock.travel_to(WINDOW_END, all_threads=True):  # before the worker's run
        state = read(backend, complaint)
        # The warning 3 days before left it AT_RISK at most: never BREACHED, not overdue.
        assert state["overdue"] is False and state["slaState"] != "BREACHED"
    fire_timers(backend, WINDOW_END)
    state = read(backend, complaint)
    assert (state["status"], state["currentTasks"]) == ("CLOSED", [])
    assert "DEADLINE_MISSED" not in kinds(state)


@pytest.mark.usefixtures("restore_original")
def test_cmp4_an_instance_of_the_older_diagram_takes_a_request_before_its_call_back(
    backend: Backend,
) -> None:
    """Started on the diagram that asked only after the call-back: the request moves it to the
    current diagram and the review starts at once; the call-back still follows."""
    assert _deploy(backend, OLD_DIAGRAM)["errors"] == []
    complaint = _decided(backend)
    old = read(backend, complaint)
    assert [t["elementId"] for t in old["currentTasks"]] == ["Task_CallBack"]
    assert _deploy(backend, ORIGINAL)["errors"] == []
    done = _request(backend, complaint, "HO0001", DECIDED + timedelta(days=10))
    assert done["errors"] == [] and done["complaint"]["status"] == "UNDER_REVIEW"
    state = read(backend, complaint)
    assert state["process"]["version"]["number"] > old["process"]["version"]["number"]
    assert sorted(t["elementId"] for t in state["currentTasks"]) == ["Task_CallBack", "Task_Review"]
    with clock.travel_to(DECIDED + timedelta(days=11), all_threads=True):
        do(backend, "SH01RM01", complaint, "Task_CallBack", CALL_BACK)
        review = {"review_outcome": "DECISION_UPHELD", "explanation": "原处理决定并无不当"}
        do(backend, "HO0001", complaint, "Task_Review", review)
    assert read(backend, complaint)["status"] == "CLOSED"
