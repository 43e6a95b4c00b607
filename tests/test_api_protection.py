"""Protection of the API and the GraphiQL page (PLAT-1)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from core.ids import parse_global_id
from core.settings import Settings
from kehu.app import create_app
from store.db import make_engine
from tests.conftest import Backend, settings_env


def _code(backend: Backend, query: str) -> str:
    body = backend.post(query).json()
    assert body.get("data") is None, body
    return body["errors"][0]["extensions"]["code"]


def test_depth_limit(tmp_path: Path, backend: Backend) -> None:
    query = "{ customers(first: 1) { edges { node { relationshipManager { branch { name } } } } } }"
    assert backend.post(query).json().get("errors") is None  # depth 6 is within the default
    with _other_app(tmp_path, backend, KEHU_MAX_DEPTH="3") as client:
        body = client.post(
            "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {backend.token()}"},
        ).json()
    assert body["data"] is None
    assert "exceeds maximum operation depth of 3" in body["errors"][0]["message"]


def test_alias_limit(backend: Backend) -> None:
    query = "{ " + " ".join(f"a{i}: me {{ name }}" for i in range(31)) + " }"
    body = backend.post(query).json()
    assert "alias" in body["errors"][0]["message"].lower()


def test_token_limit(backend: Backend) -> None:
    query = "{ me { " + "name " * 3100 + "} }"
    body = backend.post(query).json()
    assert "token" in body["errors"][0]["message"].lower()


def test_cost_limit_multiplies_by_first(backend: Backend) -> None:
    cheap = "{ customers(first: 10) { edges { node { name accounts { kind } } } } }"
    assert backend.post(cheap).json().get("errors") is None
    expensive = """
      query($n: Int) { customers(first: $n) { edges { node {
        accounts { kind balance accountNo openedOn }
        financialSnapshots { asOf totalAssets annualIncome totalLiabilities netWorth }
        riskAssessments { riskTolerance creditScore creditStatus assessedAt }
        verifications { result note verifiedBy { name branch { name } } }
      } } } }"""
    body = backend.post(expensive, {"n": 100}).json()
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert error["extensions"]["cost"] > backend.settings.max_cost
    assert backend.post(expensive, {"n": 2}).json().get("errors") is None


def test_page_size_is_at_most_100(backend: Backend) -> None:
    body = backend.post("{ customers(first: 101) { edges { cursor } } }").json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"][0] == {
        "field": ["first"],
        "code": "INVALID_PAGE_SIZE",
        "message": "must be 0…100",
    }


def test_request_body_limit(backend: Backend) -> None:
    padding = "#" + "x" * (backend.settings.max_body_bytes + 10) + "\n{ me { name } }"
    response = backend.client.post(
        "/graphql",
        json={"query": padding},
        headers={"Authorization": f"Bearer {backend.token()}"},
    )
    assert response.status_code == 413


def test_internal_errors_are_masked_and_carry_no_personal_data(backend: Backend) -> None:
    customer = backend.gql(
        "{ customers(first: 1, orderBy: [{field: ID, direction: DESC}]) { edges { node { id idNumber } } } }"
    )
    node = customer["customers"]["edges"][0]["node"]
    pk = parse_global_id(node["id"])[1]  # type: ignore[index]
    with backend.engine.begin() as connection:
        original = connection.execute(
            text("SELECT address FROM customers WHERE id = :id"), {"id": pk}
        ).scalar()
        # A tampered ciphertext fails authentication: the request must not reveal details.
        connection.execute(
            text("UPDATE customers SET address = :bad WHERE id = :id"),
            {"bad": "t1:" + "A" * 40, "id": pk},
        )
    try:
        body = backend.post(
            "query($id: ID!) { customer(id: $id) { address } }", {"id": node["id"]}
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "INTERNAL"
        assert body["errors"][0]["message"] == "Internal error; it has been logged"
        assert "AAAA" not in str(body) and "t1:" not in str(body)
    finally:
        with backend.engine.begin() as connection:
            connection.execute(
                text("UPDATE customers SET address = :address WHERE id = :id"),
                {"address": original, "id": pk},
            )


def test_syntax_errors_stay_readable(backend: Backend) -> None:
    body = backend.post("{ customers(first: 1) { edges { node { nope } } } }").json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "nope" in error["message"]


def test_graphiql_is_served_with_local_assets_only(backend: Backend) -> None:
    page = backend.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "GraphiQL" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, "the page loads its assets"
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert backend.client.get(asset).status_code == 200
    css = backend.client.get("/static/graphiql/graphiql.min.css").text
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)
    start = backend.client.get("/static/graphiql/start.js").text
    assert "http://" not in start and "https://" not in start


def _key_setting(keys: tuple[tuple[str, bytes], ...]) -> str:
    return ",".join(f"{kid}:{base64.urlsafe_b64encode(key).decode()}" for kid, key in keys)


def _other_app(tmp_path: Path, backend: Backend, **env: str) -> TestClient:
    """A second app on the same database with different settings."""
    values = settings_env(tmp_path, backend.settings.database_url, **env)
    values["KEHU_ENCRYPTION_KEYS"] = _key_setting(backend.settings.encryption_keys)
    values["KEHU_HASH_KEYS"] = _key_setting(backend.settings.hash_keys)
    values["KEHU_AUDIT_KEYS"] = _key_setting(backend.settings.audit_keys)
    values["KEHU_JWT_SECRET"] = backend.settings.jwt_secret
    settings = Settings.from_env(values)
    return TestClient(create_app(settings, make_engine(settings.database_url)))


def test_graphiql_and_introspection_can_be_switched_off(tmp_path: Path, backend: Backend) -> None:
    with _other_app(tmp_path, backend, KEHU_GRAPHIQL="false", KEHU_INTROSPECTION="off") as client:
        assert client.get("/graphql", headers={"Accept": "text/html"}).status_code == 404
        response = client.post(
            "/graphql",
            json={"query": "{ __schema { types { name } } }"},
            headers={"Authorization": f"Bearer {backend.token()}"},
        )
        body = response.json()
        assert body["data"] is None
        assert "introspection" in body["errors"][0]["message"].lower()


def test_filter_values_no_database_can_hold_are_bad_input_not_internal_errors(
    backend: Backend,
) -> None:
    """Every list's ``where:`` goes through one compiler: an instant that leaves the calendar
    once converted to UTC, or text with a NUL character (PostgreSQL text cannot hold one), is
    ``BAD_USER_INPUT`` naming the operator — never ``INTERNAL``."""
    cases = [
        (
            '{ customers(where: {createdAt: {gte: "0001-01-01T00:00:00+05:00"}}) { totalCount } }',
            "HO0001",
            "CUSTOMER_SERVICE",
            ["where", "createdAt", "gte"],
        ),
        (
            '{ complaints(where: {acceptedAt: {lte: "9999-12-31T23:59:59-12:00"}}) { totalCount } }',
            "HO0001",
            "COMPLAINT_HANDLING",
            ["where", "acceptedAt", "lte"],
        ),
        (
            '{ auditLog(where: {or: [{at: {gte: "0001-01-01T00:00:00+01:00"}}]}) { totalCount } }',
            "AUD0001",
            "AUDIT",
            ["where", "or", "0", "at", "gte"],
        ),
        (
            '{ auditLog(where: {actor: {contains: "RM\\u0000"}}) { totalCount } }',
            "AUD0001",
            "AUDIT",
            ["where", "actor", "contains"],
        ),
        (
            '{ thirdParties(where: {name: {in: ["a", "\\u0000"]}}) { totalCount } }',
            "SEC0001",
            None,
            ["where", "name", "in", "1"],  # the boundary check names the list position
        ),
        (
            '{ customers(where: {name: {eq: "张\\u0000"}}) { totalCount } }',
            "HO0001",
            "CUSTOMER_SERVICE",
            ["where", "name", "eq"],
        ),
    ]
    for query, staff, purpose, field in cases:
        body = backend.post(query, staff=staff, purpose=purpose).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
        assert body["errors"][0]["extensions"]["fields"][0]["field"] == field
    # A lone surrogate passes JSON (not a GraphQL literal): through a variable.
    for query, staff, purpose, field in [
        (
            "query($v: String!) { customers(where: {name: {eq: $v}}) { totalCount } }",
            "HO0001",
            "CUSTOMER_SERVICE",
            ["where", "name", "eq"],
        ),
        (
            "query($v: String!) { auditLog(where: {actor: {startsWith: $v}}) { totalCount } }",
            "AUD0001",
            "AUDIT",
            ["where", "actor", "startsWith"],
        ),
    ]:
        body = backend.client.post(
            "/graphql",
            # json.dumps escapes the surrogate (\\ud800) as a client's JSON encoder would.
            content=json.dumps({"query": query, "variables": {"v": "\ud800张"}}),
            headers={
                "Authorization": f"Bearer {backend.token(staff)}",
                "Content-Type": "application/json",
                "X-Purpose": purpose,
            },
        ).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
        assert body["errors"][0]["extensions"]["fields"][0]["field"] == field


ALLOWED_ORIGIN = "https://crm.bank.example"


def _preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-purpose",
        },
    )


def _cors_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def test_cors_allows_only_the_configured_frontend_origins(tmp_path: Path, backend: Backend) -> None:
    with _other_app(
        tmp_path, backend, KEHU_CORS_ORIGINS=f"{ALLOWED_ORIGIN},http://localhost:5173"
    ) as client:
        allowed = _preflight(client, ALLOWED_ORIGIN)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        methods = {m.strip() for m in allowed.headers["access-control-allow-methods"].split(",")}
        assert {"GET", "POST", "OPTIONS"} <= methods
        headers = {
            h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
        }
        assert {"authorization", "content-type", "x-purpose"} <= headers
        assert "access-control-allow-credentials" not in allowed.headers
        # The actual request from the allowed origin: the browser may read the answer.
        answer = client.post(
            "/graphql",
            json={"query": "{ me { employeeNo } }"},
            headers={"Origin": ALLOWED_ORIGIN, "Authorization": f"Bearer {backend.token()}"},
        )
        assert answer.json()["data"]["me"]["employeeNo"] == "HO0001"
        assert answer.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert "www-authenticate" in answer.headers["access-control-expose-headers"].lower()
        # Another origin: refused preflight, and no header letting a browser read anything.
        other = _preflight(client, "https://evil.example")
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        stolen = client.post(
            "/graphql",
            json={"query": "{ me { employeeNo } }"},
            headers={
                "Origin": "https://evil.example",
                "Authorization": f"Bearer {backend.token()}",
            },
        )
        assert "access-control-allow-origin" not in stolen.headers


def test_without_cors_origins_no_cors_headers_are_sent(backend: Backend) -> None:
    assert backend.settings.cors_origins == ()
    preflight = _preflight(backend.client, ALLOWED_ORIGIN)
    assert preflight.status_code == 405
    assert _cors_headers(preflight) == {}
    answer = backend.client.post(
        "/graphql",
        json={"query": "{ me { employeeNo } }"},
        headers={"Origin": ALLOWED_ORIGIN, "Authorization": f"Bearer {backend.token()}"},
    )
    assert answer.status_code == 200
    assert _cors_headers(answer) == {}
