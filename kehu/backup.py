"""Consistent backups and restores (INFO-7): SQLite online backup API, pg_dump/pg_restore.

A restore must not silently replace the audit log (SHARE-4): ``live_audit_end`` and
``backup_audit_end`` read where the live hash chain and the backup's end, so ``kehu restore``
(``restore_recorded``) can refuse a backup whose chain does not continue the live one.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from core.settings import Settings
from resolvers import audit
from store import migrate
from store.audit import GENESIS_HASH, AuditEntry


class BackupError(Exception):
    """A backup or restore could not be made; the message says why."""


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, which travels in PGPASSWORD instead."""
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(program: str, arguments: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [program, *arguments], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{program} failed: {result.stderr.strip()}")


def backup(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database to ``target`` while it stays in use."""
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    if database_url.startswith("sqlite"):
        source = sqlite3.connect(_sqlite_path(database_url))
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
        return
    dsn, env = _libpq(database_url)
    _run("pg_dump", ["--format=custom", "--no-owner", f"--file={target}", dsn], env)


def restore(database_url: str, source: Path) -> None:
    """Replace the database's content by the backup in ``source`` (stop the servers first)."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} is not a backup file")
    if database_url.startswith("sqlite"):
        backup_db = sqlite3.connect(source)
        live = sqlite3.connect(_sqlite_path(database_url))
        try:
            integrity = backup_db.execute("PRAGMA integrity_check").fetchone()
            if integrity is None or integrity[0] != "ok":
                raise BackupError(f"{source} is not an intact SQLite backup")
            with live:
                backup_db.backup(live)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a SQLite backup: {exc}") from exc
        finally:
            live.close()
            backup_db.close()
        return
    dsn, env = _libpq(database_url)
    options = ["--clean", "--if-exists", "--no-owner", "--single-transaction", f"--dbname={dsn}"]
    _run("pg_restore", [*options, str(source)], env)


@dataclass(frozen=True)
class ChainEnd:
    """Where an audit chain ends: its entry count and last hash, and the hash at one position."""

    entries: int
    head: str
    # The hash of the entry the other chain ends at (None: this chain has no such entry).
    hash_at: str | None = None


def live_audit_end(engine: Engine) -> ChainEnd:
    """The end of the live database's audit chain (empty before migrations)."""
    if not inspect(engine).has_table("audit_log"):
        return ChainEnd(0, GENESIS_HASH)
    with engine.connect() as connection:
        row = connection.execute(
            select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
        ).first()
    return ChainEnd(0, GENESIS_HASH) if row is None else ChainEnd(row.id, row.hash)


def backup_audit_end(database_url: str, source: Path, at: int) -> ChainEnd:
    """The end of the audit chain in a backup file, and the hash of its entry ``at``."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} is not a backup file")
    hashes: dict[int, str] = {}
    if database_url.startswith("sqlite"):
        try:
            backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            try:
                if backup_db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'"
                ).fetchone():
                    rows = backup_db.execute(
                        "SELECT id, hash FROM audit_log WHERE id = ? OR id = "
                        "(SELECT MAX(id) FROM audit_log)",
                        (at,),
                    ).fetchall()
                    hashes = {int(i): str(h) for i, h in rows}
            finally:
                backup_db.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a SQLite backup: {exc}") from exc
    else:
        hashes = _dumped_audit_hashes(source, at)
    if not hashes:
        return ChainEnd(0, GENESIS_HASH, GENESIS_HASH if at == 0 else None)
    last = max(hashes)
    return ChainEnd(last, hashes[last], GENESIS_HASH if at == 0 else hashes.get(at))


def _dumped_audit_hashes(source: Path, at: int) -> dict[int, str]:
    """Entry ``at`` and the last entry of audit_log in a pg_dump archive, as {id: hash}."""
    rows = list(_dumped_audit_entries(source))  # ascending ids
    hashes = {row["id"]: row["hash"] for row in rows if row["id"] == at}
    if rows:
        hashes[rows[-1]["id"]] = rows[-1]["hash"]
    return hashes


# pg_dump's COPY text format: backslash escapes, \N for NULL (PostgreSQL docs, "COPY").
_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")
_JSON_COLUMNS = ("roles", "customer_ids", "fields", "via")


def _copy_value(text: str) -> str | None:
    if text == "\\N":
        return None

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] == "x" and len(code) > 1:
            return chr(int(code[1:], 16))
        if code.isdigit():
            return chr(int(code, 8))
        return _COPY_ESCAPES.get(code, code)

    return _COPY_ESCAPE.sub(one, text)


def _dumped_audit_entries(source: Path) -> Iterator[dict[str, Any]]:
    """The audit_log rows of a pg_dump archive, typed as the database returns them."""
    process = subprocess.Popen(
        ["pg_restore", "--data-only", "--table=audit_log", "--file=-", str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    columns: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for line in process.stdout:
        if columns is None:
            if line.startswith("COPY ") and ".audit_log (" in line:
                columns = [c.strip() for c in line.split("(", 1)[1].split(")", 1)[0].split(",")]
            continue
        if line.rstrip("\n") == "\\.":
            columns = None
            continue
        values = [_copy_value(v) for v in line.rstrip("\n").split("\t")]
        row: dict[str, Any] = dict(zip(columns, values, strict=True))
        row["id"] = int(row["id"])
        # Typed where present: a backup of an older schema lacks columns (it then fails to
        # verify, but its ids and hashes are still read).
        if row.get("actor_id") is not None:
            row["actor_id"] = int(row["actor_id"])
        if row.get("at") is not None:
            row["at"] = datetime.fromisoformat(row["at"]).astimezone(UTC)
        for name in _JSON_COLUMNS:
            if row.get(name) is not None:
                row[name] = orjson.loads(row[name])
        rows.append(row)
    stderr = process.stderr.read() if process.stderr else ""
    if process.wait() != 0:
        raise BackupError(f"pg_restore failed: {stderr.strip()}")
    return iter(sorted(rows, key=lambda r: int(r["id"])))


def backup_audit_problem(
    database_url: str, source: Path, checkpoints: Sequence[audit.Checkpoint]
) -> str | None:
    """Why the audit log in a backup file does not verify (with the live checkpoints), or None.

    The whole chain is recomputed: a backup ending on the live head may still hold an earlier
    entry that was edited, and restoring it would replace the intact live entries.
    """
    try:
        if database_url.startswith("sqlite"):
            engine = create_engine(f"sqlite:///file:{Path(source).resolve()}?mode=ro&uri=true")
            try:
                with engine.connect() as connection:
                    result = audit.verify(connection, checkpoints)
            finally:
                engine.dispose()
        else:
            result = audit.verify_entries(_dumped_audit_entries(source), checkpoints)
    except (SQLAlchemyError, KeyError, ValueError, TypeError) as exc:
        return f"its audit log cannot be read ({type(exc).__name__})"
    return result.problem


@dataclass(frozen=True)
class RestoreOutcome:
    refused: bool
    message: str
    # Set when the restored audit log does not verify (the restore is recorded all the same).
    problem: str | None = None


def _file_digest(source: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def restore_recorded(
    settings: Settings, engine: Engine, source: Path, *, force: bool = False
) -> RestoreOutcome:
    """Restore ``source`` unless its audit log does not continue the live one; record it.

    The backup continues the live chain when it holds every live entry unchanged (the live
    chain is a prefix of the backup's: same hash at the live chain's last position). Otherwise
    restoring would drop or replace audit entries, which needs ``force``. After the restore the
    schema is brought up to date, a RESTORE entry (who, which file, forced or not, both chain
    ends) is appended, and a checkpoint is signed; after a forced restore it is a "restore"
    checkpoint, which the earlier checkpoints (of the replaced log) no longer apply beyond.
    """
    source = Path(source)
    live = live_audit_end(engine)
    backup_end = backup_audit_end(settings.database_url, source, live.entries)
    continues = backup_end.entries >= live.entries and backup_end.hash_at == live.head
    # Ending on the live head is not enough: every entry of the backup must verify.
    checkpoints, _ = audit.read_checkpoints(settings.audit_checkpoint_dir)
    broken = backup_audit_problem(settings.database_url, source, checkpoints) if continues else None
    continues = continues and broken is None
    if not continues and not force:
        return RestoreOutcome(
            True,
            f"Refused: the backup's audit log does not continue the live one (live: "
            f"{live.entries} entries ending {live.head[:12]}; backup: {backup_end.entries} "
            f"entries{'' if backup_end.hash_at else ', without the live last entry'}"
            f"{f'; in the backup {broken}' if broken else ''}). "
            "Restoring would drop or replace audit entries; add --force to restore anyway "
            "(the restore is recorded in the audit log).",
        )
    digest = _file_digest(source)
    engine.dispose()  # no pooled connection may outlive the replaced database
    restore(settings.database_url, source)
    migrate.upgrade(engine)
    user = getpass.getuser()
    with engine.begin() as connection:
        audit.append(
            connection,
            [
                audit.new_entry(
                    actor_id=None,
                    actor=f"cli:{user}"[:32],
                    roles=[],
                    purpose=None,
                    action="RESTORE",
                    operation=f"restore {source.name}{' (forced)' if not continues else ''}",
                    customer_ids=[],
                    fields={},
                    detail={
                        "file": str(source.resolve()),
                        "sha256": digest,
                        "forced": not continues,
                        "os_user": user,
                        "replaced": {"entries": live.entries, "head": live.head},
                        "restored": {"entries": backup_end.entries, "head": backup_end.head},
                    },
                )
            ],
        )
    checkpoints, _ = audit.read_checkpoints(settings.audit_checkpoint_dir)
    with engine.connect() as connection:
        result = audit.verify(connection, checkpoints if continues else [])
    if not result.ok:
        return RestoreOutcome(False, f"Restored from {source}.", result.problem)
    audit.write_checkpoint(
        settings.audit_checkpoint_dir,
        result.checked,
        result.head,
        audit.CHECKPOINT if continues else audit.RESTORE,
    )
    how = "" if continues else " (forced: the audit entries it replaced are recorded)"
    return RestoreOutcome(False, f"Restored from {source}{how}; the restore is audited.")
