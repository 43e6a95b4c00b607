"""Hostile input (issue 10): a caller's malformed request or value is refused with a typed error
naming what was wrong — never INTERNAL, never a plain-text 500, never the submitted value."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from tests.complaint_steps import SUBMIT, bj_customer
from tests.conftest import CREATE, SOURCE, Backend, new_id_number


def _send(backend: Backend, body: bytes | str, staff: str = "HO0001", **headers: str) -> Any:
    return backend.client.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {backend.token(staff)}",
            "Content-Type": "application/json",
            "X-Purpose": "CUSTOMER_SERVICE",
            **headers,
        },
    )


def _post(backend: Backend, query: str, variables: dict[str, Any], staff: str = "HO0001") -> Any:
    """``variables`` encoded as a client's JSON encoder would (a lone surrogate as ``\\ud800``)."""
    response = _send(backend, json.dumps({"query": query, "variables": variables}), staff)
    assert response.status_code == 200, response.text
    return response.json()


def _bad_input(body: Any) -> list[list[str]]:
    """The fields of the one BAD_USER_INPUT error of an answer without data."""
    assert body.get("data") is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
    return [f["field"] for f in body["errors"][0]["extensions"]["fields"]]


def test_request_bodies_that_are_no_graphql_request_answer_400_in_the_graphql_error_shape(
    backend: Backend,
) -> None:
    for body in [
        b"42",
        b'"x"',
        b"null",
        b"[]",
        b'[{"query": "{ me { name } }"}]',
        b"",
        b"{",
        b'{"query": "{ me { name } }", "variables": {"x": NaN}}',
        b'{"query": "\xff{ me { name } }"}',
        b"\xff\xfe\x00",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"query": 5}',
        b'{"query": "{ me { name } }", "variables": 5}',
        b'{"query": "{ me { name } }", "operationName": "Nope"}',
    ]:
        response = _send(backend, body)
        assert response.status_code == 400, (body[:40], response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), body[:40]
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST", (body[:40], error)
        assert "Nope" not in error["message"]
    too_large = _send(backend, b" " * (backend.settings.max_body_bytes + 1))
    assert too_large.status_code == 413
    assert too_large.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_syntax_errors_and_the_token_limit_carry_a_code(backend: Backend) -> None:
    body = backend.post('{ customers(where: {name: {eq: "张三" "李四"}}) { totalCount } }').json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED", body
    assert "李四" not in error["message"]  # the literal is not repeated
    body = backend.post("{ me { " + "name " * (backend.settings.max_tokens + 10) + "} }").json()
    assert body["errors"][0]["extensions"]["code"] == "TOKEN_LIMIT_EXCEEDED", body


def _customer_count(backend: Backend) -> int:
    with backend.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM customers")).scalar_one())


def test_nul_and_lone_surrogates_in_any_text_input_are_bad_user_input(backend: Backend) -> None:
    before = _customer_count(backend)
    for bad in ["\ud800", "张\udfff三", "张\u0000三"]:
        values = {"name": bad, "idNumber": new_id_number(), "source": SOURCE}
        assert _bad_input(_post(backend, CREATE, {"input": values})) == [["input", "name"]]
        values = {"name": "张三", "idNumber": new_id_number(), "source": {**SOURCE, "detail": bad}}
        assert _bad_input(_post(backend, CREATE, {"input": values})) == [
            ["input", "source", "detail"]
        ]
    # A literal NUL (GraphQL's "\u0000") in an argument, and a variable inside a literal.
    literal = (
        'mutation($id: String!) { createCustomer(input: {name: "张\\u0000", idNumber: $id, '
        'source: {kind: BUSINESS_TRANSACTION, detail: "x"}}) { errors { field } } }'
    )
    assert _bad_input(_post(backend, literal, {"id": new_id_number()})) == [["input", "name"]]
    nested = (
        'mutation($id: String!, $d: String!) { createCustomer(input: {name: "张三", idNumber: $id, '
        "source: {kind: BUSINESS_TRANSACTION, detail: $d}}) { errors { field } } }"
    )
    assert _bad_input(_post(backend, nested, {"id": new_id_number(), "d": "\ud800"})) == [
        ["input", "source", "detail"]
    ]
    assert _customer_count(backend) == before  # nothing written
    # Text inside a JSON value (keys too) is checked like any other text.
    task = 'mutation($d: JSON!) { completeTask(input: {id: "VGFzazox", data: $d}) { errors { field } } }'
    assert _bad_input(_post(backend, task, {"d": {"note": ["ok", "\u0000"]}})) == [
        ["input", "data", "note", "1"]
    ]
    assert _bad_input(_post(backend, task, {"d": {"\ud800": 1}})) == [["input", "data"]]


def test_amounts_no_column_can_hold_are_refused_naming_the_field(backend: Backend) -> None:
    customer = bj_customer(backend)
    for n, amount in enumerate(["1e400", "1E+30", "123456789012345678901234567890", 1e300]):
        values = {
            "customerId": customer["id"],
            "channel": "HOTLINE",
            "category": "FEES_AND_CHARGES",
            "description": "金额异常",
            "amountInDispute": amount,
            "idempotencyKey": f"hostile-amount-{n}",
        }
        body = _post(backend, SUBMIT, {"input": values}, staff="RM0001")
        assert body.get("errors") is None, (amount, body)
        payload = body["data"]["submitComplaint"]
        assert payload["complaint"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [
            (["amountInDispute"], "INVALID_AMOUNT")
        ], amount
    # A JSON number too large for a float (1e400) is refused where it was sent.
    raw = json.dumps({"query": SUBMIT, "variables": {"input": {**values, "amountInDispute": 1}}})
    body = _send(backend, raw.replace('"amountInDispute": 1', '"amountInDispute": 1e400'), "RM0001")
    assert _bad_input(body.json()) == [["input", "amountInDispute"]]


def test_negative_and_absurd_page_sizes_name_the_argument(backend: Backend) -> None:
    for query, staff in [
        ("{ policyVersions(last: -1) { totalCount } }", "SEC0001"),
        ("{ customers(first: -5) { totalCount } }", "HO0001"),
        ("{ customers(last: 99999999999) { totalCount } }", "HO0001"),
        ("query($n: Int) { customers(first: $n) { totalCount } }", "HO0001"),
    ]:
        body = _post(backend, query, {"n": 2**40}, staff=staff)
        fields = _bad_input(body)
        assert fields in ([["first"]], [["last"]]), (query, body)
        assert "99999999999" not in str(body) and str(2**40) not in str(body)


def test_error_messages_name_the_field_and_type_never_the_value(backend: Backend) -> None:
    cases: list[tuple[str, dict[str, Any], list[str], str]] = [
        (
            CREATE,
            {
                "input": {
                    "name": "张三",
                    "idNumber": "x",
                    "source": SOURCE,
                    "birthDate": "1949-13-31",
                }
            },
            ["input", "birthDate"],
            "1949-13-31",
        ),
        (
            CREATE,
            {"input": {"name": "张三", "idNumber": "x", "source": SOURCE, "phone": 13800138000}},
            ["input", "phone"],
            "13800138000",
        ),
        (
            SUBMIT,
            {
                "input": {
                    "customerId": "x",
                    "channel": "HOTLINE",
                    "category": "FEES_AND_CHARGES",
                    "description": "d",
                    "idempotencyKey": "k",
                    "amountInDispute": "360000元",
                }
            },
            ["input", "amountInDispute"],
            "360000元",
        ),
        (
            "query($w: CustomerWhere) { customers(where: $w) { totalCount } }",
            {"w": {"birthDate": {"eq": "1949-13-31"}}},
            ["where", "birthDate", "eq"],
            "1949-13-31",
        ),
        (
            CREATE,
            {"input": {"name": "张三", "idNumber": "x", "source": {"kind": "秘密", "detail": "d"}}},
            ["input", "source", "kind"],
            "秘密",
        ),
    ]
    for query, variables, field, value in cases:
        body = _post(backend, query, variables)
        assert _bad_input(body) == [field], body
        assert value not in json.dumps(body, ensure_ascii=False), body
        assert "must be" in body["errors"][0]["extensions"]["fields"][0]["message"]
    literal = backend.post(
        '{ customers(where: {birthDate: {eq: "1949-13-31"}}) { totalCount } }'
    ).json()
    assert _bad_input(literal) == [["where", "birthDate", "eq"]]
    assert "1949-13-31" not in str(literal)
    assert "date" in literal["errors"][0]["message"].lower()
    default = backend.post(
        'query($d: Date = "1949-13-31") { customers(where: {birthDate: {eq: $d}}) { totalCount } }'
    ).json()
    assert _bad_input(default) == [["$d"]]
    assert "1949-13-31" not in str(default)
    # Several problems of one variable: each field once, the unknown one by its name only.
    values = {"nme": "张三", "idNumber": "x", "source": SOURCE}
    body = _post(backend, CREATE, {"input": values})
    assert _bad_input(body) == [["input", "name"], ["input", "nme"]]
    assert "张三" not in json.dumps(body, ensure_ascii=False)


def test_a_null_for_a_defaulted_variable_in_a_required_argument_is_bad_input(
    backend: Backend,
) -> None:
    """Validation allows ``$n: Int = 5`` where ``Int!`` is expected; a null sent for it is
    refused by graphql-core at execution — the caller's input, not an internal error."""
    query = (
        "query($n: Int = 5) { customers(first: 1) { edges { node {"
        " transactionSummary(days: $n) { count } } } } }"
    )
    assert _bad_input(_post(backend, query, {"n": None})) == [["days"]]


GRANT = """
mutation($input: CreateShareGrantInput!) {
  createShareGrant(input: $input) { shareGrant { id } errors { field code message } }
}
"""


def test_instants_without_offset_or_outside_the_calendar_are_refused_naming_the_field(
    backend: Backend,
) -> None:
    """A mutation's date-time that names no storable instant: a payload error on its field."""
    for instant in ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-12:00"]:
        source = {**SOURCE, "collectedAt": instant}
        values = {"name": "张三", "idNumber": new_id_number(), "source": source}
        payload = _post(backend, CREATE, {"input": values})["data"]["createCustomer"]
        assert payload["customer"] is None
        assert [e["field"] for e in payload["errors"]] == [["source", "collectedAt"]], instant
    for instant in ["2099-01-01T00:00:00", "9999-12-31T23:59:59-12:00"]:
        values = {
            "receivingRole": "BRANCH_SUPERVISOR",
            "purpose": "CUSTOMER_SERVICE",
            "fieldGroups": ["contact"],
            "expiresAt": instant,
            "reason": "joint campaign follow-up",
        }
        body = backend.post(GRANT, {"input": values}, staff="SUP0001").json()
        assert body.get("errors") is None, (instant, body)
        payload = body["data"]["createShareGrant"]
        assert payload["shareGrant"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [
            (["expiresAt"], "INVALID")
        ], instant


def test_unknown_paths_and_methods_answer_in_the_graphql_error_shape(backend: Backend) -> None:
    """A mistyped path or a method a route does not take is a JSON refusal with a code (a
    client's error handling reads one shape), and a 405 still says what is allowed."""
    missing = backend.client.get("/graphq")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"
    assert [e["extensions"]["code"] for e in missing.json()["errors"]] == ["NOT_FOUND"]
    for method, path in [("PUT", "/graphql"), ("DELETE", "/graphql"), ("POST", "/healthz")]:
        refused = backend.client.request(method, path)
        assert refused.status_code == 405, (method, path)
        assert refused.headers["content-type"] == "application/json"
        assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["METHOD_NOT_ALLOWED"]
        assert "GET" in refused.headers["allow"]
    assert backend.client.get("/healthz").status_code == 200
