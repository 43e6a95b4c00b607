"""The audit log (SHARE-4): reads and changes recorded, chained, verifiable, read-only."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kehu.cli import app
from resolvers import audit
from schema.schema import build_schema
from store.db import make_engine
from tests.conftest import Backend, branch_id, create_customer

LOG = """
query($where: AuditWhere, $first: Int) {
  auditLog(where: $where, first: $first) {
    totalCount
    edges { node { id actor roles purpose action operation customerIds
                   fields { field effect } prevHash hash } }
  }
}
"""
ONE = "query Look($id: ID!) { customer(id: $id) { name idNumber phone } }"


def _log(backend: Backend, **where: Any) -> list[dict[str, Any]]:
    page = backend.gql(LOG, {"where": where, "first": 50}, staff="AUD0001", purpose="AUDIT")
    return [e["node"] for e in page["auditLog"]["edges"]]


def test_a_read_of_personal_data_is_recorded_with_purpose_and_effects(backend: Backend) -> None:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    customer = create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )
    backend.gql(ONE, {"id": customer["id"]}, staff="RM0001", purpose="RELATIONSHIP_MANAGEMENT")
    backend.gql(ONE, {"id": customer["id"]}, staff="HO0001")
    reads = _log(backend, customerId=customer["id"], action="READ")
    assert [r["actor"] for r in reads] == ["HO0001", "RM0001"]  # newest first
    head_office, manager_read = reads
    assert head_office["purpose"] == "CUSTOMER_SERVICE"
    assert head_office["operation"] == "Look"
    assert {f["field"]: f["effect"] for f in head_office["fields"]} == {
        "Customer.name": "FULL",
        "Customer.idNumber": "FULL",
        "Customer.phone": "FULL",
    }
    manager_fields = {f["field"]: f["effect"] for f in manager_read["fields"]}
    assert manager_fields["Customer.idNumber"] == "MASKED"
    assert manager_read["roles"] == ["RELATIONSHIP_MANAGER"]
    assert head_office["customerIds"] == [customer["id"]]


def test_a_request_without_personal_data_is_not_recorded(backend: Backend) -> None:
    before = len(_log(backend, actor="PO0001"))
    backend.gql("{ me { name } }", staff="PO0001")
    assert len(_log(backend, actor="PO0001")) == before


def test_changes_are_recorded_in_their_transaction(backend: Backend) -> None:
    customer = create_customer(backend, phone="13700001111")
    update = """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
                  errors { code } } }"""
    change = {
        "id": customer["id"],
        "expectedVersion": 1,
        "changes": {"phone": "13700002222"},
        "source": {"kind": "PROACTIVE_CONTACT", "detail": "call-back"},
    }
    backend.gql(update, {"input": change})
    refused = {**change, "expectedVersion": 2, "changes": {"phone": "not a phone"}}
    assert backend.gql(update, {"input": refused})["updateCustomer"]["errors"]
    changes = _log(backend, customerId=customer["id"], action="CHANGE")
    assert [c["operation"] for c in changes] == ["updateCustomer", "createCustomer"]
    assert {f["field"] for f in changes[0]["fields"]} == {"Customer.phone"}
    with backend.engine.connect() as connection:
        raw = connection.execute(
            text("SELECT detail FROM audit_log WHERE operation = 'updateCustomer'")
        ).all()
    assert raw and all("13700002222" not in (row.detail or "") for row in raw)


def test_only_auditors_read_the_log_and_nobody_changes_it(backend: Backend) -> None:
    body = backend.post(LOG, {"first": 5}, staff="HO0001").json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    mutations = build_schema()._schema.mutation_type
    assert mutations is not None
    assert not [name for name in mutations.fields if "audit" in name.lower()]


def test_the_chain_links_each_entry_to_the_previous_one(backend: Backend) -> None:
    create_customer(backend)
    entries = _log(backend)
    for newer, older in itertools.pairwise(entries):
        assert newer["id"] == older["id"] + 1
        assert newer["prevHash"] == older["hash"]
    backend.client.app.state.auditor.flush()  # type: ignore[attr-defined]
    with backend.engine.connect() as connection:
        result = audit.verify(connection)
    assert result.ok, result.problem


runner = CliRunner()


@pytest.fixture
def chained_db(cli_env: dict[str, str]) -> dict[str, str]:
    """A fresh database (same backend and keys as the suite's) with five chained entries."""
    from store import migrate

    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    migrate.upgrade(engine)
    with engine.begin() as connection:
        audit.append(
            connection,
            [
                audit.new_entry(
                    actor_id=1,
                    actor=f"RM000{i}",
                    roles=["RELATIONSHIP_MANAGER"],
                    purpose="CUSTOMER_SERVICE",
                    action="READ",
                    operation="customers",
                    customer_ids=[i, i + 1],
                    fields={"Customer.name": "FULL"},
                    detail={"note": f"entry {i}"} if i % 2 else None,
                )
                for i in range(1, 6)
            ],
        )
    engine.dispose()
    return cli_env


def _verify(env: dict[str, str]) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify"], env=env)
    return result.exit_code, result.output


def _tamper(env: dict[str, str], statements: str) -> None:
    engine = make_engine(env["KEHU_DATABASE_URL"])
    with engine.begin() as connection:
        for statement in statements.split(";"):
            connection.execute(text(statement))
    engine.dispose()


def test_verify_accepts_an_intact_chain(chained_db: dict[str, str]) -> None:
    assert _verify(chained_db) == (0, "OK: 5 entries, the hash chain is intact.\n")


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE audit_log SET actor = 'HO0001' WHERE id = 3", "entry 3 was changed"),
        ("DELETE FROM audit_log WHERE id = 2", "entry 2 is missing"),
        ("DELETE FROM audit_log WHERE id = 5", "the log ends at entry 4"),
        (
            "UPDATE audit_log SET id = 1000 WHERE id = 2;"
            "UPDATE audit_log SET id = 2 WHERE id = 3;"
            "UPDATE audit_log SET id = 3 WHERE id = 1000",
            "entry 2 is out of order",
        ),
    ],
)
def test_verify_detects_changed_deleted_and_reordered_entries(
    chained_db: dict[str, str], statement: str, problem: str
) -> None:
    _tamper(chained_db, statement)
    code, output = _verify(chained_db)
    assert code == 1
    assert problem in output
