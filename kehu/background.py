"""Background work of a process: one small loop for every periodic thread.

The audit writer, the audit checkpoints, the policy watcher and the timers worker each run a
:class:`BackgroundLoop`: a daemon thread calling ``step`` every ``interval`` seconds until
stopped. A failing step is logged and retried at the next interval, never fatal. The app starts
the loops when it starts serving and stops them (waiting for the current step) when it shuts
down (``kehu.app``'s lifespan); ``kehu worker`` does the same around its own run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol


class Background(Protocol):
    """Something with background work: started once serving begins, closed at shutdown."""

    def start(self) -> None: ...

    def close(self) -> None: ...


class BackgroundLoop:
    """Calls ``step`` every ``interval`` seconds in a daemon thread named ``name``."""

    def __init__(
        self,
        name: str,
        interval: float,
        step: Callable[[], object],
        *,
        log: logging.Logger,
        failure: str = "failed; retrying",
        join_timeout: float = 30,
    ) -> None:
        self.name = name
        self.interval = interval
        self.step = step
        self.log = log
        self.failure = failure
        self.join_timeout = join_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once; starting a running loop does nothing)."""
        if self.running:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait (up to ``join_timeout``) for the step in progress."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=self.join_timeout)
        self._thread = None

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.interval):
            try:
                self.step()
            except Exception:
                self.log.exception(self.failure)
