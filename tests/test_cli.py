"""The ``kehu`` command on its own database: migrate, seed, token, backup/restore, rotate-keys."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from core.settings import Settings, new_key_entry
from kehu.auth import employee_no_from
from kehu.cli import app
from store import crypto
from store.customers import Customer
from store.db import make_engine
from tests.conftest import Backend, command_env

runner = CliRunner()


def _run(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _customers(env: dict[str, str]) -> int:
    engine = make_engine(env["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        count = int(connection.scalar(select(func.count()).select_from(Customer)))
    engine.dispose()
    return count


def test_migrate_seed_once_and_token(cli_env: dict[str, str]) -> None:
    _run(cli_env, "migrate")
    output = _run(cli_env, "seed", "--customers", "25", "--if-empty")
    assert "Seeded 25 customers" in output and "customers/s" in output
    assert "not seeding again" in _run(cli_env, "seed", "--customers", "25", "--if-empty")
    assert _customers(cli_env) == 25
    tokens = _run(cli_env, "token", "--demo")
    settings = Settings.from_env(cli_env)
    for line in tokens.splitlines():
        if line.startswith("eyJ"):
            assert employee_no_from(settings, f"Bearer {line}")
    assert "RELATIONSHIP_MANAGER" in tokens
    unknown = runner.invoke(app, ["token", "NOBODY"], env=cli_env)
    assert unknown.exit_code == 1 and "Unknown staff" in unknown.output
    # Tokens never outlive KEHU_TOKEN_MAX_LIFETIME_MINUTES (720 by default).
    too_long = runner.invoke(app, ["token", "RM0001", "--ttl-minutes", "721"], env=cli_env)
    assert too_long.exit_code == 2 and "KEHU_TOKEN_MAX_LIFETIME_MINUTES" in too_long.output
    assert employee_no_from(
        settings, f"Bearer {_run(cli_env, 'token', 'RM0001', '--ttl-minutes', '720').strip()}"
    )


def test_classify_runs_the_bank_or_one_branch_SEG_4(cli_env: dict[str, str]) -> None:
    _run(cli_env, "migrate")
    seeded = _run(cli_env, "seed", "--customers", "12", "--complaints", "0")
    assert "Classified 12 customers" in seeded  # the demo customers get their segments
    output = _run(cli_env, "classify")
    assert (
        "(value model version 1, risk model version 1): 12 customers classified, "
        "0 segments changed" in output
    )
    assert "Classifying customers" in output  # the progress bar
    branch = _run(cli_env, "classify", "--branch", "BJ01")
    assert "customers classified" in branch
    unknown = runner.invoke(app, ["classify", "--branch", "XX99"], env=cli_env)
    assert unknown.exit_code == 1 and "No branch with code XX99" in unknown.output
    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        counted = connection.scalar(text("SELECT COUNT(*) FROM customer_segments"))
        runs = connection.scalar(text("SELECT COUNT(*) FROM segment_runs"))
        audited = connection.scalar(
            text("SELECT COUNT(*) FROM audit_log WHERE operation = 'classifyCustomers'")
        )
    engine.dispose()
    # Each run: asked for, then applied (two CHANGE entries); the seed's run is demo data.
    assert (counted, runs, audited) == (12, 3, 4)


def test_a_bad_setting_stops_the_command_with_its_name(cli_env: dict[str, str]) -> None:
    result = runner.invoke(app, ["migrate"], env={**cli_env, "KEHU_MAX_DEPTH": "-3"})
    assert result.exit_code == 2
    assert "KEHU_MAX_DEPTH" in result.output


def test_backup_and_restore_round_trip_INFO_7(cli_env: dict[str, str], tmp_path: Path) -> None:
    _run(cli_env, "migrate")
    _run(cli_env, "seed", "--customers", "15")
    target = tmp_path / "kehu.backup"
    _run(cli_env, "backup", str(target))
    assert target.stat().st_size > 0
    _run(cli_env, "seed", "--customers", "5", "--random-seed", "99")
    assert _customers(cli_env) == 20
    _run(cli_env, "restore", str(target))
    assert _customers(cli_env) == 15
    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        numbers = list(connection.scalars(select(Customer.id_number)))
    engine.dispose()
    assert len(numbers) == 15 and all(len(n) == 18 for n in numbers)
    refused = runner.invoke(app, ["backup", str(target)], env=cli_env)
    assert refused.exit_code == 1 and "exists already" in refused.output


def test_rotate_keys_re_encrypts_and_search_still_works_INFO_7(cli_env: dict[str, str]) -> None:
    _run(cli_env, "migrate")
    _run(cli_env, "seed", "--customers", "12")
    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        number = connection.scalar(select(Customer.id_number).order_by(Customer.id).limit(1))
    rotated = {
        **cli_env,
        "KEHU_ENCRYPTION_KEYS": new_key_entry("k2") + "," + cli_env["KEHU_ENCRYPTION_KEYS"],
        "KEHU_HASH_KEYS": new_key_entry("h2") + "," + cli_env["KEHU_HASH_KEYS"],
    }
    assert "Re-keyed" in _run(rotated, "rotate-keys")
    only_new = {
        **rotated,
        "KEHU_ENCRYPTION_KEYS": rotated["KEHU_ENCRYPTION_KEYS"].split(",")[0],
        "KEHU_HASH_KEYS": rotated["KEHU_HASH_KEYS"].split(",")[0],
    }
    settings = Settings.from_env(only_new)
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    with engine.connect() as connection:
        raw = list(connection.execute(text("SELECT id_number, id_number_hash FROM customers")))
        found = connection.scalar(
            select(Customer.id).where(
                Customer.id_number_hash.in_(crypto.cipher().blind_indexes(number))
            )
        )
        readable = list(connection.scalars(select(Customer.phone)))
    engine.dispose()
    assert all(sealed.startswith("v2:k2:") and hashed.startswith("h2:") for sealed, hashed in raw)
    assert found is not None
    assert len(readable) == 12


def test_export_schema_check(cli_env: dict[str, str]) -> None:
    assert "is current" in _run(cli_env, "export-schema", "--check")


def _check(staff: str, type_name: str, field: str, *more: str) -> list[str]:
    """The arguments of ``kehu authz check``."""
    return ["authz", "check", "--staff", staff, "--type", type_name, "--field", field, *more]


def test_authz_check_says_the_effect_and_the_rule(cli_env: dict[str, str]) -> None:
    _run(cli_env, "migrate")
    _run(cli_env, "seed", "--customers", "5")
    masked = _run(
        cli_env, "authz", "check", "--staff", "RM0001", "--type", "Customer", "--field", "idNumber"
    )
    assert masked.startswith("MASKED")
    assert "p, RELATIONSHIP_MANAGER, Customer.idNumber, masked, allow" in masked
    denied = _run(
        cli_env, "authz", "check", "--staff", "MKT0001", "--type", "Customer", "--field", "phone"
    )
    assert denied.startswith("DENIED")
    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        others = connection.scalar(
            text(
                "SELECT c.id FROM customers c JOIN staff s ON s.id = c.relationship_manager_id "
                "WHERE s.employee_no <> 'RM0001' ORDER BY c.id LIMIT 1"
            )
        )
    engine.dispose()
    outside = _run(cli_env, *_check("RM0001", "Customer", "phone", "--customer", str(others)))
    assert outside.startswith("DENIED") and "outside" in outside


def test_authz_check_answers_write_questions(cli_env: dict[str, str]) -> None:
    _run(cli_env, "migrate")
    _run(cli_env, "seed", "--customers", "2")

    def check(staff: str, type_name: str, field: str, action: str) -> str:
        return _run(cli_env, *_check(staff, type_name, field, "--action", action))

    risk = check("RISK0001", "RiskAssessment", "riskTolerance", "write")
    assert risk.startswith("FULL") and "p, RISK_OFFICER, credit_risk, write, allow" in risk
    assert check("RISK0001", "Customer", "phone", "write").startswith("DENIED")
    assert check("AUD0001", "Customer", "phone", "write").startswith("DENIED")
    assert check("MKT0001", "customer", "create", "use").startswith("DENIED")
    created = check("RM0001", "customer", "create", "use")
    assert created.startswith("FULL") and "customer:create, use, allow" in created
    wrong = runner.invoke(
        app, _check("RM0001", "Customer", "phone", "--action", "delete"), env=cli_env
    )
    assert wrong.exit_code == 2


def test_authz_test_fails_on_a_wrong_expectation(cli_env: dict[str, str], tmp_path: Path) -> None:
    table = tmp_path / "expect.csv"
    table.write_text("HEAD_OFFICE, Customer.idNumber, FULL\nAUDITOR, Customer.phone, FULL\n")
    result = runner.invoke(app, ["authz", "test", str(table)], env=cli_env)
    assert result.exit_code == 1
    assert "line 2: AUDITOR Customer.phone: expected FULL, got MASKED" in result.output


@pytest.fixture
def live_env(backend: Backend, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings of the API's own database, for commands that must see what the API changed."""
    with command_env(backend, tmp_path, backend.settings.database_url) as env:
        yield env


EXPLAIN = """query($type: String!, $field: String!, $staff: String) {
  explainAccess(type: $type, field: $field, employeeNo: $staff) { effect rule } }"""
RULE = {
    "role": "RELATIONSHIP_MANAGER",
    "object": "Customer.idNumber",
    "action": "full",
    "effect": "deny",
}
CHANGE_RULE = """mutation($input: PolicyRuleInput!) { %s(input: $input) { errors { code } } }"""


def test_authz_check_answers_from_the_live_policy_like_explain_access(
    backend: Backend, live_env: dict[str, str]
) -> None:
    """After a live change through the API the command and the API give the same answer; the
    reviewed file (``--file``) still says what it says."""
    question = {"type": "Customer", "field": "idNumber", "staff": "RM0001"}

    def both() -> tuple[str, str]:
        api = backend.gql(EXPLAIN, question, staff="SEC0001")["explainAccess"]
        answer, source = _run(live_env, *_check("RM0001", "Customer", "idNumber")).splitlines()
        assert answer == f"{api['effect']} — {api['rule']}"
        assert source.startswith("policy: live version")
        return api["effect"], answer

    assert both()[0] == "MASKED"
    removed = backend.gql(CHANGE_RULE % "removePolicyRule", {"input": RULE}, staff="SEC0001")
    try:
        assert removed["removePolicyRule"]["errors"] == []
        assert both()[0] == "FULL"
        reviewed = _run(
            live_env, *_check("RM0001", "Customer", "idNumber", "--file", "authz/policy.csv")
        )
        assert reviewed.startswith("MASKED")
    finally:
        added = backend.gql(CHANGE_RULE % "addPolicyRule", {"input": RULE}, staff="SEC0001")
        assert added["addPolicyRule"]["errors"] == []
    assert both()[0] == "MASKED"


def test_changes_at_the_command_line_name_the_operator(cli_env: dict[str, str]) -> None:
    """``kehu deploy`` and ``kehu authz import`` are audited like ``kehu restore``: the CHANGE
    entry (and the policy version) names the operating-system user who ran them, not just "cli",
    and the chain verifies after them."""
    _run(cli_env, "migrate")
    _run(cli_env, "deploy", "workflows/complaint.bpmn")
    _run(cli_env, "authz", "import", "authz/policy.csv")
    operator = f"cli:{getpass.getuser()}"[:32]
    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    with engine.connect() as connection:
        entries = connection.execute(
            text("SELECT actor, operation FROM audit_log WHERE action = 'CHANGE' ORDER BY id")
        ).all()
        changed_by = connection.scalar(
            text("SELECT changed_by FROM policy_versions ORDER BY version DESC LIMIT 1")
        )
    engine.dispose()
    assert [tuple(entry) for entry in entries][-2:] == [
        (operator, "deployProcess"),
        (operator, "importPolicy"),
    ]
    assert changed_by == operator
    assert "the hash chain is intact" in _run(cli_env, "audit", "verify")
