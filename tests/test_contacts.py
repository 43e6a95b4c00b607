"""Contacts (REL-1) and the contact cadence by value tier (REL-2), over HTTP on SQLite and
PostgreSQL: every channel, the history on the customer, the contacts list by manager and
branch, dated next steps as inbox tasks, refused input with nothing written, the field group
(sealed at rest, withheld, audited), and the cadence at its exact Beijing boundaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from sqlalchemy import event, text

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
    # Without a date, no task. A time given in Beijing is answered in UTC.
    beijing = clock.now().astimezone(BEIJING).replace(microsecond=0)
    undated = _ok(backend, customer["id"], nextStep="下次再联系", contactedAt=beijing.isoformat())
    assert undated["followUpTask"] is None
    assert undated["contactedAt"] == beijing.astimezone(UTC).isoformat()


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


# -- REL-2: the cadence ---------------------------------------------------------------------------


def _customer_at(backend: Backend, moment: str, tier: str | None) -> str:
    """A customer of RM0001 (BJ01) who joined at ``moment``, with ``tier`` (None: never
    classified, which the cadence treats as LOW)."""
    with clock.travel_to(at(moment), all_threads=True):
        customer = create_customer(backend, staff="RM0001")
        if tier is not None:
            _tier(backend, customer["id"], tier)
    return str(customer["id"])


def _contact_at(backend: Backend, customer_id: str, moment: str) -> None:
    with clock.travel_to(at(moment), all_threads=True):
        _ok(backend, customer_id, contactedAt=at(moment).isoformat())


def _entry_at(backend: Backend, customer_id: str, moment: str, staff: str = "RM0001") -> Any:
    with clock.travel_to(at(moment), all_threads=True):
        return _entry(backend, customer_id, staff)


@pytest.mark.parametrize(
    ("tier", "contacted", "next_starts", "period", "start", "due_by", "overdue_from"),
    [
        # HIGH: ISO weeks; Sunday 2027-01-03 ends 2026-W53, Monday 2027-01-04 starts 2027-W01.
        (
            "HIGH",
            "2027-01-03T23:59:59+08:00",
            "2027-01-04T00:00:00+08:00",
            "WEEK",
            "2027-01-04",
            "2027-01-10",
            "2027-01-11T00:00:00+08:00",
        ),
        # MEDIUM: calendar months.
        (
            "MEDIUM",
            "2027-01-31T23:59:59+08:00",
            "2027-02-01T00:00:00+08:00",
            "MONTH",
            "2027-02-01",
            "2027-02-28",
            "2027-03-01T00:00:00+08:00",
        ),
        # LOW (and never classified): calendar quarters, here across the year; Beijing's
        # 1 January begins at 16:00 UTC on 31 December.
        (
            None,
            "2026-12-31T23:59:59+08:00",
            "2027-01-01T00:00:00+08:00",
            "QUARTER",
            "2027-01-01",
            "2027-03-31",
            "2027-04-01T00:00:00+08:00",
        ),
    ],
    ids=["HIGH-week-and-year", "MEDIUM-month", "LOW-quarter-and-year"],
)
def test_REL_2_a_customer_is_due_from_the_first_instant_of_the_next_period(
    backend: Backend,
    tier: str | None,
    contacted: str,
    next_starts: str,
    period: str,
    start: str,
    due_by: str,
    overdue_from: str,
) -> None:
    customer_id = _customer_at(backend, "2026-12-20T10:00:00+08:00", tier)
    _contact_at(backend, customer_id, contacted)
    assert _entry_at(backend, customer_id, contacted) is None  # contacted this period
    entry = _entry_at(backend, customer_id, next_starts)
    assert entry is not None
    assert (entry["status"], entry["tier"], entry["period"]) == ("DUE", tier or "LOW", period)
    assert (entry["periodStart"], entry["dueBy"]) == (start, due_by)
    assert at(entry["lastContactedAt"]) == at(contacted)
    assert entry["lastChannel"] == "VISIT"
    last_instant = (at(overdue_from) - timedelta(seconds=1)).isoformat()
    assert _entry_at(backend, customer_id, last_instant)["status"] == "DUE"
    assert _entry_at(backend, customer_id, overdue_from)["status"] == "OVERDUE"


def test_REL_2_a_tier_change_mid_period_holds_the_customer_to_the_new_tier_s_period(
    backend: Backend,
) -> None:
    """The rule: the tier in force now picks the period containing today; a contact anywhere
    in that period counts, also one made before the tier changed."""
    customer_id = _customer_at(backend, "2026-12-20T10:00:00+08:00", "MEDIUM")
    _contact_at(backend, customer_id, "2027-01-05T10:00:00+08:00")  # Tuesday of 2027-W01
    assert _entry_at(backend, customer_id, "2027-01-06T09:00:00+08:00") is None
    with clock.travel_to(at("2027-01-06T09:00:00+08:00"), all_threads=True):
        _tier(backend, customer_id, "HIGH")
    # Lifted to HIGH on Wednesday: Tuesday's contact is in this ISO week, so not due.
    assert _entry_at(backend, customer_id, "2027-01-06T09:00:01+08:00") is None
    # The next Monday it is due as HIGH, although January's (MEDIUM) contact was made.
    entry = _entry_at(backend, customer_id, "2027-01-11T00:00:00+08:00")
    assert (entry["status"], entry["tier"], entry["period"]) == ("DUE", "HIGH", "WEEK")


def test_REL_2_the_worklist_puts_overdue_first_then_the_longest_since_the_last_contact(
    backend: Backend,
) -> None:
    never = _customer_at(backend, "2026-12-20T10:00:00+08:00", "HIGH")
    three_weeks = _customer_at(backend, "2026-12-20T10:00:00+08:00", "HIGH")
    two_weeks = _customer_at(backend, "2026-12-20T10:00:00+08:00", "HIGH")
    last_week = _customer_at(backend, "2026-12-20T10:00:00+08:00", "HIGH")
    this_week = _customer_at(backend, "2026-12-20T10:00:00+08:00", "HIGH")
    _contact_at(backend, three_weeks, "2026-12-29T10:00:00+08:00")
    _contact_at(backend, two_weeks, "2027-01-05T10:00:00+08:00")
    _contact_at(backend, last_week, "2027-01-12T10:00:00+08:00")
    _contact_at(backend, this_week, "2027-01-18T08:00:00+08:00")
    source = {"kind": "PROACTIVE_CONTACT", "detail": "asked on the phone"}
    backend.gql(
        """mutation($input: RecordPreferencesInput!) {
             recordPreferences(input: $input) { errors { code } } }""",
        {
            "input": {
                "customerId": never,
                "contactMethod": "WECHAT",
                "contactTime": "WEEKEND",
                "marketingOptIn": False,
                "source": source,
            }
        },
        staff="RM0001",
    )
    now = "2027-01-18T09:00:00+08:00"  # Monday of 2027-W03
    with clock.travel_to(at(now), all_threads=True):
        items = _worklist(backend, "RM0001", tier={"eq": "HIGH"})
        ids = [i["customer"]["id"] for i in items]
        assert this_week not in ids
        mine = [
            i for i in items if i["customer"]["id"] in {never, three_weeks, two_weeks, last_week}
        ]
        assert [i["customer"]["id"] for i in mine] == [never, three_weeks, two_weeks, last_week]
        assert [i["status"] for i in mine] == ["OVERDUE", "OVERDUE", "OVERDUE", "DUE"]
        assert (mine[0]["preferredChannel"], mine[0]["preferredTime"]) == ("WECHAT", "WEEKEND")
        assert mine[0]["lastContactedAt"] is None
        assert {i["relationshipManager"]["employeeNo"] for i in items} == {"RM0001"}
        # Every overdue item comes before every due one, on every page.
        statuses = [i["status"] for i in items]
        assert statuses == sorted(statuses, key=lambda s: s != "OVERDUE")
        only_due = _worklist(backend, "RM0001", tier={"eq": "HIGH"}, overdue={"eq": False})
        assert last_week in {i["customer"]["id"] for i in only_due}
        assert never not in {i["customer"]["id"] for i in only_due}
        # The supervisor sees the branch's, filtered by manager; other branches see nothing.
        manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
        branch = _worklist(
            backend, "SUP0001", relationshipManager={"eq": manager}, tier={"eq": "HIGH"}
        )
        assert [i["customer"]["id"] for i in branch if i["customer"]["id"] in set(ids)] == ids
        for outsider in ("SH01SUP01", "SH01RM01"):
            assert never not in {i["customer"]["id"] for i in _worklist(backend, outsider)}
        denied = backend.post(WORKLIST, {}, staff="CH0001").json()
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _cadence(backend: Backend, staff: str = "SUP0001", by: str = "MANAGER") -> Any:
    report = backend.gql(CADENCE, {"period": "MONTH", "of": "2027-01-15", "by": by}, staff=staff)[
        "contactCadence"
    ]
    rows = {
        (r["relationshipManager"] or {}).get("employeeNo") or (r["branch"] or {}).get("code"): r
        for r in report["rows"]
    }
    return report, rows


def test_REL_2_compliance_counts_the_periods_that_ended_in_the_month_with_a_contact(
    backend: Backend,
) -> None:
    # HIGH from Monday 2026-12-28: the ISO weeks ending in January 2027 are 2026-W53 (its
    # Sunday is 3 January) and 2027-W01 … W04: five periods, three of them with a contact.
    customer_id = _customer_at(backend, "2026-12-28T10:00:00+08:00", "HIGH")
    with clock.travel_to(at("2027-02-01T00:00:00+08:00"), all_threads=True):
        report, before = _cadence(backend)
        assert (report["label"], report["start"], report["end"], report["asOf"]) == (
            "2027-01",
            "2027-01-01",
            "2027-01-31",
            "2027-02-01",
        )
        assert "met / due" in report["definition"]
        for moment in (
            "2026-12-29T10:00:00+08:00",
            "2027-01-05T10:00:00+08:00",
            "2027-01-06T10:00:00+08:00",  # a second contact in one week counts once
            "2027-01-24T23:59:59+08:00",
        ):
            _ok(backend, customer_id, contactedAt=at(moment).isoformat())
        report, after = _cadence(backend)
        assert after["RM0001"]["due"] == before["RM0001"]["due"]
        assert after["RM0001"]["met"] == before["RM0001"]["met"] + 3
        assert report["total"]["met"] == sum(r["met"] for r in report["rows"])
        row = after["RM0001"]
        assert row["rate"] == str(
            (Decimal(row["met"]) / Decimal(row["due"])).quantize(
                Decimal("0.0001"), rounding=ROUND_DOWN
            )
        )
        _, branches = _cadence(backend, by="BRANCH")
        assert set(branches) == {"BJ01"}  # the supervisor's own rows
        assert branches["BJ01"]["due"] >= after["RM0001"]["due"]
    # A minute earlier, 2027-W04 has not ended: it is not judged yet.
    with clock.travel_to(at("2027-01-31T23:59:59+08:00"), all_threads=True):
        _, earlier = _cadence(backend)
        assert earlier["RM0001"]["due"] < after["RM0001"]["due"]


def test_REL_2_a_report_date_outside_the_calendar_is_refused_naming_it(backend: Backend) -> None:
    body = backend.post(
        CADENCE, {"period": "MONTH", "of": "9999-12-31", "by": "MANAGER"}, staff="SUP0001"
    ).json()
    assert body["data"] is None
    error = body["errors"][0]["extensions"]
    assert error["code"] == "BAD_USER_INPUT" and error["fields"][0]["field"] == ["of"]


def _statements(backend: Backend, query: str, variables: dict[str, Any]) -> int:
    """SQL statements one request runs (authentication included)."""
    counted = [0]

    def count(*_: Any) -> None:
        counted[0] += 1

    event.listen(backend.engine, "before_cursor_execute", count)
    try:
        backend.gql(query, variables, staff="RM0001")
    finally:
        event.remove(backend.engine, "before_cursor_execute", count)
    return counted[0]


def test_REL_1_REL_2_statements_do_not_grow_with_the_page(backend: Backend) -> None:
    for _ in range(3):
        customer = create_customer(backend, staff="RM0001")
        _ok(backend, customer["id"])
    # The newest contact has a task: both pages of the list hold one.
    _ok(backend, customer["id"], nextStep="回访", nextStepDueOn=clock.today().isoformat())
    nested = """query($n: Int) { customers(first: $n, orderBy: [{field: CREATED_AT,
      direction: DESC}]) { edges { node { name
      contacts(first: 3) { totalCount edges { node { summary contactedBy { name }
                                                     customer { id } } } } } } } }"""
    worklist = """query($n: Int) { contactWorklist(first: $n) { edges { node { status tier
      preferredChannel customer { name } relationshipManager { name } } } } }"""
    listed = """query($n: Int) { contacts(first: $n) { totalCount edges { node { summary
      customer { name } contactedBy { name } followUpTask { id } } } } }"""
    # Pages big enough that every kind of nested item occurs in both (a dated next step …).
    for query, small, big in ((nested, 5, 20), (worklist, 5, 50), (listed, 30, 90)):
        counts = [_statements(backend, query, {"n": n}) for n in (small, big)]
        assert counts[0] == counts[1], (query, counts)


def test_REL_1_nested_customers_of_many_customers_contacts_load_once(backend: Backend) -> None:
    """REL-1: a page of customers each with contacts (as recommendations and care make them)
    runs as many statements for 3 customers as for 12: the contacts' customers load together."""
    for _ in range(12):
        customer = create_customer(backend, staff="RM0001")
        _ok(backend, customer["id"])
    nested = """query($n: Int) { customers(first: $n, orderBy: [{field: CREATED_AT,
      direction: DESC}]) { edges { node { name
      contacts(first: 3) { edges { node { summary customer { id } } } } } } } }"""
    assert _statements(backend, nested, {"n": 3}) == _statements(backend, nested, {"n": 12})


def _march_2032(backend: Backend) -> dict[str, Any]:
    """RM0001's row of March 2032 as of 1 April (nothing due: zeros)."""
    with clock.travel_to(at("2032-04-01T00:00:00+08:00"), all_threads=True):
        report = backend.gql(
            CADENCE, {"period": "MONTH", "of": "2032-03-15", "by": "MANAGER"}, staff="SUP0001"
        )["contactCadence"]
    rows = [r for r in report["rows"] if (r["relationshipManager"] or {}).get("employeeNo")]
    found = [r for r in rows if r["relationshipManager"]["employeeNo"] == "RM0001"]
    return dict(found[0]) if found else {"due": 0, "met": 0}


def test_REL_2_compliance_judges_each_period_by_the_tier_at_its_end(backend: Backend) -> None:
    """Two customers join LOW on Monday 2032-03-01 and are lifted to HIGH: one at 00:00:00 on
    Monday 15 March (Beijing), the very instant week 10 ends — so week 10 is judged as LOW (not
    due as a week), weeks 11 and 12 as HIGH; the other one second earlier — weeks 10, 11, 12.
    Week 9 ended LOW for both; week 13 ends in April; the quarter began before they joined and
    the month ended HIGH (no MEDIUM month due). Today's tier alone would judge weeks 9–12."""
    before = _march_2032(backend)
    # LOW all along since 31 December 2031: the first quarter of 2032 (ending in March) is due.
    steady = _customer_at(backend, "2031-12-31T10:00:00+08:00", None)
    _contact_at(backend, steady, "2032-02-10T10:00:00+08:00")
    on_the_instant = _customer_at(backend, "2032-03-01T10:00:00+08:00", None)
    a_second_early = _customer_at(backend, "2032-03-01T10:00:00+08:00", None)
    with clock.travel_to(at("2032-03-14T23:59:59+08:00"), all_threads=True):
        _tier(backend, a_second_early, "HIGH")
    with clock.travel_to(at("2032-03-15T00:00:00+08:00"), all_threads=True):
        _tier(backend, on_the_instant, "HIGH")
    # Sunday of week 11, its last second: met for week 11, not for week 12.
    _contact_at(backend, on_the_instant, "2032-03-21T23:59:59+08:00")
    after = _march_2032(backend)
    assert (after["due"] - before["due"], after["met"] - before["met"]) == (2 + 3 + 1, 1 + 1)
    # Monday 00:00:00 is week 12's first instant.
    _contact_at(backend, on_the_instant, "2032-03-22T00:00:00+08:00")
    assert _march_2032(backend)["met"] - before["met"] == 3


def test_REL_2_compliance_is_a_constant_number_of_statements(backend: Backend) -> None:
    """Counted in SQL: the same statements for a report over few or many customers, contacts
    and periods (a year of weeks)."""
    query = CADENCE
    variables = {"period": "YEAR", "of": "2027-06-15", "by": "BRANCH"}
    with clock.travel_to(at("2028-01-01T00:00:00+08:00"), all_threads=True):
        few = _statements(backend, query, variables)
        for _ in range(3):
            customer = _customer_at(backend, "2027-01-04T10:00:00+08:00", "HIGH")
            for moment in ("2027-02-01T10:00:00+08:00", "2027-03-01T10:00:00+08:00"):
                _contact_at(backend, customer, moment)
        many = _statements(backend, query, variables)
    assert few == many
