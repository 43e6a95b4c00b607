"""Customer segments: classify everyone under the value model in force (SEG-4)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from kehu.cli.shared import console, open_engine, operator, progress_bar, read_settings

# How often the bar follows a run that a worker took before this command could (seconds).
POLL = 0.5


def classify(
    branch: Annotated[
        str | None, typer.Option(help="Only this branch (code, e.g. SH01); default: the bank.")
    ] = None,
) -> None:
    """Classify every customer (or one branch) as one run: value score, tier, private banking.

    The run is asked for like ``classifyCustomers`` asks for it (one bulk run at a time), then
    run here with a progress bar; should a worker take it first, the bar follows the worker.
    """
    from sqlalchemy import select

    from core.errors import ConflictError
    from resolvers.segments import jobs
    from resolvers.shared import unit_of_work
    from store.db import make_session_factory
    from store.segments import RunScope, RunStatus, SegmentRun
    from store.staff import Branch

    settings = read_settings()
    started = time.perf_counter()
    factory = make_session_factory(open_engine(settings))
    with factory() as session:
        branch_id = None
        if branch is not None:
            branch_id = session.scalar(select(Branch.id).where(Branch.code == branch))
            if branch_id is None:
                console.print(f"[red]No branch with code {branch}.[/red]")
                raise typer.Exit(1)
        scope = RunScope.BANK if branch_id is None else RunScope.BRANCH
        actor = unit_of_work.Actor(name=operator())
        try:
            run_id = unit_of_work.run(
                session,
                actor,
                unit_of_work.SYSTEM,
                "classifyCustomers",
                lambda s: jobs.start(s, scope, operator(), branch_id).id,
            )
        except ConflictError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
    with progress_bar() as progress:
        task = progress.add_task("Classifying customers", total=None)
        if jobs.claim(factory, run_id) is not None:
            with factory() as session:
                progress.update(task, total=session.get_one(SegmentRun, run_id).progress_total)
            jobs.execute(
                factory,
                run_id,
                actor=actor,
                right=unit_of_work.SYSTEM,
                progress=lambda n: progress.advance(task, n),
            )
        while True:  # taken by a worker (or ended): follow it
            with factory() as session:
                run = session.get_one(SegmentRun, run_id)
            progress.update(task, total=run.progress_total, completed=run.progress_done)
            if run.status in (RunStatus.DONE, RunStatus.FAILED):
                break
            time.sleep(POLL)
    seconds = time.perf_counter() - started
    if run.status is RunStatus.FAILED:
        console.print(f"[red]Run {run.id} failed: {run.failure}[/red]")
        raise typer.Exit(1)
    print(
        f"Run {run.id} (value model version {run.rule_set_version}, risk model version "
        f"{run.risk_rule_set_version}): {run.customers} customers classified, {run.changed} "
        f"segments changed, in {seconds:.1f} s."
    )
