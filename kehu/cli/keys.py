"""Keys and tokens: mint bearer tokens, make key entries, re-seal data with the active key."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from core.settings import new_key_entry
from kehu.cli.shared import console, open_engine, progress_bar, read_settings


def token(
    employee_no: Annotated[str | None, typer.Argument(help="Employee number, e.g. RM0001")] = None,
    demo: Annotated[bool, typer.Option(help="Print tokens for the demo staff.")] = False,
    ttl_minutes: Annotated[int | None, typer.Option(help="Default: KEHU_TOKEN_TTL_MINUTES")] = None,
) -> None:
    """Mint a bearer token for a staff member."""
    from kehu.auth import mint_token
    from kehu.seed import DEMO_STAFF
    from resolvers.shared.staff import staff_by_employee_number
    from store.db import make_session_factory

    settings = read_settings()
    ttl = timedelta(minutes=ttl_minutes) if ttl_minutes else None
    if ttl_minutes is not None and ttl_minutes <= 0:
        console.print("[red]--ttl-minutes must be positive[/red]")
        raise typer.Exit(2)
    if ttl_minutes is not None and ttl_minutes > settings.token_max_lifetime_minutes:
        console.print(
            "[red]--ttl-minutes must not exceed KEHU_TOKEN_MAX_LIFETIME_MINUTES "
            f"({settings.token_max_lifetime_minutes})[/red]"
        )
        raise typer.Exit(2)
    wanted = [no for no, _, _ in DEMO_STAFF] if demo else [employee_no] if employee_no else []
    if not wanted:
        console.print("[red]Give an employee number or --demo[/red]")
        raise typer.Exit(2)
    with make_session_factory(open_engine(settings))() as session:
        found = {no: staff_by_employee_number(session, no) for no in wanted}
    missing = [no for no, member in found.items() if member is None]
    if missing:
        console.print(f"[red]Unknown staff: {', '.join(missing)} (run `kehu seed` first?)[/red]")
        raise typer.Exit(1)
    if demo:
        print("Demo bearer tokens (send as  Authorization: Bearer <token>):")
    for staff in found.values():
        assert staff is not None
        if demo:
            print(f"\n{staff.employee_no}  {', '.join(staff.roles)}  {staff.branch.name}")
        print(mint_token(settings, staff.employee_no, ttl))


def new_key(key_id: Annotated[str, typer.Argument(help="Id of the new key, e.g. k2")]) -> None:
    """Print a fresh 256-bit key entry for KEHU_ENCRYPTION_KEYS, _HASH_KEYS or _AUDIT_KEYS."""
    if not key_id.isalnum():
        console.print("[red]The key id must be letters and digits[/red]")
        raise typer.Exit(2)
    print(new_key_entry(key_id))


def rotate_keys(
    check: Annotated[
        bool, typer.Option("--check", help="Only read: report what is left and what fails")
    ] = False,
) -> None:
    """Re-seal personal data with the first (active) key, each value bound to its row, and
    re-hash with the first hash key. Resumable: rows already current are skipped."""
    from store.rotation import rotate_keys as rotate
    from store.rotation import rows_to_rotate

    settings = read_settings()
    engine = open_engine(settings)
    try:
        with progress_bar() as progress:
            task = progress.add_task(
                "Checking rows" if check else "Re-keying rows", total=rows_to_rotate(engine)
            )
            report = rotate(engine, progress=lambda n: progress.advance(task, n), write=not check)
    finally:
        engine.dispose()
    if check:
        console.print(
            f"Checked {report.checked} rows; {report.rewritten} still to re-seal "
            "(older key, or not yet bound to their row)."
        )
    else:
        console.print(
            f"Re-keyed {report.rewritten} rows of {report.checked}; keys other than the first "
            "may be removed from the settings once no value fails below."
        )
    for problem in report.unreadable:
        console.print(f"[red]Cannot open {problem}[/red]")
    if report.unreadable:
        console.print(
            f"[red]{len(report.unreadable)} sealed values do not open: restore them from a "
            "backup; a value moved from another row is refused by design.[/red]"
        )
        raise typer.Exit(1)
