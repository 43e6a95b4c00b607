"""Bulk classification runs in the background (SEG-4): asked for, taken by a worker, reported.

``start`` records a PENDING run in the caller's unit of work and answers at once; a second bulk
run while one waits or runs is a CONFLICT (the run's unique ``active`` slot makes that hold
under concurrent requests too). A worker (``kehu worker``, or the embedded one of ``make run``)
takes it with ``run_due``: ``claim`` marks it RUNNING, ``execute`` computes the customers a chunk
of keys at a time, each chunk committed with the run's progress and heartbeat (so
``classificationRun`` reports progress while it runs), then updates the current segments and
keeps the changes in one unit of work at the end — readers see the old segments until then.

A run never stays RUNNING forever: an error marks it FAILED at once (its staging rows deleted,
nothing of it applied); a worker that died leaves a heartbeat that stops moving, and the next
worker pass marks the run FAILED once the heartbeat is older than ``LEASE``. A FAILED run is
started again by asking again. ``kehu classify`` starts a run the same way and executes it in
its own process with a progress bar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core import clock
from core.errors import ConflictError
from resolvers.segments import model, risk_model, runs
from resolvers.segments.commands import ensure_risk_rule_set, ensure_rule_set
from resolvers.shared import unit_of_work
from store.db import take_write_lock, transaction
from store.segments import BULK_SLOT, ChangeReason, RunScope, RunStatus, SegmentRun, SegmentStaging

log = logging.getLogger("kehu.segments")

# Customer keys per chunk: a chunk takes about a second on the 2-core machine, far below LEASE.
CHUNK = 10_000
# A RUNNING run whose heartbeat is older than this lost its worker.
LEASE = timedelta(minutes=5)
STOPPED = "the worker running it stopped (no progress for 5 minutes); start the run again"
MODEL_CHANGED = "the value model changed during the run; start the run again"
RISK_MODEL_CHANGED = "the risk model changed during the run; start the run again"
FAILED = "the run failed (the worker's log says why); start the run again"


class RunEnded(Exception):
    """The run is no longer RUNNING (marked FAILED by another worker): stop quietly."""


class RunFailed(Exception):
    """The run cannot go on, for a reason users may read."""


def start(
    session: Session, scope: RunScope, started_by: str, branch_id: int | None = None
) -> SegmentRun:
    """Ask for a bulk run (PENDING); CONFLICT while another bulk run waits or runs."""
    if session.scalar(select(SegmentRun.id).where(SegmentRun.active == BULK_SLOT)) is not None:
        raise ConflictError(
            "a classification run is already waiting or running; follow it with "
            "classificationRun and start again when it has ended"
        )
    rules, risk = ensure_rule_set(session), ensure_risk_rule_set(session)
    try:
        run = runs.new_run(
            session, rules, risk, scope, started_by, branch_id, clock.now(), RunStatus.PENDING
        )
    except IntegrityError as exc:  # another request took the slot meanwhile
        raise ConflictError("a classification run is already waiting or running") from exc
    run.finished_at = None
    run.progress_total = runs.customers_in_scope(session, scope, branch_id)
    unit_of_work.note(
        session, f"classification run {run.id} asked for ({scope.value}): runs in the background"
    )
    return run


def _staging() -> Table:
    return cast(Table, SegmentStaging.__table__)


def _end(session: Session, run: SegmentRun, status: RunStatus, failure: str | None) -> None:
    run.status = status
    run.failure = failure
    run.active = None
    run.finished_at = clock.now()


def claim(factory: sessionmaker[Session], run_id: int | None = None) -> int | None:
    """Take the oldest PENDING run (or ``run_id``) and mark it RUNNING; None when there is none
    (or another worker has it: ``SKIP LOCKED`` on PostgreSQL)."""
    statement = select(SegmentRun).where(SegmentRun.status == RunStatus.PENDING)
    if run_id is not None:
        statement = statement.where(SegmentRun.id == run_id)
    with factory() as session:  # most passes find nothing: no write lock for them
        if session.scalar(statement.with_only_columns(SegmentRun.id).limit(1)) is None:
            return None
    with transaction(factory) as session:
        take_write_lock(session)
        run = session.scalars(
            statement.order_by(SegmentRun.id).limit(1).with_for_update(skip_locked=True)
        ).first()
        if run is None:
            return None
        # The run runs under the models in force when it runs.
        run.rule_set_version = ensure_rule_set(session).version
        run.risk_rule_set_version = ensure_risk_rule_set(session).version
        run.status = RunStatus.RUNNING
        run.heartbeat_at = clock.now()
        run.progress_done = 0
        run.progress_total = runs.customers_in_scope(session, run.scope, run.branch_id)
        return run.id


def _locked_running(
    session: Session, run_id: int
) -> tuple[SegmentRun, model.RuleSet, risk_model.RiskRuleSet]:
    """The run, locked, while it is still RUNNING under the models it started with."""
    take_write_lock(session)
    run = session.get(SegmentRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.status is not RunStatus.RUNNING:
        raise RunEnded
    rules = ensure_rule_set(session, lock=True)
    risk = ensure_risk_rule_set(session, lock=True)
    if rules.version != run.rule_set_version:
        raise RunFailed(MODEL_CHANGED)
    if risk.version != run.risk_rule_set_version:
        raise RunFailed(RISK_MODEL_CHANGED)
    return run, rules, risk


def execute(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    actor: unit_of_work.Actor = unit_of_work.WORKER,
    right: str = unit_of_work.TIMERS,
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> RunStatus:
    """Run a claimed run to its end: DONE, or FAILED with a reason (never left RUNNING)."""
    try:
        with transaction(factory) as session:
            run, _, _ = _locked_running(session, run_id)
            now, scope = run.started_at, runs.scope_filter(run.scope, None, run.branch_id)
            parts = runs.chunks(session, scope, chunk)
        for part in parts:
            with transaction(factory) as session:
                run, rules, risk = _locked_running(session, run_id)
                runs.stage(session, run_id, rules, risk, now, part)
                done = runs.staged_count(session, run_id)
                added, run.progress_done = done - run.progress_done, done
                run.heartbeat_at = clock.now()
            if progress is not None:
                progress(added)

        def finish(session: Session) -> None:
            run, rules, risk = _locked_running(session, run_id)
            runs.apply(
                session, run, rules, risk, ChangeReason.RECLASSIFIED, now, scope, keep_newer=True
            )
            _end(session, run, RunStatus.DONE, None)
            runs.note_run(session, run, [])

        with factory() as session:
            unit_of_work.run(session, actor, right, "classifyCustomers", finish)
        return RunStatus.DONE
    except RunEnded:
        return RunStatus.FAILED
    except RunFailed as exc:
        fail(factory, run_id, str(exc))
        return RunStatus.FAILED
    except Exception:
        log.exception("classification run %s failed", run_id)
        fail(factory, run_id, FAILED)
        return RunStatus.FAILED


def fail(factory: sessionmaker[Session], run_id: int, reason: str) -> None:
    """Mark a waiting or running run FAILED and drop what it computed."""
    with transaction(factory) as session:
        take_write_lock(session)
        run = session.get(SegmentRun, run_id, with_for_update=True)
        if run is None or run.status not in (RunStatus.PENDING, RunStatus.RUNNING):
            return
        _end(session, run, RunStatus.FAILED, reason)
        session.execute(delete(_staging()).where(_staging().c.run_id == run_id))


def fail_stopped(factory: sessionmaker[Session], now: datetime) -> int:
    """Mark FAILED every RUNNING run whose worker stopped (heartbeat older than ``LEASE``)."""
    stopped = (SegmentRun.status == RunStatus.RUNNING, SegmentRun.heartbeat_at < now - LEASE)
    with factory() as session:  # most passes find nothing: no write lock for them
        stale = list(session.scalars(select(SegmentRun.id).where(*stopped)))
    if not stale:
        return 0
    with transaction(factory) as session:
        take_write_lock(session)
        # Locked: a worker between two chunks holds its run's row while it works on it.
        stale = list(session.scalars(select(SegmentRun.id).where(*stopped).with_for_update()))
        session.execute(
            update(SegmentRun)
            .where(SegmentRun.id.in_(stale), SegmentRun.status == RunStatus.RUNNING)
            .values(status=RunStatus.FAILED, failure=STOPPED, active=None, finished_at=now)
        )
        session.execute(delete(_staging()).where(_staging().c.run_id.in_(stale)))
    for run_id in stale:
        log.warning("classification run %s: its worker stopped; marked FAILED", run_id)
    return len(stale)


def run_due(factory: sessionmaker[Session], now: datetime | None = None) -> int:
    """The worker's step: fail runs whose worker stopped, then run the waiting ones."""
    fail_stopped(factory, now or clock.now())
    ran = 0
    while (run_id := claim(factory)) is not None:
        execute(factory, run_id)
        ran += 1
    return ran
