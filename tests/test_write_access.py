"""Writes governed by the policy (SHARE-1, INFO-3, INFO-5).

Every role × every customer mutation × (own customer, other branch's customer): allowed or
refused as ``authz/policy.csv`` says, and a refused write changes nothing. Every root field of
the API declares its right; third parties never write, nor record consents for themselves.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core import clock
from schema.schema import build_schema
from schema.shared.rights import Authenticated, declared_right
from tests.complaint_steps import SUBMIT
from tests.conftest import (
    SOURCE,
    Backend,
    branch_id,
    create_customer,
    new_id_number,
    policy_rule,
)
from tests.test_access import PURPOSE, STAFF
from tests.test_consent import CONSENT, PIPL_FIELDS, REVOKE, SHARE_REQUEST, _register

ROLES = sorted([*STAFF, "THIRD_PARTY"])
_refs = itertools.count(1)

READ_BACK = """query($id: ID!) { customer(id: $id) {
  version name phone
  latestFinancialSnapshot { totalAssets }
  accounts { accountNo }
  riskProfile { creditScore }
  preferences { products }
  verificationStatus { informationKind lastVerifiedAt }
} }"""


@pytest.fixture(scope="module")
def world(backend: Backend) -> dict[str, Any]:
    """RM0001's customer in BJ01, a Shanghai customer, and a third party with a consent."""
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    shanghai_manager = backend.gql("{ me { id } }", staff="SH01RM01")["me"]["id"]
    own = create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )
    other = create_customer(
        backend, relationshipManager=shanghai_manager, branch=branch_id(backend, "SH01SUP01")
    )
    party = _register(backend)
    consent = backend.gql(
        CONSENT,
        {
            "input": {
                "customerId": own["id"],
                "thirdParty": party["id"],
                "purpose": "CUSTOMER_SERVICE",
                "dataCategories": ["contact"],
                "validUntil": (clock.now() + timedelta(days=90)).isoformat(),
                "evidence": "signed consent form 2026-301",
                **PIPL_FIELDS,
            }
        },
        staff="RM0001",
        purpose="RELATIONSHIP_MANAGEMENT",
    )["recordConsent"]
    assert consent["errors"] == []
    return {
        "consent": consent["consent"],
        "own": own,
        "other": other,
        "party": party,
        "placement": {
            "own": {"branch": branch_id(backend, "SUP0001"), "relationshipManager": manager},
            "other": {
                "branch": branch_id(backend, "SH01SUP01"),
                "relationshipManager": shanghai_manager,
            },
        },
    }


def _who(role: str, world: dict[str, Any]) -> tuple[str, str]:
    if role == "THIRD_PARTY":
        return world["party"]["principal"], "CUSTOMER_SERVICE"
    return STAFF[role], PURPOSE[role]


def _version(backend: Backend, customer_id: str) -> int:
    return int(
        backend.gql("query($id: ID!) { customer(id: $id) { version } }", {"id": customer_id})[
            "customer"
        ]["version"]
    )


Call = Callable[[Backend, str, dict[str, Any]], tuple[str, dict[str, Any]]]


def _update(field: str, value: str) -> Call:
    def call(backend: Backend, customer_id: str, _: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return (
            """mutation($input: UpdateCustomerInput!) {
                 updateCustomer(input: $input) { errors { code } } }""",
            {
                "input": {
                    "id": customer_id,
                    "expectedVersion": _version(backend, customer_id),
                    "changes": {field: value},
                    "source": SOURCE,
                }
            },
        )

    return call


def _simple(mutation: str, input_type: str, values: dict[str, Any]) -> Call:
    def call(backend: Backend, customer_id: str, _: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        given = {"customerId": customer_id, **values}
        if "asOf" in values:  # one snapshot per date: a new date per call
            given["asOf"] = str(date(2020, 1, 1) + timedelta(days=next(_refs)))
        if "accounts" in values:  # unique references, so an allowed import really writes
            number = f"6299{next(_refs):012d}"  # seeded accounts are 6222…
            given["accounts"] = [{**values["accounts"][0], "accountNo": number}]
            given["transactions"] = [{**values["transactions"][0], "accountNo": number}]
        return (
            f"mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ errors {{ code }} }} }}",
            {"input": given},
        )

    return call


def _create(backend: Backend, customer_id: str, placement: dict[str, Any]) -> tuple[str, Any]:
    values = {"name": "新客户", "idNumber": new_id_number(), "source": SOURCE, **placement}
    return (
        """mutation($input: CreateCustomerInput!) {
             createCustomer(input: $input) { customer { id } errors { code } } }""",
        {"input": values},
    )


MUTATIONS: dict[str, Call] = {
    "createCustomer": _create,
    "updateCustomer.phone": _update("phone", "13700001111"),
    "updateCustomer.name": _update("name", "改名客户"),
    "recordFinancialSnapshot": _simple(
        "recordFinancialSnapshot",
        "RecordFinancialSnapshotInput",
        {
            "asOf": "2026-09-30",
            "annualIncome": "100000",
            "totalAssets": "900000",
            "totalLiabilities": "1000",
            "assetsUnderManagement": "5000",
            "source": SOURCE,
        },
    ),
    "importTransactions": _simple(
        "importTransactions",
        "ImportTransactionsInput",
        {
            "accounts": [{"kind": "DEMAND_DEPOSIT", "openedOn": "2021-01-01", "balance": "10"}],
            "transactions": [
                {
                    "externalRef": "W1",
                    "occurredAt": "2026-11-01T08:00:00Z",
                    "amount": "10",
                    "type": "DEPOSIT",
                    "channel": "ATM",
                }
            ],
            "source": SOURCE,
        },
    ),
    "recordPreferences": _simple(
        "recordPreferences",
        "RecordPreferencesInput",
        {"products": ["国债"], "marketingOptIn": False, "source": SOURCE},
    ),
    "recordRiskAssessment": _simple(
        "recordRiskAssessment",
        "RecordRiskAssessmentInput",
        {"riskTolerance": "C1_CONSERVATIVE", "creditStatus": "NORMAL", "source": SOURCE},
    ),
    "recordVerification": _simple(
        "recordVerification",
        "RecordVerificationInput",
        {"informationKind": "BASIC", "result": "CONFIRMED"},
    ),
}
CUSTOMER_DATA = [m for m in MUTATIONS if m != "createCustomer"]
# The intended write rules: who may do what to (own customer, other branch's).
# "ok": allowed; "FORBIDDEN": refused; "NOT_FOUND": a customer the caller cannot see.
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "HEAD_OFFICE": dict.fromkeys(MUTATIONS, ("ok", "ok")),
    "RELATIONSHIP_MANAGER": {
        "createCustomer": ("ok", "FORBIDDEN"),
        **dict.fromkeys(CUSTOMER_DATA, ("ok", "NOT_FOUND")),
    },
    "BRANCH_SUPERVISOR": {
        "createCustomer": ("ok", "FORBIDDEN"),
        **dict.fromkeys(CUSTOMER_DATA, ("ok", "NOT_FOUND")),
    },
    "RISK_OFFICER": {
        **dict.fromkeys(MUTATIONS, ("FORBIDDEN", "FORBIDDEN")),
        "recordRiskAssessment": ("ok", "ok"),
    },
    **{
        role: dict.fromkeys(MUTATIONS, ("FORBIDDEN", "FORBIDDEN"))
        for role in (
            "COMPLAINT_HANDLER",
            "AUDITOR",
            "MARKETING_ANALYST",
            "SECURITY_ADMIN",
            "PROCESS_OWNER",
            "THIRD_PARTY",
        )
    },
}


def _outcome(body: dict[str, Any], name: str) -> str:
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    payload = body["data"][name.split(".")[0]]
    assert payload["errors"] == [], payload
    return "ok"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_writes_as_the_policy_says(
    backend: Backend, world: dict[str, Any], role: str
) -> None:
    """Role × every customer mutation × (own customer, other branch's customer)."""
    assert set(EXPECTED) == set(ROLES)
    staff, purpose = _who(role, world)
    for name, call in MUTATIONS.items():
        for which, expected in zip(("own", "other"), EXPECTED[role][name], strict=True):
            customer_id = world[which]["id"]
            before = backend.gql(READ_BACK, {"id": customer_id})["customer"]
            query, variables = call(backend, customer_id, world["placement"][which])
            body = backend.post(query, variables, staff=staff, purpose=purpose).json()
            where = (role, name, which)
            assert _outcome(body, name) == expected, (where, body)
            if expected == "ok":
                continue
            assert body["data"] is None or body["data"][name.split(".")[0]] is None, where
            assert backend.gql(READ_BACK, {"id": customer_id})["customer"] == before, where
            if name == "createCustomer":
                number = variables["input"]["idNumber"]
                found = backend.gql(
                    "query($n: String!) { customers(where: {idNumber: {eq: $n}}) { totalCount } }",
                    {"n": number},
                )["customers"]["totalCount"]
                assert found == 0, where


def test_writes_need_a_purpose_the_role_may_declare(
    backend: Backend, world: dict[str, Any]
) -> None:
    customer_id = world["own"]["id"]
    before = backend.gql(READ_BACK, {"id": customer_id})["customer"]
    for purpose in (None, "RISK_CONTROL"):
        query, variables = MUTATIONS["updateCustomer.phone"](backend, customer_id, {})
        body = backend.post(query, variables, staff="RM0001", purpose=purpose).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "purpose" in body["errors"][0]["message"]
    assert backend.gql(READ_BACK, {"id": customer_id})["customer"] == before


def test_a_manager_cannot_move_a_customer_out_of_their_rows(
    backend: Backend, world: dict[str, Any]
) -> None:
    customer = create_customer(backend, staff="RM0001", idNumber=new_id_number())
    body = backend.post(
        """mutation($input: UpdateCustomerInput!) {
             updateCustomer(input: $input) { errors { code } } }""",
        {
            "input": {
                "id": customer["id"],
                "expectedVersion": customer["version"],
                "changes": {
                    "relationshipManager": world["placement"]["other"]["relationshipManager"]
                },
                "source": SOURCE,
            }
        },
        staff="RM0001",
        purpose="RELATIONSHIP_MANAGEMENT",
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert _version(backend, customer["id"]) == customer["version"]


def test_a_shared_customer_is_readable_but_not_writable(
    backend: Backend, world: dict[str, Any]
) -> None:
    """Row scopes for writes never include share grants or consents."""
    created = backend.gql(
        """mutation($input: CreateShareGrantInput!) {
             createShareGrant(input: $input) { shareGrant { id } errors { code } } }""",
        {
            "input": {
                "receivingRole": "BRANCH_SUPERVISOR",
                "receivingBranch": branch_id(backend, "SUP0001"),
                "purpose": "CUSTOMER_SERVICE",
                "fieldGroups": ["contact"],
                "customers": [world["other"]["id"]],
                "expiresAt": (clock.now() + timedelta(days=1)).isoformat(),
                "reason": "joint service case",
            }
        },
        staff="SH01SUP01",
    )["createShareGrant"]
    assert created["errors"] == []
    try:
        seen = backend.gql(
            "query($id: ID!) { customer(id: $id) { id } }",
            {"id": world["other"]["id"]},
            staff="SUP0001",
        )
        assert seen["customer"] is not None
        query, variables = MUTATIONS["updateCustomer.phone"](backend, world["other"]["id"], {})
        body = backend.post(query, variables, staff="SUP0001").json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    finally:
        backend.gql(
            "mutation($id: ID!) { revokeShareGrant(input: {id: $id}) { errors { code } } }",
            {"id": created["shareGrant"]["id"]},
            staff="SH01SUP01",
        )


def test_third_party_cannot_record_its_own_consent(backend: Backend, world: dict[str, Any]) -> None:
    party = world["party"]
    values = {
        "customerId": world["own"]["id"],
        "thirdParty": party["id"],
        "purpose": "CUSTOMER_SERVICE",
        "dataCategories": ["identity", "contact", "financial"],
        "validUntil": (clock.now() + timedelta(days=30)).isoformat(),
        "evidence": "we say so",
        **PIPL_FIELDS,
    }
    body = backend.post(
        CONSENT, {"input": values}, staff=party["principal"], purpose="CUSTOMER_SERVICE"
    ).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listed = backend.gql(
        "query($id: ID!) { consents(customerId: $id) { edges { node { dataCategories } } } }",
        {"id": world["own"]["id"]},
        staff="RM0001",
    )["consents"]["edges"]
    assert [c["node"]["dataCategories"] for c in listed] == [["contact"]]
    revoke = backend.post(
        "mutation($id: ID!) { revokeConsent(input: {id: $id}) { errors { code } } }",
        {"id": world["consent"]["id"]},
        staff=party["principal"],
    ).json()
    assert revoke["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# Other mutations, and a role the policy refuses each of them (checked before any lookup).
OPERATIONS = {
    "watchCustomer": (
        'mutation($id: ID!) { watchCustomer(input: {customerId: $id, reason: "x"}) '
        "{ errors { code } } }",
        ("AUDITOR", "THIRD_PARTY", "MARKETING_ANALYST"),
    ),
    "requestDataShare": (
        "mutation($id: ID!) { requestDataShare(input: {customerId: $id, thirdParty: $id, "
        'purpose: "CUSTOMER_SERVICE", dataCategories: ["contact"], reason: "x"}) '
        "{ errors { code } } }",
        ("THIRD_PARTY", "RISK_OFFICER", "AUDITOR"),
    ),
    "submitComplaint": (
        "mutation($id: ID!) { submitComplaint(input: {customerId: $id, channel: HOTLINE, "
        'category: FEES_AND_CHARGES, description: "x", idempotencyKey: "refused"}) '
        "{ errors { code } } }",
        ("THIRD_PARTY", "AUDITOR", "RISK_OFFICER"),
    ),
    "claimTask": (
        "mutation($id: ID!) { claimTask(input: {id: $id}) { errors { code } } }",
        ("THIRD_PARTY",),
    ),
    "reassignTask": (
        'mutation($id: ID!) { reassignTask(input: {id: $id, assignee: "RM0001"}) '
        "{ errors { code } } }",
        ("THIRD_PARTY", "RELATIONSHIP_MANAGER", "COMPLAINT_HANDLER"),
    ),
    "createShareGrant": (
        "mutation($id: ID!) { createShareGrant(input: {receivingRole: AUDITOR, "
        'purpose: "AUDIT", fieldGroups: ["contact"], customers: [$id], '
        'expiresAt: "2030-01-01T00:00:00Z", reason: "x"}) { errors { code } } }',
        ("THIRD_PARTY", "RELATIONSHIP_MANAGER", "HEAD_OFFICE"),
    ),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_other_operations_refuse_roles_without_their_right(
    backend: Backend, world: dict[str, Any], operation: str
) -> None:
    query, refused = OPERATIONS[operation]
    for role in refused:
        staff, purpose = _who(role, world)
        body = backend.post(query, {"id": world["own"]["id"]}, staff=staff, purpose=purpose).json()
        assert body["data"] is None, (role, body)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (role, body)
        assert "right" in body["errors"][0]["message"]


def test_write_rules_are_validated_like_read_rules(backend: Backend) -> None:
    add = """mutation($input: PolicyRuleInput!) { addPolicyRule(input: $input) {
               errors { field code } } }"""
    for rule, code in (
        ({"object": "rows:complaints", "action": "write"}, "UNKNOWN_SCOPE"),
        ({"object": "customer:delete", "action": "use"}, "UNKNOWN_RIGHT"),
        ({"object": "contact", "action": "erase"}, "INVALID_ACTION"),
    ):
        values = {"role": "COMPLAINT_HANDLER", "effect": "allow", **rule}
        errors = backend.gql(add, {"input": values}, staff="SEC0001")["addPolicyRule"]["errors"]
        assert code in {e["code"] for e in errors}, (rule, errors)


def _walk(schema: Any) -> tuple[list[str], list[str]]:
    """Root fields declaring no right, and mutations declared public (both must be empty)."""
    undeclared = []
    public = []
    for root in (schema.query, schema.mutation, schema.subscription):
        if root is None:
            continue
        definition = root.__strawberry_definition__
        for field in definition.fields:
            right = declared_right(field)
            if right is None:
                undeclared.append(f"{definition.name}.{field.name}")
            elif isinstance(right, Authenticated):
                if root is schema.mutation:
                    # Every mutation changes something: none is open to any signed-in caller.
                    public.append(f"{definition.name}.{field.name}")
            else:
                assert right.describe() in (field.description or ""), field.name
    return undeclared, public


def test_every_root_field_declares_its_right() -> None:
    """Query, Mutation and Subscription fields: a declared right, or declared public."""
    assert _walk(build_schema()) == ([], [])


def test_the_walk_over_root_fields_finds_an_undeclared_one() -> None:
    """The walk above can fail: a field without a right, and a public mutation, are listed."""
    import strawberry

    from schema.shared.rights import HasRight, field, mutation

    @strawberry.type
    class Query:
        declared: int = field("Declared.", HasRight("admin:audit"))
        plain: int = strawberry.field(description="No right declared.")

    @strawberry.type
    class Mutation:
        @mutation("Open to anyone.", Authenticated())
        def open_door(self) -> int:
            return 1

    toy = strawberry.Schema(query=Query, mutation=Mutation)
    assert _walk(toy) == (["Query.plain"], ["Mutation.open_door"])


def test_the_policy_file_has_a_write_rule_for_every_writer() -> None:
    """Only the roles the issue names get write row scopes (a quick review aid)."""
    policy = Path(__file__).resolve().parent.parent / "authz" / "policy.csv"
    writers = {
        line.split(",")[1].strip()
        for line in policy.read_text().splitlines()
        if line.startswith("p,") and line.split(",")[3].strip() == "write"
    }
    assert writers == {"RELATIONSHIP_MANAGER", "BRANCH_SUPERVISOR", "HEAD_OFFICE", "RISK_OFFICER"}


EXPLAIN = """
query($type: String!, $field: String!, $staff: String, $customer: ID, $action: AccessAction!) {
  explainAccess(type: $type, field: $field, employeeNo: $staff, customerId: $customer,
                action: $action) { effect rule rowVisible rowReason }
}
"""


def test_explain_access_answers_write_questions(backend: Backend, world: dict[str, Any]) -> None:
    def ask(type_: str, field: str, action: str, staff: str, **more: str) -> Any:
        variables = {"type": type_, "field": field, "action": action, "staff": staff, **more}
        return backend.gql(EXPLAIN, variables, staff="SEC0001")["explainAccess"]

    risk = ask("RiskAssessment", "riskTolerance", "WRITE", "RISK0001")
    assert risk["effect"] == "FULL"
    assert "p, RISK_OFFICER, credit_risk, write, allow" in risk["rule"]
    assert ask("Customer", "phone", "WRITE", "RISK0001")["effect"] == "DENIED"
    assert ask("Customer", "phone", "WRITE", "AUD0001")["effect"] == "DENIED"
    assert ask("customer", "create", "USE", "RISK0001")["effect"] == "DENIED"
    create = ask("customer", "create", "USE", "SUP0001")
    assert create["effect"] == "FULL"
    assert "p, BRANCH_SUPERVISOR, customer:create, use, allow" in create["rule"]
    # Rows: an auditor reads every customer but changes none.
    read = ask("Customer", "phone", "READ", "AUD0001", customer=world["own"]["id"])
    assert read["rowVisible"] is True
    write = ask("Customer", "phone", "WRITE", "AUD0001", customer=world["own"]["id"])
    assert write["rowVisible"] is False and write["effect"] == "DENIED"
    own = ask("Customer", "phone", "WRITE", "RM0001", customer=world["own"]["id"])
    assert own["effect"] == "FULL" and own["rowVisible"] is True


def test_an_existing_database_gets_the_write_rules_on_upgrade(cli_env: dict[str, str]) -> None:
    """A live policy imported before the write rules existed: the migration adds them."""
    from sqlalchemy import select

    from kehu.policy_watch import ensure_live_policy
    from store import migrate
    from store.db import make_engine
    from store.policy import PolicyRule, PolicyVersion

    current = Path(__file__).resolve().parent.parent / "authz" / "policy.csv"
    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    try:
        kept = [
            line
            for line in current.read_text().splitlines()
            if not (line.startswith("p,") and (" write," in line or _new_right(line)))
        ]
        old = Path(cli_env["KEHU_VAR_DIR"]) / "old_policy.csv"
        old.write_text("\n".join(kept) + "\n")
        migrate.upgrade(engine, "0008")  # the revision before the write rules
        ensure_live_policy(engine, old)
        migrate.upgrade(engine)
        with engine.connect() as connection:
            table = PolicyRule.__table__
            lines = {
                ", ".join([r.ptype, r.v0, r.v1, r.v2, r.v3])
                for r in connection.execute(select(table).where(table.c.ptype == "p"))
            }
            versions = PolicyVersion.__table__
            latest = connection.execute(
                select(versions).order_by(versions.c.version.desc()).limit(1)
            ).first()
        wanted = {
            line.strip() for line in current.read_text().splitlines() if line.startswith("p,")
        }
        assert wanted <= lines
        assert latest is not None and latest.changed_by == "migration"
    finally:
        engine.dispose()


def _new_right(line: str) -> bool:
    return (
        any(
            f" {right}," in line
            for right in ("customer:create", "customer:watch", "consent:record", "share:request")
        )
        or " task:" in line
    )


def test_a_subscription_declares_its_right_too(backend: Backend, world: dict[str, Any]) -> None:
    """``customerChanges`` needs ``customer:watch``: an auditor's subscription is refused."""
    with backend.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json(
            {
                "type": "connection_init",
                "payload": {
                    "Authorization": f"Bearer {backend.token('AUD0001')}",
                    "X-Purpose": "AUDIT",
                },
            }
        )
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { customerChanges { fields } }"},
            }
        )
        message = ws.receive_json()
        # graphql-transport-ws answers a refused subscription with an "error" message.
        assert message["type"] == "error", message
        assert message["payload"][0]["message"] == "this needs the customer:watch right"


def test_recording_consents_complaints_and_share_requests_needs_a_purpose(
    backend: Backend, world: dict[str, Any]
) -> None:
    """SHARE-1/SHARE-5: data recorded about a customer needs a purpose, like customer writes.

    Without one, or with one the role may not declare, each is FORBIDDEN and nothing is written.
    """
    own, party = world["own"], world["party"]
    consent_values = {
        "customerId": own["id"],
        "thirdParty": party["id"],
        "purpose": "CUSTOMER_SERVICE",
        "dataCategories": ["identity"],
        "validUntil": (clock.now() + timedelta(days=30)).isoformat(),
        "evidence": "signed consent form 2026-302",
        **PIPL_FIELDS,
    }
    attempts = {
        "recordConsent": (CONSENT, {"input": consent_values}),
        "revokeConsent": (REVOKE, {"id": world["consent"]["id"]}),
        "requestDataShare": (
            SHARE_REQUEST,
            {
                "input": {
                    "customerId": own["id"],
                    "thirdParty": party["id"],
                    "purpose": "CUSTOMER_SERVICE",
                    "dataCategories": ["contact"],
                    "reason": "保险理赔回访需要联系电话",
                }
            },
        ),
        "submitComplaint": (
            SUBMIT,
            {
                "input": {
                    "customerId": own["id"],
                    "channel": "HOTLINE",
                    "category": "FEES_AND_CHARGES",
                    "description": "账户管理费扣收未提前告知",
                    "idempotencyKey": "no-purpose-1",
                }
            },
        ),
    }
    counted = ("consents", "share_requests", "complaints")

    def counts() -> dict[str, int]:
        with backend.engine.connect() as connection:
            return {t: connection.scalar(text(f"SELECT count(*) FROM {t}")) for t in counted}

    before = counts()
    for name, (query, variables) in attempts.items():
        for purpose in (None, "RISK_CONTROL"):
            body = backend.post(query, variables, staff="RM0001", purpose=purpose).json()
            assert body["data"] is None, (name, purpose)
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (name, purpose)
            assert "purpose" in body["errors"][0]["message"], (name, purpose)
    assert counts() == before
    still = backend.gql(
        "query($id: ID!) { consents(customerId: $id) { edges { node { id inForce } } } }",
        {"id": own["id"]},
        staff="RM0001",
    )["consents"]["edges"]
    assert {"node": {"id": world["consent"]["id"], "inForce": True}} in still


def _update_placement(
    backend: Backend, customer: dict[str, Any], changes: dict[str, Any], staff: str, purpose: str
) -> dict[str, Any]:
    return dict(
        backend.post(
            """mutation($input: UpdateCustomerInput!) {
                 updateCustomer(input: $input) { errors { field code } } }""",
            {
                "input": {
                    "id": customer["id"],
                    "expectedVersion": _version(backend, customer["id"]),
                    "changes": changes,
                    "source": SOURCE,
                }
            },
            staff=staff,
            purpose=purpose,
        ).json()
    )


def test_a_risk_officer_cannot_move_a_customer(backend: Backend, world: dict[str, Any]) -> None:
    """Branch and relationship manager are written data too (the ``placement`` group): a risk
    officer, who may change only risk assessments, can neither move a customer to another branch
    nor give them to another manager."""
    customer = create_customer(backend, staff="RM0001", idNumber=new_id_number())
    other = world["placement"]["other"]
    for changes in (
        {"branch": other["branch"]},
        {"relationshipManager": other["relationshipManager"]},
        {"relationshipManager": None},
        {"branch": other["branch"], "relationshipManager": other["relationshipManager"]},
    ):
        body = _update_placement(backend, customer, changes, "RISK0001", "RISK_CONTROL")
        assert body["data"] is None, (changes, body)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (changes, body)
    assert _version(backend, customer["id"]) == customer["version"]
    # Still RM0001's customer of BJ01.
    seen = backend.gql(
        "query($id: ID!) { customer(id: $id) { id } }", {"id": customer["id"]}, staff="RM0001"
    )
    assert seen["customer"] is not None


def test_a_manager_cannot_move_their_customer_to_another_branch(
    backend: Backend, world: dict[str, Any]
) -> None:
    """A relationship manager's rows are their own customers of their branch: moving one to
    another branch (out of their supervisor's sight) is refused, on registration too; giving a
    customer to another manager of the branch is the supervisor's decision."""
    customer = create_customer(backend, staff="RM0001", idNumber=new_id_number())
    me = world["placement"]["own"]["relationshipManager"]
    elsewhere = world["placement"]["other"]["branch"]
    body = _update_placement(
        backend, customer, {"branch": elsewhere}, "RM0001", "RELATIONSHIP_MANAGEMENT"
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert _version(backend, customer["id"]) == customer["version"]
    query, variables = _create(backend, "", {"branch": elsewhere, "relationshipManager": me})
    body = backend.post(query, variables, staff="RM0001", purpose="RELATIONSHIP_MANAGEMENT").json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    # The supervisor of the branch may give the customer to another manager of the branch.
    colleague = backend.gql("{ me { id } }", staff="BJ01RM03")["me"]["id"]
    body = _update_placement(
        backend, customer, {"relationshipManager": colleague}, "SUP0001", "CUSTOMER_SERVICE"
    )
    assert body["data"]["updateCustomer"]["errors"] == [], body


def test_recording_nothing_still_needs_the_right_to_write_it(
    backend: Backend, world: dict[str, Any]
) -> None:
    """``recordPreferences`` with no field still creates the customer's preferences and
    replaces their source (INFO-1): a role without the ``preferences`` write right may not."""
    customer = create_customer(backend, staff="RM0001", idNumber=new_id_number())
    body = backend.post(
        """mutation($input: RecordPreferencesInput!) {
             recordPreferences(input: $input) { errors { code } } }""",
        {"input": {"customerId": customer["id"], "source": SOURCE}},
        staff="RISK0001",
        purpose="RISK_CONTROL",
    ).json()
    assert body["data"] is None, body
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    after = backend.gql(
        "query($id: ID!) { customer(id: $id) { preferences { products } "
        "sources { informationKind } } }",
        {"id": customer["id"]},
    )["customer"]
    assert after["preferences"] is None
    assert [s["informationKind"] for s in after["sources"]] == ["BASIC"]


def test_complaint_intake_needs_a_customer_the_caller_sees(
    backend: Backend, world: dict[str, Any]
) -> None:
    """A complaint is data about the customer: registering one for a customer of another branch
    is refused exactly like one for a customer that does not exist (no existence oracle), and
    nothing is written."""

    def submit(customer_id: str, key: str) -> dict[str, Any]:
        values = {
            "customerId": customer_id,
            "channel": "HOTLINE",
            "category": "FEES_AND_CHARGES",
            "description": "账户管理费扣收未提前告知",
            "idempotencyKey": key,
        }
        body = backend.post(
            SUBMIT, {"input": values}, staff="RM0001", purpose="RELATIONSHIP_MANAGEMENT"
        ).json()
        return dict(body)

    def complaints() -> int:
        with backend.engine.connect() as connection:
            return int(connection.scalar(text("SELECT count(*) FROM complaints")))

    before = complaints()
    hidden = submit(world["other"]["id"], "other-branch-1")
    missing = submit("Q3VzdG9tZXI6OTk5OTk5OQ==", "other-branch-2")  # Customer:9999999
    assert hidden == missing, (hidden, missing)
    assert "errors" not in hidden and hidden["data"]["submitComplaint"]["complaint"] is None
    assert complaints() == before
    # The caller's own customer is accepted.
    own = submit(world["own"]["id"], "own-customer-1")
    assert own["data"]["submitComplaint"]["errors"] == [], own
    assert complaints() == before + 1


ASSIGN = """mutation($input: RoleAssignmentInput!) { assignRole(input: $input) {
              errors { field code } } }"""


def test_roles_cannot_be_used_to_make_a_writer(backend: Backend, world: dict[str, Any]) -> None:
    """A security admin changes no roles of their own (no self-escalation to a writer), and a
    third party's principal holds THIRD_PARTY only (a third party never writes), nor does staff
    get THIRD_PARTY."""
    principal = world["party"]["principal"]
    for employee_no, role in (
        ("SEC0001", "HEAD_OFFICE"),
        (principal, "HEAD_OFFICE"),
        (principal, "RELATIONSHIP_MANAGER"),
        ("MKT0001", "THIRD_PARTY"),
    ):
        errors = backend.gql(
            ASSIGN, {"input": {"employeeNo": employee_no, "role": role}}, staff="SEC0001"
        )["assignRole"]["errors"]
        assert errors and errors[0]["code"] in ("SELF_ASSIGNMENT", "ROLE_NOT_ALLOWED"), (
            employee_no,
            role,
            errors,
        )
    query, variables = MUTATIONS["updateCustomer.phone"](backend, world["own"]["id"], {})
    for staff, purpose in ((principal, "CUSTOMER_SERVICE"), ("SEC0001", "CUSTOMER_SERVICE")):
        body = backend.post(query, variables, staff=staff, purpose=purpose).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (staff, body)


def test_the_live_policy_cannot_make_a_writer_of_a_role_that_never_writes(
    backend: Backend,
) -> None:
    """Auditors, marketing, security admins, process owners and third parties never change
    customer data: a security admin cannot add such a rule for them — not even for
    their own role — nor give a third party any operation right (its own consent, say) or rows
    beyond its consented customers."""
    add = """mutation($input: PolicyRuleInput!) { addPolicyRule(input: $input) {
               errors { field code } } }"""
    for role, obj, action in (
        ("SECURITY_ADMIN", "rows:bank", "write"),
        ("SECURITY_ADMIN", "identity", "write"),
        ("AUDITOR", "Customer.phone", "write"),
        ("THIRD_PARTY", "contact", "write"),
        ("PROCESS_OWNER", "customer:create", "use"),
        ("MARKETING_ANALYST", "customer:create", "use"),
        ("THIRD_PARTY", "consent:record", "use"),
        ("THIRD_PARTY", "task:work", "use"),
        # Rows beyond its consents would bypass the customer's consent (SHARE-3).
        ("THIRD_PARTY", "rows:bank", "read"),
        ("THIRD_PARTY", "rows:branch", "read"),
    ):
        values = {"role": role, "object": obj, "action": action, "effect": "allow"}
        errors = backend.gql(add, {"input": values}, staff="SEC0001")["addPolicyRule"]["errors"]
        code = "ROLE_NOT_ALLOWED" if obj.startswith("rows:") and action == "read" else None
        assert {"field": ["role"], "code": code or "ROLE_NEVER_WRITES"} in errors, (values, errors)
    # Denying is always possible.
    deny = {"role": "AUDITOR", "object": "rows:bank", "action": "write", "effect": "deny"}
    with policy_rule(backend, deny):
        pass


def test_revoking_a_consent_of_an_unseen_customer_looks_like_a_missing_consent(
    backend: Backend, world: dict[str, Any]
) -> None:
    """A consent ID of a customer the caller cannot see gets the very answer of an ID no consent
    has: nothing tells that the consent exists."""
    consent = backend.gql(
        CONSENT,
        {
            "input": {
                "customerId": world["other"]["id"],
                "thirdParty": world["party"]["id"],
                "purpose": "CUSTOMER_SERVICE",
                "dataCategories": ["contact"],
                "validUntil": (clock.now() + timedelta(days=90)).isoformat(),
                "evidence": "signed consent form 2026-303",
                **PIPL_FIELDS,
            }
        },
        staff="SH01RM01",
        purpose="RELATIONSHIP_MANAGEMENT",
    )["recordConsent"]["consent"]

    def revoke(consent_id: str) -> dict[str, Any]:
        body = backend.post(
            REVOKE, {"id": consent_id}, staff="RM0001", purpose="RELATIONSHIP_MANAGEMENT"
        ).json()
        for error in body.get("errors", []):
            error.pop("locations", None)
        return dict(body)

    hidden = revoke(consent["id"])
    missing = revoke("Q29uc2VudDo5OTk5OTk5")  # Consent:9999999
    assert hidden == missing, (hidden, missing)
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    still = backend.gql(
        "query($id: ID!) { consents(customerId: $id) { edges { node { id inForce } } } }",
        {"id": world["other"]["id"]},
    )["consents"]["edges"]
    assert {"node": {"id": consent["id"], "inForce": True}} in still


def test_a_supervisor_cannot_hand_a_customer_to_another_branch_s_manager(
    backend: Backend, world: dict[str, Any]
) -> None:
    """Giving a branch customer to a manager of another branch would open the customer's rows
    (read and write, no expiry) to that branch — a side door around share grants (SHARE-2).
    Only head office places customers across branches."""
    customer = create_customer(backend, staff="RM0001", idNumber=new_id_number())
    foreign = world["placement"]["other"]["relationshipManager"]
    body = _update_placement(
        backend, customer, {"relationshipManager": foreign}, "SUP0001", "CUSTOMER_SERVICE"
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert _version(backend, customer["id"]) == customer["version"]
    query, variables = _create(backend, "", {"relationshipManager": foreign})
    body = backend.post(query, variables, staff="SUP0001", purpose="CUSTOMER_SERVICE").json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    hidden = backend.gql(
        "query($id: ID!) { customer(id: $id) { id } }", {"id": customer["id"]}, staff="SH01RM01"
    )
    assert hidden["customer"] is None


def test_the_policy_change_log_is_for_policy_admins_and_auditors(
    backend: Backend, world: dict[str, Any]
) -> None:
    """``policyVersions`` names who changed the policy and how (rules, who got which role): an
    admin-only query, refused to staff without ``admin:policy`` / ``admin:audit`` and to third
    parties."""
    query = "{ policyVersions(first: 5) { edges { node { version changedBy summary } } } }"
    for role in ("THIRD_PARTY", "RELATIONSHIP_MANAGER", "HEAD_OFFICE", "MARKETING_ANALYST"):
        staff, purpose = _who(role, world)
        body = backend.post(query, staff=staff, purpose=purpose).json()
        assert body["data"] is None, (role, body)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (role, body)
    for staff, purpose in (("SEC0001", "CUSTOMER_SERVICE"), ("AUD0001", "AUDIT")):
        assert backend.gql(query, staff=staff, purpose=purpose)["policyVersions"]["edges"]


def test_a_third_party_cannot_read_the_staff_directory(
    backend: Backend, world: dict[str, Any]
) -> None:
    """``node(id: "Staff:…")`` answers a third party's principal about itself only: the bank's
    staff (names, numbers, roles) and other recipients' principals are none of its business."""
    principal = world["party"]["principal"]
    query = "query($id: ID!) { node(id: $id) { ... on Staff { employeeNo name roles } } }"
    me = backend.gql("{ me { id employeeNo } }", staff=principal)["me"]
    assert (
        backend.gql(query, {"id": me["id"]}, staff=principal)["node"]["employeeNo"]
        == (me["employeeNo"])
    )
    for staff in ("SEC0001", "RM0001", "HO0001"):
        staff_id = backend.gql("{ me { id } }", staff=staff)["me"]["id"]
        assert backend.gql(query, {"id": staff_id}, staff=principal)["node"] is None, staff
        # Staff still find each other.
        assert backend.gql(query, {"id": staff_id}, staff="RM0001")["node"] is not None


def test_a_get_request_carries_no_mutation(backend: Backend, world: dict[str, Any]) -> None:
    """Mutations run over POST only: a GET (a link, an image tag) changes nothing."""
    customer_id = world["own"]["id"]
    query, variables = MUTATIONS["updateCustomer.phone"](backend, customer_id, {})
    before = backend.gql(READ_BACK, {"id": customer_id})["customer"]
    response = backend.client.get(
        "/graphql",
        params={"query": query, "variables": json.dumps(variables)},
        headers={
            "Authorization": f"Bearer {backend.token('HO0001')}",
            "X-Purpose": "CUSTOMER_SERVICE",
            "Accept": "application/json",
        },
    )
    assert response.status_code in (400, 405), response.text
    assert backend.gql(READ_BACK, {"id": customer_id})["customer"] == before


def test_a_share_grant_never_goes_to_third_parties(backend: Backend, world: dict[str, Any]) -> None:
    """Third parties get customer data only by the customer's consent (SHARE-3): a supervisor's
    share grant to the THIRD_PARTY role — every third party, no consent — is refused."""
    body = backend.gql(
        """mutation($input: CreateShareGrantInput!) {
             createShareGrant(input: $input) { shareGrant { id } errors { field code } } }""",
        {
            "input": {
                "receivingRole": "THIRD_PARTY",
                "purpose": "CUSTOMER_SERVICE",
                "fieldGroups": ["identity", "contact"],
                "expiresAt": (clock.now() + timedelta(days=1)).isoformat(),
                "reason": "partner campaign",
            }
        },
        staff="SUP0001",
    )["createShareGrant"]
    assert body["shareGrant"] is None, body
    assert {"field": ["receivingRole"], "code": "UNKNOWN_ROLE"} in body["errors"], body
    # A customer of the branch without a consent stays out of the third party's sight.
    unconsented = create_customer(backend, staff="RM0001", idNumber=new_id_number())
    seen = backend.gql(
        "query($id: ID!) { customer(id: $id) { id } }",
        {"id": unconsented["id"]},
        staff=world["party"]["principal"],
    )
    assert seen["customer"] is None


MISSING_CUSTOMER = "Q3VzdG9tZXI6OTk5OTk5OQ=="  # Customer:9999999
# Every operation taking a customer ID, as RM0001 may send it: (query, variables).
BY_CUSTOMER: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "customer": (
        "query($id: ID!) { customer(id: $id) { id name } }",
        lambda c: {"id": c},
    ),
    "node": ("query($id: ID!) { node(id: $id) { id } }", lambda c: {"id": c}),
    "transactions": (
        "query($id: ID!) { transactions(customerId: $id) { totalCount } }",
        lambda c: {"id": c},
    ),
    "customerHistory": (
        "query($id: ID!) { customerHistory(customerId: $id) { edges { cursor } } }",
        lambda c: {"id": c},
    ),
    "consents": (
        "query($id: ID!) { consents(customerId: $id) { edges { node { id } } } }",
        lambda c: {"id": c},
    ),
    "explainAccess": (
        'query($id: ID!) { explainAccess(type: "Customer", field: "phone", customerId: $id) '
        "{ effect rule rowVisible rowReason } }",
        lambda c: {"id": c},
    ),
    "watchCustomer": (
        'mutation($id: ID!) { watchCustomer(input: {customerId: $id, reason: "关注"}) '
        "{ errors { code } } }",
        lambda c: {"id": c},
    ),
    "unwatchCustomer": (
        "mutation($id: ID!) { unwatchCustomer(input: {customerId: $id}) { errors { code } } }",
        lambda c: {"id": c},
    ),
    **{
        name: (
            call(None, MISSING_CUSTOMER, {})[0],  # type: ignore[arg-type]
            lambda c, call=call: call(None, c, {})[1],  # type: ignore[misc, arg-type]
        )
        for name, call in MUTATIONS.items()
        if name not in ("createCustomer", "updateCustomer.phone", "updateCustomer.name")
    },
}


@pytest.mark.parametrize("operation", sorted(BY_CUSTOMER))
def test_an_unseen_customer_is_answered_like_a_missing_one(
    backend: Backend, world: dict[str, Any], operation: str
) -> None:
    """Whatever the operation, a customer of another branch and an ID no customer has get the
    same answer, code and message."""
    query, variables = BY_CUSTOMER[operation]

    def answer(customer_id: str) -> Any:
        body = backend.post(
            query, variables(customer_id), staff="RM0001", purpose="RELATIONSHIP_MANAGEMENT"
        ).json()
        for error in body.get("errors", []):
            error.pop("locations", None)
        return body

    assert answer(world["other"]["id"]) == answer(MISSING_CUSTOMER)


# --- operations on a customer that are no customer-data write -------------


def _operation(name: str, query: str, make: Callable[[str], dict[str, Any]]) -> Call:
    def call(backend: Backend, customer_id: str, _: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return query, {"input": make(customer_id)}

    return call


CUSTOMER_OPERATIONS: dict[str, tuple[Call, str]] = {
    # name → (call, the table a successful call adds a row to)
    "watchCustomer": (
        _operation(
            "watchCustomer",
            """mutation($input: WatchCustomerInput!) {
                 watchCustomer(input: $input) { errors { code } } }""",
            lambda customer: {"customerId": customer, "reason": "跟进理财到期"},
        ),
        "customer_watchers",
    ),
    "submitComplaint": (
        _operation(
            "submitComplaint",
            SUBMIT,
            lambda customer: {
                "customerId": customer,
                "channel": "HOTLINE",
                "category": "FEES_AND_CHARGES",
                "description": "账户管理费扣收未提前告知",
                "idempotencyKey": f"matrix-{next(_refs)}",
            },
        ),
        "complaints",
    ),
    "recordConsent": (
        _operation(
            "recordConsent",
            CONSENT,
            lambda customer: {
                "customerId": customer,
                "thirdParty": OPERATION_PARTY[0],
                "purpose": "RISK_CONTROL",
                "dataCategories": ["identity"],
                "validUntil": (clock.now() + timedelta(days=30)).isoformat(),
                "evidence": f"signed consent form M-{next(_refs)}",
                **PIPL_FIELDS,
            },
        ),
        "consents",
    ),
    "requestDataShare": (
        _operation(
            "requestDataShare",
            SHARE_REQUEST,
            lambda customer: {
                "customerId": customer,
                "thirdParty": OPERATION_PARTY[0],
                "purpose": "CUSTOMER_SERVICE",
                "dataCategories": ["contact"],
                "reason": "保险理赔回访需要联系电话",
            },
        ),
        "share_requests",
    ),
}
OPERATION_PARTY: list[str] = []  # the world's third party, set by the test
_SEES_BOTH = ("ok", "ok")
_SEES_OWN = ("ok", "NOT_FOUND")
_SEES_NONE = ("NOT_FOUND", "NOT_FOUND")
_REFUSED = ("FORBIDDEN", "FORBIDDEN")
# Who may do what on (own customer, other branch's customer): the right decides first, then the
# row — a customer the caller cannot see is answered like a missing one.
OPERATION_EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "HEAD_OFFICE": dict.fromkeys(CUSTOMER_OPERATIONS, _SEES_BOTH),
    "RELATIONSHIP_MANAGER": dict.fromkeys(CUSTOMER_OPERATIONS, _SEES_OWN),
    "BRANCH_SUPERVISOR": dict.fromkeys(CUSTOMER_OPERATIONS, _SEES_OWN),
    "COMPLAINT_HANDLER": {
        "watchCustomer": _SEES_NONE,  # rows only of complaints assigned to them: none here
        "submitComplaint": _SEES_NONE,
        "recordConsent": _REFUSED,
        "requestDataShare": _REFUSED,
    },
    "RISK_OFFICER": {
        "watchCustomer": _SEES_BOTH,
        "submitComplaint": _REFUSED,
        "recordConsent": _REFUSED,
        "requestDataShare": _REFUSED,
    },
    **{
        role: dict.fromkeys(CUSTOMER_OPERATIONS, _REFUSED)
        for role in ("AUDITOR", "MARKETING_ANALYST", "SECURITY_ADMIN", "PROCESS_OWNER")
    },
    "THIRD_PARTY": dict.fromkeys(CUSTOMER_OPERATIONS, _REFUSED),
}


def _any_outcome(body: dict[str, Any], name: str) -> str:
    """The top-level error code, else the payload's first error code, else "ok"."""
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    errors = body["data"][name]["errors"]
    return str(errors[0]["code"]) if errors else "ok"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_operates_on_customers_as_the_policy_says(
    backend: Backend, world: dict[str, Any], role: str
) -> None:
    """Role × every other mutation naming a customer × (own customer, other branch's): watch,
    complaint intake, consent, share request. A refused call adds no row."""
    assert set(OPERATION_EXPECTED) == set(ROLES)
    OPERATION_PARTY[:] = [world["party"]["id"]]
    staff, purpose = _who(role, world)
    for name, (call, table) in CUSTOMER_OPERATIONS.items():
        for which, expected in zip(("own", "other"), OPERATION_EXPECTED[role][name], strict=True):
            with backend.engine.connect() as connection:
                before = connection.scalar(text(f"SELECT count(*) FROM {table}"))
            query, variables = call(backend, world[which]["id"], {})
            body = backend.post(query, variables, staff=staff, purpose=purpose).json()
            where = (role, name, which)
            assert _any_outcome(body, name) == expected, (where, body)
            with backend.engine.connect() as connection:
                after = connection.scalar(text(f"SELECT count(*) FROM {table}"))
            assert after == before + (1 if expected == "ok" else 0), where
