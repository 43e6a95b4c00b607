"""The database: migrate it, seed demo data, back it up and restore it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from kehu.cli.shared import console, open_engine, progress_bar, read_settings


def migrate() -> None:
    """Apply database migrations (Alembic) up to the newest."""
    from store import migrate as migrations

    settings = read_settings()
    migrations.upgrade(open_engine(settings))
    console.print("Database schema is up to date.")


def seed(
    customers: Annotated[int, typer.Option(help="How many customers to add.")] = 2000,
    if_empty: Annotated[bool, typer.Option(help="Do nothing when customers exist.")] = False,
    transactions: Annotated[int, typer.Option(help="Average transactions per customer.")] = 6,
    random_seed: Annotated[int, typer.Option(help="Seed for reproducible data.")] = 20261129,
    complaints: Annotated[
        int, typer.Option(help="Demo complaints at every stage (only into a database without).")
    ] = 20,
) -> None:
    """Add demo data: branches, staff, customers with all their information, complaints."""
    from kehu.seed import customer_count, seed_complaints, seed_customers

    if customers < 0:
        console.print("[red]--customers must not be negative[/red]")
        raise typer.Exit(2)
    settings = read_settings()
    engine = open_engine(settings)
    if if_empty and customer_count(engine) > 0:
        console.print("Demo data present; not seeding again.")
        return
    started = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task("Seeding customers", total=customers)
        made = seed_customers(
            engine,
            customers,
            seed=random_seed,
            transactions_per_customer=transactions,
            progress=lambda n: progress.advance(task, n),
        )
    seconds = time.perf_counter() - started
    rate = made / seconds if seconds > 0 else 0.0
    console.print(f"Seeded {made} customers in {seconds:.1f} s ({rate:,.0f} customers/s).")
    if made:
        _classify_demo(engine)
    if complaints > 0:
        added = seed_complaints(engine, complaints)
        if added:
            console.print(f"Seeded {added} complaints at every stage of the complaint process.")


def _classify_demo(engine: Engine) -> None:
    """Demo customers get their value segments (SEG-1) with the rest of the demo data: like the
    seeding itself, no audit entry (``kehu classify`` is the audited run)."""
    from resolvers.segments import runs
    from store.db import make_session_factory
    from store.segments import RunScope

    with make_session_factory(engine)() as session:
        run = runs.classify(session, scope=RunScope.BANK, started_by="seed")
        session.commit()
        console.print(f"Classified {run.customers} customers (value model {run.rule_set_version}).")


def backup(path: Annotated[Path, typer.Argument(help="New backup file")]) -> None:
    """Write a consistent backup of the database (online: the service keeps running)."""
    from kehu.backup import BackupError
    from kehu.backup import backup as make_backup

    settings = read_settings()
    try:
        make_backup(settings.database_url, path)
    except BackupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"Backup written to {path}")


def restore(
    path: Annotated[Path, typer.Argument(help="Backup file made by `kehu backup`")],
    force: Annotated[
        bool,
        typer.Option(help="Restore even if the backup's audit log does not continue the live one."),
    ] = False,
) -> None:
    """Replace the database's content with a backup (stop the servers first).

    Refused when the backup's audit log does not continue the live one (it would drop or
    replace audit entries) unless --force; every restore is itself recorded in the audit log.
    """
    from kehu.backup import BackupError, restore_recorded

    settings = read_settings()
    try:
        outcome = restore_recorded(settings, open_engine(settings), path, force=force)
    except BackupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if outcome.refused:
        console.print(f"[red]{outcome.message}[/red]")
        raise typer.Exit(1)
    print(outcome.message)
    if outcome.problem:
        console.print(f"[red]The restored audit log does not verify: {outcome.problem}[/red]")
        raise typer.Exit(1)
