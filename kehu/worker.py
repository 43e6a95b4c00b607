"""The timers worker (CMP-6, DESIGN: workflows): wakes process instances whose timers are due.

Each due instance is advanced in its own transaction under a row lock (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so any number of workers share the work without a coordinator and two
never advance the same instance. The embedded server runs one :class:`TimerWorker` thread;
production runs ``kehu worker`` processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core import clock
from resolvers import workflows
from store.db import make_session_factory, transaction

log = logging.getLogger("kehu.worker")


@dataclass(frozen=True)
class RunResult:
    advanced: int
    failed: int


def run_once(engine: Engine, now: datetime | None = None, limit: int = 100_000) -> RunResult:
    """Fire every timer due by ``now`` (default: the clock's now)."""
    factory = make_session_factory(engine)

    @contextmanager
    def unit_of_work() -> Iterator[Session]:
        with transaction(factory) as session:
            yield session

    advanced, failed = workflows.run_due(unit_of_work, now or clock.now(), limit)
    return RunResult(advanced, failed)


class TimerWorker:
    """A thread that runs :func:`run_once` every ``interval`` seconds until closed."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kehu-timers", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                result = run_once(self.engine)
                if result.advanced or result.failed:
                    log.info("timers: %d instances advanced, %d failed", *vars(result).values())
            except Exception:
                log.exception("timer run failed; retrying")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
