"""Spot checks (KPI-2) over HTTP on SQLite and PostgreSQL: reproducible samples (the seed
recorded, the same seed over the same population draws the same records, computed by hand from
the documented ``sha256("<seed>:<id>")`` rank), Beijing period boundaries at 00:00 ± 1 s,
refusals per role and per input with nothing written, findings final only at completion, the
rectification lifecycle (overdue at the due instant, warned once by the worker, rectified,
reopened, verified, not closed twice), and the pass rates the scorecards read.

Each test works in a branch of its own (created here), so counts never depend on other tests.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text

from core import clock
from core.ids import parse_global_id
from kehu.worker import run_once
from store.customers import Notification
from store.staff import Branch, Role, Staff
from tests.conftest import Backend, create_customer
from tests.test_contacts import _ok as log_contact

DRAW = """
mutation($input: DrawSpotCheckInput!) { drawSpotCheck(input: $input) {
  spotCheck { id kind seed sampleSize populationSize populationDigest status periodStart periodEnd
              branch { code } criteria { code }
              items { id position subjectId customerId inspector { employeeNo }
                      responsible { employeeNo } findings { criterion passed } } }
  errors { field code message } } }
"""
FINDINGS = """
mutation($input: RecordSpotCheckFindingsInput!) { recordSpotCheckFindings(input: $input) {
  item { id inspectedAt findings { criterion passed severity note } }
  errors { field code message } } }
"""
COMPLETE = """
mutation($input: CompleteSpotCheckInput!) { completeSpotCheck(input: $input) {
  spotCheck { id status completedAt
              items { findings { criterion passed rectification { id status dueAt } } } }
  errors { field code message } } }
"""
RECTIFY = """
mutation($input: RectifySpotCheckFindingInput!) { rectifySpotCheckFinding(input: $input) {
  rectification { id status note reopened } errors { field code message } } }
"""
VERIFY = """
mutation($input: VerifySpotCheckRectificationInput!) {
  verifySpotCheckRectification(input: $input) {
    rectification { id status reopened verifiedAt } errors { field code message } } }
"""
CHECK = """
query($id: ID!) { spotCheck(id: $id) { id status
  items { position inspectedAt findings { criterion passed note } } } }
"""
MINE = """
{ myRectifications(first: 50) { totalCount edges { node {
    id status dueAt overdue overdueWarnedAt criterion severity owner { employeeNo } } } } }
"""
OVERDUE = "{ overdueRectifications(first: 100) { edges { node { id } } } }"
ITEMS = """
query($where: SpotCheckItemWhere) { myInspectionItems(where: $where, first: 100) {
  edges { node { id spotCheckId position } } } }
"""
PASS_RATES = """
query($start: Date!, $end: Date!, $by: AssessmentGrouping!, $branch: ID) {
  spotCheckPassRates(start: $start, end: $end, by: $by, branch: $branch) { definition
    cells { staff { employeeNo } branch { code } numerator denominator value } } }
"""
CRITERIA = ["SUMMARY_ACCURATE", "SUITABILITY", "COURTESY", "FOLLOW_UP"]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def new_branch(
    backend: Backend, inspector: bool = False, managers: tuple[str, ...] = ("RM1", "RM2")
) -> dict[str, str]:
    """A branch of its own with a supervisor, ``managers`` (and, with ``inspector``, an
    auditor of the branch); employee numbers by role, global IDs as ``<role>_id``."""
    code = "K" + uuid.uuid4().hex[:6].upper()
    staff = {
        "SUP": Role.BRANCH_SUPERVISOR,
        **dict.fromkeys(managers, Role.RELATIONSHIP_MANAGER),
        **({"AUD": Role.AUDITOR} if inspector else {}),
    }
    with backend.engine.begin() as connection:
        branch = connection.execute(
            insert(Branch)
            .values(code=code, name="考核测试支行", city="北京市", parent_id=None)
            .returning(Branch.id)
        ).scalar_one()
        for suffix, role in staff.items():
            connection.execute(
                insert(Staff).values(
                    employee_no=f"{code}{suffix}",
                    name="考核测试员",
                    branch_id=branch,
                    roles=[role.value],
                    active=True,
                    created_at=clock.now(),
                )
            )
    found = {"code": code}
    for suffix in staff:
        me = backend.gql("{ me { id branch { id } } }", staff=f"{code}{suffix}")["me"]
        found[suffix] = f"{code}{suffix}"
        found[f"{suffix}_id"] = me["id"]
        found["branch_id"] = me["branch"]["id"]
    return found


def customer_of(backend: Backend, branch: dict[str, str], manager: str = "RM1") -> str:
    return str(
        create_customer(
            backend,
            branch=branch["branch_id"],
            relationshipManager=branch[f"{manager}_id"],
        )["id"]
    )


def contacts(
    backend: Backend, branch: dict[str, str], moments: list[str], manager: str = "RM1"
) -> list[str]:
    """A contact of a new customer at each moment, made by ``manager``."""
    made = []
    for moment in moments:
        customer = customer_of(backend, branch, manager)
        made.append(log_contact(backend, customer, branch[manager], contactedAt=moment)["id"])
    return made


def pk(global_id: str) -> int:
    parsed = parse_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def draw(backend: Backend, staff: str = "HO0001", **given: Any) -> Any:
    values = {"kind": "CONTACT", "inspectorIds": [inspector_id(backend)], **given}
    return backend.gql(DRAW, {"input": values}, staff=staff)["drawSpotCheck"]


def inspector_id(backend: Backend, employee_no: str = "AUD0001") -> str:
    return str(backend.gql("{ me { id } }", staff=employee_no)["me"]["id"])


def rows(backend: Backend, table: str) -> int:
    with backend.engine.connect() as connection:
        return int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def errors(payload: Any) -> list[tuple[list[str], str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


# ---- the sample --------------------------------------------------------------------------------


def test_the_same_seed_draws_the_same_records_and_another_seed_others_KPI_2(
    backend: Backend,
) -> None:
    branch = new_branch(backend)
    made = contacts(backend, branch, [f"2026-11-10T{9 + i:02d}:00:00+08:00" for i in range(12)])
    ids = sorted(pk(c) for c in made)
    period = {"branchId": branch["branch_id"], "start": "2026-11-10", "end": "2026-11-10"}

    first = draw(backend, seed=42, size=4, **period)
    again = draw(backend, seed=42, size=4, **period)
    other = draw(backend, seed=43, size=4, **period)
    assert first["errors"] == again["errors"] == other["errors"] == []

    def sample(payload: Any) -> list[int]:
        return [pk(i["subjectId"]) for i in payload["spotCheck"]["items"]]

    # By hand: rank every id by sha256("<seed>:<id>"), take the 4 lowest, in that order.
    by_hand = sorted(ids, key=lambda i: hashlib.sha256(f"42:{i}".encode()).hexdigest())[:4]
    assert sample(first) == sample(again) == by_hand
    assert sample(other) != sample(first)
    assert [i["position"] for i in first["spotCheck"]["items"]] == [1, 2, 3, 4]
    for check, seed in ((first, 42), (other, 43)):
        assert check["spotCheck"]["seed"] == seed
        assert check["spotCheck"]["populationSize"] == 12
        assert check["spotCheck"]["sampleSize"] == 4
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()
    assert (
        first["spotCheck"]["populationDigest"] == other["spotCheck"]["populationDigest"] == digest
    )
    # Without a seed one is drawn, recorded and shown; drawing again with it repeats the sample.
    unseeded = draw(backend, size=4, **period)["spotCheck"]
    repeated = draw(backend, seed=unseeded["seed"], size=4, **period)["spotCheck"]
    assert [i["subjectId"] for i in repeated["items"]] == [
        i["subjectId"] for i in unseeded["items"]
    ]
    # A rate takes ceil(rate × population): 0.25 of 12 → 3, 0.26 → 4.
    assert draw(backend, seed=1, rate="0.25", **period)["spotCheck"]["sampleSize"] == 3
    assert draw(backend, seed=1, rate="0.26", **period)["spotCheck"]["sampleSize"] == 4


def test_the_period_runs_from_00_00_beijing_to_the_next_00_00_KPI_2(backend: Backend) -> None:
    branch = new_branch(backend)
    _, first, last, _ = contacts(
        backend,
        branch,
        [
            "2026-11-09T23:59:59+08:00",
            "2026-11-10T00:00:00+08:00",
            "2026-11-10T23:59:59+08:00",
            "2026-11-11T00:00:00+08:00",
        ],
    )
    check = draw(
        backend,
        seed=7,
        rate="1",
        branchId=branch["branch_id"],
        start="2026-11-10",
        end="2026-11-10",
    )["spotCheck"]
    assert check["populationSize"] == 2
    assert sorted(i["subjectId"] for i in check["items"]) == sorted([first, last])
    # Customer records: registered in the period, at the same boundaries.
    records = new_branch(backend)
    registered = []
    for moment in (
        "2026-11-19T23:59:59+08:00",
        "2026-11-20T00:00:00+08:00",
        "2026-11-20T23:59:59+08:00",
        "2026-11-21T00:00:00+08:00",
    ):
        with clock.travel_to(at(moment), all_threads=True):
            registered.append(customer_of(backend, records))
    sampled = draw(
        backend,
        kind="CUSTOMER_RECORD",
        seed=7,
        rate="1",
        branchId=records["branch_id"],
        start="2026-11-20",
        end="2026-11-20",
    )["spotCheck"]
    assert sorted(i["subjectId"] for i in sampled["items"]) == sorted(registered[1:3])
    assert {i["responsible"]["employeeNo"] for i in sampled["items"]} == {records["RM1"]}


def test_bad_draws_are_refused_with_nothing_written_KPI_2(backend: Backend) -> None:
    branch = new_branch(backend, inspector=True)
    contacts(backend, branch, ["2026-11-12T10:00:00+08:00", "2026-11-12T11:00:00+08:00"])
    period = {"branchId": branch["branch_id"], "start": "2026-11-12", "end": "2026-11-12"}
    before = rows(backend, "spot_checks"), rows(backend, "spot_check_items")
    assert errors(draw(backend, size=0, **period)) == [(["size"], "OUT_OF_RANGE")]
    assert errors(draw(backend, size=3, **period)) == [(["size"], "ABOVE_POPULATION")]
    assert errors(draw(backend, **period)) == [(["size"], "REQUIRED")]
    assert errors(draw(backend, size=1, rate="0.5", **period)) == [(["size"], "REQUIRED")]
    assert errors(draw(backend, rate="0", **period)) == [(["rate"], "OUT_OF_RANGE")]
    assert errors(draw(backend, rate="1.01", **period)) == [(["rate"], "OUT_OF_RANGE")]
    empty = {**period, "start": "2026-11-13", "end": "2026-11-13"}
    assert errors(draw(backend, size=1, **empty)) == [(["start"], "EMPTY_POPULATION")]
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    assert errors(draw(backend, size=1, **{**period, "end": tomorrow})) == [
        (["end"], "DATE_IN_FUTURE")
    ]
    assert errors(draw(backend, size=1, **{**period, "end": "2026-11-11"})) == [
        (["end"], "OUT_OF_RANGE")
    ]
    assert errors(draw(backend, size=1, seed=-1, **period)) == [(["seed"], "OUT_OF_RANGE")]
    # A relationship manager is no inspector; an auditor of the branch checked is not eligible.
    manager = draw(backend, size=1, inspectorIds=[branch["RM1_id"]], **period)
    assert errors(manager) == [(["inspectorIds", "0"], "INVALID_INSPECTOR")]
    own = draw(backend, size=2, inspectorIds=[branch["AUD_id"]], **period)
    assert [e["code"] for e in own["errors"]] == ["NO_ELIGIBLE_INSPECTOR"] * 2
    twice = draw(backend, size=1, inspectorIds=[inspector_id(backend)] * 2, **period)
    assert errors(twice) == [(["inspectorIds"], "DUPLICATE")]
    assert errors(draw(backend, size=1, inspectorIds=[], **period)) == [
        (["inspectorIds"], "REQUIRED")
    ]
    # An unknown kind is refused by the schema before anything runs.
    body = backend.post(
        DRAW, {"input": {**period, "kind": "ACCOUNT", "size": 1, "inspectorIds": []}}
    ).json()
    assert body.get("data") is None and body["errors"]
    assert (rows(backend, "spot_checks"), rows(backend, "spot_check_items")) == before
    # The auditor of the branch is passed over, the other inspector takes every item.
    mixed = draw(
        backend, size=2, seed=3, inspectorIds=[branch["AUD_id"], inspector_id(backend)], **period
    )
    assert {i["inspector"]["employeeNo"] for i in mixed["spotCheck"]["items"]} == {"AUD0001"}


def test_who_may_draw_inspect_and_read_KPI_2(backend: Backend) -> None:
    branch = new_branch(backend)
    other = new_branch(backend)
    contacts(backend, branch, ["2026-11-14T10:00:00+08:00"])
    period = {"start": "2026-11-14", "end": "2026-11-14", "size": 1, "seed": 5}
    for staff in (branch["RM1"], "AUD0001", "MKT0001"):
        body = backend.post(
            DRAW,
            {"input": {**period, "kind": "CONTACT", "inspectorIds": [inspector_id(backend)]}},
            staff=staff,
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", staff
    # A supervisor draws for their own branch (the default), never another's.
    refused = draw(backend, staff=branch["SUP"], branchId=other["branch_id"], **period)
    assert errors(refused) == [(["branchId"], "OUT_OF_SCOPE")]
    # The seed of a check of their own branch is drawn for them (SEED_NOT_ALLOWED otherwise).
    unseeded = {k: v for k, v in period.items() if k != "seed"}
    check = draw(backend, staff=branch["SUP"], **unseeded)["spotCheck"]
    assert check["branch"]["code"] == branch["code"]
    item = check["items"][0]
    # Only the assigned inspector records findings; others answer as if there were no item.
    findings = [{"criterion": c, "passed": True} for c in CRITERIA]
    for staff in ("HO0001",):
        refused_item = backend.gql(
            FINDINGS, {"input": {"itemId": item["id"], "findings": findings}}, staff=staff
        )
        assert errors(refused_item["recordSpotCheckFindings"]) == [(["itemId"], "NOT_FOUND")]
    body = backend.post(
        FINDINGS, {"input": {"itemId": item["id"], "findings": findings}}, staff=branch["SUP"]
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    failed = [
        {"criterion": CRITERIA[0], "passed": False, "severity": "LOW", "note": "摘要与录音不符"},
        *({"criterion": c, "passed": True} for c in CRITERIA[1:]),
    ]
    recorded = backend.gql(
        FINDINGS, {"input": {"itemId": item["id"], "findings": failed}}, staff="AUD0001"
    )
    assert recorded["recordSpotCheckFindings"]["errors"] == []
    # The supervisor whose branch is checked sees no findings until the check is complete;
    # another branch's supervisor does not see the check at all.
    seen = backend.gql(CHECK, {"id": check["id"]}, staff=branch["SUP"])["spotCheck"]
    assert seen["items"][0]["findings"] is None
    assert backend.gql(CHECK, {"id": check["id"]}, staff=other["SUP"])["spotCheck"] is None
    inspector = backend.gql(CHECK, {"id": check["id"]}, staff="AUD0001")["spotCheck"]
    assert inspector["items"][0]["findings"][0]["note"] == "摘要与录音不符"
    done = backend.gql(COMPLETE, {"input": {"id": check["id"]}}, staff=branch["SUP"])
    assert done["completeSpotCheck"]["errors"] == []
    final = backend.gql(CHECK, {"id": check["id"]}, staff=branch["SUP"])["spotCheck"]
    assert final["items"][0]["findings"][0] == {
        "criterion": CRITERIA[0],
        "passed": False,
        "note": "摘要与录音不符",
    }
    # The notes are sealed at rest.
    with backend.engine.connect() as connection:
        stored = connection.scalar(
            text(
                "SELECT note FROM spot_check_findings WHERE note IS NOT NULL ORDER BY id DESC LIMIT 1"
            )
        )
    assert "摘要" not in str(stored)
    # A check head office drew for the branch is completed by head office, not its supervisor.
    ordered = draw(
        backend, seed=6, size=1, branchId=branch["branch_id"], start="2026-11-14", end="2026-11-14"
    )
    assert _record(backend, ordered["spotCheck"]["items"][0]["id"])["errors"] == []
    refused_completion = backend.gql(
        COMPLETE, {"input": {"id": ordered["spotCheck"]["id"]}}, staff=branch["SUP"]
    )
    assert errors(refused_completion["completeSpotCheck"]) == [(["id"], "NOT_FOUND")]
    # Marketing sees no spot check.
    body = backend.post("{ spotChecks(first: 1) { totalCount } }", staff="MKT0001").json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# ---- findings and rectifications --------------------------------------------------------------


def _drawn(backend: Backend, branch: dict[str, str], day: str, count: int = 2) -> dict[str, Any]:
    moments = [f"{day}T{10 + i:02d}:00:00+08:00" for i in range(count)]
    contacts(backend, branch, moments)
    check = draw(backend, seed=11, rate="1", branchId=branch["branch_id"], start=day, end=day)
    assert check["errors"] == []
    return dict(check["spotCheck"])


def _record(backend: Backend, item: str, failed: dict[str, str] | None = None) -> Any:
    findings: list[dict[str, Any]] = [{"criterion": c, "passed": True} for c in CRITERIA]
    if failed:
        findings[0] = {"criterion": CRITERIA[0], "passed": False, **failed}
    return backend.gql(
        FINDINGS, {"input": {"itemId": item, "findings": findings}}, staff="AUD0001"
    )["recordSpotCheckFindings"]


def test_findings_answer_every_criterion_once_KPI_2(backend: Backend) -> None:
    branch = new_branch(backend)
    check = _drawn(backend, branch, "2026-11-16")
    item = check["items"][0]["id"]
    given = [{"criterion": c, "passed": True} for c in CRITERIA]
    cases = [
        (given[:3], [(["findings"], "REQUIRED")]),
        (
            [*given, {"criterion": "SMILE", "passed": True}],
            [(["findings", "4", "criterion"], "UNKNOWN_CRITERION")],
        ),
        ([*given, given[0]], [(["findings", "4", "criterion"], "DUPLICATE")]),
        (
            [{"criterion": CRITERIA[0], "passed": False, "note": "缺"}, *given[1:]],
            [(["findings", "0", "severity"], "REQUIRED")],
        ),
        (
            [{"criterion": CRITERIA[0], "passed": False, "severity": "HIGH"}, *given[1:]],
            [(["findings", "0", "note"], "REQUIRED")],
        ),
        (
            [{"criterion": CRITERIA[0], "passed": True, "severity": "HIGH"}, *given[1:]],
            [(["findings", "0", "severity"], "INVALID")],
        ),
    ]
    for findings, expected in cases:
        payload = backend.gql(
            FINDINGS, {"input": {"itemId": item, "findings": findings}}, staff="AUD0001"
        )
        assert errors(payload["recordSpotCheckFindings"]) == expected
    assert rows_of_item(backend, item) == 0
    assert _record(backend, item)["errors"] == []
    again = _record(backend, item)
    assert errors(again) == [(["itemId"], "ALREADY_RECORDED")]
    # An item of no sample (a made-up ID) is not found.
    missing = backend.gql(
        FINDINGS,
        {"input": {"itemId": "U3BvdENoZWNrSXRlbTo5OTk5OTk5", "findings": given}},
        staff="AUD0001",
    )
    assert errors(missing["recordSpotCheckFindings"]) == [(["itemId"], "NOT_FOUND")]
    # Completing with an item still open is refused; nothing changes.
    early = backend.gql(COMPLETE, {"input": {"id": check["id"]}})["completeSpotCheck"]
    assert errors(early) == [(["id"], "FINDINGS_MISSING")]
    open_items = backend.gql(ITEMS, {"where": {"inspected": {"eq": False}}}, staff="AUD0001")[
        "myInspectionItems"
    ]["edges"]
    assert check["items"][1]["id"] in [e["node"]["id"] for e in open_items]
    assert check["items"][0]["id"] not in [e["node"]["id"] for e in open_items]


def rows_of_item(backend: Backend, item: str) -> int:
    with backend.engine.connect() as connection:
        return int(
            connection.scalar(
                text("SELECT count(*) FROM spot_check_findings WHERE item_id = :i"), {"i": pk(item)}
            )
            or 0
        )


def _mine(backend: Backend, staff: str) -> list[dict[str, Any]]:
    return [e["node"] for e in backend.gql(MINE, staff=staff)["myRectifications"]["edges"]]


def _warnings(backend: Backend, staff: str) -> int:
    with backend.engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(Notification)
                .join(Staff, Staff.id == Notification.recipient_id)
                .where(Staff.employee_no == staff, Notification.information_kind == "SPOT_CHECK")
            )
            or 0
        )


def test_a_failure_is_rectified_verified_and_overdue_from_its_due_instant_KPI_2(
    backend: Backend,
) -> None:
    branch = new_branch(backend)
    check = _drawn(backend, branch, "2026-11-18")
    first, second = (i["id"] for i in check["items"])
    assert _record(backend, first)["errors"] == []
    assert (
        _record(backend, second, {"severity": "HIGH", "note": "未按规定记录客户反馈"})["errors"]
        == []
    )
    assert _mine(backend, branch["RM1"]) == []  # nothing to rectify before the check is complete
    completed = at("2026-11-20T15:30:00+08:00")
    with clock.travel_to(completed, all_threads=True):
        done = backend.gql(COMPLETE, {"input": {"id": check["id"]}})["completeSpotCheck"]
        assert done["errors"] == [] and done["spotCheck"]["status"] == "COMPLETED"
        twice = backend.gql(COMPLETE, {"input": {"id": check["id"]}})["completeSpotCheck"]
        assert errors(twice) == [(["id"], "ALREADY_COMPLETED")]
    # HIGH: 7 natural days from 2026-11-20 → due at 00:00 Beijing on 2026-11-28.
    due = at("2026-11-28T00:00:00+08:00")
    (mine,) = _mine(backend, branch["RM1"])
    assert mine["dueAt"] == "2026-11-27T16:00:00+00:00"
    assert (mine["criterion"], mine["severity"], mine["status"]) == (CRITERIA[0], "HIGH", "OPEN")

    def overdue_ids() -> list[str]:
        return [e["node"]["id"] for e in backend.gql(OVERDUE)["overdueRectifications"]["edges"]]

    with clock.travel_to(due - timedelta(seconds=1), all_threads=True):
        assert _mine(backend, branch["RM1"])[0]["overdue"] is False
        assert mine["id"] not in overdue_ids()
    run_once(backend.engine, due - timedelta(seconds=1))
    assert _warnings(backend, branch["RM1"]) == 0
    with clock.travel_to(due, all_threads=True):
        assert _mine(backend, branch["RM1"])[0]["overdue"] is True
        assert mine["id"] in overdue_ids()
        # The supervisor of the branch sees it in the overdue list too; another's does not.
        supervisor = backend.gql(OVERDUE, staff=branch["SUP"])["overdueRectifications"]["edges"]
        assert mine["id"] in [e["node"]["id"] for e in supervisor]
    run_once(backend.engine, due)
    assert _warnings(backend, branch["RM1"]) == 1
    run_once(backend.engine, due + timedelta(hours=1))
    assert _warnings(backend, branch["RM1"]) == 1  # warned once
    notices = backend.gql(
        "{ notifications(first: 20) { edges { node { informationKind summary fields } } } }",
        staff=branch["RM1"],
    )["notifications"]["edges"]
    warned = [n["node"] for n in notices if n["node"]["informationKind"] == "SPOT_CHECK"]
    assert [n["fields"] for n in warned] == [["SpotCheckRectification.dueAt"]]
    assert "逾期" in warned[0]["summary"]
    assert _mine(backend, branch["RM1"])[0]["overdueWarnedAt"] == due.isoformat()

    def rectify(staff: str) -> Any:
        given = {"id": mine["id"], "note": "已补录客户反馈并复核"}
        return backend.gql(RECTIFY, {"input": given}, staff=staff)["rectifySpotCheckFinding"]

    def verify(accepted: bool, staff: str = "AUD0001") -> Any:
        given = {"id": mine["id"], "accepted": accepted}
        return backend.gql(VERIFY, {"input": given}, staff=staff)["verifySpotCheckRectification"]

    assert errors(rectify(branch["RM2"])) == [(["id"], "NOT_FOUND")]  # not the owner
    assert errors(verify(True)) == [(["id"], "NOT_RECTIFIED")]
    assert rectify(branch["RM1"])["rectification"]["status"] == "RECTIFIED"
    assert errors(rectify(branch["RM1"])) == [(["id"], "NOT_OPEN")]
    assert errors(verify(True, "HO0001")) == [(["id"], "NOT_FOUND")]  # not the item's inspector
    reopened = verify(False)["rectification"]
    assert (reopened["status"], reopened["reopened"]) == ("OPEN", 1)
    assert rectify(branch["RM1"])["errors"] == []
    closed = verify(True)["rectification"]
    assert closed["status"] == "VERIFIED" and closed["verifiedAt"] is not None
    assert errors(verify(True)) == [(["id"], "ALREADY_CLOSED")]
    assert errors(verify(False)) == [(["id"], "ALREADY_CLOSED")]
    assert errors(rectify(branch["RM1"])) == [(["id"], "ALREADY_CLOSED")]
    with clock.travel_to(due + timedelta(days=1), all_threads=True):
        assert mine["id"] not in overdue_ids()


def test_pass_rates_by_staff_and_branch_of_checks_completed_in_the_period_KPI_2(
    backend: Backend,
) -> None:
    branch = new_branch(backend)
    contacts(backend, branch, ["2026-11-21T10:00:00+08:00"], manager="RM1")
    contacts(backend, branch, ["2026-11-21T11:00:00+08:00"], manager="RM2")
    check = draw(
        backend,
        seed=2,
        rate="1",
        branchId=branch["branch_id"],
        start="2026-11-21",
        end="2026-11-21",
    )["spotCheck"]
    for item in check["items"]:
        failed = (
            {"severity": "LOW", "note": "礼貌用语不规范"}
            if item["responsible"]["employeeNo"] == branch["RM2"]
            else None
        )
        assert _record(backend, item["id"], failed)["errors"] == []
    with clock.travel_to(at("2026-11-30T23:59:59+08:00"), all_threads=True):
        assert (
            backend.gql(COMPLETE, {"input": {"id": check["id"]}})["completeSpotCheck"]["errors"]
            == []
        )

    def rates(start: str, end: str, by: str, staff: str = "HO0001") -> list[Any]:
        variables = {"start": start, "end": end, "by": by, "branch": branch["branch_id"]}
        return list(backend.gql(PASS_RATES, variables, staff=staff)["spotCheckPassRates"]["cells"])

    by_staff = rates("2026-11-30", "2026-11-30", "STAFF")
    assert sorted(
        (r["staff"]["employeeNo"], r["numerator"], r["denominator"]) for r in by_staff
    ) == [
        (branch["RM1"], 4, 4),
        (branch["RM2"], 3, 4),
    ]
    (by_branch,) = rates("2026-11-30", "2026-11-30", "BRANCH")
    assert (by_branch["branch"]["code"], by_branch["numerator"], by_branch["denominator"]) == (
        branch["code"],
        7,
        8,
    )
    assert by_branch["value"] == 0.875
    assert rates("2026-12-01", "2026-12-01", "BRANCH") == []  # completed 1 s before 00:00
    assert rates("2026-11-30", "2026-11-30", "BRANCH", staff=branch["SUP"])[0]["numerator"] == 7


# ---- cases for tests/test_unit_of_work.py -------------------------------------------------------


def case_draw(backend: Backend) -> tuple[str, dict[str, Any]]:
    branch = new_branch(backend)
    contacts(backend, branch, ["2026-11-22T10:00:00+08:00"])
    return "HO0001", {
        "kind": "CONTACT",
        "branchId": branch["branch_id"],
        "start": "2026-11-22",
        "end": "2026-11-22",
        "size": 1,
        "inspectorIds": [inspector_id(backend)],
    }


def case_findings(backend: Backend) -> tuple[str, dict[str, Any]]:
    check = _drawn(backend, new_branch(backend), "2026-11-23", count=1)
    findings = [{"criterion": c, "passed": True} for c in CRITERIA]
    return "AUD0001", {"itemId": check["items"][0]["id"], "findings": findings}


def case_complete(backend: Backend) -> tuple[str, dict[str, Any]]:
    check = _drawn(backend, new_branch(backend), "2026-11-24", count=1)
    assert (
        _record(backend, check["items"][0]["id"], {"severity": "LOW", "note": "记录不全"})["errors"]
        == []
    )
    return "HO0001", {"id": check["id"]}


def _rectification(backend: Backend) -> tuple[dict[str, str], str]:
    branch = new_branch(backend)
    check = _drawn(backend, branch, "2026-11-25", count=1)
    assert (
        _record(backend, check["items"][0]["id"], {"severity": "LOW", "note": "记录不全"})["errors"]
        == []
    )
    assert (
        backend.gql(COMPLETE, {"input": {"id": check["id"]}})["completeSpotCheck"]["errors"] == []
    )
    return branch, _mine(backend, branch["RM1"])[0]["id"]


def case_rectify(backend: Backend) -> tuple[str, dict[str, Any]]:
    branch, rectification = _rectification(backend)
    return branch["RM1"], {"id": rectification, "note": "已补全"}


def case_verify(backend: Backend) -> tuple[str, dict[str, Any]]:
    branch, rectification = _rectification(backend)
    done = backend.gql(
        RECTIFY, {"input": {"id": rectification, "note": "已补全"}}, staff=branch["RM1"]
    )
    assert done["rectifySpotCheckFinding"]["errors"] == []
    return "AUD0001", {"id": rectification, "accepted": True}
