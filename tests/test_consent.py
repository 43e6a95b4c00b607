"""External sharing (SHARE-3): agreements, explicit consent, consented data only, revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from authz.fields import PERSONAL_FIELDS, Effect
from authz.policy import AccessPolicy
from kehu import clock
from tests.conftest import Backend, branch_id, create_customer
from tests.test_access import EVERYTHING, PLACES
from tests.test_access import _add_information as add_information

REGISTER = """
mutation($input: RegisterThirdPartyInput!) {
  registerThirdParty(input: $input) { thirdParty { id principal } errors { field code message } }
}
"""
CONSENT = """
mutation($input: RecordConsentInput!) {
  recordConsent(input: $input) { consent { id inForce dataCategories } errors { field code } }
}
"""
READ = "query Partner($id: ID!) { customer(id: $id) { id name phone } }"
_names = iter(range(1000))


def _register(
    backend: Backend, signed: str = "2026-01-01", expires: str = "2030-12-31"
) -> dict[str, Any]:
    payload = backend.gql(
        REGISTER,
        {
            "input": {
                "name": f"合作保险公司 {next(_names)}",
                "agreementReference": "保密协议 NDA-2026-007",
                "agreementSignedOn": signed,
                "agreementExpiresOn": expires,
            }
        },
        staff="SEC0001",
    )["registerThirdParty"]
    assert payload["errors"] == []
    return dict(payload["thirdParty"])


@pytest.fixture
def rm_customers(backend: Backend) -> list[dict[str, Any]]:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    branch = branch_id(backend, "SUP0001")
    return [
        create_customer(
            backend, relationshipManager=manager, branch=branch, phone=f"1350000{n:04d}"
        )
        for n in range(2)
    ]


def _consent(
    backend: Backend, customer: dict[str, Any], party: dict[str, Any], **extra: Any
) -> Any:
    values = {
        "customerId": customer["id"],
        "thirdParty": party["id"],
        "purpose": "CUSTOMER_SERVICE",
        "dataCategories": ["contact"],
        "validUntil": (clock.now() + timedelta(days=90)).isoformat(),
        "evidence": "signed consent form 2026-118, scanned",
    }
    values.update(extra)
    return backend.gql(
        CONSENT, {"input": values}, staff="RM0001", purpose="RELATIONSHIP_MANAGEMENT"
    )["recordConsent"]


def test_a_third_party_sees_only_consented_customers_and_categories(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    party = _register(backend)
    consented, other = rm_customers
    recorded = _consent(backend, consented, party)
    assert recorded["errors"] == [] and recorded["consent"]["inForce"]
    body = backend.post(READ, {"id": consented["id"]}, staff=party["principal"]).json()
    assert body["data"]["customer"]["phone"] == consented["phone"]
    assert body["data"]["customer"]["name"] is None
    assert [e["extensions"]["field"] for e in body["errors"]] == ["name"]
    hidden = backend.post(READ, {"id": other["id"]}, staff=party["principal"]).json()
    assert hidden["data"]["customer"] is None
    listed = backend.gql(
        "{ customers(first: 100) { edges { node { id } } } }", staff=party["principal"]
    )["customers"]["edges"]
    assert [e["node"]["id"] for e in listed] == [consented["id"]]
    backend.client.app.state.auditor.flush()  # type: ignore[attr-defined]
    with backend.engine.connect() as connection:
        via = connection.exec_driver_sql(
            f"SELECT via FROM audit_log WHERE actor = '{party['principal']}' ORDER BY id DESC LIMIT 1"
        ).scalar()
    assert "consent:" in str(via)


def test_revoking_consent_stops_sharing_at_once(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    party = _register(backend)
    recorded = _consent(backend, rm_customers[0], party)
    assert backend.post(READ, {"id": rm_customers[0]["id"]}, staff=party["principal"]).json()[
        "data"
    ]["customer"]
    revoked = backend.gql(
        "mutation($id: ID!) { revokeConsent(input: {id: $id}) { consent { inForce } errors { code } } }",
        {"id": recorded["consent"]["id"]},
        staff="RM0001",
    )["revokeConsent"]
    assert revoked["consent"]["inForce"] is False
    after = backend.post(READ, {"id": rm_customers[0]["id"]}, staff=party["principal"]).json()
    assert after["data"]["customer"] is None


def test_consent_needs_evidence_categories_and_an_agreement_in_force(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    party = _register(backend)
    missing = _consent(backend, rm_customers[0], party, evidence=" ", dataCategories=["dreams"])
    assert {(tuple(e["field"]), e["code"]) for e in missing["errors"]} == {
        (("evidence",), "EVIDENCE_REQUIRED"),
        (("dataCategories",), "UNKNOWN_GROUP"),
    }
    lapsed = _register(backend, signed="2020-01-01", expires="2021-01-01")
    refused = _consent(backend, rm_customers[0], lapsed)
    assert [e["code"] for e in refused["errors"]] == ["AGREEMENT_NOT_IN_FORCE"]
    no_agreement = backend.gql(
        REGISTER,
        {
            "input": {
                "name": "没有协议的公司",
                "agreementReference": "",
                "agreementSignedOn": "2026-01-01",
                "agreementExpiresOn": "2027-01-01",
            }
        },
        staff="SEC0001",
    )["registerThirdParty"]
    assert [e["code"] for e in no_agreement["errors"]] == ["AGREEMENT_REQUIRED"]


def test_only_security_admins_register_third_parties(backend: Backend) -> None:
    body = backend.post(
        REGISTER,
        {
            "input": {
                "name": "x",
                "agreementReference": "y",
                "agreementSignedOn": "2026-01-01",
                "agreementExpiresOn": "2027-01-01",
            }
        },
        staff="HO0001",
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "categories",
    [["identity", "financial", "transactions"], ["contact", "credit_risk", "preferences"]],
    ids=["identity-financial-transactions", "contact-credit-preferences"],
)
def test_third_party_every_personal_field_of_every_type_consented_or_not(
    backend: Backend, categories: list[str]
) -> None:
    """THIRD_PARTY × every personal field of every type × (consented, not consented).

    A consented customer shows the consented categories in full, capped by the role's policy
    (a category the role may never see stays DENIED); everything else is DENIED with one
    FIELD_FORBIDDEN per field path. A customer without consent does not exist for the party.
    """
    party = _register(backend)
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    branch = branch_id(backend, "SUP0001")
    consented, other = (
        create_customer(
            backend,
            relationshipManager=manager,
            branch=branch,
            email=f"c{n}@example.com",
            address="北京市朝阳区建国路1号",
            occupation="工程师",
            employer="某公司",
            phone=f"1360000{n:04d}" if n else "13600009999",
        )
        for n in range(2)
    )
    for customer in (consented, other):
        add_information(backend, customer["id"])
    assert _consent(backend, consented, party, dataCategories=categories)["errors"] == []
    groups = AccessPolicy().field_groups()
    role_fields = AccessPolicy().decisions(["THIRD_PARTY"]).fields
    full = backend.gql(EVERYTHING, {"id": consented["id"]}, staff="HO0001")
    body = backend.post(
        EVERYTHING, {"id": consented["id"]}, staff=party["principal"], purpose="CUSTOMER_SERVICE"
    ).json()
    forbidden = [
        (e["extensions"]["type"], e["extensions"]["field"])
        for e in body.get("errors", [])
        if e["extensions"]["code"] == "FIELD_FORBIDDEN"
    ]
    assert len(forbidden) == len(set(forbidden))  # one error per field path, not per row
    checked = 0
    for type_name, fields in PERSONAL_FIELDS.items():
        seen, truth = PLACES[type_name](body["data"]), PLACES[type_name](full)
        for field in fields.values():
            allowed = (
                groups[f"{type_name}.{field}"] in categories
                and role_fields[type_name][field] is not Effect.DENIED
            )
            where = (type_name, field, categories)
            if allowed:
                assert seen[field] == truth[field] and truth[field] is not None, where
                assert (type_name, field) not in forbidden, where
            else:
                assert seen[field] is None and (type_name, field) in forbidden, where
            checked += 1
    assert checked == sum(len(f) for f in PERSONAL_FIELDS.values())
    hidden = backend.post(
        EVERYTHING, {"id": other["id"]}, staff=party["principal"], purpose="CUSTOMER_SERVICE"
    ).json()
    assert hidden["data"] is None or hidden["data"]["customer"] is None
    assert "NOT_FOUND" in {e["extensions"]["code"] for e in hidden["errors"]}


SHARE_REQUEST = """
mutation($input: RequestDataShareInput!) {
  requestDataShare(input: $input) {
    shareRequest { id status consent decisionNote processInstance }
    errors { field code message }
  }
}
"""


def test_external_share_approval_process_checks_consent_then_security_reviews(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    """The second process: request → consent check (service task) → security review → decision."""
    party = _register(backend)
    with_consent, without = rm_customers
    consent = _consent(backend, with_consent, party, dataCategories=["contact", "identity"])
    ask = {
        "thirdParty": party["id"],
        "purpose": "CUSTOMER_SERVICE",
        "dataCategories": ["contact"],
        "reason": "保险理赔回访需要联系电话",
    }
    refused = backend.gql(
        SHARE_REQUEST, {"input": {**ask, "customerId": without["id"]}}, staff="RM0001"
    )["requestDataShare"]["shareRequest"]
    assert refused["status"] == "DENIED" and "no consent" in refused["decisionNote"]
    pending = backend.gql(
        SHARE_REQUEST, {"input": {**ask, "customerId": with_consent["id"]}}, staff="RM0001"
    )["requestDataShare"]["shareRequest"]
    assert pending["status"] == "PENDING"
    assert pending["consent"] == consent["consent"]["id"]
    inbox = backend.gql(
        '{ myTasks(process: "share_request", first: 50) { edges { node { id elementId } } } }',
        staff="SEC0001",
    )["myTasks"]["edges"]
    review = [e["node"]["id"] for e in inbox if e["node"]["elementId"] == "Task_SecurityReview"]
    assert review, inbox
    done = backend.gql(
        "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { errors { code } } }",
        {"i": {"id": review[-1], "data": {"approved": True, "note": "用途与授权一致"}}},
        staff="SEC0001",
    )["completeTask"]
    assert done["errors"] == []
    mine = backend.gql("{ shareRequests { id status decisionNote } }", staff="RM0001")[
        "shareRequests"
    ]
    decided = next(r for r in mine if r["id"] == pending["id"])
    assert decided["status"] == "APPROVED" and decided["decisionNote"] == "用途与授权一致"
    everyone = backend.gql("{ shareRequests { id } }", staff="SEC0001")["shareRequests"]
    assert {pending["id"], refused["id"]} <= {r["id"] for r in everyone}
    assert backend.gql("{ shareRequests { id } }", staff="SUP0001")["shareRequests"] == []
    # More categories than consented: refused by the consent check.
    wider = backend.gql(
        SHARE_REQUEST,
        {"input": {**ask, "customerId": with_consent["id"], "dataCategories": ["financial"]}},
        staff="RM0001",
    )["requestDataShare"]["shareRequest"]
    assert wider["status"] == "DENIED"
