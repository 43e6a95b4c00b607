"""The ``kehu`` command: serve, migrate, seed, token, schema, keys, backup and restore."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine, select

from core.settings import Settings, SettingsError, new_key_entry

app = typer.Typer(
    help="Kehu 客户 — customer management service.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"
# The SDL of the last release: frontends rely on it; removing from it needs a @deprecated period.
RELEASED_SCHEMA_FILE = SCHEMA_FILE.with_name("released.graphql")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _engine(settings: Settings) -> Engine:
    from store import audit_chain, crypto
    from store.db import make_engine

    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database_url, hide_parameters=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: KEHU_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: KEHU_PORT")] = None,
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql)."""
    import uvicorn

    from kehu.app import create_app

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    application = create_app(settings, _engine(settings))
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"Kehu serving GraphQL at http://{bind_host}:{bind_port}/graphql")
    uvicorn.run(application, host=bind_host, port=bind_port, log_level="info")


@app.command()
def migrate() -> None:
    """Apply database migrations (Alembic) up to the newest."""
    from store import migrate as migrations

    settings = _settings()
    migrations.upgrade(_engine(settings))
    console.print("Database schema is up to date.")


@app.command()
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
    settings = _settings()
    engine = _engine(settings)
    if if_empty and customer_count(engine) > 0:
        console.print("Demo data present; not seeding again.")
        return
    started = time.perf_counter()
    with _progress() as progress:
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
    if complaints > 0:
        from kehu.wiring import wire

        wire()

        added = seed_complaints(engine, complaints)
        if added:
            console.print(f"Seeded {added} complaints at every stage of the complaint process.")


@app.command()
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

    settings = _settings()
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
    with make_session_factory(_engine(settings))() as session:
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


@app.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option(help="Where to write the SDL.")] = SCHEMA_FILE,
    check: Annotated[bool, typer.Option(help="Only check that the file is current.")] = False,
    release: Annotated[
        bool, typer.Option(help="Also record it as the released schema (schema/released.graphql).")
    ] = False,
) -> None:
    """Write the GraphQL schema (SDL) to schema/schema.graphql."""
    from schema.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if release:
        RELEASED_SCHEMA_FILE.write_text(sdl)
        console.print(f"Wrote {RELEASED_SCHEMA_FILE}")
    if check:
        current = output.read_text() if output.exists() else ""
        if current != sdl:
            console.print(f"[red]{output} is stale: run `kehu export-schema`[/red]")
            raise typer.Exit(1)
        console.print(f"{output} is current.")
        return
    output.write_text(sdl)
    console.print(f"Wrote {output}")


@app.command("new-key")
def new_key(key_id: Annotated[str, typer.Argument(help="Id of the new key, e.g. k2")]) -> None:
    """Print a fresh 256-bit key entry for KEHU_ENCRYPTION_KEYS, _HASH_KEYS or _AUDIT_KEYS."""
    if not key_id.isalnum():
        console.print("[red]The key id must be letters and digits[/red]")
        raise typer.Exit(2)
    print(new_key_entry(key_id))


@app.command("rotate-keys")
def rotate_keys(
    check: Annotated[
        bool, typer.Option("--check", help="Only read: report what is left and what fails")
    ] = False,
) -> None:
    """Re-seal personal data with the first (active) key, each value bound to its row, and
    re-hash with the first hash key. Resumable: rows already current are skipped."""
    from store.rotation import rotate_keys as rotate
    from store.rotation import rows_to_rotate

    settings = _settings()
    engine = _engine(settings)
    try:
        with _progress() as progress:
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


@app.command()
def backup(path: Annotated[Path, typer.Argument(help="New backup file")]) -> None:
    """Write a consistent backup of the database (online: the service keeps running)."""
    from kehu.backup import BackupError
    from kehu.backup import backup as make_backup

    settings = _settings()
    try:
        make_backup(settings.database_url, path)
    except BackupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"Backup written to {path}")


@app.command()
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

    settings = _settings()
    try:
        outcome = restore_recorded(settings, _engine(settings), path, force=force)
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


authz_app = typer.Typer(help="Ask and test the access policy (live, or authz/policy.csv).")
app.add_typer(authz_app, name="authz")


@authz_app.command("check")
def authz_check(
    staff: Annotated[str, typer.Option(help="Employee number, e.g. RM0001")],
    type_name: Annotated[
        str, typer.Option("--type", help="GraphQL type, e.g. Customer (USE: e.g. customer)")
    ],
    field: Annotated[str, typer.Option(help="GraphQL field, e.g. idNumber (USE: e.g. create)")],
    customer: Annotated[
        str | None, typer.Option(help="Customer global ID or number: is its row visible?")
    ] = None,
    action: Annotated[
        str, typer.Option(help="read (see the field), write (change it) or use (a right)")
    ] = "read",
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="Answer from a reviewed policy file instead of the live policy",
        ),
    ] = None,
) -> None:
    """Say FULL / MASKED / DENIED for a staff member, a field and a customer, and why.

    The answer comes from the live policy in the database — what the API applies, including
    changes made there (``addPolicyRule`` …) — or, with ``--file``, from a reviewed policy file.
    ``--action write`` asks whether they may change the field (rows: their write scopes);
    ``--action use --type customer --field create`` whether they hold ``customer:create``.
    """
    from authz.policy import POLICY_FILE, AccessAction, AccessPolicy, DatabaseAdapter
    from authz.rows import row_visibility_reason
    from resolvers import policy as policy_logic
    from resolvers.shared.staff import staff_by_employee_number
    from store.db import make_session_factory

    if action.upper() not in AccessAction.__members__:
        console.print(f"[red]--action must be read, write or use, not {action}[/red]")
        raise typer.Exit(2)
    asked = AccessAction(action.upper())
    settings = _settings()
    engine = _engine(settings)
    with make_session_factory(engine)() as session:
        version = policy_logic.current_version(session)
        if file is not None:
            policy, source = AccessPolicy(policy=file), f"policy: the file {file}"
        elif version == 0:
            # What a server starting now would apply: it imports the reviewed file first.
            policy = AccessPolicy()
            source = f"policy: {POLICY_FILE} (the database has no live policy yet)"
        else:
            policy = AccessPolicy(policy=DatabaseAdapter(engine))
            source = f"policy: live version {version}"
        member = staff_by_employee_number(session, staff)
        if member is None:
            console.print(f"[red]Unknown staff: {staff}[/red]")
            raise typer.Exit(1)
        decision = policy.explain(member.roles, type_name, field, asked)
        if customer is not None:
            scopes = policy.row_scopes(member.roles, asked)
            visible, reason = row_visibility_reason(session, member, scopes, customer)
            if not visible:
                print(f"DENIED — {reason}")
                print(source)
                return
            print(f"row: {reason}")
    print(decision.as_text())
    print(source)


@authz_app.command("test")
def authz_test(
    table: Annotated[Path, typer.Argument(help="CSV of 'role, object, expected effect'")],
) -> None:
    """Check every expected decision of a table; exit 1 listing the ones that differ."""
    from authz.policy import AccessPolicy

    failures = AccessPolicy().check_expectations(table.read_text().splitlines())
    for failure in failures:
        print(failure)
    if failures:
        raise typer.Exit(1)
    print(f"{table}: every expectation holds.")


@authz_app.command("import")
def authz_import(
    source: Annotated[Path, typer.Argument(help="Reviewed policy file")] = Path("authz/policy.csv"),
) -> None:
    """Replace the live policy by a reviewed file (a new, audited version; servers reload)."""
    from core.errors import UserInputError
    from resolvers import policy as policy_logic
    from store.db import make_session_factory

    settings = _settings()
    try:
        rules = policy_logic.parse_lines(source.read_text().splitlines())
    except UserInputError as exc:
        for error in exc.errors:
            console.print(f"[red]{'.'.join(error.field)}: {error.code}: {error.message}[/red]")
        raise typer.Exit(1) from exc
    with make_session_factory(_engine(settings))() as session:
        version = policy_logic.import_policy(session, rules, actor="cli")
    print(f"Imported {len(rules)} rules from {source} as policy version {version}.")


@authz_app.command("export")
def authz_export() -> None:
    """Print the live policy as policy.csv lines (to review or commit)."""
    from store.db import make_session_factory
    from store.policy import PolicyRule

    settings = _settings()
    with make_session_factory(_engine(settings))() as session:
        for rule in session.scalars(select(PolicyRule).order_by(PolicyRule.id)):
            print(rule.as_line())


@app.command()
def deploy(
    diagram: Annotated[Path, typer.Argument(help="A BPMN file, e.g. workflows/complaint.bpmn")],
    forms: Annotated[
        Path | None, typer.Option(help="Folder of <form>.json schemas (default: forms/ beside it)")
    ] = None,
    check: Annotated[bool, typer.Option(help="Only validate; deploy nothing.")] = False,
) -> None:
    """Validate a diagram and deploy it as a new process version (PLAT-2)."""
    from kehu.wiring import wire

    wire()
    from resolvers.shared import unit_of_work
    from store.db import make_session_factory
    from workflows import deployment
    from workflows.errors import ProcessError

    settings = _settings()
    xml = diagram.read_text()
    form_schemas = deployment.read_forms(forms or diagram.parent / "forms")
    problems = deployment.problems(xml, form_schemas)
    for problem in problems:
        where = f"element {problem.element_id}: " if problem.element_id else ""
        console.print(f"[red]{where}{problem.code}: {problem.message}[/red]")
    if problems:
        raise typer.Exit(1)
    if check:
        print(f"{diagram}: valid.")
        return
    try:
        with make_session_factory(_engine(settings))() as session:
            version, created = unit_of_work.run(
                session,
                unit_of_work.Actor(name="cli"),
                unit_of_work.SYSTEM,
                "deployProcess",
                lambda s: deployment.deploy(s, xml, form_schemas, None),
            )
            key, number, digest = version.process_key, version.number, version.sha256
    except ProcessError as exc:
        console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(1) from exc
    if created:
        print(f"Deployed {key} version {number} (sha256 {digest[:12]}).")
    else:
        print(f"Unchanged: {key} version {number} has this content (sha256 {digest[:12]}).")


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Fire what is due, then exit.")] = False,
    now: Annotated[
        str | None,
        typer.Option(help="With --once: run everything due up to this ISO time (catch-up)."),
    ] = None,
) -> None:
    """Fire due process timers (CMP-6) and sign audit checkpoints (KEHU_AUDIT_CHECKPOINT_*)."""
    from datetime import datetime

    from kehu.wiring import wire

    wire()
    from kehu import worker as timers

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = _engine(settings)
    if now is not None and not once:
        console.print("[red]--now needs --once[/red]")
        raise typer.Exit(2)
    moment = None
    if now is not None:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError as exc:
            console.print(f"[red]--now must be an ISO time, got {now!r}[/red]")
            raise typer.Exit(2) from exc
        if moment.tzinfo is None:
            console.print("[red]--now needs a time zone, e.g. 2026-12-31T00:00:00Z[/red]")
            raise typer.Exit(2)
    if once:
        started = time.perf_counter()
        result = timers.run_once(engine, moment)
        elapsed = time.perf_counter() - started
        print(f"Advanced {result.advanced} instances ({result.failed} failed) in {elapsed:.1f} s.")
        raise typer.Exit(1 if result.failed else 0)
    console.print(f"Kehu timers worker polling every {settings.worker_poll_seconds} s")
    running = timers.TimerWorker(engine, settings.worker_poll_seconds)
    running.start()
    checkpoints = None
    if settings.audit_checkpoint_seconds:
        from kehu.auditing import Checkpointer

        checkpoints = Checkpointer(
            engine, settings.audit_checkpoint_dir, settings.audit_checkpoint_seconds
        )
        checkpoints.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        running.close()
        if checkpoints is not None:
            checkpoints.close()


audit_app = typer.Typer(help="The audit log (SHARE-4).")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the keyed hash chain and compare it with the signed checkpoints.

    Exit 1 names the first changed, missing or reordered entry, an entry that differs from a
    checkpoint, or a log that ends before the latest checkpoint (rewound).
    """
    from resolvers import audit

    settings = _settings()
    engine = _engine(settings)  # configures the audit keys the checkpoints are checked with
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


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Verify the entries since the last checkpoint and sign the head into a new one."""
    from resolvers import audit

    settings = _settings()
    with _engine(settings).connect() as connection:
        result = audit.checkpoint(connection, settings.audit_checkpoint_dir)
    if not result.ok:
        print(f"TAMPERED: {result.problem}; no checkpoint written")
        raise typer.Exit(1)
    print(f"Checkpoint: {result.checked} entries, head {result.head[:12]}.")


@audit_app.command("grant-service-role")
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
    settings = _settings()
    if settings.is_sqlite:
        console.print("[red]Roles exist on PostgreSQL only; SQLite has the triggers alone[/red]")
        raise typer.Exit(2)
    with _engine(settings).begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    print(f"Granted {role} the service's rights; the audit tables are append-only for it.")


if __name__ == "__main__":
    app()
