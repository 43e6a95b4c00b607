"""``kehu audit``: verify the audit log, sign checkpoints, make its tables append-only."""

from __future__ import annotations

from typing import Annotated

import typer

from kehu.cli.shared import console, open_engine, read_settings

app = typer.Typer(help="The audit log (SHARE-4).")


@app.command("verify")
def audit_verify() -> None:
    """Recompute the keyed hash chain and compare it with the signed checkpoints.

    Exit 1 names the first changed, missing or reordered entry, an entry that differs from a
    checkpoint, or a log that ends before the latest checkpoint (rewound).
    """
    from resolvers import audit

    settings = read_settings()
    engine = open_engine(settings)  # configures the audit keys the checkpoints are checked with
    checkpoints, problems = audit.read_checkpoints(settings.audit_checkpoint_dir)
    with engine.connect() as connection:
        result = audit.verify(connection, checkpoints)
    problem = result.problem or (problems[0] if problems else None)
    if problem:
        print(f"TAMPERED: {problem} ({result.checked} entries intact before it)")
        raise typer.Exit(1)
    against = (
        f"; it continues {audit.described(result.checkpoint)}"
        if result.checkpoint
        else "; no checkpoint to compare with yet (kehu audit checkpoint)"
    )
    print(f"OK: {result.checked} entries, the hash chain is intact{against}.")


@app.command("checkpoint")
def audit_checkpoint() -> None:
    """Verify the entries since the last checkpoint and sign the head into a new one."""
    from resolvers import audit

    settings = read_settings()
    with open_engine(settings).connect() as connection:
        result = audit.checkpoint(connection, settings.audit_checkpoint_dir)
    if not result.ok:
        print(f"TAMPERED: {result.problem}; no checkpoint written")
        raise typer.Exit(1)
    print(f"Checkpoint: {result.checked} entries, head {result.head[:12]}.")


@app.command("grant-service-role")
def audit_grant_service_role(
    role: Annotated[str, typer.Argument(help="The PostgreSQL role `kehu serve` logs in as")],
    print_only: Annotated[bool, typer.Option(help="Print the SQL instead of running it.")] = False,
) -> None:
    """Grant a service role what it needs, with the audit tables append-only (PostgreSQL).

    Run it as the tables' owner after `kehu migrate`: the role may read and write every table,
    but on the audit tables only SELECT and INSERT (and UPDATE of the sealed detail, for
    `kehu rotate-keys`); UPDATE, DELETE and TRUNCATE of entries are not granted.
    """
    from store.privileges import SERVICE_ROLE, service_role_grants

    if not SERVICE_ROLE.fullmatch(role):
        console.print("[red]The role must be a plain PostgreSQL name (letters, digits, _)[/red]")
        raise typer.Exit(2)
    statements = service_role_grants(role)
    if print_only:
        print(";\n".join(statements) + ";")
        return
    settings = read_settings()
    if settings.is_sqlite:
        console.print("[red]Roles exist on PostgreSQL only; SQLite has the triggers alone[/red]")
        raise typer.Exit(2)
    with open_engine(settings).begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    print(f"Granted {role} the service's rights; the audit tables are append-only for it.")
