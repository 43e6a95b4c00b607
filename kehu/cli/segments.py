"""Customer segments: classify everyone under the value model in force (SEG-4)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from kehu.cli.shared import console, open_engine, operator, progress_bar, read_settings

CHUNK = 10_000


def classify(
    branch: Annotated[
        str | None, typer.Option(help="Only this branch (code, e.g. SH01); default: the bank.")
    ] = None,
) -> None:
    """Classify every customer (or one branch) as one run: value score, tier, private banking."""
    from sqlalchemy import select

    from resolvers.segments import runs
    from resolvers.shared import unit_of_work
    from store.db import make_session_factory
    from store.segments import RunScope
    from store.staff import Branch

    settings = read_settings()
    started = time.perf_counter()
    with make_session_factory(open_engine(settings))() as session:
        branch_id = None
        if branch is not None:
            branch_id = session.scalar(select(Branch.id).where(Branch.code == branch))
            if branch_id is None:
                console.print(f"[red]No branch with code {branch}.[/red]")
                raise typer.Exit(1)
        scope = RunScope.BANK if branch_id is None else RunScope.BRANCH
        total = runs.customers_in_scope(session, scope, branch_id)
        with progress_bar() as progress:
            task = progress.add_task("Classifying customers", total=total)
            run = unit_of_work.run(
                session,
                unit_of_work.Actor(name=operator()),
                unit_of_work.SYSTEM,
                "classifyCustomers",
                lambda s: runs.classify(
                    s,
                    scope=scope,
                    started_by=operator(),
                    branch_id=branch_id,
                    progress=lambda n: progress.advance(task, n),
                    chunk=CHUNK,
                ),
            )
            summary = (run.id, run.rule_set_version, run.customers, run.changed)
    seconds = time.perf_counter() - started
    print(
        f"Run {summary[0]} (value model version {summary[1]}): {summary[2]} customers classified, "
        f"{summary[3]} segments changed, in {seconds:.1f} s."
    )
