"""Processes: deploy a diagram, and the worker firing due timers."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from kehu.cli.shared import console, open_engine, operator, read_settings


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

    settings = read_settings()
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
        with make_session_factory(open_engine(settings))() as session:
            version, created = unit_of_work.run(
                session,
                unit_of_work.Actor(name=operator()),
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
    from kehu.wiring import GATEWAYS
    from resolvers.outbox.senders import senders_from

    settings = read_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = open_engine(settings)
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
        result = timers.run_once(engine, moment, senders=senders_from(settings.smtp, GATEWAYS))
        elapsed = time.perf_counter() - started
        print(
            f"Advanced {result.advanced} instances, swept {result.swept} complaints' deadlines "
            f"({result.failed} failed) in {elapsed:.1f} s."
        )
        sent = result.messages
        print(
            f"Messages: {sent.delivered} delivered, {sent.retrying} to retry, {sent.failed} failed."
        )
        raise typer.Exit(1 if result.failed else 0)
    console.print(f"Kehu timers worker polling every {settings.worker_poll_seconds} s")
    running = timers.TimerWorker(
        engine, settings.worker_poll_seconds, senders_from(settings.smtp, GATEWAYS)
    )
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
