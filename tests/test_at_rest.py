"""Personal data at rest (INFO-7): nothing typed in is stored in clear, and
every sealed value is bound to its row, so a value moved to another row does not decrypt."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import StatementError
from typer.testing import CliRunner

from core import clock
from core.ids import parse_global_id
from core.settings import Settings
from kehu.cli import app
from store import migrate
from store.base import UnboundValueError
from store.customers import Customer
from store.db import make_engine, make_session_factory, transaction
from store.rotation import sealed_tables
from store.workflows import ProcessInstance
from tests.complaint_steps import (
    assign,
    bj_customer,
    complaint_pk,
    do,
    read,
    submit,
    systemic,
    task_of,
)
from tests.conftest import (
    Backend,
    _keys,
    branch_id,
    create_customer,
    new_id_number,
    settings_env,
)
from tests.test_consent import SHARE_REQUEST, _consent
from tests.test_consent import _register as register_third_party

runner = CliRunner()
# Values a handler types into the forms: an ID number, a phone, a name and a marker.
ID_NUMBER = new_id_number()
PHONE = "13977712345"
NAME = "司马慕晴"
MARKER = "ATREST-E-QX7"
SECRETS = (ID_NUMBER, PHONE, NAME, MARKER)


def _typed(label: str) -> str:
    return f"{label} {MARKER} {NAME} 身份证 {ID_NUMBER} 电话 {PHONE}"


def _forms_of_a_full_lifecycle(backend: Backend) -> dict[str, Any]:
    """Submit, assign, investigate (systemic), decide, call back, ask for a review, review,
    rectify: every free-text field of every form carries the personal values."""
    complaint = submit(
        backend,
        bj_customer(backend),
        description=_typed("description"),
        requestedRemedy=_typed("remedy"),
    )
    do(
        backend,
        "SUP0001",
        complaint,
        "Task_AssignHandler",
        {"handler": "SH01CH01", "note": _typed("note")},
    )
    do(
        backend,
        "SH01CH01",
        complaint,
        "Task_Investigate",
        systemic(
            findings=_typed("findings"),
            evidence=[_typed("evidence")],
            coordination_notes=_typed("coordination"),
            plan=_typed("plan"),
        ),
    )
    do(
        backend,
        "SH01CH01",
        complaint,
        "Task_DecisionNotice",
        {
            "verified_facts": _typed("facts"),
            "basis": _typed("basis"),
            "reasons": _typed("reasons"),
            "outcome": "UPHELD",
            "remedies": _typed("remedies"),
            "channel": "IN_PERSON",
            "proof_of_delivery": _typed("proof"),
        },
    )
    do(
        backend,
        "RM0001",
        complaint,
        "Task_CallBack",
        {"satisfaction_score": 2, "satisfied": False, "comments": _typed("comments")},
    )
    do(
        backend,
        "RM0001",
        complaint,
        "Task_ReviewRequest",
        {"review_requested": True, "reason": _typed("reason")},
    )
    do(
        backend,
        "HO0001",
        complaint,
        "Task_Review",
        {"review_outcome": "DECISION_CHANGED", "explanation": _typed("explanation")},
    )
    do(
        backend,
        "HO0001",
        complaint,
        "Task_Rectify",
        {
            "actions": [_typed("action")],
            "completed_on": clock.today().isoformat(),
            "recurrence_check": _typed("recurrence"),
        },
    )
    return read(backend, complaint)


def _forms(value: str) -> list[bytes]:
    """``value`` as it could appear in a file: UTF-8, JSON-escaped (``\\uXXXX``), UTF-16."""
    escaped = json.dumps(value)[1:-1]
    return sorted(
        {
            value.encode(),
            escaped.encode(),
            escaped.replace("\\u", "\\\\u").encode(),
            value.encode("utf-16-le"),
        }
    )


def _found(data: bytes) -> list[str]:
    return [value for value in SECRETS for form in _forms(value) if form in data]


def _database_bytes(backend: Backend, tmp_path: Path) -> bytes:
    """The SQLite files (database and write-ahead log) or a ``pg_dump`` of the database."""
    url = make_url(backend.settings.database_url)
    if backend.name == "sqlite":
        with backend.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        base = Path(str(url.database))
        files = [str(path) for path in (base, base.with_name(base.name + "-wal")) if path.exists()]
        # Read by another process: closing a descriptor of the file in this one would drop the
        # POSIX locks SQLite holds on it (and break the running app's connections).
        return subprocess.run(["cat", *files], capture_output=True, check=True).stdout
    target = tmp_path / "dump.sql"
    subprocess.run(
        [
            "pg_dump",
            "--no-owner",
            "--host",
            str(url.host),
            "--port",
            str(url.port or 5432),
            "--username",
            str(url.username),
            "--file",
            str(target),
            str(url.database),
        ],
        check=True,
        env={**os.environ, "PGPASSWORD": str(url.password)},
        timeout=120,
    )
    return target.read_bytes()


def test_a_complaints_whole_lifecycle_leaves_no_personal_value_in_clear(
    backend: Backend, tmp_path: Path
) -> None:
    state = _forms_of_a_full_lifecycle(backend)
    assert state["status"] == "CLOSED" and state["process"]["instance"]["status"] == "COMPLETED"
    # Everything typed is readable through the API …
    proofs = {m["kind"]: m["proofOfDelivery"] for m in state["messages"]}
    assert proofs["DECISION_NOTICE"] == _typed("proof")
    assert state["rectification"]["actions"] == [_typed("action")]
    assert any(MARKER in json.dumps(step["details"]) for step in state["timeline"])
    # A share request's reason is free text too (denied here: the customer gave no consent).
    party = register_third_party(backend)
    asked = backend.gql(
        SHARE_REQUEST,
        {
            "input": {
                "customerId": bj_customer(backend)["id"],
                "thirdParty": party["id"],
                "purpose": "CUSTOMER_SERVICE",
                "dataCategories": ["contact"],
                "reason": _typed("share")[:300],
            }
        },
        staff="RM0001",
    )["requestDataShare"]["shareRequest"]
    assert asked["status"] == "DENIED"
    # … and none of it is in the database file or the dump, in any encoding.
    assert _found(_database_bytes(backend, tmp_path)) == []


# Free text staff type about a customer, and the column it is kept in (each bound to its row).
FREE_TEXT_COLUMNS = {
    "information_sources.detail",
    "verifications.note",
    "consents.evidence",
    "share_grants.reason",
    "customer_watchers.reason",
}


def _free_text_about_customers(backend: Backend) -> list[dict[str, Any]]:
    """A source's detail, a verification's note, a consent's evidence, a grant's reason and a
    watcher's reason, each carrying the personal values; returns the two customers."""
    source = {"kind": "PROACTIVE_CONTACT", "detail": _typed("source")}
    customers = [bj_customer_with_source(backend, source) for _ in range(2)]
    for customer in customers:
        verified = backend.gql(
            """mutation($input: RecordVerificationInput!) { recordVerification(input: $input) {
                 errors { field code } } }""",
            {
                "input": {
                    "customerId": customer["id"],
                    "informationKind": "BASIC",
                    "result": "CORRECTED",
                    "note": _typed("verification"),
                }
            },
            staff="SUP0001",
        )["recordVerification"]
        assert verified["errors"] == []
        consent = _consent(
            backend, customer, register_third_party(backend), evidence=_typed("evidence")
        )
        assert consent["errors"] == [], consent
        for staff in ("RISK0001", "HO0001"):
            watched = backend.gql(
                "mutation($input: WatchCustomerInput!) { watchCustomer(input: $input) "
                "{ errors { code } } }",
                {"input": {"customerId": customer["id"], "reason": _typed("watch")}},
                staff=staff,
            )["watchCustomer"]
            assert watched["errors"] == []
    # Two grants, to two roles.
    for customer, role in zip(
        customers, ("BRANCH_SUPERVISOR", "RELATIONSHIP_MANAGER"), strict=True
    ):
        granted = backend.gql(
            SHARE_GRANT,
            {
                "input": {
                    "receivingRole": role,
                    "receivingBranch": branch_id(backend, "SH01SUP01"),
                    "purpose": "CUSTOMER_SERVICE",
                    "fieldGroups": ["contact"],
                    "customers": [customer["id"]],
                    "expiresAt": (clock.now() + timedelta(days=30)).isoformat(),
                    "reason": _typed("grant"),
                }
            },
            staff="SUP0001",
        )["createShareGrant"]
        assert granted["errors"] == []
        revoked = backend.gql(  # the reason stays; the next grant to this receiver may be made
            "mutation($id: ID!) { revokeShareGrant(input: {id: $id}) { errors { code } } }",
            {"id": granted["shareGrant"]["id"]},
            staff="SUP0001",
        )["revokeShareGrant"]
        assert revoked["errors"] == []
    return customers


def bj_customer_with_source(backend: Backend, source: dict[str, str]) -> dict[str, Any]:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    return create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001"), source=source
    )


SHARE_GRANT = """
mutation($input: CreateShareGrantInput!) {
  createShareGrant(input: $input) { shareGrant { id } errors { field code message } }
}
"""


def test_free_text_typed_about_a_customer_is_sealed(backend: Backend, tmp_path: Path) -> None:
    _free_text_about_customers(backend)
    assert _found(_database_bytes(backend, tmp_path)) == []
    sealed = {f"{table.name}.{name}" for table, names in sealed_tables() for name in names}
    assert sealed >= FREE_TEXT_COLUMNS


@contextmanager
def _swapped(engine: Engine, table: str, column: str, ids: tuple[int, int]) -> Iterator[None]:
    """Swap two rows' stored (sealed) values of ``table.column``, restore them afterwards."""
    select = text(f"SELECT {column} FROM {table} WHERE id = :id")
    change = text(f"UPDATE {table} SET {column} = :value WHERE id = :id")
    with engine.begin() as connection:
        first, second = (connection.execute(select, {"id": i}).scalar_one() for i in ids)
        connection.execute(
            change, [{"value": second, "id": ids[0]}, {"value": first, "id": ids[1]}]
        )
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(
                change, [{"value": first, "id": ids[0]}, {"value": second, "id": ids[1]}]
            )


def _pk(global_id: str) -> int:
    found = parse_global_id(global_id)
    assert found is not None
    return int(found[1])


def _internal_without_leak(body: dict[str, Any], *secrets: str) -> None:
    codes = {error["extensions"]["code"] for error in body["errors"]}
    assert codes == {"INTERNAL"}, body
    assert not any(secret in json.dumps(body) for secret in secrets)


def _check(backend: Backend, tmp_path: Path) -> tuple[int, str]:
    env = settings_env(tmp_path, backend.settings.database_url)
    env["KEHU_ENCRYPTION_KEYS"] = _keys(backend.settings.encryption_keys)
    env["KEHU_HASH_KEYS"] = _keys(backend.settings.hash_keys)
    # The in-process command installs its keys for the whole process: the backend's own.
    env["KEHU_AUDIT_KEYS"] = _keys(backend.settings.audit_keys)
    result = runner.invoke(app, ["rotate-keys", "--check"], env=env)
    return result.exit_code, result.output


def test_swapping_two_customers_sealed_phones_is_detected(backend: Backend, tmp_path: Path) -> None:
    first = create_customer(backend, phone="13900000781")
    second = create_customer(backend, phone="13900000782")
    ids = (_pk(first["id"]), _pk(second["id"]))
    query = "query($id: ID!) { customer(id: $id) { phone } }"
    with _swapped(backend.engine, "customers", "phone", ids):
        for customer in (first, second):
            body = backend.post(query, {"id": customer["id"]}).json()
            _internal_without_leak(body, "13900000781", "13900000782")
        code, output = _check(backend, tmp_path)
        assert code == 1
        assert f"customers.phone of row {ids[0]}" in output
        assert f"customers.phone of row {ids[1]}" in output
        assert "1390000078" not in output
    assert backend.gql(query, {"id": first["id"]})["customer"]["phone"] == "13900000781"
    code, output = _check(backend, tmp_path)
    assert code == 0, output


def test_swapping_two_process_instances_sealed_states_is_detected(
    backend: Backend, tmp_path: Path
) -> None:
    complaints = [submit(backend, bj_customer(backend)) for _ in range(2)]
    with backend.engine.connect() as connection:
        ids = tuple(
            connection.execute(
                text("SELECT instance_id FROM complaints WHERE id = :id"),
                {"id": complaint_pk(backend, c)},
            ).scalar_one()
            for c in complaints
        )
    tasks = [task_of(backend, "SUP0001", c, "Task_AssignHandler") for c in complaints]
    with _swapped(backend.engine, "process_instances", "state", ids):  # type: ignore[arg-type]
        for task in tasks:
            body = backend.post(
                "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { errors { code } } }",
                {"i": {"id": task, "data": {"handler": "SH01CH01"}}},
                staff="SUP0001",
            ).json()
            _internal_without_leak(body, "账户管理费")
        code, output = _check(backend, tmp_path)
        assert code == 1
        assert all(f"process_instances.state of row {i}" in output for i in ids)
    # Put back, the instances work again.
    assign(backend, complaints[0])
    assert read(backend, complaints[0])["handler"] == {"employeeNo": "SH01CH01"}


def sealed_before_row_binding(key: bytes, kid: str, plaintext: str, context: str) -> str:
    """A value as sealed before rows were bound: ``<key id>:<base64>``, the column as context."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{kid}:{base64.b64encode(nonce + sealed).decode()}"


def test_rotate_keys_binds_older_values_to_their_rows_and_resumes(
    cli_env: dict[str, str],
) -> None:
    assert runner.invoke(app, ["migrate"], env=cli_env).exit_code == 0
    assert runner.invoke(app, ["seed", "--customers", "6"], env=cli_env).exit_code == 0
    settings = Settings.from_env(cli_env)
    kid, key = settings.encryption_keys[0]
    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    with engine.begin() as connection:
        people = connection.execute(select(Customer.id, Customer.phone).order_by(Customer.id)).all()
        for row in people:  # the database as the previous release left it
            connection.execute(
                text("UPDATE customers SET phone = :phone WHERE id = :id"),
                {
                    "phone": sealed_before_row_binding(key, kid, row.phone, "customers.phone"),
                    "id": row.id,
                },
            )
        readable = connection.execute(select(Customer.phone).order_by(Customer.id)).scalars().all()
    assert readable == [row.phone for row in people]
    check = runner.invoke(app, ["rotate-keys", "--check"], env=cli_env)
    assert check.exit_code == 0 and f"{len(people)} still to re-seal" in check.output
    done = runner.invoke(app, ["rotate-keys"], env=cli_env)
    assert done.exit_code == 0 and f"Re-keyed {len(people)} rows" in done.output
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT phone FROM customers")).scalars().all()
        after = connection.execute(select(Customer.phone).order_by(Customer.id)).scalars().all()
    assert all(value.startswith(f"v2:{kid}:") for value in stored)
    assert after == readable
    again = runner.invoke(app, ["rotate-keys"], env=cli_env)
    assert again.exit_code == 0 and "Re-keyed 0 rows" in again.output
    check = runner.invoke(app, ["rotate-keys", "--check"], env=cli_env)
    assert "0 still to re-seal" in check.output
    engine.dispose()


def test_upgrading_seals_workflow_state_and_free_text_stored_in_clear(
    cli_env: dict[str, str],
) -> None:
    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    migrate.upgrade(engine, "0006")
    now = clock.now()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO process_versions (id, process_key, number, sha256, bpmn_xml, forms, "
                "deployed_at) VALUES (1, 'p', 1, 'x', '<xml/>', '{}', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO process_instances (id, version_id, business_key, status, state, "
                "revision, active_elements, completed_elements, started_at, updated_at) "
                "VALUES (7, 1, 'k', 'RUNNING', :state, 1, '[]', '[]', :now, :now)"
            ),
            {"state": json.dumps({"findings": _typed("old")}), "now": now},
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT state FROM process_instances")).scalar_one()
        state = connection.execute(select(ProcessInstance.state)).scalar_one()
    engine.dispose()
    assert stored.startswith("v2:") and not any(secret in stored for secret in SECRETS)
    assert json.loads(state) == {"findings": _typed("old")}


def test_every_sealed_column_is_bound_to_its_own_place_and_refuses_plain_writes(
    backend: Backend,
) -> None:
    sealed = {f"{table.name}.{name}" for table, names in sealed_tables() for name in names}
    assert {
        "customers.id_number",
        "customers.phone",
        "process_instances.state",
        "complaint_events.details",
        "complaint_messages.proof_of_delivery",
        "rectifications.actions",
        "rectifications.recurrence_check",
        "complaints.withdrawal_reason",
        "complaint_pauses.note",
        "share_requests.reason",
        "audit_log.detail",
    } <= sealed
    for table, names in sealed_tables():
        for name in names:
            assert table.c[name].type.context == f"{table.name}.{name}"  # type: ignore[attr-defined]
    # A statement that writes a sealed column without the row's key is refused, value unsaid.
    with pytest.raises(StatementError) as refused, backend.engine.begin() as connection:
        connection.execute(update(Customer).where(Customer.id == 1).values(phone="13900000999"))
    assert isinstance(refused.value.orig, UnboundValueError)
    assert "13900000999" not in str(refused.value)


def test_a_value_copied_from_another_rows_attribute_is_sealed_for_its_new_row(
    backend: Backend,
) -> None:
    first, second = create_customer(backend), create_customer(backend)
    with transaction(make_session_factory(backend.engine)) as session:
        source = session.get_one(Customer, _pk(first["id"]))
        target = session.get_one(Customer, _pk(second["id"]))
        source.address = "北京市朝阳区建国路1号"
        session.flush()  # the attribute now carries the first row's key
        target.address = source.address
    query = "query($id: ID!) { customer(id: $id) { address } }"
    for customer in (first, second):
        assert backend.gql(query, {"id": customer["id"]})["customer"]["address"] == (
            "北京市朝阳区建国路1号"
        )


def _swap_last_two(engine: Engine, table: str, column: str, key: tuple[str, ...]) -> list[str]:
    """Swap the stored values of ``column`` in the last two rows of ``table`` that have one;
    returns their keys. Swapping again puts them back."""
    where = " AND ".join(f"{part} = :{part}" for part in key)
    order = ", ".join(f"{part} DESC" for part in key)
    with engine.begin() as connection:
        rows = connection.execute(
            text(
                f"SELECT {', '.join(key)}, {column} FROM {table} "
                f"WHERE {column} IS NOT NULL ORDER BY {order} LIMIT 2"
            )
        ).all()
        for row, other in ((rows[0], rows[1]), (rows[1], rows[0])):
            connection.execute(
                text(f"UPDATE {table} SET {column} = :value WHERE {where}"),
                {**{part: row._mapping[part] for part in key}, "value": other._mapping[column]},
            )
    return ["/".join(str(row._mapping[part]) for part in key) for row in rows]


def test_swapping_free_text_between_rows_is_detected(backend: Backend, tmp_path: Path) -> None:
    """Each newly sealed column, the watchers' reason bound to its composite key included."""
    customers = _free_text_about_customers(backend)
    places = {
        ("information_sources", "detail", ("id",)),
        ("verifications", "note", ("id",)),
        ("consents", "evidence", ("id",)),
        ("share_grants", "reason", ("id",)),
        ("customer_watchers", "reason", ("customer_id", "staff_id")),
    }
    assert {f"{table}.{column}" for table, column, _ in places} == FREE_TEXT_COLUMNS
    assert _check(backend, tmp_path)[0] == 0
    swapped = {
        (table, column): _swap_last_two(backend.engine, table, column, key)
        for table, column, key in places
    }
    code, output = _check(backend, tmp_path)
    assert code == 1
    for (table, column), keys in swapped.items():
        for key in keys:
            assert f"{table}.{column} of row {key}" in output, (table, column, key, output)
    assert not any(secret in output for secret in SECRETS)
    # The API refuses to serve a swapped value rather than serve the other row's.
    body = backend.post(
        "query($id: ID!) { customer(id: $id) { id sources { detail } } }",
        {"id": customers[-1]["id"]},
    ).json()
    _internal_without_leak(body, *SECRETS)
    for table, column, key in places:  # put back (the backend is shared by later tests)
        _swap_last_two(backend.engine, table, column, key)
    assert _check(backend, tmp_path)[0] == 0


def test_upgrading_seals_free_text_about_customers_and_rotation_binds_older_values(
    cli_env: dict[str, str],
) -> None:
    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    migrate.upgrade(engine, "0010")
    now = clock.now()
    settings = Settings.from_env(cli_env)
    kid, key = settings.encryption_keys[0]
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO branches (id, code, name, city) VALUES (1, 'B', 'b', 'c')")
        )
        connection.execute(
            text(
                "INSERT INTO staff (id, employee_no, name, branch_id, roles, active, created_at) "
                "VALUES (3, 'RM9', 'n', 1, '[]', true, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO customers (id, version, name, gender, birth_date, id_number, "
                "id_number_hash, branch_id, created_at, updated_at) VALUES "
                "(5, 1, 'n', 'MALE', '1990-01-01', :id_number, 'h', 1, :now, :now)"
            ),
            {
                "now": now,
                "id_number": sealed_before_row_binding(key, kid, ID_NUMBER, "customers.id_number"),
            },
        )
        connection.execute(
            text(
                "INSERT INTO customer_watchers (customer_id, staff_id, reason, created_at) "
                "VALUES (5, 3, :reason, :now)"
            ),
            {"reason": _typed("watch"), "now": now},
        )
        connection.execute(
            text(
                "INSERT INTO verifications (id, customer_id, information_kind, result, note, "
                "verified_by_id, verified_at) VALUES (8, 5, 'BASIC', 'CORRECTED', :note, 3, :now)"
            ),
            {"note": _typed("verification"), "now": now},
        )
    migrate.upgrade(engine)
    from store.customers import CustomerWatcher, Verification

    def stored_and_read() -> tuple[list[str], list[str]]:
        with engine.connect() as connection:
            stored = [
                connection.execute(text("SELECT reason FROM customer_watchers")).scalar_one(),
                connection.execute(text("SELECT note FROM verifications")).scalar_one(),
            ]
            read_back = [
                connection.execute(select(CustomerWatcher.reason)).scalar_one(),
                connection.execute(select(Verification.note)).scalar_one(),
            ]
        return stored, read_back

    stored, read_back = stored_and_read()
    assert all(value.startswith("v2:") for value in stored)
    assert not any(secret in value for value in stored for secret in SECRETS)
    assert read_back == [_typed("watch"), _typed("verification")]
    # A reason sealed before row binding is read, and rotate-keys binds it to its row's key.
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE customer_watchers SET reason = :reason"),
            {
                "reason": sealed_before_row_binding(
                    key, kid, _typed("old"), "customer_watchers.reason"
                )
            },
        )
    assert stored_and_read()[1][0] == _typed("old")
    done = runner.invoke(app, ["rotate-keys"], env=cli_env)
    assert done.exit_code == 0, done.output
    stored, read_back = stored_and_read()
    assert stored[0].startswith(f"v2:{kid}:") and read_back[0] == _typed("old")
    engine.dispose()


def test_sealed_free_text_is_bounded_with_a_typed_error(backend: Backend) -> None:
    """A sealed column has no length of its own: the API bounds the text (on PostgreSQL a
    too-long reason or evidence was an INTERNAL error, on SQLite it was stored whole)."""
    customer = bj_customer(backend)
    refused = _consent(backend, customer, register_third_party(backend), evidence="证" * 301)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(["evidence"], "TOO_LONG")]
    granted = backend.gql(
        SHARE_GRANT,
        {
            "input": {
                "receivingRole": "COMPLAINT_HANDLER",
                "receivingBranch": branch_id(backend, "SH01SUP01"),
                "purpose": "CUSTOMER_SERVICE",
                "fieldGroups": ["contact"],
                "customers": [customer["id"]],
                "expiresAt": (clock.now() + timedelta(days=30)).isoformat(),
                "reason": "因" * 301,
            }
        },
        staff="SUP0001",
    )["createShareGrant"]
    assert granted["shareGrant"] is None
    assert [(e["field"], e["code"]) for e in granted["errors"]] == [(["reason"], "TOO_LONG")]
    exact = _consent(backend, customer, register_third_party(backend), evidence="证" * 300)
    assert exact["errors"] == []
