"""The timers worker (CMP-6): wakes process instances whose timers are due, sweeps the
complaints' clocks (warnings, escalations, progress messages), then sends the outbox's due
messages to customers (CMP-3), then runs the classification runs asked for (SEG-4).

Each due instance is advanced in a unit of work of its own (one CHANGE entry, the worker as
actor) under a row lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so any number of workers
share the work without a coordinator and two never advance the same instance. The embedded
server runs one :class:`TimerWorker` thread; production runs ``kehu worker`` processes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core import clock
from kehu.background import BackgroundLoop
from resolvers import workflows
from resolvers.assessment import spot_checks
from resolvers.care import runs as care
from resolvers.complaints import sweep
from resolvers.outbox import delivery
from resolvers.outbox.delivery import SweepResult
from resolvers.outbox.senders import Sender
from resolvers.segments import applied
from resolvers.segments import jobs as segment_jobs
from store.db import make_session_factory, transaction

log = logging.getLogger("kehu.worker")


NOTHING_SENT = SweepResult(0, 0, 0)


@dataclass(frozen=True)
class RunResult:
    advanced: int
    failed: int
    # The outbox sweep: messages delivered (or taken by a gateway), waiting to retry, failed.
    messages: SweepResult = NOTHING_SENT
    # Complaints whose clocks warned, escalated or informed the customer (CMP-6).
    swept: int = 0
    # Risk re-assessment tasks opened or closed (SEG-5; one unit of work for all of them).
    reassessments: int = 0
    # Bulk classification runs taken and run to their end (SEG-4).
    classified: int = 0
    # Spot-check rectifications that fell overdue, their owners warned (KPI-2).
    overdue_rectifications: int = 0


def run_once(
    engine: Engine,
    now: datetime | None = None,
    limit: int = 100_000,
    senders: Mapping[str, Sender] | None = None,
) -> RunResult:
    """Fire every timer due by ``now`` (default: the clock's now), then send the messages due
    by then through ``senders`` (channel → sender; a channel without one keeps its messages
    QUEUED)."""
    factory = make_session_factory(engine)

    @contextmanager
    def unit_of_work() -> Iterator[Session]:
        with transaction(factory) as session:
            yield session

    moment = now or clock.now()
    advanced, failed = workflows.run_due(unit_of_work, moment, limit)
    # The diagrams' timers first (a review window closing ends its task), then the clocks,
    # then the messages both may have queued.
    swept, sweep_failed = sweep.run_due(unit_of_work, moment, limit)
    # High-risk customers' periodic re-assessments fall due without a classification (SEG-5).
    with unit_of_work() as session, clock.travel_to(moment):
        due = applied.reviews_due(session, moment)
    reassessments = 0
    if due:  # the write lock only when there is something to open
        with unit_of_work() as session, clock.travel_to(moment):
            reassessments = applied.run_due_reviews(session, moment)
    # Spot-check rectifications that fell overdue: their owners are warned once (KPI-2).
    overdue_rectifications = spot_checks.run_due(unit_of_work, moment)
    # The day's care (REL-4), once per Beijing day, before the outbox delivers its greetings.
    care.run_daily(unit_of_work, moment)
    messages = delivery.deliver_due(unit_of_work, moment, senders or {})
    # Last: a bank-wide run takes a while, and the clocks and messages must not wait for it.
    # (Its own apply syncs the re-assessment tasks of the customers it classified.)
    classified = segment_jobs.run_due(factory, moment)
    return RunResult(
        advanced,
        failed + sweep_failed,
        messages,
        swept,
        reassessments,
        classified,
        overdue_rectifications,
    )


class TimerWorker:
    """Runs :func:`run_once` every ``interval`` seconds in a thread, from ``start`` to ``close``."""

    def __init__(
        self, engine: Engine, interval: float, senders: Mapping[str, Sender] | None = None
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.senders = dict(senders or {})
        self._loop = BackgroundLoop(
            "kehu-timers", interval, self.step, log=log, failure="timer run failed; retrying"
        )

    def step(self) -> None:
        result = run_once(self.engine, senders=self.senders)
        if result.classified:
            log.info("segments: %d classification runs ended", result.classified)
        if result.advanced or result.failed or result.swept:
            log.info(
                "timers: %d instances advanced, %d complaints swept, %d failed",
                result.advanced,
                result.swept,
                result.failed,
            )
        if result.overdue_rectifications:
            log.info("spot checks: %d overdue rectifications warned", result.overdue_rectifications)
        if result.messages != NOTHING_SENT:
            log.info(
                "outbox: %d delivered, %d to retry, %d failed", *vars(result.messages).values()
            )

    def start(self) -> None:
        self._loop.start()

    def close(self) -> None:
        self._loop.stop()
