"""Every change is one unit of work with exactly one CHANGE entry of the audit log (SHARE-4).

Each mutation field of the schema runs once, successfully, through the HTTP API as a role
allowed to, and must leave exactly one new CHANGE entry named after it, which records the
right it ran under and the rows it changed. A mutation missing from ``CASES`` fails the walk,
so a new mutation cannot be added without showing that it is audited. Refused and invalid
calls leave nothing; a step of the timers worker is recorded with the worker as actor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from core import clock
from core.ids import pk_of
from kehu.worker import run_once
from resolvers import audit
from resolvers.shared import unit_of_work
from schema.schema import build_schema
from schema.shared.rights import HasRight, WritesCustomer, declared_right
from tests.complaint_steps import (
    DECISION,
    assign,
    bj_customer,
    complaint_pk,
    do,
    fire_timers,
    investigation,
    read,
    submit,
    systemic,
    task_of,
)
from tests.conftest import SOURCE, Backend, branch_id, create_customer, new_id_number
from workflows import operations

ORIGINAL = (Path(__file__).parent.parent / "workflows" / "complaint.bpmn").read_text()
DAY = timedelta(days=1)


@dataclass
class Call:
    """One call of a mutation (its ``input``), as ``staff``; ``cleanup`` undoes it after."""

    staff: str
    input: dict[str, Any]
    purpose: str | None = "CUSTOMER_SERVICE"
    cleanup: Callable[[], None] | None = None


def _mutation_fields() -> dict[str, Any]:
    return dict(build_schema()._schema.mutation_type.fields)  # type: ignore[union-attr]


def _document(name: str) -> str:
    field = _mutation_fields()[name]
    input_type = field.args["input"].type  # NonNull(InputObject)
    return f"mutation($input: {input_type}) {{ {name}(input: $input) {{ errors {{ code }} }} }}"


def _run(backend: Backend, name: str, call: Call) -> dict[str, Any]:
    body = backend.post(
        _document(name), {"input": call.input}, staff=call.staff, purpose=call.purpose
    ).json()
    return dict(body)


def _ok(backend: Backend, name: str, call: Call) -> None:
    body = _run(backend, name, call)
    assert "errors" not in body, body
    assert body["data"][name]["errors"] == [], body


def _changes_after(backend: Backend, last_id: int) -> list[dict[str, Any]]:
    with backend.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, actor, actor_id, operation, customer_ids, detail FROM audit_log "
                "WHERE action = 'CHANGE' AND id > :last ORDER BY id"
            ),
            {"last": last_id},
        ).all()
    return [
        {
            **row._mapping,
            "detail": orjson.loads(audit.open_detail(row.detail, row.id) or "null"),
        }
        for row in rows
    ]


def _last_id(backend: Backend) -> int:
    with backend.engine.connect() as connection:
        return int(connection.scalar(text("SELECT COALESCE(MAX(id), 0) FROM audit_log")) or 0)


# --- the cases: set up what the call needs, return the call -----------------------------------


def _rm_customer(backend: Backend) -> dict[str, Any]:
    return bj_customer(backend)


def _customer_call(values: dict[str, Any]) -> Callable[[Backend], Call]:
    def case(backend: Backend) -> Call:
        customer = create_customer(backend)
        return Call("HO0001", {"customerId": customer["id"], **values})

    return case


def _recommend(backend: Backend) -> Call:
    """A customer opted in, contacted by WeChat, assessed C3 (REL-3)."""
    from tests.test_recommendations import DISCLOSURE, _prepare

    customer_id, _ = _prepare(backend)
    given = {"customerId": customer_id, "productCode": "DEP-3M", "channel": "WECHAT"}
    return Call("RM0001", {**given, **DISCLOSURE})


def _clear_need(backend: Backend) -> Call:
    """A need staff set (SEG-2), cleared back to the derived value."""
    from tests.test_segment_needs import _set

    customer_id = create_customer(backend, staff="RM0001")["id"]
    _set(backend, "RM0001", customerId=customer_id, need="SETTLEMENT", present=True, reason="x")
    return Call("RM0001", {"customerId": customer_id, "need": "SETTLEMENT", "reason": "audit"})


def _create_customer(backend: Backend) -> Call:
    return Call("HO0001", {"name": "审计客户", "idNumber": new_id_number(), "source": SOURCE})


def _update_customer(backend: Backend) -> Call:
    customer = create_customer(backend)
    changes = {"phone": "13700009999"}
    return Call(
        "HO0001",
        {
            "id": customer["id"],
            "expectedVersion": customer["version"],
            "changes": changes,
            "source": SOURCE,
        },
    )


_refs = iter(range(10_000))


def _import_transactions(backend: Backend) -> Call:
    customer = create_customer(backend)
    number = f"6399{next(_refs):012d}"
    return Call(
        "HO0001",
        {
            "customerId": customer["id"],
            "accounts": [
                {
                    "accountNo": number,
                    "kind": "DEMAND_DEPOSIT",
                    "openedOn": "2021-01-01",
                    "balance": "10",
                }
            ],
            "transactions": [
                {
                    "accountNo": number,
                    "externalRef": "UOW1",
                    "occurredAt": "2026-11-01T08:00:00Z",
                    "amount": "10",
                    "type": "DEPOSIT",
                    "channel": "ATM",
                }
            ],
            "source": SOURCE,
        },
    )


WATCH = "mutation($input: WatchCustomerInput!) { watchCustomer(input: $input) { errors { code } } }"


def _watch(backend: Backend) -> Call:
    customer = create_customer(backend)
    return Call("RISK0001", {"customerId": customer["id"], "reason": "audit test"})


def _unwatch(backend: Backend) -> Call:
    call = _watch(backend)
    _ok(backend, "watchCustomer", call)
    return Call("RISK0001", {"customerId": call.input["customerId"]})


def _mark_read(backend: Backend) -> Call:
    return Call("RISK0001", {"ids": []})


def _submit_complaint(backend: Backend) -> Call:
    customer = _rm_customer(backend)
    return Call(
        "RM0001",
        {
            "customerId": customer["id"],
            "channel": "HOTLINE",
            "category": "FEES_AND_CHARGES",
            "description": "审计测试投诉",
            "idempotencyKey": f"uow-{next(_refs)}",
        },
    )


def _withdraw(backend: Backend) -> Call:
    complaint = submit(backend, _rm_customer(backend))
    return Call("RM0001", {"id": complaint["id"], "reason": "客户撤回"})


def _merge(backend: Backend) -> Call:
    customer = _rm_customer(backend)
    first, repeated = submit(backend, customer), submit(backend, customer)
    return Call("SUP0001", {"into": first["id"], "duplicate": repeated["id"], "reason": "同一事项"})


def _pause(backend: Backend) -> Call:
    complaint = submit(backend, _rm_customer(backend))
    return Call("HO0001", {"id": complaint["id"], "reason": "APPRAISAL", "note": "司法鉴定"})


def _request_review(backend: Backend) -> Call:
    complaint = submit(backend, _rm_customer(backend))
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    return Call("HO0001", {"id": complaint["id"], "reason": "对处理结果有异议"})


def _resume(backend: Backend) -> Call:
    call = _pause(backend)
    _ok(backend, "pauseComplaintClock", call)
    return Call("HO0001", {"id": call.input["id"]})


def _acknowledge(backend: Backend) -> Call:
    complaint = submit(backend, _rm_customer(backend), personsInvolved=30)
    alerts = backend.gql(
        "{ complaintAlerts(first: 100, where: {acknowledged: {eq: false}}) "
        "{ edges { node { id complaint { id } } } } }"
    )["complaintAlerts"]["edges"]
    (alert,) = [e["node"]["id"] for e in alerts if e["node"]["complaint"]["id"] == complaint["id"]]
    return Call("HO0001", {"id": alert})


def _close_rectification(backend: Backend) -> Call:
    complaint = submit(backend, _rm_customer(backend), category="OTHER")
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", systemic(cause="OTHER"))
    _ok(backend, "withdrawComplaint", Call("RM0001", {"id": complaint["id"], "reason": "撤回"}))
    return Call(
        "HO0001",
        {
            "complaintId": complaint["id"],
            "actions": ["整改"],
            "completedOn": clock.today().isoformat(),
            "recurrenceCheck": "未复发",
        },
    )


def _deploy(backend: Backend) -> Call:
    # The shipped diagram again: an unchanged deploy is still a (recorded) successful call.
    return Call("PO0001", {"bpmnXml": ORIGINAL})


def _process_ids(backend: Backend) -> tuple[str, str]:
    complaint = submit(backend, _rm_customer(backend))
    process = backend.gql(
        "query($id: ID!) { complaint(id: $id) { process { instance { id } version { id } } } }",
        {"id": complaint["id"]},
    )["complaint"]["process"]
    return process["instance"]["id"], process["version"]["id"]


def _migrate(backend: Backend) -> Call:
    instance, version = _process_ids(backend)
    return Call("PO0001", {"instance": instance, "version": version})


def _retry_incident(backend: Backend) -> Call:
    """An incident opened by a failing automatic step — recording the handler after the
    assignment (the operation fixed again after). Progress updates are the clocks' code now, no
    diagram step, so they open no incident."""
    complaint = submit(backend, _rm_customer(backend))
    original = operations._REGISTRY["assign_handler"]

    def broken(_call: operations.OperationCall) -> dict[str, Any]:
        raise ConnectionError("directory down")

    operations._REGISTRY["assign_handler"] = (broken, original[1])
    try:
        assign(backend, complaint)
    finally:
        operations._REGISTRY["assign_handler"] = original
    key = f"complaint:{complaint_pk(backend, complaint)}"
    edges = backend.gql(
        "{ processIncidents(first: 100) { edges { node { id instance { businessKey } } } } }",
        staff="PO0001",
    )["processIncidents"]["edges"]
    [incident] = [e["node"]["id"] for e in edges if e["node"]["instance"]["businessKey"] == key]
    return Call("PO0001", {"id": incident})


def _claim(backend: Backend) -> Call:
    complaint = submit(backend, _rm_customer(backend))
    return Call("SUP0001", {"id": task_of(backend, "SUP0001", complaint, "Task_AssignHandler")})


def _reassign(backend: Backend) -> Call:
    complaint = submit(backend, _rm_customer(backend))
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    return Call("HO0001", {"id": task, "assignee": "BJ01SUP01"})


def _complete(backend: Backend) -> Call:
    complaint = submit(backend, _rm_customer(backend))
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    return Call("SUP0001", {"id": task, "data": {"handler": "SH01CH01"}})


def _record_delivery(backend: Backend) -> Call:
    # The acknowledgement waits QUEUED (no SMS gateway): the supervisor records its delivery.
    complaint = submit(backend, _rm_customer(backend))
    return Call(
        "SUP0001",
        {"complaint": complaint["id"], "kind": "ACKNOWLEDGEMENT", "proof": "电话告知并确认"},
        purpose="COMPLAINT_HANDLING",
    )


_parties = iter(range(10_000))


def _party_input() -> dict[str, Any]:
    return {
        "name": f"审计合作方 {next(_parties)}",
        "agreementReference": "NDA-UOW",
        "agreementSignedOn": "2026-01-01",
        "agreementExpiresOn": "2030-12-31",
    }


def _register(backend: Backend) -> Call:
    return Call("SEC0001", _party_input())


def _party(backend: Backend) -> str:
    payload = backend.gql(
        "mutation($input: RegisterThirdPartyInput!) { registerThirdParty(input: $input) "
        "{ thirdParty { id } errors { code } } }",
        {"input": _party_input()},
        staff="SEC0001",
    )["registerThirdParty"]
    return str(payload["thirdParty"]["id"])


def _consent_input(backend: Backend) -> dict[str, Any]:
    return {
        "customerId": _rm_customer(backend)["id"],
        "thirdParty": _party(backend),
        "purpose": "CUSTOMER_SERVICE",
        "dataCategories": ["contact"],
        "validUntil": (clock.now() + 90 * DAY).isoformat(),
        "evidence": "signed consent form, scanned",
        "processingMethods": ["STORAGE"],
        "recipientContact": {"name": "数据保护办公室", "email": "dpo@partner.example.com"},
    }


def _record_consent(backend: Backend) -> Call:
    return Call("RM0001", _consent_input(backend), purpose="RELATIONSHIP_MANAGEMENT")


def _revoke_consent(backend: Backend) -> Call:
    recorded = backend.gql(
        "mutation($input: RecordConsentInput!) { recordConsent(input: $input) "
        "{ consent { id } errors { code } } }",
        {"input": _consent_input(backend)},
        staff="RM0001",
        purpose="RELATIONSHIP_MANAGEMENT",
    )["recordConsent"]
    return Call("RM0001", {"id": recorded["consent"]["id"]}, purpose="RELATIONSHIP_MANAGEMENT")


def _request_share(backend: Backend) -> Call:
    return Call(
        "RM0001",
        {
            "customerId": _rm_customer(backend)["id"],
            "thirdParty": _party(backend),
            "purpose": "CUSTOMER_SERVICE",
            "dataCategories": ["contact"],
            "reason": "理赔回访",
        },
    )


def _grant_input(backend: Backend) -> dict[str, Any]:
    return {
        "receivingRole": "BRANCH_SUPERVISOR",
        "receivingBranch": branch_id(backend, "SH01SUP01"),
        "purpose": "CUSTOMER_SERVICE",
        "fieldGroups": ["contact"],
        "expiresAt": (clock.now() + DAY).isoformat(),
        "reason": "audit test",
    }


def _revoke_grant_of(backend: Backend, grant: str) -> None:
    backend.gql(
        "mutation($id: ID!) { revokeShareGrant(input: {id: $id}) { errors { code } } }",
        {"id": grant},
        staff="SUP0001",
    )


def _create_grant(backend: Backend) -> Call:
    def cleanup() -> None:
        grants = backend.gql(
            "{ shareGrants(first: 100) { edges { node { id reason inForce } } } }",
            staff="SUP0001",
        )["shareGrants"]["edges"]
        for edge in grants:
            if edge["node"]["reason"] == "audit test" and edge["node"]["inForce"]:
                _revoke_grant_of(backend, edge["node"]["id"])

    return Call("SUP0001", _grant_input(backend), cleanup=cleanup)


def _revoke_grant(backend: Backend) -> Call:
    created = backend.gql(
        "mutation($input: CreateShareGrantInput!) { createShareGrant(input: $input) "
        "{ shareGrant { id } errors { code } } }",
        {"input": _grant_input(backend)},
        staff="SUP0001",
    )["createShareGrant"]
    return Call("SUP0001", {"id": created["shareGrant"]["id"]})


RULE = {
    "role": "MARKETING_ANALYST",
    "object": "Customer.idNumber",
    "action": "full",
    "effect": "deny",
}
ROLE = {"employeeNo": "MKT0001", "role": "HEAD_OFFICE"}


def _add_rule(backend: Backend) -> Call:
    return Call(
        "SEC0001",
        RULE,
        cleanup=lambda: _ok(backend, "removePolicyRule", Call("SEC0001", RULE)),
    )


def _remove_rule(backend: Backend) -> Call:
    _ok(backend, "addPolicyRule", Call("SEC0001", RULE))
    return Call("SEC0001", RULE)


def _assign_role(backend: Backend) -> Call:
    return Call(
        "SEC0001", ROLE, cleanup=lambda: _ok(backend, "unassignRole", Call("SEC0001", ROLE))
    )


def _unassign_role(backend: Backend) -> Call:
    _ok(backend, "assignRole", Call("SEC0001", ROLE))
    return Call("SEC0001", ROLE)


def _change_model(backend: Backend) -> Call:
    from tests.test_segments import RULE_SET, _file_model

    version = backend.gql(RULE_SET)["valueRuleSet"]["version"]
    return Call("HO0001", {**_file_model(), "expectedVersion": version})


def _change_risk_model(backend: Backend) -> Call:
    from tests.test_segment_risk import RISK_RULES, file_risk_model

    version = backend.gql(RISK_RULES)["riskRuleSet"]["version"]
    return Call("RISK0001", {**file_risk_model(), "expectedVersion": version})


def _change_measures(backend: Backend) -> Call:
    from tests.test_segment_measures import _file_measures, _measures_version

    values = {
        "expectedVersion": _measures_version(backend),
        "measures": _file_measures(),
        "summary": "audit test",
    }
    return Call("HO0001", values)


def _override_input(backend: Backend) -> dict[str, Any]:
    customer = create_customer(backend, staff="RM0001")
    return {
        "customerId": customer["id"],
        "tier": "HIGH",
        "reason": "audit test",
        "expiresAt": (clock.now() + DAY).isoformat(),
    }


def _override(backend: Backend) -> Call:
    return Call("SUP0001", _override_input(backend))


def _withdraw_override(backend: Backend) -> Call:
    values = _override_input(backend)
    _ok(backend, "overrideSegment", Call("SUP0001", values))
    return Call("SUP0001", {"customerId": values["customerId"]})


def _set_weights(backend: Backend) -> Call:
    from tests.scorecard_steps import HONOURS, LEVELS

    values = {"validFrom": "2024-01-01", "validTo": "2024-01-31", "summary": "audit test"}
    return Call("HO0001", {**values, "levels": LEVELS, "honours": HONOURS})


def _assess(backend: Backend) -> Call:
    from tests.scorecard_steps import world

    return Call("HO0001", {"period": "2024-02", "branchId": world(backend, "2024-02").branch_id})


def _club(case: str, module: str = "test_club") -> Callable[[Backend], Call]:
    """A club or survey mutation's case (tests/test_club.py and tests/test_surveys.py build
    their events, members and occasions)."""

    def call(backend: Backend) -> Call:
        import importlib

        staff, values = getattr(importlib.import_module(f"tests.{module}"), case)(backend)
        return Call(staff, values)

    return call


CASES: dict[str, Callable[[Backend], Call]] = {
    "createCustomer": _create_customer,
    "updateCustomer": _update_customer,
    "recordFinancialSnapshot": _customer_call(
        {
            "asOf": "2026-09-30",
            "annualIncome": "100000",
            "totalAssets": "900000",
            "totalLiabilities": "1000",
            "assetsUnderManagement": "5000",
            "source": SOURCE,
        }
    ),
    "importTransactions": _import_transactions,
    "recordPreferences": _customer_call(
        {"products": ["国债"], "marketingOptIn": False, "source": SOURCE}
    ),
    "recordRiskAssessment": _customer_call(
        {"riskTolerance": "C1_CONSERVATIVE", "creditStatus": "NORMAL", "source": SOURCE}
    ),
    "recordVerification": _customer_call({"informationKind": "BASIC", "result": "CONFIRMED"}),
    "watchCustomer": _watch,
    "unwatchCustomer": _unwatch,
    "markNotificationsRead": _mark_read,
    "submitComplaint": _submit_complaint,
    "withdrawComplaint": _withdraw,
    "mergeComplaints": _merge,
    "pauseComplaintClock": _pause,
    "resumeComplaintClock": _resume,
    "requestComplaintReview": _request_review,
    "acknowledgeComplaintAlert": _acknowledge,
    "closeRectification": _close_rectification,
    "deployProcess": _deploy,
    "migrateProcessInstance": _migrate,
    "retryProcessIncident": _retry_incident,
    "claimTask": _claim,
    "reassignTask": _reassign,
    "completeTask": _complete,
    "recordMessageDelivery": _record_delivery,
    "requestDataShare": _request_share,
    "registerThirdParty": _register,
    "recordConsent": _record_consent,
    "revokeConsent": _revoke_consent,
    "createShareGrant": _create_grant,
    "revokeShareGrant": _revoke_grant,
    "addPolicyRule": _add_rule,
    "removePolicyRule": _remove_rule,
    "assignRole": _assign_role,
    "unassignRole": _unassign_role,
    "changeValueRuleSet": _change_model,
    "changeRiskRuleSet": _change_risk_model,
    "changeServiceMeasures": _change_measures,
    # The run it asks for is run by the worker afterwards (one bulk run at a time).
    "classifyCustomers": lambda backend: Call(
        "HO0001", {}, cleanup=lambda: run_once(backend.engine)
    ),
    "overrideSegment": _override,
    "withdrawSegmentOverride": _withdraw_override,
    "logContact": _customer_call(
        {
            "channel": "PHONE",
            "phoneLine": "MANAGER",
            "purpose": "CARE_AND_FEEDBACK",
            "contactedAt": "2026-11-02T10:00:00+08:00",
            "summary": "audit test",
            "nextStep": "回访",
            "nextStepDueOn": (clock.today() + DAY).isoformat(),
        }
    ),
    "recommendProduct": _recommend,
    "setCustomerNeed": lambda backend: Call(
        "RM0001",
        {
            "customerId": create_customer(backend, staff="RM0001")["id"],
            "need": "SETTLEMENT",
            "present": True,
            "reason": "audit test",
        },
    ),
    "clearCustomerNeed": _clear_need,
    "setScorecardWeights": _set_weights,
    "assessScorecards": _assess,
    "createClubEvent": _club("case_create_event"),
    "inviteToClubEvent": _club("case_invite"),
    "registerForClubEvent": _club("case_register"),
    "recordClubAttendance": _club("case_attend"),
    "cancelClubEvent": _club("case_cancel"),
    "updateClubEvent": _club("case_update"),
    "withdrawClubRegistration": _club("case_withdraw"),
    "requestSurvey": _club("case_request", "test_surveys"),
    "recordSurveyResponse": _club("case_respond", "test_surveys"),
    "createTeam": _club("case_create_team", "test_kpis"),
    "moveStaffToTeam": _club("case_move", "test_kpis"),
    "drawSpotCheck": _club("case_draw", "test_spot_checks"),
    "recordSpotCheckFindings": _club("case_findings", "test_spot_checks"),
    "completeSpotCheck": _club("case_complete", "test_spot_checks"),
    "rectifySpotCheckFinding": _club("case_rectify", "test_spot_checks"),
    "verifySpotCheckRectification": _club("case_verify", "test_spot_checks"),
    "recordStaffEvaluation": _club("case_evaluate", "test_spot_checks_evaluations"),
    "publishQuestionnaire": _club("case_publish", "test_surveys"),
    "setClubMembership": lambda backend: Call(
        "HO0001",
        {"tier": "HIGH", "level": "GOLD", "label": "金卡会员（审计）"},
        cleanup=lambda: _ok(
            backend,
            "setClubMembership",
            Call("HO0001", {"tier": "HIGH", "level": "GOLD", "label": "金卡会员"}),
        ),
    ),
}


def _right_names(name: str) -> Callable[[str], bool]:
    """Whether a recorded right is the one the field declares."""
    definition = _mutation_fields()[name].extensions["strawberry-definition"]
    right = declared_right(definition)
    if isinstance(right, HasRight):
        return lambda recorded: recorded in right.rights
    if isinstance(right, WritesCustomer):
        return lambda recorded: recorded.endswith("customer:write")
    return lambda recorded: False


@pytest.mark.parametrize("name", sorted(_mutation_fields()))
def test_every_mutation_writes_exactly_one_change_entry(backend: Backend, name: str) -> None:
    if name not in CASES:
        pytest.fail(f"mutation {name} has no case in tests/test_unit_of_work.py CASES")
    call = CASES[name](backend)
    last = _last_id(backend)
    try:
        _ok(backend, name, call)
        entries = _changes_after(backend, last)
    finally:
        if call.cleanup is not None:
            call.cleanup()
    assert [e["operation"] for e in entries] == [name]
    (entry,) = entries
    assert entry["actor"] == call.staff and entry["actor_id"] is not None
    detail = entry["detail"]
    assert _right_names(name)(detail["right"]), detail["right"]
    assert isinstance(detail["rows"], list)
    if name not in {"deployProcess", "markNotificationsRead"}:  # these changed nothing here
        assert detail["rows"], detail
        assert all({"table", "pk", "op"} <= set(row) for row in detail["rows"])


def test_the_case_table_names_only_mutations_of_the_schema() -> None:
    assert set(CASES) <= set(_mutation_fields())


def test_a_customer_change_keeps_its_field_by_field_values(backend: Backend) -> None:
    call = _update_customer(backend)
    last = _last_id(backend)
    _ok(backend, "updateCustomer", call)
    (entry,) = _changes_after(backend, last)
    changes = entry["detail"]["changes"]
    assert changes[0]["changes"][0][0] == "phone" and changes[0]["changes"][0][2] == "13700009999"
    updated = [r for r in entry["detail"]["rows"] if r["table"] == "customers"]
    assert updated and updated[0]["op"] == "update" and updated[0]["changes"]


REFUSED: dict[str, Callable[[Backend], tuple[str, Call]]] = {
    # No right: refused before anything runs.
    "forbidden": lambda b: ("addPolicyRule", Call("RM0001", RULE)),
    # Invalid input: the command fails, everything is rolled back.
    "invalid": lambda b: ("addPolicyRule", Call("SEC0001", {**RULE, "effect": "maybe"})),
    # Refused inside the command (not a candidate of the task), after it read rows.
    "refused in the command": lambda b: ("claimTask", Call("RM0001", _claim(b).input)),
    "stale version": lambda b: (
        "updateCustomer",
        Call("HO0001", {**_update_customer(b).input, "expectedVersion": 0}),
    ),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_a_refused_or_invalid_call_writes_no_entry(backend: Backend, kind: str) -> None:
    name, call = REFUSED[kind](backend)
    last = _last_id(backend)
    body = _run(backend, name, call)
    assert body.get("errors") or body["data"][name]["errors"], body
    assert _changes_after(backend, last) == []


def test_a_timer_step_is_one_change_entry_of_the_worker(backend: Backend) -> None:
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    due = datetime.fromisoformat(read(backend, complaint)["decisionDueAt"])
    # Whatever was due before: not this test's business.
    fire_timers(backend, due - 3 * DAY - timedelta(seconds=1))
    last = _last_id(backend)
    result = fire_timers(backend, due - 3 * DAY)  # the supervisor is warned now
    assert result.failed == 0
    entries = _changes_after(backend, last)
    # One entry per instance the worker advanced or complaint it swept (and one for the risk
    # re-assessments it opened, if any), each by the worker, under its own right.
    assert len(entries) == result.advanced + result.swept + bool(result.reassessments)
    assert all(e["actor"] == unit_of_work.WORKER.name and e["actor_id"] is None for e in entries)
    assert all(e["detail"]["right"] == unit_of_work.TIMERS for e in entries)
    pk = str(complaint_pk(backend, complaint))
    mine = [
        e
        for e in entries
        if any(r["table"] == "complaints" and r["pk"] == pk for r in e["detail"]["rows"])
    ]
    assert len(mine) == 1
    assert mine[0]["operation"] == "timer:deadlines"
    assert {r["table"] for r in mine[0]["detail"]["rows"]} >= {
        "complaints",
        "complaint_deadlines",
        "complaint_events",
    }
    assert read(backend, complaint)["slaState"] == "AT_RISK"


ADMIN_RULE = {
    "role": "SECURITY_ADMIN",
    "object": "admin:policy",
    "action": "use",
    "effect": "allow",
}
HEAD_OFFICE_ADMIN = {**ADMIN_RULE, "role": "HEAD_OFFICE"}
TWO_CHANGES = """mutation($a: PolicyRuleInput!, $b: PolicyRuleInput!) {
  one: removePolicyRule(input: $a) { errors { code } }
  two: addPolicyRule(input: $b) { errors { code } }
}"""


def test_the_right_is_checked_again_as_it_is_when_the_change_runs(backend: Backend) -> None:
    """A right lost after the request began (here by the document's own first mutation) is
    missing when the next mutation runs: that one is refused and writes nothing, the first
    stands with its one entry."""
    _ok(backend, "addPolicyRule", Call("SEC0001", HEAD_OFFICE_ADMIN))  # restores the rule below
    last = _last_id(backend)
    try:
        body = backend.post(TWO_CHANGES, {"a": ADMIN_RULE, "b": RULE}, staff="SEC0001").json()
        entries = _changes_after(backend, last)
    finally:
        _ok(backend, "addPolicyRule", Call("HO0001", ADMIN_RULE))
        _ok(backend, "removePolicyRule", Call("SEC0001", HEAD_OFFICE_ADMIN))
        _run(backend, "removePolicyRule", Call("SEC0001", RULE))  # NOT_FOUND unless it ran
    # (Payloads are non-null: the refusal nulls ``data``, the first change stands regardless.)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    assert [e["path"] for e in body["errors"]] == [["two"]]
    assert [e["operation"] for e in entries] == ["removePolicyRule"]


def test_a_change_names_the_customers_whose_rows_it_changed(backend: Backend) -> None:
    """An auditor asking for a customer's entries (``auditLog(where: {customer})``) finds every
    change of rows about them: watching them, a handler's step on their complaint, a timer's
    warning on it — not only the changes that note their customer themselves."""
    customer = bj_customer(backend)
    pk = pk_of(customer["id"], "Customer", "id")
    last = _last_id(backend)
    _ok(backend, "watchCustomer", Call("RISK0001", {"customerId": customer["id"], "reason": "x"}))
    complaint = submit(backend, customer)
    assign(backend, complaint)
    due = datetime.fromisoformat(read(backend, complaint)["decisionDueAt"])
    fire_timers(backend, due - 2 * DAY)
    complaint_row = str(complaint_pk(backend, complaint))
    concerned = {
        e["operation"].split(":")[0]: e["customer_ids"]
        for e in _changes_after(backend, last)
        if e["operation"] in {"watchCustomer", "submitComplaint", "completeTask"}
        or any(r["table"] == "complaints" and r["pk"] == complaint_row for r in e["detail"]["rows"])
    }
    assert set(concerned) == {"watchCustomer", "submitComplaint", "completeTask", "timer"}
    assert {
        operation: orjson.loads(ids) if isinstance(ids, str) else ids
        for operation, ids in concerned.items()
    } == {operation: [pk] for operation in concerned}


def test_a_change_records_only_a_purpose_the_caller_may_declare(backend: Backend) -> None:
    """Like a READ entry, a CHANGE entry names the declared purpose only when the caller's roles
    may declare it: a security admin sending ``X-Purpose: CUSTOMER_SERVICE`` changed the policy
    for no customer's service."""
    last = _last_id(backend)
    try:
        _ok(backend, "addPolicyRule", Call("SEC0001", RULE, purpose="CUSTOMER_SERVICE"))
    finally:
        _ok(backend, "removePolicyRule", Call("SEC0001", RULE, purpose=None))
    customer = create_customer(backend)
    _ok(
        backend,
        "recordVerification",
        Call(
            "HO0001",
            {"customerId": customer["id"], "informationKind": "BASIC", "result": "CONFIRMED"},
        ),
    )
    with backend.engine.connect() as connection:
        purposes = connection.execute(
            text(
                "SELECT operation, purpose FROM audit_log WHERE action = 'CHANGE' AND id > :last "
                "ORDER BY id"
            ),
            {"last": last},
        ).all()
    assert [tuple(row) for row in purposes if row.operation != "createCustomer"] == [
        ("addPolicyRule", None),
        ("removePolicyRule", None),
        ("recordVerification", "CUSTOMER_SERVICE"),
    ]
