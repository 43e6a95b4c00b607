"""Engine and session factory, with the per-backend settings that matter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url, text
from sqlalchemy.orm import Session, sessionmaker

CONNECT_TIMEOUT = 10

# Errors that mean the database is unreachable or went away, not that a statement was wrong:
# connection refused or reset, server closed the connection, a pool timeout, and a session or
# connection that must be rolled back after one of those (every change runs in the unit of
# work, which rolls back on any error, so a pending rollback only follows a lost connection).
OUTAGE_ERRORS = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.DisconnectionError,
    exc.PendingRollbackError,
    exc.TimeoutError,
)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # A database host that does not answer at all fails a connection after this many seconds
    # (503 UNAVAILABLE) instead of holding the request for the operating system's TCP timeout;
    # ``?connect_timeout=`` in the URL decides instead.
    if "connect_timeout" not in make_url(url).query:
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def is_outage(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) means the database is unavailable (``OUTAGE_ERRORS``,
    or any DBAPI error on a connection that was invalidated)."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, OUTAGE_ERRORS):
            return True
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return True
        error = error.__cause__
        seen += 1
    return False


def error_code(error: BaseException | None) -> str:
    """What a database error was, without its message (which may quote values): the class of
    the driver's exception and its code — SQLite's result code name (``SQLITE_BUSY_SNAPSHOT``),
    PostgreSQL's SQLSTATE (``57P01``) — or the class of ``error`` when no driver error caused it."""
    found = error
    seen = 0
    while found is not None and seen < 5:
        original = getattr(found, "orig", None) if isinstance(found, exc.DBAPIError) else None
        if original is not None:
            code = getattr(original, "sqlite_errorname", None) or getattr(
                original, "sqlstate", None
            )
            name = type(original).__name__
            return f"{name} {code}" if code else name
        found = found.__cause__
        seen += 1
    return type(error).__name__


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with factory() as session, session.begin():
        yield session


def take_write_lock(bind: Session | Connection) -> None:
    """On SQLite, make this transaction the writer before it reads anything (``BEGIN
    IMMEDIATE``); it waits its turn (the busy timeout) while another connection writes.

    A SQLite transaction that reads first holds a snapshot: when it then writes, it fails at once
    ("database is locked": ``SQLITE_BUSY_SNAPSHOT`` when another connection committed since the
    read, ``SQLITE_BUSY`` without waiting while one is writing) — the busy timeout does not apply.
    The no-op UPDATE takes the write lock (pysqlite begins the transaction before it); in a
    transaction that already writes it changes nothing. Other databases lock rows (``FOR
    UPDATE``), so this does nothing there.
    """
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    if dialect.name == "sqlite":
        bind.execute(text("UPDATE process_instances SET revision = revision WHERE 0 = 1"))


class StatementCounter:
    """Counts SQL statements sent through an engine (used by tests and benchmarks)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._engine = engine

    def _on_execute(self, *_args: Any) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self._engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._on_execute)
