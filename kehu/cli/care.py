"""``kehu care``: the care run of a day (REL-4) — birthdays, festivals, scheduled call-backs."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated

import typer

from kehu.cli.shared import console, open_engine, operator, progress_bar, read_settings

app = typer.Typer(help="Customer care (REL-4).")


@app.command("run")
def care_run(
    day: Annotated[
        str | None,
        typer.Option("--date", help="The Beijing date to care for (YYYY-MM-DD); default today."),
    ] = None,
) -> None:
    """Create the day's care tasks and queue its greetings in the outbox (twice: nothing new)."""
    from core import clock
    from core.errors import UserInputError
    from resolvers.care import calendar, runs
    from resolvers.shared import unit_of_work
    from store.db import make_session_factory

    try:
        on = clock.today() if day is None else date.fromisoformat(day)
    except ValueError as exc:
        console.print("[red]--date must be a date (YYYY-MM-DD).[/red]")
        raise typer.Exit(2) from exc
    plan = calendar.plan()
    try:
        runs.check_date(on, plan)
    except UserInputError as exc:
        console.print(f"[red]--date: {exc.errors[0].message} ({exc.errors[0].code}).[/red]")
        raise typer.Exit(2) from exc
    settings = read_settings()
    started = time.perf_counter()
    with make_session_factory(open_engine(settings))() as session, progress_bar() as progress:
        task = progress.add_task(
            f"Care for {on.isoformat()}", total=len(runs.occasions_on(on, plan))
        )
        run = unit_of_work.run(
            session,
            unit_of_work.Actor(name=operator()),
            unit_of_work.SYSTEM,
            "runCare",
            lambda s: runs.run(
                s, on, operator(), progress=lambda n: progress.advance(task, n), plan=plan
            ),
        )
        summary = (run.id, run.occasions, run.messages)
    seconds = time.perf_counter() - started
    print(
        f"Care run {summary[0]} for {on.isoformat()}: {summary[1]} care tasks, "
        f"{summary[2]} messages queued, in {seconds:.1f} s."
    )
