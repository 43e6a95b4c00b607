"""Policy management (PLAT-3): audited, versioned changes that every process applies in seconds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import Backend, _keys, branch_id, create_customer, settings_env

ROOT = Path(__file__).resolve().parent.parent
RULE = {
    "role": "RELATIONSHIP_MANAGER",
    "object": "Customer.idNumber",
    "action": "full",
    "effect": "deny",
}
REMOVE = """mutation($input: PolicyRuleInput!) { removePolicyRule(input: $input) {
              version errors { field code message } } }"""
ADD = """mutation($input: PolicyRuleInput!) { addPolicyRule(input: $input) {
           version errors { field code message } } }"""
ID_NUMBER = "query($id: ID!) { customer(id: $id) { idNumber } }"


@pytest.fixture
def own_customer(backend: Backend) -> dict[str, Any]:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    return create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )


def _manager_sees(backend: Backend, customer: dict[str, Any]) -> str:
    return str(
        backend.gql(ID_NUMBER, {"id": customer["id"]}, staff="RM0001")["customer"]["idNumber"]
    )


def test_a_removed_deny_rule_takes_effect_at_once_and_is_audited(
    backend: Backend, own_customer: dict[str, Any]
) -> None:
    assert "*" in _manager_sees(backend, own_customer)
    removed = backend.gql(REMOVE, {"input": RULE}, staff="SEC0001")["removePolicyRule"]
    try:
        assert removed["errors"] == []
        assert _manager_sees(backend, own_customer) == own_customer["idNumber"]
        versions = backend.gql(
            "{ policyVersions(first: 1) { edges { node { version changedBy summary } } } }",
            staff="SEC0001",
        )
        newest = versions["policyVersions"]["edges"][0]["node"]
        assert newest["version"] == removed["version"]
        assert newest["changedBy"] == "SEC0001"
        log = backend.gql(
            '{ auditLog(where: {actor: {eq: "SEC0001"}, action: {eq: CHANGE}}, first: 1) '
            "{ edges { node { operation } } } }",
            staff="AUD0001",
            purpose="AUDIT",
        )
        operation = log["auditLog"]["edges"][0]["node"]["operation"]
        assert operation == "removePolicyRule"
    finally:
        added = backend.gql(ADD, {"input": RULE}, staff="SEC0001")["addPolicyRule"]
        assert added["errors"] == []
    assert "*" in _manager_sees(backend, own_customer)


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"role": "JANITOR"}, ["role"], "UNKNOWN_ROLE"),
        ({"object": "Customer.shoeSize"}, ["object"], "UNKNOWN_FIELD"),
        ({"object": "rows:galaxy", "action": "read"}, ["object"], "UNKNOWN_SCOPE"),
        ({"action": "read"}, ["action"], "INVALID_ACTION"),
        ({"effect": "maybe"}, ["effect"], "INVALID_EFFECT"),
        ({}, ["rule"], "DUPLICATE"),
    ],
)
def test_bad_rules_are_refused_and_nothing_changes(
    backend: Backend, change: dict[str, str], field: list[str], code: str
) -> None:
    before = _newest_version(backend)
    payload = backend.gql(ADD, {"input": {**RULE, **change}}, staff="SEC0001")["addPolicyRule"]
    assert payload["version"] is None
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in payload["errors"]
    ]
    assert _newest_version(backend) == before


def test_only_security_admins_change_the_policy(backend: Backend) -> None:
    body = backend.post(REMOVE, {"input": RULE}, staff="HO0001").json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    rules = backend.gql(
        '{ policyRules(where: {role: {eq: "RELATIONSHIP_MANAGER"}}, first: 100) '
        "{ totalCount edges { node { line } } } }",
        staff="AUD0001",
        purpose="AUDIT",
    )["policyRules"]
    lines = [e["node"]["line"] for e in rules["edges"]]
    assert "p, RELATIONSHIP_MANAGER, Customer.idNumber, full, deny" in lines
    assert rules["totalCount"] == len(lines)
    assert all(line.startswith("p, RELATIONSHIP_MANAGER, ") for line in lines)


def _newest_version(backend: Backend) -> int:
    versions = backend.gql(
        "{ policyVersions(first: 1) { edges { node { version } } } }", staff="SEC0001"
    )
    return int(versions["policyVersions"]["edges"][0]["node"]["version"])


RULES = """query($where: PolicyRuleWhere, $first: Int, $after: String) {
  policyRules(where: $where, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { kind role object group line } }
  }
}"""


def test_policy_rules_are_a_filtered_connection(backend: Backend) -> None:
    """``policyRules`` pages with cursors and filters kinds, roles, objects and groups with
    typed operators (``and``/``or`` too)."""

    def rules(where: dict[str, Any] | None, first: int = 100, after: str | None = None) -> Any:
        variables = {"where": where, "first": first, "after": after}
        return backend.gql(RULES, variables, staff="AUD0001", purpose="AUDIT")["policyRules"]

    groups = rules({"kind": {"eq": "FIELD_GROUP"}, "object": {"startsWith": "Customer."}})
    assert groups["edges"] and all(
        e["node"]["kind"] == "FIELD_GROUP" and e["node"]["role"] is None for e in groups["edges"]
    )
    assert {"object": "Customer.phone", "group": "contact"} in [
        {"object": e["node"]["object"], "group": e["node"]["group"]} for e in groups["edges"]
    ]
    either = rules({"or": [{"role": {"eq": "AUDITOR"}}, {"role": {"eq": "SECURITY_ADMIN"}}]})
    assert {e["node"]["role"] for e in either["edges"]} == {"AUDITOR", "SECURITY_ADMIN"}
    first = rules({"kind": {"eq": "PERMISSION"}}, first=3)
    assert len(first["edges"]) == 3 and first["pageInfo"]["hasNextPage"]
    second = rules({"kind": {"eq": "PERMISSION"}}, first=3, after=first["pageInfo"]["endCursor"])
    seen = [e["node"]["line"] for e in first["edges"] + second["edges"]]
    assert len(set(seen)) == 6
    assert first["totalCount"] == second["totalCount"] > 6


def test_policy_versions_are_a_connection_newest_first(backend: Backend) -> None:
    query = """query($first: Int, $after: String) { policyVersions(first: $first, after: $after) {
                 totalCount pageInfo { hasNextPage endCursor } edges { node { version } } } }"""
    harmless = {"role": "AUDITOR", "object": "Customer.email", "action": "full", "effect": "deny"}
    assert backend.gql(ADD, {"input": harmless}, staff="SEC0001")["addPolicyRule"]["errors"] == []
    removed = backend.gql(REMOVE, {"input": harmless}, staff="SEC0001")["removePolicyRule"]
    assert removed["errors"] == []
    first = backend.gql(query, {"first": 1}, staff="SEC0001")["policyVersions"]
    second = backend.gql(
        query, {"first": 1, "after": first["pageInfo"]["endCursor"]}, staff="SEC0001"
    )["policyVersions"]
    newer = first["edges"][0]["node"]["version"]
    assert newer == removed["version"]
    assert second["edges"][0]["node"]["version"] == newer - 1
    assert first["totalCount"] >= 2


def test_role_assignments_are_managed_and_applied(backend: Backend) -> None:
    assign = """mutation($input: RoleAssignmentInput!) { assignRole(input: $input) {
                  version errors { code } } }"""
    unassign = assign.replace("assignRole", "unassignRole")
    query = "{ customers(first: 1) { totalCount } }"
    assert backend.post(query, staff="MKT0001").json()["errors"][0]["extensions"]["code"] == (
        "FORBIDDEN"
    )
    role = {"employeeNo": "MKT0001", "role": "HEAD_OFFICE"}
    assert backend.gql(assign, {"input": role}, staff="SEC0001")["assignRole"]["errors"] == []
    try:
        assert backend.gql(query, staff="MKT0001")["customers"]["totalCount"] > 0
    finally:
        done = backend.gql(unassign, {"input": role}, staff="SEC0001")["unassignRole"]
        assert done["errors"] == []
    assert backend.post(query, staff="MKT0001").json()["errors"][0]["extensions"]["code"] == (
        "FORBIDDEN"
    )
    unknown = backend.gql(
        assign, {"input": {"employeeNo": "MKT0001", "role": "KING"}}, staff="SEC0001"
    )
    assert unknown["assignRole"]["errors"] == [{"code": "UNKNOWN_ROLE"}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def second_process(backend: Backend, tmp_path: Path) -> Iterator[str]:
    """Another `kehu serve` process on the same database."""
    env = dict(os.environ)
    env.update(settings_env(tmp_path, backend.settings.database_url))
    env["KEHU_ENCRYPTION_KEYS"] = _keys(backend.settings.encryption_keys)
    env["KEHU_HASH_KEYS"] = _keys(backend.settings.hash_keys)
    env["KEHU_AUDIT_KEYS"] = _keys(backend.settings.audit_keys)
    env["KEHU_JWT_SECRET"] = backend.settings.jwt_secret
    env["KEHU_POLICY_POLL_SECONDS"] = "1"
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kehu.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the second process did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_another_process_applies_a_change_within_five_seconds(
    backend: Backend, own_customer: dict[str, Any], second_process: str
) -> None:
    headers = {
        "Authorization": f"Bearer {backend.token('RM0001')}",
        "X-Purpose": "RELATIONSHIP_MANAGEMENT",
    }

    def seen_there() -> str:
        response = httpx.post(
            f"{second_process}/graphql",
            json={"query": ID_NUMBER, "variables": {"id": own_customer["id"]}},
            headers=headers,
            timeout=5,
        )
        return str(response.json()["data"]["customer"]["idNumber"])

    assert "*" in seen_there()
    assert backend.gql(REMOVE, {"input": RULE}, staff="SEC0001")["removePolicyRule"]["errors"] == []
    try:
        deadline = time.monotonic() + 5
        while "*" in seen_there():
            assert time.monotonic() < deadline, "the other process did not apply the change in 5 s"
            time.sleep(0.2)
        assert seen_there() == own_customer["idNumber"]
    finally:
        backend.gql(ADD, {"input": RULE}, staff="SEC0001")
