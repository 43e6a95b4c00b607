"""Test set-up: the real app over HTTP, on SQLite always and on PostgreSQL when configured.

``KEHU_TEST_POSTGRES_URL`` (set by ``.ci/run``) adds a PostgreSQL run of the whole suite. In CI
(``CI=true``) a missing PostgreSQL is a failure, not a skip.
"""

from __future__ import annotations

import base64
import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient
from stdnum.cn import ric

from core.settings import Settings, new_key_entry
from kehu.app import create_app
from kehu.auth import mint_token
from kehu.seed import ensure_reference_data, seed_customers
from store import audit_chain, crypto, migrate
from store.db import make_engine

POSTGRES_URL = os.environ.get("KEHU_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
SEEDED_CUSTOMERS = 40


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") == "true" and not POSTGRES_URL:
        raise pytest.UsageError("CI must run on PostgreSQL too: KEHU_TEST_POSTGRES_URL is not set")


def settings_env(var_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "KEHU_VAR_DIR": str(var_dir),
        "KEHU_DATABASE_URL": database_url,
        "KEHU_JWT_SECRET": "test-secret-that-is-long-enough-for-hs256-0123456789",
        "KEHU_ENCRYPTION_KEYS": new_key_entry("t1"),
        "KEHU_HASH_KEYS": new_key_entry("h1"),
        "KEHU_AUDIT_KEYS": new_key_entry("a1"),
        "KEHU_AUDIT_CHECKPOINT_DIR": str(var_dir / "audit-checkpoints"),
        "KEHU_NOTIFICATION_POLL_SECONDS": "0.05",
        # Idle subscriptions re-check their caller quickly, so tests need not wait.
        "KEHU_SUBSCRIPTION_RECHECK_SECONDS": "0.2",
        # Long enough that per-process caches never expire in the middle of a measurement; the
        # tests that need another process to see a change set their own interval.
        "KEHU_POLICY_POLL_SECONDS": "60",
        # Tests fire timers themselves (kehu.worker.run_once with a moved clock).
        "KEHU_EMBEDDED_WORKER": "false",
    }
    env.update(extra)
    return env


def reset_database(url: str, tmp: Path) -> str:
    """An empty database at ``url`` (PostgreSQL: a fresh schema) or a new SQLite file."""
    if url == "sqlite":
        return f"sqlite:///{tmp / 'kehu.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@dataclass
class Backend:
    """One running Kehu against one database."""

    name: str
    settings: Settings
    engine: Engine
    client: TestClient

    def token(self, employee_no: str = "HO0001") -> str:
        return mint_token(self.settings, employee_no)

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        staff: str = "HO0001",
        headers: dict[str, str] | None = None,
        purpose: str | None = "CUSTOMER_SERVICE",
    ) -> Any:
        all_headers = {"Authorization": f"Bearer {self.token(staff)}"} if staff else {}
        if purpose:
            all_headers["X-Purpose"] = purpose
        all_headers.update(headers or {})
        return self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )

    def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        staff: str = "HO0001",
        purpose: str | None = "CUSTOMER_SERVICE",
    ) -> Any:
        """Run an operation that must succeed; return its ``data``."""
        response = self.post(query, variables, staff=staff, purpose=purpose)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    tmp = tmp_path_factory.mktemp(request.param)
    url = reset_database(POSTGRES_URL if request.param == "postgresql" else "sqlite", tmp)  # type: ignore[arg-type]
    settings = Settings.from_env(settings_env(tmp, url))
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    engine = make_engine(settings.database_url, hide_parameters=True)
    migrate.upgrade(engine)
    ensure_reference_data(engine)
    seed_customers(engine, SEEDED_CUSTOMERS, seed=7, transactions_per_customer=3)
    app = create_app(settings, engine)
    with TestClient(app) as client:
        yield Backend(request.param, settings, engine, client)
    engine.dispose()


_sequence = itertools.count(1)


def new_id_number(birth: date = date(1988, 5, 17), male: bool = True) -> str:
    """A valid resident ID number no other test uses (area 650102 is not in the demo data)."""
    n = next(_sequence)
    sequence = (n % 499) * 2 + (1 if male else 0)
    # Past 499 numbers a day, earlier years; a 29 February stays on leap years (4-year steps).
    years = (n // 499) * (4 if (birth.month, birth.day) == (2, 29) else 1)
    day = birth.replace(year=birth.year - years)
    body = f"650102{day:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


SOURCE = {"kind": "BUSINESS_TRANSACTION", "detail": "account opening at the counter"}

CREATE = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id version name idNumber gender birthDate phone email address branch { code } }
    errors { field code message }
  }
}
"""


def branch_id(backend: Backend, staff: str) -> str:
    """The global ID of a staff member's branch."""
    return str(backend.gql("{ me { branch { id } } }", staff=staff)["me"]["branch"]["id"])


def create_customer(backend: Backend, staff: str = "HO0001", **fields: Any) -> dict[str, Any]:
    """Create a customer through the API and return it."""
    values: dict[str, Any] = {"name": "测试客户", "idNumber": new_id_number(), "source": SOURCE}
    values.update(fields)
    payload = backend.gql(CREATE, {"input": values}, staff=staff)["createCustomer"]
    assert payload["errors"] == [], payload["errors"]
    return payload["customer"]


def create_errors(backend: Backend, **fields: Any) -> list[dict[str, Any]]:
    """Try to create a customer that must be refused; return the field errors."""
    values: dict[str, Any] = {"name": "错误输入", "idNumber": new_id_number(), "source": SOURCE}
    values.update(fields)
    payload = backend.gql(CREATE, {"input": values})["createCustomer"]
    assert payload["customer"] is None
    return payload["errors"]


def _keys(keys: tuple[tuple[str, bytes], ...]) -> str:
    return ",".join(f"{kid}:{base64.urlsafe_b64encode(key).decode()}" for kid, key in keys)


@contextmanager
def scratch_database(database_url: str, label: str, tmp: Path) -> Iterator[str]:
    """The URL of a new, empty database beside ``database_url`` (same backend), dropped after.

    PostgreSQL gets a new database each time: dropping a reused one can collide with autovacuum
    workers, and it is dropped WITH (FORCE) because in-process commands leave pooled connections.
    """
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp / f'{label}.db'}"
        return
    base = make_url(database_url)
    name = f"{base.database}_{label}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        except Exception:
            pass  # a leftover is dropped by the next CI run (.ci/run)
        finally:
            admin.dispose()


@contextmanager
def command_env(backend: Backend, tmp_path: Path, database_url: str) -> Iterator[dict[str, str]]:
    """Settings for a CLI command on ``database_url`` with the suite's keys; the process-wide
    cipher and audit keys (which commands reconfigure) are restored after."""
    env = settings_env(tmp_path, database_url)
    env["KEHU_ENCRYPTION_KEYS"] = _keys(backend.settings.encryption_keys)
    env["KEHU_HASH_KEYS"] = _keys(backend.settings.hash_keys)
    env["KEHU_AUDIT_KEYS"] = _keys(backend.settings.audit_keys)
    env["KEHU_JWT_SECRET"] = backend.settings.jwt_secret
    try:
        yield env
    finally:
        crypto.configure(
            crypto.FieldCipher(backend.settings.encryption_keys, backend.settings.hash_keys)
        )
        audit_chain.configure(backend.settings.audit_keys)


@pytest.fixture
def cli_env(backend: Backend, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings for a second, empty database of the same backend."""
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database(backend.settings.database_url, "cli", tmp_path))
        yield stack.enter_context(command_env(backend, tmp_path, url))


POLICY_RULE = """mutation($input: PolicyRuleInput!) { %s(input: $input) { errors { code } } }"""


@contextmanager
def policy_rule(backend: Backend, rule: dict[str, str]) -> Iterator[None]:
    """The live policy with ``rule`` added (by a security admin) for the block, then removed."""
    added = backend.gql(POLICY_RULE % "addPolicyRule", {"input": rule}, staff="SEC0001")
    assert added["addPolicyRule"]["errors"] == []
    try:
        yield
    finally:
        removed = backend.gql(POLICY_RULE % "removePolicyRule", {"input": rule}, staff="SEC0001")
        assert removed["removePolicyRule"]["errors"] == []
