"""What every command needs: the settings, an engine with the keys configured, the console."""

from __future__ import annotations

import getpass

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from core.settings import Settings, SettingsError

console = Console(stderr=True, soft_wrap=True)


def read_settings() -> Settings:
    """The settings from the environment; a bad one stops the command, naming it (exit 2)."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def operator() -> str:
    """Who runs a command that changes data, as its audit entry names them: the OS user."""
    return f"cli:{getpass.getuser()}"[:32]


def open_engine(settings: Settings) -> Engine:
    """The database engine, with the field cipher and the audit keys configured."""
    from store import audit_chain, crypto
    from store.db import make_engine

    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database_url, hide_parameters=True)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
