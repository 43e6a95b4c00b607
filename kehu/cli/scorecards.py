"""Scorecards (KPI-2, KPI-3): assess a period (freeze its scorecards), export a bonus split."""

from __future__ import annotations

import csv
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from kehu.cli.shared import console, open_engine, operator, progress_bar, read_settings


def _branch(session: Session, code: str | None) -> int | None:
    from sqlalchemy import select

    from store.staff import Branch

    if code is None:
        return None
    found = session.scalar(select(Branch.id).where(Branch.code == code))
    if found is None:
        console.print("[red]branch: UNKNOWN_SCOPE — no such branch.[/red]")
        raise typer.Exit(1)
    return found


def assess(
    period: Annotated[str, typer.Option(help="A month or quarter that has ended: 2026-Q3.")],
    branch: Annotated[
        str | None, typer.Option(help="Only this branch (code, e.g. SH01); default: the bank.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (a recomputation).")] = None,
) -> None:
    """Compute and freeze the scorecards of a period for every branch, team and staff member
    (as ``assessScorecards``; audited). Assessing again makes the next version."""
    from core.errors import ApiError, UserInputError
    from resolvers.scorecards import commands
    from resolvers.shared import unit_of_work
    from store.db import make_session_factory

    settings = read_settings()
    started = time.perf_counter()
    factory = make_session_factory(open_engine(settings))
    with factory() as session, progress_bar() as progress:
        branch_id = _branch(session, branch)
        task = progress.add_task(f"Assessing {period}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, total=total, completed=done)

        try:
            run = unit_of_work.run(
                session,
                unit_of_work.Actor(name=operator()),
                unit_of_work.SYSTEM,
                "assessScorecards",
                lambda s: commands.assess(
                    s, operator(), period, branch_id, reason, progress=advance
                ),
            )
        except UserInputError as exc:
            for error in exc.errors:
                console.print(f"[red]{'.'.join(error.field)}: {error.code} — {error.message}[/red]")
            raise typer.Exit(1) from exc
        except ApiError as exc:
            console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(1) from exc
        version, weights = run.version, run.weight_version
    print(
        f"Scorecards of {period} frozen as version {version} (weights version {weights}) in "
        f"{time.perf_counter() - started:.1f} s."
    )


def bonus(
    period: Annotated[str, typer.Option(help="An assessed month or quarter: 2026-Q3.")],
    pool: Annotated[str, typer.Option(help="The pool in CNY, to the fen: 1000000.00.")],
    out: Annotated[Path, typer.Option(help="The CSV file to write.")],
    level: Annotated[str, typer.Option(help="STAFF, TEAM or BRANCH.")] = "STAFF",
    branch: Annotated[
        str | None, typer.Option(help="Only this branch's scorecards (code); default: the bank.")
    ] = None,
    version: Annotated[int | None, typer.Option(help="Default: the newest.")] = None,
) -> None:
    """Split a bonus pool over a level's frozen scorecards by score (as ``bonusAllocation``):
    one CSV row per scorecard, by rank; the amounts add up to the pool exactly."""
    from core import clock
    from core.errors import UserInputError
    from resolvers.kpis.scope import Level
    from resolvers.scorecards import model
    from resolvers.scorecards import queries as reads
    from resolvers.shared import validation
    from store.db import make_session_factory

    try:
        amount = validation.money(Decimal(pool), "pool")
        chosen = Level(level)
        if chosen not in model.LEVELS:
            raise ValueError(level)
    except (InvalidOperation, ValueError) as exc:
        console.print("[red]pool or level: INVALID — see --help.[/red]")
        raise typer.Exit(1) from exc
    except UserInputError as exc:
        console.print(f"[red]pool: {exc.errors[0].code} — {exc.errors[0].message}[/red]")
        raise typer.Exit(1) from exc
    settings = read_settings()
    factory = make_session_factory(open_engine(settings))
    with factory() as session:
        branch_id = _branch(session, branch)
        try:
            run, shares = reads.bonus(
                session, period, amount, chosen, branch_id, version, clock.today()
            )
        except UserInputError as exc:
            for error in exc.errors:
                console.print(f"[red]{'.'.join(error.field)}: {error.code} — {error.message}[/red]")
            raise typer.Exit(1) from exc
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["period", "version", "level", "subject_id", "label", "rank", "score", "amount"]
            )
            for share in shares:
                card = share.card
                writer.writerow(
                    [
                        run.period,
                        run.version,
                        card.level,
                        card.subject_id,
                        card.label,
                        "" if card.rank is None else card.rank,
                        "" if card.score is None else card.score,
                        share.amount,
                    ]
                )
    print(f"{len(shares)} shares of {amount} written to {out} (scorecards version {run.version}).")
