"""Internal share grants (SHARE-2): scoped, purposeful, expiring, revocable, tracked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core import clock
from tests.conftest import Backend, branch_id, create_customer

CREATE = """
mutation($input: CreateShareGrantInput!) {
  createShareGrant(input: $input) {
    shareGrant { id purpose fieldGroups wholeBranch inForce expiresAt }
    errors { field code message }
  }
}
"""
REVOKE = """mutation($id: ID!) { revokeShareGrant(input: {id: $id}) {
              shareGrant { inForce revokedAt } errors { code } } }"""
READ = "query Shared($id: ID!) { customer(id: $id) { id name phone email } }"


@pytest.fixture
def bj01_customers(backend: Backend) -> list[dict[str, Any]]:
    branch = branch_id(backend, "SUP0001")
    return [
        create_customer(backend, branch=branch, phone=f"1360000{n:04d}", email=f"c{n}@example.com")
        for n in range(2)
    ]


def _grant(backend: Backend, **overrides: Any) -> dict[str, Any]:
    values = {
        "receivingRole": "BRANCH_SUPERVISOR",
        "receivingBranch": branch_id(backend, "SH01SUP01"),
        "purpose": "CUSTOMER_SERVICE",
        "fieldGroups": ["contact"],
        "expiresAt": (clock.now() + timedelta(days=30)).isoformat(),
        "reason": "joint campaign follow-up",
    }
    values.update(overrides)
    return dict(backend.gql(CREATE, {"input": values}, staff="SUP0001")["createShareGrant"])


def _seen_by_shanghai(backend: Backend, customer: dict[str, Any]) -> dict[str, Any]:
    return dict(backend.post(READ, {"id": customer["id"]}, staff="SH01SUP01").json())


def test_a_grant_opens_the_granted_customers_and_field_groups_only(
    backend: Backend, bj01_customers: list[dict[str, Any]]
) -> None:
    first, second = bj01_customers
    assert _seen_by_shanghai(backend, first)["data"]["customer"] is None
    created = _grant(backend, customers=[first["id"]])
    assert created["errors"] == []
    grant = created["shareGrant"]
    assert grant["inForce"] and not grant["wholeBranch"]
    try:
        body = _seen_by_shanghai(backend, first)
        seen = body["data"]["customer"]
        assert seen["phone"] == first["phone"] and seen["email"] == "c0@example.com"
        assert seen["name"] is None  # identity is not shared
        assert {e["extensions"]["field"] for e in body["errors"]} == {"name"}
        assert _seen_by_shanghai(backend, second)["data"]["customer"] is None
        masked = backend.post(
            READ, {"id": first["id"]}, staff="SH01SUP01", purpose="RELATIONSHIP_MANAGEMENT"
        ).json()
        assert (
            masked["data"]["customer"]["phone"] == first["phone"][:3] + "****" + first["phone"][-4:]
        )
        log = backend.gql(
            '{ auditLog(where: {actor: {eq: "SH01SUP01"}, action: {eq: READ}}, first: 1) '
            "{ edges { node { operation customerIds } } } }",
            staff="AUD0001",
            purpose="AUDIT",
        )
        entry = log["auditLog"]["edges"][0]["node"]
        assert entry["customerIds"] == [first["id"]]
        with backend.engine.connect() as connection:
            via = connection.exec_driver_sql(
                "SELECT via FROM audit_log WHERE actor = 'SH01SUP01' ORDER BY id DESC LIMIT 1"
            ).scalar()
        assert "grant:" in str(via)
    finally:
        revoked = backend.gql(REVOKE, {"id": grant["id"]}, staff="SUP0001")["revokeShareGrant"]
        assert revoked["shareGrant"]["inForce"] is False
    assert _seen_by_shanghai(backend, first)["data"]["customer"] is None


def test_an_expired_grant_stops_working_by_itself(
    backend: Backend, bj01_customers: list[dict[str, Any]]
) -> None:
    created = _grant(backend, expiresAt=(clock.now() + timedelta(hours=1)).isoformat())
    assert created["errors"] == []
    try:
        assert _seen_by_shanghai(backend, bj01_customers[0])["data"]["customer"] is not None
        with clock.travel_to(clock.now() + timedelta(hours=2), all_threads=True):
            later = _seen_by_shanghai(backend, bj01_customers[0])
            assert (later.get("data") or {}).get("customer") is None and not later.get("errors"), (
                later
            )
    finally:
        backend.gql(REVOKE, {"id": created["shareGrant"]["id"]}, staff="SUP0001")


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"fieldGroups": ["secrets"]}, "fieldGroups", "UNKNOWN_GROUP"),
        ({"receivingRole": "THIRD_PARTY"}, "receivingRole", "UNKNOWN_ROLE"),
        ({"purpose": "GOSSIP"}, "purpose", "UNKNOWN_PURPOSE"),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt", "EXPIRED"),
        ({"reason": " "}, "reason", "REQUIRED"),
    ],
)
def test_bad_grants_are_refused(
    backend: Backend, overrides: dict[str, Any], field: str, code: str
) -> None:
    payload = _grant(backend, **overrides)
    assert payload["shareGrant"] is None
    assert {"field": [field], "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in payload["errors"]
    ]


def test_a_receiving_role_outside_the_role_enum_is_refused_by_the_schema(backend: Backend) -> None:
    """``receivingRole`` is the ``Role`` enum: an unknown role never reaches the command."""
    values = {
        "receivingRole": "JANITOR",
        "purpose": "CUSTOMER_SERVICE",
        "fieldGroups": ["contact"],
        "expiresAt": (clock.now() + timedelta(days=30)).isoformat(),
        "reason": "joint campaign follow-up",
    }
    body = backend.post(CREATE, {"input": values}, staff="SUP0001").json()
    assert body.get("data") is None, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert error["extensions"]["fields"][0]["field"] == ["input", "receivingRole"]
    assert "JANITOR" not in str(body)  # named, not repeated


def test_overlapping_grants_and_foreign_customers_are_refused(
    backend: Backend, bj01_customers: list[dict[str, Any]]
) -> None:
    created = _grant(backend)
    try:
        again = _grant(backend)
        assert [e["code"] for e in again["errors"]] == ["OVERLAPPING"]
        shanghai = create_customer(backend, branch=branch_id(backend, "SH01SUP01"))
        foreign = _grant(backend, purpose="COMPLAINT_HANDLING", customers=[shanghai["id"]])
        assert [e["code"] for e in foreign["errors"]] == ["NOT_OF_YOUR_BRANCH"]
    finally:
        backend.gql(REVOKE, {"id": created["shareGrant"]["id"]}, staff="SUP0001")


def test_only_supervisors_create_grants(backend: Backend) -> None:
    body = backend.post(
        CREATE,
        {
            "input": {
                "receivingRole": "RISK_OFFICER",
                "purpose": "RISK_CONTROL",
                "fieldGroups": ["financial"],
                "expiresAt": (clock.now() + timedelta(days=1)).isoformat(),
                "reason": "x",
            }
        },
        staff="RM0001",
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_departments_holding_a_grant_are_notified_of_changes_INFO_6(
    backend: Backend, bj01_customers: list[dict[str, Any]]
) -> None:
    created = _grant(backend, customers=[bj01_customers[0]["id"]])
    notes = "{ notifications(first: 5) { edges { node { customer { id } fields } } } }"
    try:
        backend.gql(
            """mutation($input: RecordVerificationInput!) { recordVerification(input: $input) {
                 errors { code } } }""",
            {
                "input": {
                    "customerId": bj01_customers[0]["id"],
                    "informationKind": "BASIC",
                    "result": "CONFIRMED",
                }
            },
        )
        backend.gql(
            """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
                 errors { code } } }""",
            {
                "input": {
                    "id": bj01_customers[0]["id"],
                    "expectedVersion": 1,
                    "changes": {"email": "new@example.com"},
                    "source": {"kind": "PROACTIVE_CONTACT", "detail": "call"},
                }
            },
        )
        latest = backend.gql(notes, staff="SH01SUP01")["notifications"]["edges"][0]["node"]
        assert latest == {"customer": {"id": bj01_customers[0]["id"]}, "fields": ["email"]}
    finally:
        backend.gql(REVOKE, {"id": created["shareGrant"]["id"]}, staff="SUP0001")


GRANTS = """query($where: ShareGrantWhere) { shareGrants(where: $where, first: 100) {
              totalCount edges { node { id status inForce receivingRole } } } }"""


def _grant_ids(backend: Backend, staff: str, where: dict[str, Any] | None = None) -> list[str]:
    found = backend.gql(GRANTS, {"where": where}, staff=staff, purpose="AUDIT")["shareGrants"]
    assert found["totalCount"] == len(found["edges"])
    return [e["node"]["id"] for e in found["edges"]]


def test_share_grants_filter_by_status_and_stay_in_the_caller_s_scope(backend: Backend) -> None:
    """``shareGrants(where: {status: …})`` replaces the old ``inForce`` flag: IN_FORCE is what
    works now, REVOKED and EXPIRED what does not; the scope (given, received, or all for
    auditors) stays."""
    created = _grant(backend, purpose="RISK_CONTROL")
    gone = _grant(backend, purpose="AUDIT")
    assert created["errors"] == [] and gone["errors"] == []
    grant, revoked = created["shareGrant"]["id"], gone["shareGrant"]["id"]
    backend.gql(REVOKE, {"id": revoked}, staff="SUP0001")
    try:
        in_force = {"status": {"eq": "IN_FORCE"}}
        assert grant in _grant_ids(backend, "AUD0001", in_force)
        assert revoked not in _grant_ids(backend, "AUD0001", in_force)
        assert revoked in _grant_ids(backend, "AUD0001", {"status": {"in": ["REVOKED", "EXPIRED"]}})
        with clock.travel_to(clock.now() + timedelta(days=31), all_threads=True):
            assert grant in _grant_ids(backend, "AUD0001", {"status": {"eq": "EXPIRED"}})
            assert grant not in _grant_ids(backend, "AUD0001", in_force)
        role = {"receivingRole": {"eq": "BRANCH_SUPERVISOR"}, "purpose": {"eq": "RISK_CONTROL"}}
        assert grant in _grant_ids(backend, "SH01SUP01", {**role, **in_force})
        assert grant not in _grant_ids(backend, "SH01SUP01", {"purpose": {"eq": "AUDIT"}})
        # Neither given by their branch nor received: outside a Shanghai manager's scope.
        assert grant not in _grant_ids(backend, "SH01RM01")
    finally:
        backend.gql(REVOKE, {"id": grant}, staff="SUP0001")


NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


def test_node_finds_a_share_grant_inside_the_lists_scope_only(backend: Backend) -> None:
    created = _grant(backend, purpose="COMPLAINT_HANDLING")
    grant = created["shareGrant"]["id"]
    try:
        for staff in ("SUP0001", "SH01SUP01", "AUD0001"):  # given, received, auditor
            found = backend.gql(NODE, {"id": grant}, staff=staff, purpose="AUDIT")["node"]
            assert found == {"__typename": "ShareGrant", "id": grant}, staff
        assert backend.gql(NODE, {"id": grant}, staff="SH01RM01")["node"] is None
        missing = "U2hhcmVHcmFudDo5OTk5OTk5"  # ShareGrant:9999999
        assert backend.gql(NODE, {"id": missing}, staff="AUD0001", purpose="AUDIT")["node"] is None
    finally:
        backend.gql(REVOKE, {"id": grant}, staff="SUP0001")


def test_a_third_party_sees_no_share_grant_of_the_branch_that_registered_it(
    backend: Backend,
) -> None:
    """A third party's principal is filed under the registering admin's branch (HO), but it
    belongs to no branch: the grants that branch gives are not its business, neither in
    ``shareGrants`` nor by ``node(id:)``."""
    registered = backend.gql(
        """mutation($input: RegisterThirdPartyInput!) { registerThirdParty(input: $input) {
             thirdParty { principal } errors { code } } }""",
        {
            "input": {
                "name": "合作征信机构",
                "agreementReference": "保密协议 NDA-2026-031",
                "agreementSignedOn": "2026-01-01",
                "agreementExpiresOn": "2030-12-31",
            }
        },
        staff="SEC0001",
    )["registerThirdParty"]
    assert registered["errors"] == []
    party = registered["thirdParty"]["principal"]
    assign = """mutation($input: RoleAssignmentInput!) { %s(input: $input) { errors { code } } }"""
    role = {"employeeNo": "MKT0001", "role": "BRANCH_SUPERVISOR"}  # a supervisor at HO
    assert (
        backend.gql(assign % "assignRole", {"input": role}, staff="SEC0001")["assignRole"]["errors"]
        == []
    )
    grant = None
    try:
        values = {
            "receivingRole": "RISK_OFFICER",
            "purpose": "RISK_CONTROL",
            "fieldGroups": ["contact"],
            "expiresAt": (clock.now() + timedelta(days=30)).isoformat(),
            "reason": "head office review",
        }
        created = backend.gql(CREATE, {"input": values}, staff="MKT0001")["createShareGrant"]
        assert created["errors"] == []
        grant = created["shareGrant"]["id"]
        assert backend.gql(NODE, {"id": grant}, staff="MKT0001")["node"] is not None
        listed = backend.gql(
            "{ shareGrants(first: 100) { totalCount edges { node { id } } } }", staff=party
        )["shareGrants"]
        assert grant not in [e["node"]["id"] for e in listed["edges"]]
        assert listed["totalCount"] == 0
        assert backend.gql(NODE, {"id": grant}, staff=party)["node"] is None
    finally:
        if grant is not None:
            backend.gql(REVOKE, {"id": grant}, staff="MKT0001")
        backend.gql(assign % "unassignRole", {"input": role}, staff="SEC0001")
