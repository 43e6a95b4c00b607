"""Contacts (REL-1) and the contact cadence by value tier (REL-2), over HTTP on SQLite and
PostgreSQL: every channel, the history on the customer, the contacts list by manager and
branch, dated next steps as inbox tasks, refused input with nothing written, the field group
(sealed at rest, withheld, audited), and the cadence at its exact Beijing boundaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from core import clock
from tests.complaint_steps import COMPLETE
from tests.conftest import Backend, create_customer

BEIJING = clock.BUSINESS_TIME

LOG = """
mutation($input: LogContactInput!) {
  logContact(input: $input) {
    contact { id channel phoneLine purpose contactedAt summary outcome nextStep nextStepDueOn
              contactedBy { employeeNo } customer { id }
              followUpTask { id dueAt assignee { employeeNo } formName status } }
    errors { field code message }
  }
}
"""
HISTORY = """
query($id: ID!, $where: ContactWhere) { customer(id: $id) { contacts(first: 10, where: $where) {
  totalCount edges { node { id channel purpose contactedAt summary outcome nextStep } } } } }
"""
LIST = """
query($where: ContactWhere) { contacts(first: 100, where: $where) {
  totalCount edges { node { id summary customer { id } contactedBy { employeeNo } } } } }
"""
WORKLIST = """
query($where: ContactWorklistWhere, $after: String) {
  contactWorklist(where: $where, first: 100, after: $after) {
    edges { node { status tier period periodStart dueBy lastContactedAt lastChannel
                   preferredChannel preferredTime customer { id }
                   relationshipManager { employeeNo } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
OVERRIDE = """
mutation($input: OverrideSegmentInput!) { overrideSegment(input: $input) { errors { code } } }
"""
CADENCE = """
query($period: CadencePeriod!, $of: Date!, $by: CadenceGrouping!) {
  contactCadence(period: $period, of: $of, by: $by) {
    label start end asOf definition
    rows { relationshipManager { employeeNo } branch { code } due met rate }
    total { due met rate }
  }
}
"""


def at(text_: str) -> datetime:
    """An ISO instant (with its offset) as UTC."""
    return datetime.fromisoformat(text_).astimezone(UTC)


def _log(
    backend: Backend, customer_id: str, staff: str = "RM0001", **values: Any
) -> dict[str, Any]:
    given = {
        "customerId": customer_id,
        "channel": "VISIT",
        "purpose": "CARE_AND_FEEDBACK",
        "contactedAt": clock.now().isoformat(),
        "summary": "客户咨询理财到期安排",
        **values,
    }
    return dict(backend.gql(LOG, {"input": given}, staff=staff)["logContact"])


def _ok(backend: Backend, customer_id: str, staff: str = "RM0001", **values: Any) -> Any:
    payload = _log(backend, customer_id, staff, **values)
    assert payload["errors"] == [], payload["errors"]
    return payload["contact"]


def _count(backend: Backend) -> int:
    with backend.engine.connect() as connection:
        return int(connection.scalar(text("SELECT count(*) FROM contacts")) or 0)


def _tier(backend: Backend, customer_id: str, tier: str, days: int = 200) -> None:
    values = {
        "customerId": customer_id,
        "tier": tier,
        "reason": "cadence test",
        "expiresAt": (clock.now() + timedelta(days=days)).isoformat(),
    }
    errors = backend.gql(OVERRIDE, {"input": values}, staff="SUP0001")["overrideSegment"]
    assert errors["errors"] == []


def _worklist(backend: Backend, staff: str = "RM0001", **where: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        page = backend.gql(WORKLIST, {"where": where or None, "after": after}, staff=staff)[
            "contactWorklist"
        ]
        items += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return items
        after = page["pageInfo"]["endCursor"]


def _entry(backend: Backend, customer_id: str, staff: str = "RM0001") -> dict[str, Any] | None:
    found = [i for i in _worklist(backend, staff) if i["customer"]["id"] == customer_id]
    return found[0] if found else None


# -- REL-1: contacts ----------------------------------------------------------------------------


def test_REL_1_contacts_over_every_channel_make_the_customer_s_history(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    start = clock.now() - timedelta(hours=10)
    logged = []
    channels = ["PHONE", "VISIT", "EMAIL", "SMS", "WECHAT", "WEIBO"]
    purposes = ["CONSULTATION", "PRODUCT_RECOMMENDATION", "CARE_AND_FEEDBACK", "MARKET_INFORMATION"]
    for i, channel in enumerate(channels):
        extra = {"phoneLine": "HOTLINE"} if channel == "PHONE" else {}
        contact = _ok(
            backend,
            customer["id"],
            channel=channel,
            purpose=purposes[i % 4],
            contactedAt=(start + timedelta(hours=i)).isoformat(),
            summary=f"第{i}次联系",
            outcome="客户满意" if i else None,
            **extra,
        )
        assert contact["channel"] == channel and contact["contactedBy"]["employeeNo"] == "RM0001"
        assert contact["phoneLine"] == ("HOTLINE" if channel == "PHONE" else None)
        logged.append(contact["id"])
    history = backend.gql(HISTORY, {"id": customer["id"]}, staff="RM0001")["customer"]["contacts"]
    assert history["totalCount"] == 6
    assert [e["node"]["id"] for e in history["edges"]] == logged[::-1]  # newest first
    assert history["edges"][-1]["node"]["summary"] == "第0次联系"
    only_phone = backend.gql(
        HISTORY, {"id": customer["id"], "where": {"channel": {"eq": "PHONE"}}}, staff="SUP0001"
    )["customer"]["contacts"]
    assert [e["node"]["id"] for e in only_phone["edges"]] == [logged[0]]
    # The list by branch and by manager: the supervisor of BJ01 sees it, another branch not.
    by_manager = backend.gql(
        LIST, {"where": {"customer": {"eq": customer["id"]}}}, staff="SUP0001"
    )["contacts"]
    assert by_manager["totalCount"] == 6
    assert backend.gql(LIST, {"where": {"customer": {"eq": customer["id"]}}}, staff="SH01SUP01")[
        "contacts"
    ] == {"totalCount": 0, "edges": []}


def test_REL_1_a_dated_next_step_is_a_task_in_the_manager_s_inbox(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    due_on = clock.today() + timedelta(days=3)
    contact = _ok(
        backend,
        customer["id"],
        staff="SUP0001",
        nextStep="寄送理财产品说明书",
        nextStepDueOn=due_on.isoformat(),
    )
    task = contact["followUpTask"]
    assert task["assignee"]["employeeNo"] == "RM0001"  # the customer's manager, not the logger
    assert task["status"] == "OPEN" and task["formName"] == "contact_follow_up"
    assert at(task["dueAt"]) == clock.end_of_business_day(due_on)
    inbox = backend.gql(
        '{ myTasks(first: 100, where: {process: {eq: "contact_follow_up"}}) '
        "{ edges { node { id } } } }",
        staff="RM0001",
    )["myTasks"]["edges"]
    assert task["id"] in {e["node"]["id"] for e in inbox}
    done = backend.gql(
        COMPLETE, {"input": {"id": task["id"], "data": {"done": True}}}, staff="RM0001"
    )["completeTask"]
    assert done["errors"] == [] and done["task"]["status"] == "COMPLETED"
    # Without a date, no task.
    assert _ok(backend, customer["id"], nextStep="下次再联系")["followUpTask"] is None


def test_REL_1_a_retried_log_with_the_same_key_writes_one_contact(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    when = clock.now().isoformat()
    first = _ok(backend, customer["id"], idempotencyKey="visit-0001", contactedAt=when)
    before = _count(backend)
    again = _ok(backend, customer["id"], idempotencyKey="visit-0001", contactedAt=when)
    assert again["id"] == first["id"] and _count(backend) == before


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"summary": "  \u200b "}, ["summary"], "REQUIRED"),
        ({"summary": "x" * 2001}, ["summary"], "TOO_LONG"),
        ({"channel": "PHONE"}, ["phoneLine"], "REQUIRED"),
        ({"phoneLine": "MANAGER"}, ["phoneLine"], "INVALID"),
        ({"nextStepDueOn": "2020-01-01", "nextStep": "回访"}, ["nextStepDueOn"], "DATE_IN_PAST"),
        (
            {"nextStepDueOn": (clock.today() + timedelta(days=1)).isoformat()},
            ["nextStep"],
            "REQUIRED",
        ),
        ({"contactedAt": "2026-12-01T10:00:00"}, ["contactedAt"], "INVALID"),
    ],
)
def test_REL_1_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    backend: Backend, values: dict[str, Any], field: list[str], code: str
) -> None:
    customer = create_customer(backend, staff="RM0001")
    before = _count(backend)
    payload = _log(backend, customer["id"], **values)
    assert payload["contact"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert all("x" * 20 not in e["message"] for e in payload["errors"])
    assert _count(backend) == before


def test_REL_1_a_contact_in_the_future_beyond_the_token_leeway_is_refused(
    backend: Backend,
) -> None:
    customer = create_customer(backend, staff="RM0001")
    now = clock.now().replace(microsecond=0)
    leeway = timedelta(seconds=backend.settings.token_leeway_seconds)
    with clock.travel_to(now, all_threads=True):
        before = _count(backend)
        late = _log(
            backend, customer["id"], contactedAt=(now + leeway + timedelta(seconds=1)).isoformat()
        )
        assert [(e["field"], e["code"]) for e in late["errors"]] == [
            (["contactedAt"], "DATE_IN_FUTURE")
        ]
        assert _count(backend) == before
        assert _ok(backend, customer["id"], contactedAt=(now + leeway).isoformat())


def test_REL_1_unknown_channels_text_nobody_can_store_and_unseen_customers_are_refused(
    backend: Backend,
) -> None:
    customer = create_customer(backend, staff="RM0001")
    other_branch = create_customer(backend, staff="SH01RM01")
    before = _count(backend)
    base = {
        "customerId": customer["id"],
        "channel": "VISIT",
        "purpose": "CONSULTATION",
        "contactedAt": clock.now().isoformat(),
        "summary": "ok",
    }
    for changed, path in (
        ({"channel": "FAX"}, ["input", "channel"]),
        ({"purpose": "GOSSIP"}, ["input", "purpose"]),
        ({"summary": "a\u0000b"}, ["input", "summary"]),
        ({"summary": "a\ud800b"}, ["input", "summary"]),
    ):
        # ASCII JSON: a lone surrogate travels as the escape "\ud800", as a client sends it.
        body = backend.client.post(
            "/graphql",
            content=json.dumps({"query": LOG, "variables": {"input": {**base, **changed}}}),
            headers={
                "Authorization": f"Bearer {backend.token('RM0001')}",
                "X-Purpose": "CUSTOMER_SERVICE",
                "Content-Type": "application/json",
            },
        ).json()
        assert body.get("data") is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert error["extensions"]["fields"][0]["field"] == path
    # Another branch's customer and a customer that does not exist: the same NOT_FOUND.
    missing = "Q3VzdG9tZXI6OTk5OTk5OQ=="  # Customer:9999999
    answers = []
    for customer_id in (other_branch["id"], missing):
        body = backend.post(LOG, {"input": {**base, "customerId": customer_id}}, staff="RM0001")
        answers.append([(e["extensions"]["code"], e["message"]) for e in body.json()["errors"]])
    assert answers[0] == answers[1] and answers[0][0][0] == "NOT_FOUND"
    # A role without the right (a complaint handler) is refused outright.
    body = backend.post(LOG, {"input": base}, staff="CH0001").json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert _count(backend) == before


def test_REL_1_what_was_said_is_sealed_withheld_by_policy_and_audited(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    marker = "MARKER-CONTACT-7f3a"
    contact = _ok(
        backend, customer["id"], summary=f"客户说 {marker}", outcome=marker, nextStep=marker
    )
    with backend.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT summary, outcome, next_step FROM contacts WHERE summary IS NOT NULL")
        ).all()
    assert stored and not any(marker in (value or "") for row in stored for value in row)
    # The auditor sees that the contact exists, but not what was said.
    body = backend.post(HISTORY, {"id": customer["id"]}, staff="AUD0001", purpose="AUDIT").json()
    node = body["data"]["customer"]["contacts"]["edges"][0]["node"]
    assert node["id"] == contact["id"] and node["summary"] is None and node["nextStep"] is None
    forbidden = {
        (e["extensions"]["type"], e["extensions"]["field"])
        for e in body["errors"]
        if e["extensions"]["code"] == "FIELD_FORBIDDEN"
    }
    assert {("Contact", "summary"), ("Contact", "outcome"), ("Contact", "nextStep")} <= forbidden
    # The manager reads it in full, and the reveal is a READ entry under the customer.
    backend.gql(LIST, {"where": {"customer": {"eq": customer["id"]}}}, staff="RM0001")
    backend.client.app.state.auditor.flush()  # type: ignore[attr-defined]
    entries = backend.gql(
        """query($where: AuditWhere) { auditLog(where: $where, first: 50) {
             edges { node { actor action operation fields { field effect } } } } }""",
        {"where": {"customer": {"eq": customer["id"]}, "action": {"eq": "READ"}}},
        staff="AUD0001",
        purpose="AUDIT",
    )["auditLog"]["edges"]
    revealed = {
        (e["node"]["actor"], f["field"], f["effect"]) for e in entries for f in e["node"]["fields"]
    }
    assert ("RM0001", "Contact.summary", "FULL") in revealed
    assert not any(
        actor == "AUD0001" and field.startswith("Contact.") for actor, field, _ in revealed
    )
