"""Consistent backups and restores (INFO-7): SQLite online backup API, pg_dump/pg_restore."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


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
