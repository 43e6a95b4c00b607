"""``kehu authz``: ask and test the access policy, import and export it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from kehu.cli.shared import console, open_engine, operator, read_settings

app = typer.Typer(help="Ask and test the access policy (live, or authz/policy.csv).")


@app.command("check")
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
    settings = read_settings()
    engine = open_engine(settings)
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


@app.command("test")
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


@app.command("import")
def authz_import(
    source: Annotated[Path, typer.Argument(help="Reviewed policy file")] = Path("authz/policy.csv"),
) -> None:
    """Replace the live policy by a reviewed file (a new, audited version; servers reload)."""
    from core.errors import UserInputError
    from resolvers import policy as policy_logic
    from store.db import make_session_factory

    settings = read_settings()
    try:
        rules = policy_logic.parse_lines(source.read_text().splitlines())
    except UserInputError as exc:
        for error in exc.errors:
            console.print(f"[red]{'.'.join(error.field)}: {error.code}: {error.message}[/red]")
        raise typer.Exit(1) from exc
    with make_session_factory(open_engine(settings))() as session:
        version = policy_logic.import_policy(session, rules, actor=operator())
    print(f"Imported {len(rules)} rules from {source} as policy version {version}.")


@app.command("export")
def authz_export() -> None:
    """Print the live policy as policy.csv lines (to review or commit)."""
    from store.db import make_session_factory
    from store.policy import PolicyRule

    settings = read_settings()
    with make_session_factory(open_engine(settings))() as session:
        for rule in session.scalars(select(PolicyRule).order_by(PolicyRule.id)):
            print(rule.as_line())
