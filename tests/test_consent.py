"""External sharing (SHARE-3): agreements, explicit consent, consented data only, revocation."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from authz.fields import PERSONAL_FIELDS, Effect
from authz.policy import AccessPolicy
from core import clock
from tests.complaint_steps import submit
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


# What PIPL art. 23 makes every consent name: processing methods and the recipient's contact.
PIPL_FIELDS = {
    "processingMethods": ["STORAGE", "USE"],
    "recipientContact": {"name": "数据保护办公室", "email": "dpo@partner.example.com"},
}


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
        **PIPL_FIELDS,
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


def _share_requests(backend: Backend, staff: str, fields: str) -> list[dict[str, Any]]:
    query = "{ shareRequests(first: 100) { edges { node { " + fields + " } } } }"
    return [e["node"] for e in backend.gql(query, staff=staff)["shareRequests"]["edges"]]


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
        '{ myTasks(where: {process: {eq: "share_request"}}, first: 50) { edges { node { id elementId } } } }',
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
    mine = _share_requests(backend, "RM0001", "id status decisionNote")
    decided = next(r for r in mine if r["id"] == pending["id"])
    assert decided["status"] == "APPROVED" and decided["decisionNote"] == "用途与授权一致"
    everyone = _share_requests(backend, "SEC0001", "id")
    assert {pending["id"], refused["id"]} <= {r["id"] for r in everyone}
    # Others' requests stay with them (SUP0001 may have requests of its own from other tests).
    theirs = _share_requests(backend, "SUP0001", "id")
    assert not {pending["id"], refused["id"]} & {r["id"] for r in theirs}
    # More categories than consented: refused by the consent check.
    wider = backend.gql(
        SHARE_REQUEST,
        {"input": {**ask, "customerId": with_consent["id"], "dataCategories": ["financial"]}},
        staff="RM0001",
    )["requestDataShare"]["shareRequest"]
    assert wider["status"] == "DENIED"


# --- several consents, the declared purpose, revocation, complaint text ------

NAME_AND_PHONE = "query Partner($id: ID!) { customer(id: $id) { id name phone email } }"
LIST = "{ customers(first: 100) { totalCount edges { node { id } } } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on Customer { phone } } }"
REVOKE = """
mutation($id: ID!) { revokeConsent(input: {id: $id}) { consent { inForce } errors { code } } }
"""


def _forbidden(body: dict[str, Any]) -> set[str]:
    return {
        e["extensions"]["field"]
        for e in body.get("errors", [])
        if e["extensions"]["code"] == "FIELD_FORBIDDEN"
    }


def _read(backend: Backend, party: dict[str, Any], customer: dict[str, Any], purpose: Any) -> Any:
    return backend.post(
        NAME_AND_PHONE, {"id": customer["id"]}, staff=party["principal"], purpose=purpose
    ).json()


def test_several_consents_serve_their_union_for_the_declared_purpose_only(
    backend: Backend,
) -> None:
    """Union by purpose: each consent naming the declared purpose adds its categories; consents
    for another purpose add nothing (before: only the oldest consent counted)."""
    party = _register(backend)
    customer = create_customer(
        backend,
        relationshipManager=backend.gql("{ me { id } }", staff="RM0001")["me"]["id"],
        branch=branch_id(backend, "SUP0001"),
        phone="13500009001",
        email="union@example.com",
    )
    for purpose, categories in (
        ("CUSTOMER_SERVICE", ["contact"]),
        ("RISK_CONTROL", ["identity"]),
        ("CUSTOMER_SERVICE", ["identity"]),
    ):
        recorded = _consent(backend, customer, party, purpose=purpose, dataCategories=categories)
        assert recorded["errors"] == []
    service = _read(backend, party, customer, "CUSTOMER_SERVICE")
    assert service["data"]["customer"] == {
        "id": customer["id"],
        "name": "测试客户",
        "phone": "13500009001",
        "email": "union@example.com",
    }
    assert _forbidden(service) == set()
    # Under RISK_CONTROL only the one consent naming it counts: identity, not contact.
    risk = _read(backend, party, customer, "RISK_CONTROL")
    assert risk["data"]["customer"]["name"] == "测试客户"
    assert risk["data"]["customer"]["phone"] is None
    assert _forbidden(risk) == {"phone", "email"}
    backend.client.app.state.auditor.flush()  # type: ignore[attr-defined]
    with backend.engine.connect() as connection:
        via = connection.execute(
            text(
                "SELECT via FROM audit_log WHERE actor = :actor AND action = 'READ' "
                "ORDER BY id DESC LIMIT 2"
            ),
            {"actor": party["principal"]},
        ).all()
    # The audit names every consent a read went through, and only those.
    ids = _consent_numbers(backend, customer, party)
    assert str(via[0][0]).count("consent:") == 1
    assert f"consent:{ids['RISK_CONTROL'][0]}" in str(via[0][0])
    assert str(via[1][0]).count("consent:") == 2
    assert all(f"consent:{n}" in str(via[1][0]) for n in ids["CUSTOMER_SERVICE"])


def _consent_numbers(
    backend: Backend, customer: dict[str, Any], party: dict[str, Any]
) -> dict[str, list[int]]:
    rows = backend.gql(
        "query($id: ID!) { consents(customerId: $id, first: 100) "
        "{ edges { node { id purpose thirdParty } } } }",
        {"id": customer["id"]},
        staff="RM0001",
    )["consents"]["edges"]
    rows = [edge["node"] for edge in rows]
    found: dict[str, list[int]] = {}
    for row in rows:
        if row["thirdParty"] == party["id"]:
            number = int(base64.b64decode(row["id"]).decode().split(":")[1])
            found.setdefault(row["purpose"], []).append(number)
    return found


@pytest.mark.parametrize(
    "purpose",
    ["RISK_CONTROL", None, "RELATIONSHIP_MANAGEMENT", "NO_SUCH_PURPOSE"],
    ids=["allowed-but-not-consented", "none", "not-allowed-for-the-role", "unknown"],
)
def test_a_purpose_no_consent_names_shows_nothing_of_the_customer(
    backend: Backend, rm_customers: list[dict[str, Any]], purpose: str | None
) -> None:
    """The row condition includes the declared purpose: the customer is not there at all."""
    party = _register(backend)
    customer = rm_customers[0]
    assert _consent(backend, customer, party)["errors"] == []
    # A consent naming a purpose the role may not declare does not open the row either.
    assert _consent(backend, customer, party, purpose="RELATIONSHIP_MANAGEMENT")["errors"] == []
    seen = _read(backend, party, customer, "CUSTOMER_SERVICE")["data"]["customer"]
    assert seen["phone"] == customer["phone"]
    listed = backend.post(LIST, staff=party["principal"], purpose=purpose).json()["data"]
    assert listed["customers"] == {"totalCount": 0, "edges": []}
    # Answered like any customer the caller may not see: null, nothing withheld to report.
    one = _read(backend, party, customer, purpose)
    assert one == _read(backend, party, rm_customers[1], purpose)
    assert one["data"]["customer"] is None and "errors" not in one
    node = backend.post(
        NODE, {"id": customer["id"]}, staff=party["principal"], purpose=purpose
    ).json()
    assert node["data"]["node"] is None


def test_revoking_one_of_two_consents_stops_what_it_gave_at_the_next_request(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    party = _register(backend)
    customer = rm_customers[1]
    contact = _consent(backend, customer, party, dataCategories=["contact"])["consent"]
    identity = _consent(backend, customer, party, dataCategories=["identity"])["consent"]
    both = _read(backend, party, customer, "CUSTOMER_SERVICE")["data"]["customer"]
    assert both["name"] == "测试客户" and both["phone"] == customer["phone"]
    # Revoke the older one: the newer one alone decides from the next request on.
    revoked = backend.gql(REVOKE, {"id": contact["id"]}, staff="RM0001")["revokeConsent"]
    assert revoked["consent"]["inForce"] is False
    after = _read(backend, party, customer, "CUSTOMER_SERVICE")
    assert after["data"]["customer"]["name"] == "测试客户"
    assert after["data"]["customer"]["phone"] is None
    assert _forbidden(after) == {"phone", "email"}
    backend.gql(REVOKE, {"id": identity["id"]}, staff="RM0001")
    gone = _read(backend, party, customer, "CUSTOMER_SERVICE")
    assert gone["data"]["customer"] is None
    assert backend.gql(LIST, staff=party["principal"])["customers"]["totalCount"] == 0


COMPLAINT_TEXT = """
query($id: ID!) {
  complaint(id: $id) { id timeline { kind } messages { kind } }
}
"""


@pytest.mark.parametrize(
    "categories", [["contact"], ["contact", "complaints"]], ids=["without", "with-complaints"]
)
def test_complaint_timeline_and_messages_reach_a_third_party_only_under_the_complaints_group(
    backend: Backend, rm_customers: list[dict[str, Any]], categories: list[str]
) -> None:
    party = _register(backend)
    customer = create_customer(
        backend,
        relationshipManager=backend.gql("{ me { id } }", staff="RM0001")["me"]["id"],
        branch=branch_id(backend, "SUP0001"),
    )
    complaint = submit(backend, customer)
    # A consent for another purpose naming complaints does not count under CUSTOMER_SERVICE.
    other_purpose = _consent(
        backend, customer, party, purpose="RISK_CONTROL", dataCategories=["complaints"]
    )
    assert other_purpose["errors"] == []
    assert _consent(backend, customer, party, dataCategories=categories)["errors"] == []
    staff_view = backend.gql(COMPLAINT_TEXT, {"id": complaint["id"]}, staff="RM0001")["complaint"]
    assert staff_view["timeline"] and staff_view["messages"] is not None
    body = backend.post(COMPLAINT_TEXT, {"id": complaint["id"]}, staff=party["principal"]).json()
    seen = body["data"]["complaint"]
    assert seen["id"] == complaint["id"]
    if "complaints" in categories:
        assert seen["timeline"] == staff_view["timeline"]
        assert seen["messages"] == staff_view["messages"]
        assert _forbidden(body) == set()
    else:
        assert seen["timeline"] is None and seen["messages"] is None
        assert _forbidden(body) == {"timeline", "messages"}
        paths = {tuple(e["path"]) for e in body["errors"]}
        assert paths == {("complaint", "timeline"), ("complaint", "messages")}
    listed = backend.post(
        "{ complaints(first: 50) { edges { node { id timeline { kind } } } } }",
        staff=party["principal"],
    ).json()
    timelines = [e["node"]["timeline"] for e in listed["data"]["complaints"]["edges"]]
    assert len(timelines) == 1
    assert (timelines[0] is not None) == ("complaints" in categories)


def test_the_share_approval_consent_check_takes_the_union_by_purpose(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    party = _register(backend)
    customer = rm_customers[0]
    _consent(backend, customer, party, dataCategories=["contact"])
    _consent(backend, customer, party, dataCategories=["identity"])
    _consent(backend, customer, party, purpose="RISK_CONTROL", dataCategories=["financial"])
    ask = {
        "customerId": customer["id"],
        "thirdParty": party["id"],
        "purpose": "CUSTOMER_SERVICE",
        "dataCategories": ["contact", "identity"],
        "reason": "保险理赔回访需要核对身份与联系电话",
    }
    both = backend.gql(SHARE_REQUEST, {"input": ask}, staff="RM0001")["requestDataShare"]
    assert both["shareRequest"]["status"] == "PENDING"
    assert both["shareRequest"]["consent"] is not None
    # A category consented only for another purpose is not covered.
    wider = backend.gql(
        SHARE_REQUEST,
        {"input": {**ask, "dataCategories": ["contact", "financial"]}},
        staff="RM0001",
    )["requestDataShare"]
    assert wider["shareRequest"]["status"] == "DENIED"


CONSENT_PIPL = """
mutation($input: RecordConsentInput!) {
  recordConsent(input: $input) {
    consent { id processingMethods recipientContact { name phone email } }
    errors { field code message }
  }
}
"""


@pytest.mark.parametrize(
    ("contact", "methods", "errors"),
    [
        ({"name": "王敏", "phone": "13911112222"}, [], {(("processingMethods",), "REQUIRED")}),
        (
            {"name": " ", "email": "dpo@x.example.com"},
            ["USE"],
            {(("recipientContact", "name"), "REQUIRED")},
        ),
        ({"name": "王敏"}, ["USE"], {(("recipientContact",), "CONTACT_REQUIRED")}),
        (
            {"name": "王敏", "phone": " ", "email": ""},
            ["USE"],
            {(("recipientContact",), "CONTACT_REQUIRED")},
        ),
        (
            {"name": "王敏", "phone": "0101234"},
            ["USE"],
            {(("recipientContact", "phone"), "INVALID_PHONE")},
        ),
        (
            {"name": "王敏", "email": "not-mail"},
            ["USE"],
            {(("recipientContact", "email"), "INVALID_EMAIL")},
        ),
        (
            {"name": "王" * 51, "email": "a@b.example"},
            ["USE"],
            {(("recipientContact", "name"), "TOO_LONG")},
        ),
    ],
    ids=[
        "no-method",
        "blank-name",
        "no-channel",
        "blank-channels",
        "bad-phone",
        "bad-email",
        "long-name",
    ],
)
def test_recording_a_consent_refuses_a_missing_method_or_contact_and_writes_nothing(
    backend: Backend,
    rm_customers: list[dict[str, Any]],
    contact: dict[str, Any],
    methods: list[str],
    errors: set[tuple[tuple[str, ...], str]],
) -> None:
    party = _register(backend)
    customer = rm_customers[0]
    refused = backend.gql(
        CONSENT_PIPL,
        {
            "input": {
                "customerId": customer["id"],
                "thirdParty": party["id"],
                "purpose": "CUSTOMER_SERVICE",
                "dataCategories": ["contact"],
                "validUntil": (clock.now() + timedelta(days=90)).isoformat(),
                "evidence": "signed consent form 2026-119",
                "processingMethods": methods,
                "recipientContact": contact,
            }
        },
        staff="RM0001",
    )["recordConsent"]
    assert refused["consent"] is None
    assert {(tuple(e["field"]), e["code"]) for e in refused["errors"]} == errors
    # Messages never repeat the value that was refused (personal data).
    for value in (contact.get("phone"), contact.get("email")):
        if value and value.strip():
            assert all(value not in e["message"] for e in refused["errors"])
    assert _consent_numbers(backend, customer, party) == {}
    unknown = backend.post(
        CONSENT_PIPL,
        {"input": {"customerId": customer["id"], "processingMethods": ["SELLING"]}},
        staff="RM0001",
    ).json()
    assert "data" not in unknown or unknown["data"] is None


def test_a_consent_records_the_processing_methods_and_the_recipients_contact_PIPL_23(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    party = _register(backend)
    other_party = _register(backend)
    customer = rm_customers[1]
    recorded = _consent(
        backend,
        customer,
        party,
        processingMethods=["USE", "STORAGE", "USE"],
        recipientContact={
            "name": " 李娜（数据保护负责人） ",
            "phone": "+86 139-0000-7788",
            "email": "DPO@Partner.Example.COM",
        },
    )
    assert recorded["errors"] == []
    _consent(backend, customer, other_party)
    listed = backend.gql(
        "query($id: ID!) { consents(customerId: $id, first: 100) { edges { node { id thirdParty "
        "processingMethods recipientContact { name phone email } } } } }",
        {"id": customer["id"]},
        staff="RM0001",
    )["consents"]["edges"]
    listed = [edge["node"] for edge in listed]
    mine = next(c for c in listed if c["id"] == recorded["consent"]["id"])
    assert mine["processingMethods"] == ["STORAGE", "USE"]
    assert mine["recipientContact"] == {
        "name": "李娜（数据保护负责人）",
        "phone": "13900007788",
        "email": "dpo@partner.example.com",
    }
    assert {c["thirdParty"] for c in listed} == {party["id"], other_party["id"]}
    # The party itself sees its own consents only, not other recipients' and their contacts.
    own = backend.gql(
        "query($id: ID!) { consents(customerId: $id) { edges { node { id thirdParty } } } }",
        {"id": customer["id"]},
        staff=party["principal"],
    )["consents"]["edges"]
    own = [edge["node"] for edge in own]
    assert {c["thirdParty"] for c in own} == {party["id"]}
    # The contact is sealed at rest and kept out of the audit log.
    backend.client.app.state.auditor.flush()  # type: ignore[attr-defined]
    with backend.engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT recipient_contact_name, recipient_contact_phone, "
                "recipient_contact_email, processing_methods FROM consents"
            )
        ).all()
        logged = connection.execute(text("SELECT operation, detail FROM audit_log")).all()
    flat = " ".join(str(v) for row in stored + logged for v in row)
    for secret in ("李娜", "13900007788", "dpo@partner.example.com", "DPO@partner"):
        assert secret not in flat
    assert "STORAGE" in flat


def test_an_approval_after_the_consent_was_revoked_during_review_is_a_refusal(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    """SHARE-3: revoking consent stops sharing at once — also while security reviews a request."""
    party = _register(backend)
    customer = rm_customers[0]
    consent = _consent(backend, customer, party, dataCategories=["contact"])
    ask = {
        "customerId": customer["id"],
        "thirdParty": party["id"],
        "purpose": "CUSTOMER_SERVICE",
        "dataCategories": ["contact"],
        "reason": "保险理赔回访需要联系电话",
    }
    pending = backend.gql(SHARE_REQUEST, {"input": ask}, staff="RM0001")["requestDataShare"]
    assert pending["shareRequest"]["status"] == "PENDING"
    revoked = backend.gql(REVOKE, {"id": consent["consent"]["id"]}, staff="RM0001")
    assert revoked["revokeConsent"]["consent"]["inForce"] is False
    inbox = backend.gql(
        '{ myTasks(where: {process: {eq: "share_request"}}, first: 50) { edges { node { id elementId } } } }',
        staff="SEC0001",
    )["myTasks"]["edges"]
    review = [e["node"]["id"] for e in inbox if e["node"]["elementId"] == "Task_SecurityReview"]
    done = backend.gql(
        "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { errors { code } } }",
        {"i": {"id": review[-1], "data": {"approved": True, "note": "用途与授权一致"}}},
        staff="SEC0001",
    )["completeTask"]
    assert done["errors"] == []
    mine = _share_requests(backend, "RM0001", "id status decisionNote")
    decided = next(r for r in mine if r["id"] == pending["shareRequest"]["id"])
    assert decided["status"] == "DENIED"
    assert "no longer in force" in decided["decisionNote"]


# --- what a consent does not name stays out of reach ---------------

HISTORY = """
query($id: ID!) {
  customerHistory(customerId: $id, first: 50) { edges { node { field oldValue newValue } } }
}
"""
FILTERED = """
query($where: CustomerWhere, $order: [CustomerOrderBy!]) {
  customers(first: 50, where: $where, orderBy: $order) { totalCount edges { node { id } } }
}
"""


@pytest.mark.parametrize(
    ("where", "order"),
    [
        ({"phone": {"eq": "13500009101"}}, None),
        ({"email": {"eq": "hidden@example.com"}}, None),
        ({"or": [{"gender": {"eq": "FEMALE"}}, {"phone": {"eq": "13500009101"}}]}, None),
        (None, [{"field": "NAME", "direction": "ASC"}]),
    ],
    ids=["phone", "email", "phone-nested", "order-by-name"],
)
def test_a_third_party_cannot_filter_or_order_on_a_category_its_consents_do_not_name(
    backend: Backend, where: Any, order: Any
) -> None:
    """A filter or ordering on a field outside the consented categories would reveal the value
    through which rows match or how they sort: refused like any field the caller cannot read."""
    party = _register(backend)
    customer = create_customer(
        backend,
        relationshipManager=backend.gql("{ me { id } }", staff="RM0001")["me"]["id"],
        branch=branch_id(backend, "SUP0001"),
        phone="13500009101",
        email="hidden@example.com",
    )
    # Consents for the declared purpose name identity only; contact only for another purpose.
    assert _consent(backend, customer, party, dataCategories=["identity"])["errors"] == []
    assert (
        _consent(backend, customer, party, purpose="RISK_CONTROL", dataCategories=["contact"])[
            "errors"
        ]
        == []
    )
    if order is not None:
        # Ordering by name is fine while identity is consented …
        allowed = backend.post(
            FILTERED, {"order": order}, staff=party["principal"], purpose="CUSTOMER_SERVICE"
        ).json()
        assert "errors" not in allowed and allowed["data"]["customers"]["totalCount"] == 1
        # … and refused under the purpose whose consent does not name identity.
        purpose = "RISK_CONTROL"
    else:
        purpose = "CUSTOMER_SERVICE"
    body = backend.post(
        FILTERED, {"where": where, "order": order}, staff=party["principal"], purpose=purpose
    ).json()
    assert body["data"] is None or body["data"]["customers"] is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


def test_change_history_shows_no_value_of_a_category_the_caller_may_not_read(
    backend: Backend,
) -> None:
    """Preferences and risk assessments changed: their values in the history follow the
    live fields' effects (a third party's consent, a role without the group)."""
    party = _register(backend)
    customer = create_customer(
        backend,
        relationshipManager=backend.gql("{ me { id } }", staff="RM0001")["me"]["id"],
        branch=branch_id(backend, "SUP0001"),
        phone="13500009102",
    )
    add_information(backend, customer["id"])
    assert _consent(backend, customer, party, dataCategories=["contact"])["errors"] == []
    staff_view = backend.gql(HISTORY, {"id": customer["id"]}, staff="HO0001")
    values = {
        e["node"]["field"]: e["node"]["newValue"] for e in staff_view["customerHistory"]["edges"]
    }
    assert values["creditStatus"] == "NORMAL" and values["marketingOptIn"] is not None
    for staff, purpose, hidden in (
        (party["principal"], "CUSTOMER_SERVICE", {"creditStatus", "riskTolerance", "products"}),
        ("RISK0001", "RISK_CONTROL", {"products", "serviceChannels", "marketingOptIn"}),
    ):
        body = backend.post(HISTORY, {"id": customer["id"]}, staff=staff, purpose=purpose).json()
        seen = {
            e["node"]["field"]: e["node"]["newValue"]
            for e in body["data"]["customerHistory"]["edges"]
        }
        for field in hidden:
            assert field in seen and seen[field] is None, (staff, field, seen[field])


NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


def test_node_finds_consents_parties_and_share_requests_inside_their_lists_scope(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    """``node(id:)`` answers with the row scope of each type's list: a consent of a customer
    the caller sees (a third party: its own only), a third party to staff and to itself, a
    share request to its requester and security admins. Invisible and missing alike: null."""
    party, rival = _register(backend), _register(backend)
    customer = rm_customers[0]
    consent = _consent(backend, customer, party)["consent"]["id"]
    _consent(backend, customer, rival)
    request = backend.gql(
        SHARE_REQUEST,
        {
            "input": {
                "customerId": customer["id"],
                "thirdParty": party["id"],
                "purpose": "CUSTOMER_SERVICE",
                "dataCategories": ["contact"],
                "reason": "回访",
            }
        },
        staff="RM0001",
    )["requestDataShare"]["shareRequest"]["id"]

    def node(global_id: str, staff: str) -> str | None:
        found = backend.gql(NODE, {"id": global_id}, staff=staff)["node"]
        assert found is None or found["id"] == global_id
        return None if found is None else str(found["__typename"])

    assert node(consent, "RM0001") == "Consent"
    assert node(consent, party["principal"]) == "Consent"
    assert node(consent, rival["principal"]) is None  # another recipient's consent
    assert node(consent, "SH01SUP01") is None  # a customer of another branch
    assert node(party["id"], "RM0001") == "ThirdParty"
    assert node(party["id"], party["principal"]) == "ThirdParty"
    assert node(party["id"], rival["principal"]) is None
    assert node(request, "RM0001") == "ShareRequest"
    assert node(request, "SEC0001") == "ShareRequest"
    assert node(request, "SUP0001") is None  # not theirs, no admin:policy
    for missing in ("Consent:9999999", "ThirdParty:9999999", "ShareRequest:9999999"):
        encoded = base64.b64encode(missing.encode()).decode()
        assert node(encoded, "SEC0001") is None


def test_share_requests_and_consents_filter_with_typed_operators(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    party, rival = _register(backend), _register(backend)
    customer, other = rm_customers
    _consent(backend, customer, party)
    _consent(backend, customer, rival)
    ask = {"thirdParty": party["id"], "purpose": "CUSTOMER_SERVICE", "reason": "回访"}
    pending = backend.gql(
        SHARE_REQUEST,
        {"input": {**ask, "customerId": customer["id"], "dataCategories": ["contact"]}},
        staff="RM0001",
    )["requestDataShare"]["shareRequest"]
    denied = backend.gql(
        SHARE_REQUEST,
        {"input": {**ask, "customerId": other["id"], "dataCategories": ["contact"]}},
        staff="RM0001",
    )["requestDataShare"]["shareRequest"]
    assert (pending["status"], denied["status"]) == ("PENDING", "DENIED")
    requests = """query($where: ShareRequestWhere) { shareRequests(where: $where, first: 100) {
                    totalCount edges { node { id status } } } }"""

    def found(where: dict[str, Any]) -> list[str]:
        page = backend.gql(requests, {"where": where}, staff="RM0001")["shareRequests"]
        assert page["totalCount"] == len(page["edges"])
        return [e["node"]["id"] for e in page["edges"]]

    mine = {"customer": {"in": [customer["id"], other["id"]]}}
    assert found(mine) == [denied["id"], pending["id"]]  # newest first
    assert found({**mine, "status": {"eq": "PENDING"}}) == [pending["id"]]
    assert found({**mine, "status": {"in": ["APPROVED", "DENIED"]}}) == [denied["id"]]
    assert found({**mine, "thirdParty": {"eq": rival["id"]}}) == []
    consents = """query($id: ID!, $where: ConsentWhere) { consents(customerId: $id, where: $where) {
                    totalCount edges { node { thirdParty } } } }"""
    page = backend.gql(
        consents, {"id": customer["id"], "where": {"thirdParty": {"eq": rival["id"]}}}
    )["consents"]
    assert page["totalCount"] == 1 and page["edges"] == [{"node": {"thirdParty": rival["id"]}}]


def test_third_parties_are_listed_to_staff_and_each_party_sees_only_itself(
    backend: Backend,
) -> None:
    party, rival = _register(backend), _register(backend)
    query = """query($where: ThirdPartyWhere) { thirdParties(where: $where, first: 100) {
                 totalCount edges { node { id name principal } } } }"""
    where = {"name": {"startsWith": "合作保险公司"}, "agreementExpiresOn": {"gte": "2030-01-01"}}
    listed = backend.gql(query, {"where": where}, staff="RM0001")["thirdParties"]
    found = {e["node"]["id"]: e["node"]["principal"] for e in listed["edges"]}
    assert found[party["id"]] == party["principal"] and found[rival["id"]] == rival["principal"]
    assert listed["totalCount"] == len(found)
    names = [e["node"]["name"] for e in listed["edges"]]
    assert names == sorted(names)
    own = backend.gql(query, {"where": where}, staff=party["principal"])["thirdParties"]
    assert [e["node"]["id"] for e in own["edges"]] == [party["id"]]


def test_share3_a_security_review_note_of_invisible_characters_is_no_note(
    backend: Backend, rm_customers: list[dict[str, Any]]
) -> None:
    """The security reviewer approved with a note of zero-width spaces and a byte-order mark:
    recorded as the review's reasons. Refused as blank (REQUIRED naming data.note, the shared
    rule of core/text.py), nothing decided; a real note goes through."""
    party = _register(backend)
    customer = rm_customers[0]
    _consent(backend, customer, party, dataCategories=["contact"])
    ask = {
        "thirdParty": party["id"],
        "purpose": "CUSTOMER_SERVICE",
        "dataCategories": ["contact"],
        "reason": "保险理赔回访需要联系电话",
        "customerId": customer["id"],
    }
    pending = backend.gql(SHARE_REQUEST, {"input": ask}, staff="RM0001")["requestDataShare"][
        "shareRequest"
    ]
    assert pending["status"] == "PENDING"
    inbox = backend.gql(
        '{ myTasks(where: {process: {eq: "share_request"}}, first: 50) { edges { node { id elementId } } } }',
        staff="SEC0001",
    )["myTasks"]["edges"]
    review = [e["node"]["id"] for e in inbox if e["node"]["elementId"] == "Task_SecurityReview"]
    complete = """mutation($i: CompleteTaskInput!) { completeTask(input: $i) {
        errors { field code } } }"""
    blank = backend.gql(
        complete,
        {"i": {"id": review[-1], "data": {"approved": True, "note": "\u200b\ufeff\u2060 "}}},
        staff="SEC0001",
    )["completeTask"]["errors"]
    assert blank == [{"field": ["data", "note"], "code": "REQUIRED"}]
    mine = _share_requests(backend, "RM0001", "id status")
    assert next(r for r in mine if r["id"] == pending["id"])["status"] == "PENDING"
    done = backend.gql(
        complete,
        {"i": {"id": review[-1], "data": {"approved": True, "note": "用途与授权一致"}}},
        staff="SEC0001",
    )["completeTask"]["errors"]
    assert done == []
