"""A database outage answers cleanly (issue 10): 503 in the GraphQL error shape, recovery
without a restart, and UNKNOWN_OUTCOME when the connection is lost during a COMMIT.

Kehu reaches PostgreSQL through a small TCP proxy that the test cuts and restores; the shared
cluster itself is never stopped. PostgreSQL only (a SQLite file cannot go away like this).
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, PendingRollbackError
from starlette.testclient import TestClient

from core.errors import UnknownOutcomeError
from core.settings import Settings
from kehu.app import create_app
from kehu.auth import mint_token
from kehu.seed import ensure_reference_data, seed_customers
from resolvers.shared import unit_of_work
from store import audit_chain, crypto, migrate
from store.db import error_code, is_outage, make_engine
from tests.conftest import POSTGRES_URL, SOURCE, new_id_number, scratch_database, settings_env

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="the proxy tests need PostgreSQL")


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut (open connections reset, new ones refused)
    and restored. ``cut_on_commit`` (bytes a statement contains): the connection that sent it
    has its next COMMIT forwarded, then everything is cut before the answer comes back."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.cut_on_commit: bytes | None = None
        self.cut_when: bytes | None = None  # cut as soon as a statement contains this
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.muted: set[socket.socket] = set()  # servers whose answers are dropped
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, server}
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, outgoing: bool) -> None:
        armed = False  # this connection wrote what ``cut_on_commit`` names
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if outgoing and self.cut_when and self.cut_when in data:
                    self.cut_when = None
                    self.cut()  # the statement never reaches the server
                    return
                marker = self.cut_on_commit
                if outgoing and marker and marker in data:
                    armed = True
                if armed and b"COMMIT" in data:
                    # The server commits (give it time to); its answer never reaches Kehu.
                    self.cut_on_commit = None
                    self.up = False
                    self.muted.add(target)
                    target.sendall(data)
                    time.sleep(0.5)
                    self.cut()
                    return
                if source not in self.muted:
                    target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self) -> None:
        self.up = False
        with self.lock:
            open_sockets = list(self.sockets)
        for sock in open_sockets:
            self._close(sock)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


class Kehu:
    def __init__(self, settings: Settings, client: TestClient) -> None:
        self.settings = settings
        self.client = client

    def post(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        return self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={
                "Authorization": f"Bearer {mint_token(self.settings, 'HO0001')}",
                "X-Purpose": "CUSTOMER_SERVICE",
            },
        )


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kehu, Proxy, Any]]:
    """Kehu on a database of its own, reached through the proxy (migrated and seeded directly)."""
    assert POSTGRES_URL is not None
    tmp: Path = tmp_path_factory.mktemp("outage")
    with scratch_database(POSTGRES_URL, "outage", tmp) as direct_url:
        direct_db = make_url(direct_url)
        proxy = Proxy(direct_db.host or "127.0.0.1", direct_db.port or 5432)
        proxied_url = direct_db.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        settings = Settings.from_env(
            settings_env(
                tmp, proxied_url, KEHU_RETRY_AFTER_SECONDS="7", KEHU_AUDIT_FLUSH_SECONDS="60"
            )
        )
        crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
        audit_chain.configure(settings.audit_keys)
        direct = make_engine(direct_url)
        migrate.upgrade(direct)
        ensure_reference_data(direct)
        seed_customers(direct, 3, seed=7, transactions_per_customer=1)
        app = create_app(settings)
        try:
            with TestClient(app) as client:
                yield Kehu(settings, client), proxy, direct
        finally:
            proxy.close()
            direct.dispose()


QUERY = "{ customers(first: 2) { edges { node { id name } } } }"

CREATE = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id name } errors { field code message } }
}
"""


def assert_outage(response: Any, code: str) -> list[dict[str, Any]]:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"].startswith("application/json")
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert errors and {e["extensions"]["code"] for e in errors} == {code}, errors
    assert all("Pending" not in e["message"] and "psycopg" not in e["message"] for e in errors)
    return errors


@needs_postgres
def test_queries_during_an_outage_answer_503_and_recover_without_restart(
    outage: tuple[Kehu, Proxy, Any],
) -> None:
    kehu, proxy, _ = outage
    assert kehu.post(QUERY).status_code == 200  # pooled connections exist now
    proxy.cut()
    try:
        for _ in range(3):  # pooled connections that died, then refused new ones
            assert_outage(kehu.post(QUERY), "UNAVAILABLE")
        assert_outage(kehu.post(CREATE, {"input": _customer()}), "UNAVAILABLE")
        health = kehu.client.get("/healthz")
        assert health.status_code == 503 and health.headers["retry-after"] == "7"
    finally:
        proxy.restore()
    response = kehu.post(QUERY)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


@needs_postgres
def test_a_connection_lost_in_the_middle_of_a_request_fails_each_field_as_unavailable(
    outage: tuple[Kehu, Proxy, Any],
) -> None:
    """The request's first statements ran; the connection dies before the next one: no field
    answers PendingRollbackError or INTERNAL, and the next request (database back) succeeds."""
    kehu, proxy, _ = outage
    listed = kehu.post("{ customers(first: 1) { edges { node { id } } } }").json()
    customer = listed["data"]["customers"]["edges"][0]["node"]["id"]
    # Nullable fields, each reading the database: an error in one does not stop the next.
    query = (
        f'{{ me {{ id }} first: node(id: "{customer}") {{ id }} '
        f'again: node(id: "{customer}") {{ id }} }}'
    )
    assert kehu.post(query).status_code == 200
    proxy.cut_when = b"FROM customers"
    try:
        errors = assert_outage(kehu.post(query), "UNAVAILABLE")
        assert {tuple(e["path"]) for e in errors} == {("first",), ("again",)}
    finally:
        proxy.cut_when = None
        proxy.restore()
    response = kehu.post(query)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


@needs_postgres
def test_a_connection_lost_during_commit_answers_unknown_outcome(
    outage: tuple[Kehu, Proxy, Any],
) -> None:
    kehu, proxy, direct = outage
    assert kehu.post(QUERY).status_code == 200
    values = _customer()
    proxy.cut_on_commit = b"INSERT INTO customers"
    try:
        errors = assert_outage(kehu.post(CREATE, {"input": values}), "UNKNOWN_OUTCOME")
        assert "may or may not" in errors[0]["message"]
    finally:
        proxy.cut_on_commit = None
        proxy.restore()
    # It was in fact committed: exactly what UNKNOWN_OUTCOME warns about.
    with direct.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM customers")).scalar_one()
    assert count == 4
    assert kehu.post(QUERY).status_code == 200


def test_outage_errors_are_classified() -> None:
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert is_outage(lost)
    assert is_outage(PendingRollbackError("rolled back due to a previous exception"))
    invalidated = DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    assert is_outage(invalidated)
    wrapped = RuntimeError("while answering")
    wrapped.__cause__ = lost
    assert is_outage(wrapped)
    assert not is_outage(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_outage(ValueError("x"))
    assert not is_outage(None)


def test_a_database_error_is_logged_by_its_code_not_its_message(tmp_path: Path) -> None:
    """The warning logged with a 503 names the driver's error and code (here SQLite's), so a
    busy database, a stale snapshot and a lost connection tell apart — never the statement or
    its values."""
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x TEXT)")
    holder.execute("BEGIN IMMEDIATE")  # another writer, holding the lock
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with pytest.raises(OperationalError) as raised, engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES ('张三 110101199003077777')"))
    finally:
        holder.close()
        engine.dispose()
    assert is_outage(raised.value)
    assert error_code(raised.value) == "OperationalError SQLITE_BUSY"
    wrapped = RuntimeError("while answering")
    wrapped.__cause__ = raised.value
    assert error_code(wrapped) == "OperationalError SQLITE_BUSY"
    assert error_code(PendingRollbackError("rolled back")) == "PendingRollbackError"


class _Session:
    """Enough of a session for ``unit_of_work.run``, whose COMMIT fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.info: dict[str, Any] = {}
        self.error = error
        self.rolled_back = False

    def flush(self) -> None:
        pass

    def get_bind(self) -> Any:
        return SimpleNamespace(dialect=SimpleNamespace(name="postgresql"))

    def connection(self) -> Any:
        return None

    def commit(self) -> None:
        raise self.error

    def rollback(self) -> None:
        self.rolled_back = True


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            OperationalError("COMMIT", {}, Exception("server closed the connection")),
            UnknownOutcomeError,
        ),
        (IntegrityError("COMMIT", {}, Exception("deferred constraint")), IntegrityError),
    ],
)
def test_a_commit_lost_to_an_outage_is_an_unknown_outcome(
    monkeypatch: pytest.MonkeyPatch, error: Exception, expected: type[Exception]
) -> None:
    """The classification the proxy test provokes on PostgreSQL, on every backend: only a lost
    connection at COMMIT is UNKNOWN_OUTCOME; a refused COMMIT stays what it was."""
    monkeypatch.setattr(unit_of_work.audit, "append", lambda *_args: None)
    session = _Session(error)
    with pytest.raises(expected) as raised:
        unit_of_work.run(session, unit_of_work.WORKER, "r", "op", lambda _s: None)  # type: ignore[arg-type]
    assert session.rolled_back
    if expected is UnknownOutcomeError:
        assert raised.value.code == "UNKNOWN_OUTCOME"  # type: ignore[attr-defined]


def _customer() -> dict[str, Any]:
    return {"name": "断线客户", "idNumber": new_id_number(), "source": SOURCE}
