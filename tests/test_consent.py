"""External sharing (SHARE-3): agreements, explicit consent, consented data only, revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kehu import clock
from tests.conftest import Backend, branch_id, create_customer

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
