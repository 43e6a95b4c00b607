"""The timers worker (CMP-6): wakes process instances whose timers are due.

Each due instance is advanced in a unit of work of its own (one CHANGE entry, the worker as
actor) under a row lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so any number of workers
share the work without a coordinator and two never advance the same instance. The embedded
server runs one :class:`TimerWorker` thread; production runs ``kehu worker`` processes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core import clock
from kehu.background import BackgroundLoop
from resolvers import workflows
from resolvers.complaints import sweep
from store.db import make_session_factory, transaction

log = logging.getLogger("kehu.worker")


@dataclass(frozen=True)
class RunResult:
    advanced: int
    failed: int
    # Complaints whose clocks warned, escalated or informed the customer (CMP-6).
    swept: int = 0


def run_once(engine: Engine, now: datetime | None = None, limit: int = 100_000) -> RunResult:
    """Fire every timer due by ``now`` (default: the clock's now)."""
    factory = make_session_factory(engine)

    @contextmanager
    def unit_of_work() -> Iterator[Session]:
        with transaction(factory) as session:
            yield session

    at = now or clock.now()
    advanced, failed = workflows.run_due(unit_of_work, at, limit)
    # The diagrams' timers first (a review window closing ends its task), then the clocks.
    swept, sweep_failed = sweep.run_due(unit_of_work, at, limit)
    return RunResult(advanced, failed + sweep_failed, swept)


class TimerWorker:
    """Runs :func:`run_once` every ``interval`` seconds in a thread, from ``start`` to ``close``."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._loop = BackgroundLoop(
            "kehu-timers", interval, self.step, log=log, failure="timer run failed; retrying"
        )

    def step(self) -> None:
        result = run_once(self.engine)
        if result.advanced or result.failed or result.swept:
            log.info(
                "timers: %d instances advanced, %d complaints swept, %d failed",
                result.advanced,
                result.swept,
                result.failed,
            )

    def start(self) -> None:
        self._loop.start()

    def close(self) -> None:
        self._loop.stop()
