"""Fuzzing (issue 10, PLAT-2): operations generated from the schema, as every kind of caller.

hypothesis-graphql writes queries and mutations from ``schema/schema.graphql``; each is posted
to the real app, as staff of seven roles and a third party, on a database of its own (what the
generated mutations change must not disturb other tests). Four kinds of operation per role and
operation type:

- ``valid``: well-formed operations with plausible values (real global IDs, dates, amounts);
- ``hostile``: well-formed operations whose text holds NUL, lone surrogates, full-width digits,
  bidirectional controls, markup and very long strings;
- ``extreme``: numbers, amounts, dates and IDs at and past every boundary (2**31, 1e400, year
  0001/9999, date-times without an offset, non-canonical IDs);
- ``invalid``: operations with one schema violation (hypothesis-graphql's negative mode).

Every answer must be a GraphQL answer: no 5xx, no ``INTERNAL``, and no error message repeating a
value the caller sent (error messages reach logs and screens; the value may be personal data).
Runs are derandomised, so a red run is reproducible; a few hundred operations per role.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import graphql
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, nodes
from starlette.testclient import TestClient

from core.ids import global_id
from kehu.app import create_app
from kehu.auth import mint_token
from kehu.seed import ensure_reference_data, seed_customers
from schema.shared.input_values import SCALARS
from store import migrate
from store.db import make_engine
from tests.conftest import Backend, scratch_database

SDL = (Path(__file__).parent.parent / "schema" / "schema.graphql").read_text(encoding="utf-8")
SCHEMA = graphql.build_schema(SDL)
STAFF_ROLES = ["HO0001", "RM0001", "SUP0001", "CH0001", "SEC0001", "PO0001"]
THIRD_PARTY = "third-party"
EXAMPLES = {"valid": 60, "hostile": 30, "extreme": 60, "invalid": 20}
NODE_TYPES = sorted(
    name
    for name, type_ in SCHEMA.type_map.items()
    if isinstance(type_, graphql.GraphQLObjectType)
    and any(interface.name == "Node" for interface in type_.interfaces)
)

# -- values ----------------------------------------------------------------------------------

PLAUSIBLE_TEXT = st.sampled_from(
    [
        "张三",
        "李四光",
        "13812345678",
        "+86 138 1234 5678",
        "zhang.san@example.cn",
        "110105194912310021",
        "北京市朝阳区建国路1号",
        "account opening at the counter",
        "CUSTOMER_SERVICE",
        "p, RELATIONSHIP_MANAGER, customer, read, BRANCH",
        "PT24H",
        "2026-01-01",
        "",
    ]
) | st.text(max_size=30)
HOSTILE_TEXT = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfffy",
        "１３８１２３４５６７８",  # full-width digits
        "١١٠١٠٥١٩٤٩١٢٣١٠٠٢١",  # Arabic-Indic digits
        "\u202eevil\u202c",
        "<script>alert(1)</script>",
        "'; DROP TABLE customers; --",
        "{{7*7}}${7*7}",
        "\r\n\t",
        " ",
        "😀" * 50,
        "长" * 5000,
        "A" * 100_000,
    ]
) | st.text(alphabet=st.characters(codec=None, exclude_categories=["Cs"]), max_size=40)
EXTREME_TEXT = st.sampled_from(
    ["0", "-1", "2147483648", "9223372036854775808", "1e400", "NaN", "Infinity", "-0", "1" * 400]
)


def _id_values(kind: str) -> st.SearchStrategy[str]:
    real = st.builds(global_id, st.sampled_from(NODE_TYPES), st.integers(1, 60))
    if kind == "valid":
        return real
    past = st.builds(
        global_id,
        st.sampled_from(NODE_TYPES),
        st.sampled_from([0, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 10**30]),
    )
    spelled = st.builds(
        lambda type_name, key: _b64(f"{type_name}:{key}"),
        st.sampled_from(NODE_TYPES),
        st.sampled_from(["١", "01", "+1", " 1", "1 ", "-1", "", "1.0", "１"]),
    )
    if kind == "extreme":
        return past | spelled
    return real | past | spelled | HOSTILE_TEXT | EXTREME_TEXT


def _b64(value: str) -> str:
    import base64

    return base64.b64encode(value.encode()).decode()


def _scalars(kind: str) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Value strategies for every scalar, by kind (hypothesis-graphql's own for the rest)."""
    dates = st.dates().map(str)
    instants = st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())
    amounts = st.decimals(-(10**9), 10**9, places=2).map(str)
    if kind == "valid":
        strings: dict[str, st.SearchStrategy[str]] = {
            "String": PLAUSIBLE_TEXT,
            "Date": dates,
            "DateTime": instants,
            "Decimal": amounts,
        }
    elif kind == "hostile":
        strings = {
            "String": HOSTILE_TEXT,
            "Date": dates | HOSTILE_TEXT,
            "DateTime": instants | HOSTILE_TEXT,
            "Decimal": amounts | HOSTILE_TEXT,
        }
    else:
        strings = {
            "String": EXTREME_TEXT | PLAUSIBLE_TEXT,
            "Date": st.sampled_from(["0001-01-01", "9999-12-31", "1949-13-31", "2026-02-29"]),
            "DateTime": st.sampled_from(
                [
                    "2026-01-01T00:00:00",
                    "0001-01-01T00:00:00+14:00",
                    "9999-12-31T23:59:59-12:00",
                    "2026-01-01T00:00:00.000000001Z",
                    "2026-13-01T00:00:00Z",
                ]
            ),
            "Decimal": st.sampled_from(
                ["1e400", "-1e400", "NaN", "Infinity", "0.001", "99999999999999999.99", "360000元"]
            ),
        }
    values = {name: strategy.map(nodes.String) for name, strategy in strings.items()}
    values["ID"] = _id_values(kind).map(nodes.String)
    values["JSON"] = st.sampled_from(['{"a": 1}', "[]", "null", "\x00"]).map(nodes.String)
    if kind == "extreme":
        values["Int"] = st.sampled_from([-(2**31), -1, 0, 101, 2**31 - 1]).map(nodes.Int)
        values["Float"] = st.sampled_from([1e308, -1e308, 5e-324]).map(nodes.Float)
    return values


# -- operations ------------------------------------------------------------------------------


def _root_fields(operation: str) -> list[str]:
    root = SCHEMA.query_type if operation == "query" else SCHEMA.mutation_type
    assert root is not None
    return sorted(root.fields)


def _operations(operation: str, kind: str) -> st.SearchStrategy[str]:
    """Operation documents: one root field each (a large document only meets the cost limit)
    for well-formed kinds; any root fields for ``invalid``."""
    generate: Callable[..., st.SearchStrategy[Any]] = (
        hypothesis_graphql.queries if operation == "query" else hypothesis_graphql.mutations
    )
    scalars = _scalars(kind)
    if kind == "invalid":
        return generate(SCHEMA, custom_scalars=scalars, mode=Mode.NEGATIVE)  # type: ignore[no-any-return]
    per_field = {
        name: generate(SCHEMA, fields=[name], custom_scalars=scalars, codec=None)
        for name in _root_fields(operation)
    }
    return st.sampled_from(sorted(per_field)).flatmap(lambda name: per_field[name])


def _sent_strings(document: str) -> set[str]:
    """The string values an operation sends that are long enough to be recognised in a message
    and are not names the schema itself uses, nor part of the fixed text that says what a value
    must look like (``before: "2147483648"`` is inside "-2147483648 to 2147483647")."""
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError:
        return set()
    found: set[str] = set()

    class Collect(graphql.Visitor):
        def enter_string_value(self, node: graphql.StringValueNode, *_: Any) -> None:
            if (
                len(node.value.strip()) >= 5
                and node.value not in SDL
                and not any(node.value in shape for shape in SCALARS.values())
            ):
                found.add(node.value)

    graphql.visit(parsed, Collect())
    return found


def _messages(body: dict[str, Any]) -> Iterator[str]:
    """Every error message of an answer: top-level errors, their field entries, payload errors."""
    for error in body.get("errors") or []:
        yield str(error.get("message", ""))
        for field in (error.get("extensions") or {}).get("fields") or []:
            yield str(field.get("message", ""))

    def payload_errors(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, child in value.items():
                if key == "errors" and isinstance(child, list):
                    yield from (str(e.get("message", "")) for e in child if isinstance(e, dict))
                else:
                    yield from payload_errors(child)
        elif isinstance(value, list):
            for child in value:
                yield from payload_errors(child)

    yield from payload_errors(body.get("data"))


# -- the app under fuzzing --------------------------------------------------------------------


@dataclasses.dataclass
class Fuzzed:
    client: TestClient
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def fuzzed(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """Kehu with the suite's keys on a seeded database of its own, and a token per caller."""
    tmp = tmp_path_factory.mktemp("fuzzing")
    with scratch_database(backend.settings.database_url, "fuzzing", tmp) as url:
        settings_ = dataclasses.replace(backend.settings, database_url=url, var_dir=tmp)
        engine = make_engine(url, hide_parameters=True)
        migrate.upgrade(engine)
        ensure_reference_data(engine)
        seed_customers(engine, 40, seed=11, transactions_per_customer=2)
        with TestClient(create_app(settings_, engine), raise_server_exceptions=False) as client:
            tokens = {staff: mint_token(settings_, staff) for staff in STAFF_ROLES}
            tokens[THIRD_PARTY] = mint_token(settings_, _third_party(client, tokens["SEC0001"]))
            yield Fuzzed(client, tokens)
        engine.dispose()


def _third_party(client: TestClient, security_admin: str) -> str:
    """The principal of a third party registered by a security admin."""
    registered = client.post(
        "/graphql",
        json={
            "query": """mutation($input: RegisterThirdPartyInput!) {
              registerThirdParty(input: $input) { thirdParty { principal } errors { code } } }""",
            "variables": {
                "input": {
                    "name": "模糊测试合作机构",
                    "agreementReference": "NDA-FUZZ-1",
                    "agreementSignedOn": "2026-01-01",
                    "agreementExpiresOn": "2030-12-31",
                }
            },
        },
        headers={"Authorization": f"Bearer {security_admin}"},
    ).json()["data"]["registerThirdParty"]
    assert registered["errors"] == []
    return str(registered["thirdParty"]["principal"])


def _check(fuzzed: Fuzzed, caller: str, document: str) -> None:
    """Post ``document`` as ``caller``; the answer must be a clean GraphQL answer."""
    response = fuzzed.client.post(
        "/graphql",
        content=json.dumps({"query": document}),
        headers={
            "Authorization": f"Bearer {fuzzed.tokens[caller]}",
            "Content-Type": "application/json",
            "X-Purpose": "CUSTOMER_SERVICE",
        },
    )
    assert response.status_code < 500, (response.status_code, document, response.text[:500])
    body = response.json()
    assert "data" in body or "errors" in body, body
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL" not in codes, (document, body)
    assert None not in codes, ("every top-level error carries a code", document, body)
    sent = _sent_strings(document)
    for message in _messages(body):
        echoed = [value for value in sent if value in message]
        assert not echoed, ("a submitted value is repeated in an error", echoed, message, document)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
@pytest.mark.parametrize("operation", ["query", "mutation"])
@pytest.mark.parametrize("caller", [*STAFF_ROLES, THIRD_PARTY])
def test_generated_operations_get_clean_answers_PLAT_2(
    fuzzed: Fuzzed, caller: str, operation: str, kind: str
) -> None:
    """No 5xx, no INTERNAL, no error without a code, no submitted value in an error message."""

    @settings(
        max_examples=EXAMPLES[kind],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(document=_operations(operation, kind))
    def run(document: str) -> None:
        _check(fuzzed, caller, document)

    run()
