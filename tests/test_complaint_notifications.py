"""Deadline warnings and escalations reach the supervisors filed under the complaint
(CMP-6, INFO-6): ``informationKind: COMPLAINT``, not the customer's basic information — a
filter on complaint notifications finds them, one on BASIC does not."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from core import clock
from tests.complaint_steps import bj_customer, fire_timers, read, submit
from tests.conftest import Backend

SECOND = timedelta(seconds=1)
NOTIFICATIONS = """query($where: NotificationWhere) { notifications(first: 100, where: $where) {
    edges { node { informationKind fields summary customer { id } } } } }"""
VERIFY = """mutation($input: RecordVerificationInput!) { recordVerification(input: $input) {
    errors { field code message } } }"""


def _of(
    backend: Backend, staff: str, reference: str, kind: str | None = None
) -> list[dict[str, Any]]:
    where = {"informationKind": {"eq": kind}} if kind else None
    edges = backend.gql(NOTIFICATIONS, {"where": where}, staff=staff)["notifications"]["edges"]
    return [e["node"] for e in edges if reference in e["node"]["summary"]]


def test_cmp6_deadline_notifications_are_filed_under_the_complaint(backend: Backend) -> None:
    customer = bj_customer(backend)
    complaint = submit(backend, customer)
    accepted = datetime.fromisoformat(read(backend, complaint)["acceptedAt"])
    due = clock.end_of_business_day(clock.business_date(accepted) + timedelta(days=1))
    fire_timers(backend, due - SECOND)  # the warning
    fire_timers(backend, due)  # the escalation
    reference = complaint["reference"]
    found = _of(backend, "SUP0001", reference)
    assert [n["informationKind"] for n in found] == ["COMPLAINT", "COMPLAINT"]
    assert all(n["customer"]["id"] == customer["id"] for n in found)
    assert len(_of(backend, "SUP0001", reference, "COMPLAINT")) == 2
    assert _of(backend, "SUP0001", reference, "BASIC") == []
    # The customer's manager follows the customer's information, not the complaint's clocks.
    assert _of(backend, "RM0001", reference) == []


def test_info4_complaint_is_no_kind_of_information_to_verify(backend: Backend) -> None:
    customer = bj_customer(backend)
    values = {"customerId": customer["id"], "informationKind": "COMPLAINT", "result": "CONFIRMED"}
    payload = backend.gql(VERIFY, {"input": values}, staff="RM0001")["recordVerification"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["informationKind"], "INVALID")
    ]


def test_info4_the_due_list_filtered_on_complaint_is_empty(backend: Backend) -> None:
    listed = backend.gql(
        "{ customersDueForReverification(first: 5, where: {informationKind: {eq: COMPLAINT}}) "
        "{ edges { node { dueOn } } } }",
        staff="RM0001",
    )["customersDueForReverification"]
    assert listed["edges"] == []
