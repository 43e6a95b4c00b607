"""The audit log (SHARE-4): reads and changes recorded, chained, verifiable, read-only."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient
from typer.testing import CliRunner

from core.settings import Settings, SettingsError, new_key_entry
from kehu.app import create_app
from kehu.auth import mint_token
from kehu.cli import app
from resolvers import audit
from schema.schema import build_schema
from store import audit_chain
from store.audit import GENESIS_HASH, AuditCustomer, AuditEntry
from store.db import make_engine
from tests.conftest import (
    SOURCE,
    Backend,
    branch_id,
    create_customer,
    new_id_number,
    settings_env,
)
from tests.test_at_rest import sealed_before_row_binding

LOG = """
query($where: AuditWhere, $first: Int) {
  auditLog(where: $where, first: $first) {
    totalCount
    edges { node { id at actor roles purpose action operation customerIds
                   fields { field effect } prevHash hash } }
  }
}
"""
ONE = "query Look($id: ID!) { customer(id: $id) { name idNumber phone } }"


QUIET_CREATE = """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
                    customer { id version } errors { code } } }"""


def _new_customer(backend: Backend, **fields: Any) -> dict[str, Any]:
    """A customer created with an answer that reveals nothing personal (so no READ entry)."""
    values = {"name": "审计客户", "idNumber": new_id_number(), "source": SOURCE, **fields}
    payload = backend.gql(QUIET_CREATE, {"input": values})["createCustomer"]
    assert payload["errors"] == [], payload
    return dict(payload["customer"])


def _log(backend: Backend, **equal: Any) -> list[dict[str, Any]]:
    """Entries whose fields equal ``equal`` (``customer``, ``actor``, ``action`` …)."""
    where = {name: {"eq": value} for name, value in equal.items()}
    page = backend.gql(LOG, {"where": where, "first": 50}, staff="AUD0001", purpose="AUDIT")
    return [e["node"] for e in page["auditLog"]["edges"]]


def test_a_read_of_personal_data_is_recorded_with_purpose_and_effects(backend: Backend) -> None:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    customer = _new_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )
    backend.gql(ONE, {"id": customer["id"]}, staff="RM0001", purpose="RELATIONSHIP_MANAGEMENT")
    backend.gql(ONE, {"id": customer["id"]}, staff="HO0001")
    reads = _log(backend, customer=customer["id"], action="READ")
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
    changes = _log(backend, customer=customer["id"], action="CHANGE")
    assert [c["operation"] for c in changes] == ["updateCustomer", "createCustomer"]
    assert {f["field"] for f in changes[0]["fields"]} == {"Customer.phone"}
    with backend.engine.connect() as connection:
        raw = connection.execute(
            text("SELECT detail FROM audit_log WHERE operation = 'updateCustomer'")
        ).all()
    assert raw and all("13700002222" not in (row.detail or "") for row in raw)


def test_personal_data_a_mutation_answers_with_is_recorded_as_a_read(backend: Backend) -> None:
    """A mutation's payload reveals like a query: the customer it answers with is a READ entry
    with each personal field's effect, beside the CHANGE entry of what it changed."""
    customer = create_customer(backend)
    verify = """mutation Verify($input: RecordVerificationInput!) { recordVerification(input: $input) {
                  customer { name idNumber phone } errors { code } } }"""
    verification = {"customerId": customer["id"], "informationKind": "BASIC", "result": "CONFIRMED"}
    answer = backend.gql(verify, {"input": verification}, staff="HO0001")["recordVerification"]
    assert answer["customer"]["idNumber"] == customer["idNumber"]
    entries = _log(backend, customer=customer["id"], operation="Verify")
    assert [e["action"] for e in entries] == ["READ"]
    assert {f["field"]: f["effect"] for f in entries[0]["fields"]} == {
        "Customer.name": "FULL",
        "Customer.idNumber": "FULL",
        "Customer.phone": "FULL",
    }
    changes = _log(backend, customer=customer["id"], action="CHANGE")
    assert changes[0]["operation"] == "recordVerification"


def test_the_log_filters_with_typed_operators_and_pages_both_ways(backend: Backend) -> None:
    """``auditLog(where:)`` takes the operators every list takes: ``in`` over customers and
    actions, a time range, ``startsWith`` on text, ``or``; it pages forward and backward."""
    first, second = _new_customer(backend), _new_customer(backend)
    for customer in (first, second):
        backend.gql(ONE, {"id": customer["id"]}, staff="HO0001")
    since = _log(backend, customer=first["id"], action="CHANGE")[0]

    def log(where: dict[str, Any], **page: Any) -> Any:
        variables = {"where": where, **page}
        query = """query($where: AuditWhere, $first: Int, $last: Int, $before: String) {
                     auditLog(where: $where, first: $first, last: $last, before: $before) {
                       totalCount pageInfo { startCursor hasPreviousPage }
                       edges { node { id action operation customerIds } } } }"""
        return backend.gql(query, variables, staff="AUD0001", purpose="AUDIT")["auditLog"]

    both = {"customer": {"in": [first["id"], second["id"]]}}
    found = log({**both, "action": {"in": ["READ", "CHANGE"]}}, first=50)
    assert found["totalCount"] == 4
    assert [e["node"]["action"] for e in found["edges"]] == ["READ", "READ", "CHANGE", "CHANGE"]
    reads_since = log({**both, "action": {"eq": "READ"}, "at": {"gte": since["at"]}}, first=50)
    assert reads_since["totalCount"] == 2
    either = log(
        {**both, "or": [{"operation": {"startsWith": "Lo"}}, {"operation": {"eq": "nothing"}}]},
        first=50,
    )
    assert {e["node"]["operation"] for e in either["edges"]} == {"Look"}
    # The two oldest of the four entries, by paging backwards from the end.
    oldest = log(both, last=2)
    assert [e["node"]["action"] for e in oldest["edges"]] == ["CHANGE", "CHANGE"]
    assert oldest["pageInfo"]["hasPreviousPage"]
    newer = log(both, last=2, before=oldest["pageInfo"]["startCursor"])
    assert [e["node"]["action"] for e in newer["edges"]] == ["READ", "READ"]
    body = backend.post(
        LOG,
        {"where": {"customer": {"eq": "bm90IGFuIElE"}}, "first": 5},
        staff="AUD0001",
        purpose="AUDIT",
    ).json()
    fields = body["errors"][0]["extensions"]["fields"]
    assert [(f["field"], f["code"]) for f in fields] == [
        (["where", "customer", "eq"], "INVALID_ID")
    ]


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


def _entry(n: int, detail: Any = None) -> dict[str, Any]:
    """A READ entry as the service writes it."""
    return audit.new_entry(
        actor_id=1,
        actor=f"RM{n:04d}",
        roles=["RELATIONSHIP_MANAGER"],
        purpose="CUSTOMER_SERVICE",
        action="READ",
        operation="customers",
        customer_ids=[n, n + 1],
        fields={"Customer.name": "FULL"},
        detail=detail,
    )


@pytest.fixture
def chained_db(cli_env: dict[str, str]) -> dict[str, str]:
    """A fresh database (same backend and keys as the suite's) with five chained entries."""
    from store import migrate

    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    migrate.upgrade(engine)
    with engine.begin() as connection:
        audit.append(
            connection,
            [_entry(i, {"note": f"entry {i}"} if i % 2 else None) for i in range(1, 6)],
        )
    engine.dispose()
    return cli_env


def _verify(env: dict[str, str]) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify"], env=env)
    return result.exit_code, result.output


GUARDED = ("audit_log", "audit_customers")


def _tamper(env: dict[str, str], statements: str) -> None:
    """Run SQL as a writer who owns the database: it lifts the append-only triggers first."""
    engine = make_engine(env["KEHU_DATABASE_URL"])
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        if postgres:
            for table in GUARDED:
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for name in connection.scalars(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ):
                connection.execute(text(f"DROP TRIGGER {name}"))
        for statement in statements.split(";"):
            connection.execute(text(statement))
        if postgres:
            for table in GUARDED:
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    engine.dispose()


def _cut_back(env: dict[str, str], keep: int) -> None:
    """Delete the entries after ``keep`` and rewind the head onto entry ``keep``."""
    _tamper(
        env,
        f"DELETE FROM audit_customers WHERE entry_id > {keep};"
        f"DELETE FROM audit_log WHERE id > {keep};"
        f"UPDATE audit_head SET last_id = {keep}, "
        f"last_hash = (SELECT hash FROM audit_log WHERE id = {keep})",
    )


def _append(env: dict[str, str], count: int) -> None:
    """Entries appended by the service (which holds the audit key)."""
    engine = make_engine(env["KEHU_DATABASE_URL"])
    with engine.begin() as connection:
        audit.append(connection, [_entry(100 + n) for n in range(count)])
    engine.dispose()


def _rechain_plain(env: dict[str, str], first_id: int) -> None:
    """Recompute the hashes from ``first_id`` on with plain SHA-256, as a writer without the key."""
    engine = make_engine(env["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(select(AuditEntry.__table__))]
    rows.sort(key=lambda r: r["id"])
    previous = rows[first_id - 2]["hash"] if first_id > 1 else GENESIS_HASH
    statements = []
    for row in rows[first_id - 1 :]:
        row_hash = hashlib.sha256(previous.encode() + audit_chain.content(row)).hexdigest()
        statements.append(
            f"UPDATE audit_log SET prev_hash = '{previous}', hash = '{row_hash}' "
            f"WHERE id = {row['id']}"
        )
        previous = row_hash
    statements.append(f"UPDATE audit_head SET last_hash = '{previous}'")
    engine.dispose()
    _tamper(env, ";".join(statements))


def _checkpoint(env: dict[str, str]) -> str:
    result = runner.invoke(app, ["audit", "checkpoint"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_verify_accepts_an_intact_chain(chained_db: dict[str, str]) -> None:
    assert _verify(chained_db) == (
        0,
        "OK: 5 entries, the hash chain is intact; "
        "no checkpoint to compare with yet (kehu audit checkpoint).\n",
    )
    _checkpoint(chained_db)
    code, output = _verify(chained_db)
    assert code == 0 and "it continues the checkpoint of" in output
    # A process of its own (no keys configured by earlier commands of this one).
    alone = subprocess.run(
        [sys.executable, "-m", "kehu.cli", "audit", "verify"],
        env={**os.environ, **chained_db},
        capture_output=True,
        text=True,
        check=False,
    )
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.startswith("OK: 5 entries")


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE audit_log SET actor = 'HO0001' WHERE id = 3", "entry 3 was changed"),
        ("DELETE FROM audit_log WHERE id = 2", "entry 2 is missing"),
        ("DELETE FROM audit_log WHERE id = 5", "the log ends at entry 4"),
        (
            "UPDATE audit_head SET last_id = 4, "
            "last_hash = (SELECT hash FROM audit_log WHERE id = 4)",
            "the log ends at entry 5 but the head says 4",
        ),
        (
            "UPDATE audit_log SET id = 1000 WHERE id = 2;"
            "UPDATE audit_log SET id = 2 WHERE id = 3;"
            "UPDATE audit_log SET id = 3 WHERE id = 1000",
            "entry 2 is out of order",
        ),
        # The customers index is not chained, but inserting into it is allowed: a forged link
        # would list an entry under a customer it does not concern, a link ahead of the head
        # would make the next entry's insert fail.
        (
            "INSERT INTO audit_customers (entry_id, customer_id) VALUES (2, 999)",
            "the customers of entry 2 (audit_customers) were changed",
        ),
        (
            "INSERT INTO audit_customers (entry_id, customer_id) VALUES (6, 1)",
            "the log ends at entry 6 but the head says 5",
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


# --- a database writer cannot rewrite the log ---------------------------


def test_an_edited_entry_re_chained_with_plain_sha256_is_detected(
    chained_db: dict[str, str],
) -> None:
    _tamper(chained_db, "UPDATE audit_log SET actor = 'HO0001' WHERE id = 3")
    _rechain_plain(chained_db, 3)
    code, output = _verify(chained_db)
    assert code == 1
    assert "entry 3 was changed" in output


def test_an_entry_cannot_be_passed_off_as_signed_by_another_key(
    chained_db: dict[str, str],
) -> None:
    _tamper(chained_db, "UPDATE audit_log SET key_id = 'zz' WHERE id = 4")
    code, output = _verify(chained_db)
    assert code == 1
    assert "entry 4: audit key 'zz' is not configured" in output
    retired = {**chained_db, "KEHU_AUDIT_KEYS": new_key_entry("a2")}  # a1 dropped: refused
    code, output = _verify(retired)
    assert code == 1 and "entry 1: audit key 'a1' is not configured" in output


def test_audit_keys_rotate_old_entries_keep_verifying(chained_db: dict[str, str]) -> None:
    rotated = {
        **chained_db,
        "KEHU_AUDIT_KEYS": new_key_entry("a2") + "," + chained_db["KEHU_AUDIT_KEYS"],
    }
    runner.invoke(app, ["audit", "verify"], env=rotated)  # configures the rotated keys
    _append(rotated, 2)
    engine = make_engine(chained_db["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        kids = list(connection.scalars(text("SELECT key_id FROM audit_log ORDER BY id")))
    engine.dispose()
    assert kids == ["a1"] * 5 + ["a2"] * 2
    assert _verify(rotated)[0] == 0


def test_a_rewound_head_is_reported_against_the_latest_checkpoint(
    chained_db: dict[str, str],
) -> None:
    assert "Checkpoint: 5 entries" in _checkpoint(chained_db)
    _cut_back(chained_db, 4)
    code, output = _verify(chained_db)
    assert code == 1
    assert "rewound: the log ends at entry 4 but the checkpoint of" in output
    assert "recorded 5 entries" in output
    refused = runner.invoke(app, ["audit", "checkpoint"], env=chained_db)
    assert refused.exit_code == 1
    assert "rewound: the log ends at entry 4" in refused.output
    assert "no checkpoint written" in refused.output


def test_entries_written_after_a_rewind_differ_from_the_checkpoint(
    chained_db: dict[str, str],
) -> None:
    """The log is cut back to entry 3 and the service carries on: entry 5 is not the signed one."""
    _checkpoint(chained_db)
    _cut_back(chained_db, 3)
    _append(chained_db, 3)
    code, output = _verify(chained_db)
    assert code == 1
    assert "entry 5 differs from the checkpoint of" in output


def test_a_checkpoint_never_vouches_for_a_tampered_log(
    chained_db: dict[str, str], tmp_path: Path
) -> None:
    _checkpoint(chained_db)
    _append(chained_db, 2)
    _tamper(chained_db, "UPDATE audit_log SET purpose = 'MARKETING' WHERE id = 6")
    result = runner.invoke(app, ["audit", "checkpoint"], env=chained_db)
    assert result.exit_code == 1
    assert "entry 6 was changed; no checkpoint written" in result.output
    assert len(list(Path(chained_db["KEHU_AUDIT_CHECKPOINT_DIR"]).glob("*.json"))) == 1


def test_a_forged_checkpoint_is_reported(chained_db: dict[str, str]) -> None:
    _checkpoint(chained_db)
    directory = Path(chained_db["KEHU_AUDIT_CHECKPOINT_DIR"])
    (written,) = directory.glob("*.json")
    forged = orjson.loads(written.read_bytes())
    forged["entries"] = forged["last_id"] = 3  # "the log had only 3 entries", same signature
    (directory / "forged.json").write_bytes(orjson.dumps(forged))
    code, output = _verify(chained_db)
    assert code == 1
    assert "checkpoint forged.json is not validly signed" in output


def test_the_worker_signs_checkpoints_periodically(chained_db: dict[str, str]) -> None:
    from kehu.auditing import Checkpointer

    directory = Path(chained_db["KEHU_AUDIT_CHECKPOINT_DIR"])
    engine = make_engine(chained_db["KEHU_DATABASE_URL"])
    runner.invoke(app, ["audit", "verify"], env=chained_db)
    checkpoints = Checkpointer(engine, directory, 0.05)
    checkpoints.start()
    try:
        for _ in range(100):
            if list(directory.glob("*.json")):
                break
            time.sleep(0.05)
        time.sleep(0.2)  # more intervals: an unchanged head writes no second file
    finally:
        checkpoints.close()
        engine.dispose()
    (only,) = directory.glob("*.json")
    assert orjson.loads(only.read_bytes())["entries"] == 5
    settings = Settings.from_env(chained_db)
    assert settings.audit_checkpoint_seconds == 300
    assert (
        Settings.from_env(
            {**chained_db, "KEHU_AUDIT_CHECKPOINT_SECONDS": "0"}
        ).audit_checkpoint_seconds
        == 0
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'HO0001' WHERE id = 3",
        "UPDATE audit_log SET hash = prev_hash WHERE id = 5",
        "UPDATE audit_log SET key_id = 'zz'",
        "DELETE FROM audit_log WHERE id = 5",
        "DELETE FROM audit_log",
        "UPDATE audit_customers SET customer_id = 99 WHERE entry_id = 1",
        "DELETE FROM audit_customers",
        "TRUNCATE audit_log",
        "TRUNCATE audit_customers",
    ],
)
def test_the_entry_tables_are_append_only(chained_db: dict[str, str], statement: str) -> None:
    engine = make_engine(chained_db["KEHU_DATABASE_URL"])
    if engine.dialect.name == "sqlite":  # SQLite truncates with an unqualified DELETE
        statement = statement.replace("TRUNCATE", "DELETE FROM")
    try:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
    assert _verify(chained_db)[0] == 0


def test_rotate_keys_re_encrypts_entry_details_through_the_guard(
    chained_db: dict[str, str],
) -> None:
    rotated = {
        **chained_db,
        "KEHU_ENCRYPTION_KEYS": new_key_entry("k2") + "," + chained_db["KEHU_ENCRYPTION_KEYS"],
    }
    result = runner.invoke(app, ["rotate-keys"], env=rotated)
    assert result.exit_code == 0, result.output
    engine = make_engine(chained_db["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        details = list(
            connection.scalars(text("SELECT detail FROM audit_log WHERE detail IS NOT NULL"))
        )
    engine.dispose()
    assert details and all(d.startswith("v2:k2:") for d in details)
    assert runner.invoke(app, ["audit", "verify"], env=rotated).exit_code == 0


def test_the_service_role_is_granted_no_update_or_delete_on_entries(
    chained_db: dict[str, str],
) -> None:
    printed = runner.invoke(app, ["audit", "grant-service-role", "kehu_app", "--print-only"])
    assert printed.exit_code == 0
    assert "REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_customers FROM kehu_app" in (
        printed.output
    )
    assert "GRANT UPDATE (detail) ON audit_log TO kehu_app" in printed.output
    bad = runner.invoke(app, ["audit", "grant-service-role", "app; DROP TABLE customers"])
    assert bad.exit_code == 2
    url = make_url(chained_db["KEHU_DATABASE_URL"])
    role = url.username or "kehu_app"
    result = runner.invoke(app, ["audit", "grant-service-role", role], env=chained_db)
    if url.get_backend_name() == "sqlite":
        assert result.exit_code == 2 and "PostgreSQL only" in result.output
        return
    # The test database has one login role, which owns the tables; an owner may revoke its own
    # privileges, so the grants are applied to it. With the triggers disabled (an owner's
    # power, which the service role does not have) the missing privileges still refuse.
    assert result.exit_code == 0, result.output
    engine = make_engine(chained_db["KEHU_DATABASE_URL"])
    try:
        for statement in (
            "DELETE FROM audit_log WHERE id = 5",
            "UPDATE audit_log SET actor = 'HO0001' WHERE id = 3",
            "DELETE FROM audit_customers",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as c:
                c.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
                c.execute(text("ALTER TABLE audit_customers DISABLE TRIGGER USER"))
                c.execute(text(statement))
    finally:
        engine.dispose()
    _append(chained_db, 1)  # the service still appends (INSERT, and UPDATE of the head)
    assert _verify(chained_db)[0] == 0


def _insert_legacy(engine: Engine, env: dict[str, str], entries: list[dict[str, Any]]) -> None:
    """Entries as written before migration 0007: no key id, a plain SHA-256 chain, and the
    detail sealed in the format of that release (the column as context, not yet the row)."""
    kid, key = Settings.from_env(env).encryption_keys[0]
    legacy = Table(
        "audit_log",
        MetaData(),
        *[
            Column("detail", String) if column.name == "detail" else column._copy()
            for column in AuditEntry.__table__.c
            if column.name != "key_id"
        ],
    )
    rows = [
        {
            **entry,
            "detail": entry["detail"]
            and sealed_before_row_binding(key, kid, entry["detail"], "audit_log.detail"),
        }
        for entry in entries
    ]
    # The customers index was written with every entry since the log began (migration 0002).
    concerned = [
        {"entry_id": entry["id"], "customer_id": customer_id}
        for entry in entries
        for customer_id in entry["customer_ids"]
    ]
    with engine.begin() as connection:
        connection.execute(insert(legacy), rows)
        connection.execute(insert(AuditCustomer.__table__), concerned)


def test_the_migration_re_chains_a_legacy_log_with_the_key(cli_env: dict[str, str]) -> None:
    from store import migrate

    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    migrate.upgrade(engine, "0006")
    legacy = [{**_entry(i, {"n": i}), "id": i} for i in range(1, 4)]
    previous = GENESIS_HASH
    for entry in legacy:
        entry["prev_hash"] = previous
        entry["hash"] = previous = audit_chain.legacy_hash(previous, entry)
    _insert_legacy(engine, cli_env, legacy)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE audit_head SET last_id = 3, last_hash = '{previous}'"))
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert audit.verify(connection).ok
        kids = set(connection.scalars(text("SELECT key_id FROM audit_log")))
    engine.dispose()
    assert kids == {"a1"}


def test_the_migration_refuses_to_re_chain_a_tampered_legacy_log(
    cli_env: dict[str, str],
) -> None:
    from store import migrate

    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    migrate.upgrade(engine, "0006")
    # Not the hash its content has:
    entry = {**_entry(1), "id": 1, "prev_hash": GENESIS_HASH, "hash": "f" * 64}
    _insert_legacy(engine, cli_env, [entry])
    try:
        with pytest.raises(RuntimeError, match="audit entry 1 does not verify"):
            migrate.upgrade(engine)
    finally:
        engine.dispose()


# --- kehu restore does not silently replace the log ----------------------------------------


def _entries(env: dict[str, str]) -> list[Any]:
    engine = make_engine(env["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        rows = list(
            connection.execute(
                text("SELECT id, actor, action, operation FROM audit_log ORDER BY id")
            )
        )
    engine.dispose()
    return rows


def _backup(env: dict[str, str], target: Path) -> None:
    result = runner.invoke(app, ["backup", str(target)], env=env)
    assert result.exit_code == 0, result.output


def test_restore_refuses_a_backup_behind_the_live_log_unless_forced(
    chained_db: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "kehu.backup"
    _backup(chained_db, target)
    _append(chained_db, 2)
    _checkpoint(chained_db)
    refused = runner.invoke(app, ["restore", str(target)], env=chained_db)
    assert refused.exit_code == 1
    assert "does not continue the live one (live: 7 entries" in refused.output
    assert "backup: 5 entries, without the live last entry" in refused.output
    assert "--force" in refused.output
    assert len(_entries(chained_db)) == 7  # nothing was replaced
    forced = runner.invoke(app, ["restore", str(target), "--force"], env=chained_db)
    assert forced.exit_code == 0, forced.output
    assert "forced" in forced.output
    entries = _entries(chained_db)
    assert [e.id for e in entries] == [1, 2, 3, 4, 5, 6]
    restored = entries[-1]
    assert restored.action == "RESTORE" and restored.actor.startswith("cli:")
    assert restored.operation == "restore kehu.backup (forced)"
    # The checkpoint of the replaced log (7 entries) no longer applies after the forced restore.
    code, output = _verify(chained_db)
    assert code == 0, output
    assert "it continues the restore of" in output


def test_restore_of_a_backup_that_continues_the_log_is_recorded(
    chained_db: dict[str, str], tmp_path: Path
) -> None:
    _checkpoint(chained_db)
    target = tmp_path / "kehu.backup"
    _backup(chained_db, target)
    result = runner.invoke(app, ["restore", str(target)], env=chained_db)
    assert result.exit_code == 0, result.output
    assert "forced" not in result.output and "the restore is audited" in result.output
    entries = _entries(chained_db)
    assert len(entries) == 6
    assert (entries[-1].action, entries[-1].operation) == ("RESTORE", "restore kehu.backup")
    code, output = _verify(chained_db)
    assert code == 0 and "it continues the checkpoint of" in output
    # The live log now has the restore's own entry, which the backup does not.
    again = runner.invoke(app, ["restore", str(target)], env=chained_db)
    assert again.exit_code == 1 and "does not continue" in again.output


def test_restore_refuses_a_backup_of_another_line_of_the_log(
    chained_db: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "kehu.backup"
    _backup(chained_db, target)  # 5 entries
    _cut_back(chained_db, 3)
    _append(chained_db, 1)  # live: 4 entries, the 4th not the backup's 4th
    refused = runner.invoke(app, ["restore", str(target)], env=chained_db)
    assert refused.exit_code == 1
    assert "does not continue the live one (live: 4 entries" in refused.output
    assert [e.actor for e in _entries(chained_db)][-1] == "RM0100"


# --- synchronous read audit (KEHU_AUDIT_READS=sync) ------------------------------------------


@pytest.fixture
def sync_client(backend: Backend) -> Iterator[TestClient]:
    """A second server on the suite's database that audits reads synchronously."""
    settings = dataclasses.replace(backend.settings, audit_reads="sync")
    with TestClient(create_app(settings, backend.engine)) as client:
        yield client


def _read(backend: Backend, client: TestClient, operation: str, customer: str) -> Any:
    query = ONE.replace("Look", operation)
    headers = {
        "Authorization": f"Bearer {backend.token('HO0001')}",
        "X-Purpose": "CUSTOMER_SERVICE",
    }
    response = client.post(
        "/graphql", json={"query": query, "variables": {"id": customer}}, headers=headers
    )
    assert response.status_code == 200
    return response


def _reads_named(backend: Backend, operation: str) -> list[Any]:
    with backend.engine.connect() as connection:
        return list(
            connection.execute(
                select(AuditEntry.id, AuditEntry.fields).where(AuditEntry.operation == operation)
            )
        )


def test_sync_read_audit_commits_the_entry_before_the_answer(
    backend: Backend, sync_client: TestClient
) -> None:
    customer = create_customer(backend, name="同步审计")
    body = _read(backend, sync_client, "SyncLook", customer["id"]).json()
    assert body["data"]["customer"]["name"] == "同步审计"
    # No flush, no wait: the entry is in the database when the answer arrives.
    (entry,) = _reads_named(backend, "SyncLook")
    assert entry.fields["Customer.idNumber"] == "FULL"
    assert (
        Settings.from_env(
            settings_env(backend.settings.var_dir, "sqlite", KEHU_AUDIT_READS="sync")
        ).audit_reads
        == "sync"
    )
    with pytest.raises(SettingsError, match="KEHU_AUDIT_READS must be one of buffered, sync"):
        Settings.from_env(
            settings_env(backend.settings.var_dir, "sqlite", KEHU_AUDIT_READS="later")
        )


@contextmanager
def _refusing_entries(backend: Backend, operation: str) -> Iterator[None]:
    """The database refuses entries of ``operation`` (as a full disk or a lost connection would)."""
    postgres = backend.name == "postgresql"
    refuse = (
        [
            "CREATE FUNCTION test_refuse_entry() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused'; END $$",
            "CREATE TRIGGER test_refuse_entry BEFORE INSERT ON audit_log FOR EACH ROW "
            f"WHEN (NEW.operation = '{operation}') EXECUTE FUNCTION test_refuse_entry()",
        ]
        if postgres
        else [
            "CREATE TRIGGER test_refuse_entry BEFORE INSERT ON audit_log "
            f"WHEN NEW.operation = '{operation}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
    )
    with backend.engine.begin() as connection:
        for statement in refuse:
            connection.execute(text(statement))
    try:
        yield
    finally:
        with backend.engine.begin() as connection:
            connection.execute(
                text("DROP TRIGGER test_refuse_entry" + (" ON audit_log" if postgres else ""))
            )
            if postgres:
                connection.execute(text("DROP FUNCTION test_refuse_entry()"))


def test_sync_read_audit_withholds_the_answer_when_the_entry_cannot_be_written(
    backend: Backend, sync_client: TestClient
) -> None:
    customer = create_customer(backend, name="审计失败")
    with _refusing_entries(backend, "SyncRefused"):
        response = _read(backend, sync_client, "SyncRefused", customer["id"])
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["AUDIT_UNAVAILABLE"]
    assert "审计失败" not in response.text and customer["idNumber"] not in response.text
    assert _reads_named(backend, "SyncRefused") == []
    # The next read is answered (and audited) again.
    assert _read(backend, sync_client, "SyncRefused", customer["id"]).json()["data"]
    assert len(_reads_named(backend, "SyncRefused")) == 1


def test_a_mutation_whose_answer_cannot_be_audited_says_that_its_change_was_made(
    backend: Backend, sync_client: TestClient
) -> None:
    """Synchronous read audit withholds a mutation's answer too when its READ entry cannot be
    written, but the change (and its CHANGE entry) was committed before: the error says so,
    so the caller reads it again rather than repeating the change."""
    customer = _new_customer(backend)
    verify = """mutation SyncVerify($input: RecordVerificationInput!) {
                  recordVerification(input: $input) { customer { idNumber } errors { code } } }"""
    verification = {"customerId": customer["id"], "informationKind": "BASIC", "result": "CONFIRMED"}
    headers = {
        "Authorization": f"Bearer {backend.token('HO0001')}",
        "X-Purpose": "CUSTOMER_SERVICE",
    }
    with _refusing_entries(backend, "SyncVerify"):
        response = sync_client.post(
            "/graphql",
            json={"query": verify, "variables": {"input": verification}},
            headers=headers,
        )
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert error["message"].startswith("The change was made")
    changes = _log(backend, customer=customer["id"], action="CHANGE")
    assert changes[0]["operation"] == "recordVerification"


def test_auditors_find_a_restore_in_the_audit_log(
    chained_db: dict[str, str], tmp_path: Path
) -> None:
    from kehu.seed import ensure_reference_data

    engine = make_engine(chained_db["KEHU_DATABASE_URL"])
    ensure_reference_data(engine)  # staff, so an auditor can sign in
    engine.dispose()
    target = tmp_path / "kehu.backup"
    _backup(chained_db, target)
    assert runner.invoke(app, ["restore", str(target)], env=chained_db).exit_code == 0
    settings = Settings.from_env(chained_db)
    headers = {"Authorization": f"Bearer {mint_token(settings, 'AUD0001')}", "X-Purpose": "AUDIT"}
    with TestClient(create_app(settings)) as client:
        body = client.post(
            "/graphql",
            json={
                "query": LOG,
                "variables": {"where": {"action": {"eq": "RESTORE"}}, "first": 5},
            },
            headers=headers,
        ).json()
    assert "errors" not in body, body
    (restore,) = [edge["node"] for edge in body["data"]["auditLog"]["edges"]]
    assert restore["operation"] == "restore kehu.backup"
    assert restore["actor"].startswith("cli:") and restore["id"] == 6


def test_a_read_of_changed_values_in_the_history_is_recorded(backend: Backend) -> None:
    """customerHistory's oldValue/newValue reveal the personal values a change replaced: such a
    read is audited like a read of the live field, with the effect it was shown with."""
    customer = _new_customer(backend, phone="13700003333")
    update = """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
                  errors { code } } }"""
    change = {
        "id": customer["id"],
        "expectedVersion": 1,
        "changes": {"phone": "13700004444"},
        "source": {"kind": "PROACTIVE_CONTACT", "detail": "call-back"},
    }
    assert backend.gql(update, {"input": change})["updateCustomer"]["errors"] == []
    history = """query History($id: ID!) { customerHistory(customerId: $id, first: 10) {
                   edges { node { field oldValue newValue } } } }"""
    seen = backend.gql(history, {"id": customer["id"]}, staff="HO0001")
    values = [e["node"] for e in seen["customerHistory"]["edges"]]
    assert {"field": "phone", "oldValue": "13700003333", "newValue": "13700004444"} in values
    reads = _log(backend, customer=customer["id"], action="READ")
    assert [r["operation"] for r in reads] == ["History"]
    assert {f["field"]: f["effect"] for f in reads[0]["fields"]} == {
        "CustomerChange.oldValue": "FULL",
        "CustomerChange.newValue": "FULL",
    }
    # Only the field names, not the values: nothing personal was revealed, nothing is recorded.
    backend.gql(
        """query Names($id: ID!) { customerHistory(customerId: $id, first: 10) {
             edges { node { field changedAt } } } }""",
        {"id": customer["id"]},
        staff="HO0001",
    )
    assert [r["operation"] for r in _log(backend, customer=customer["id"], action="READ")] == [
        "History"
    ]


def test_restore_refuses_a_backup_whose_earlier_entries_were_edited(
    chained_db: dict[str, str], tmp_path: Path
) -> None:
    """The backup ends on the live head, but an entry before it was edited (its hash kept): it
    does not continue the live log, so the live log stays unless forced."""
    target = tmp_path / "kehu.backup"
    _backup(chained_db, target)
    # The file is edited by restoring it elsewhere, tampering there and backing that up again.
    copy_env = {**chained_db}
    if make_url(chained_db["KEHU_DATABASE_URL"]).get_backend_name() == "sqlite":
        copy_env["KEHU_DATABASE_URL"] = f"sqlite:///{tmp_path / 'copy.db'}"
        copy_env["KEHU_AUDIT_CHECKPOINT_DIR"] = str(tmp_path / "copy-checkpoints")
        made = runner.invoke(app, ["restore", str(target), "--force"], env=copy_env)
        assert made.exit_code == 0, made.output
        _tamper(copy_env, "UPDATE audit_log SET actor = 'HO0001' WHERE id = 2")
        tampered = tmp_path / "tampered.backup"
        _backup(copy_env, tampered)
    else:
        # pg_dump's archive: restore it into the live database, edit, dump, then put back.
        tampered = tmp_path / "tampered.backup"
        _tamper(chained_db, "UPDATE audit_log SET actor = 'HO0001' WHERE id = 2")
        _backup(chained_db, tampered)
        _tamper(chained_db, "UPDATE audit_log SET actor = 'RM0002' WHERE id = 2")
    code, output = _verify(chained_db)
    assert code == 0, output
    refused = runner.invoke(app, ["restore", str(tampered)], env=chained_db)
    assert refused.exit_code == 1
    assert "does not continue the live one" in refused.output
    assert "entry 2 was changed" in refused.output
    assert [e.actor for e in _entries(chained_db)][1] == "RM0002"
    code, output = _verify(chained_db)
    assert code == 0, output
