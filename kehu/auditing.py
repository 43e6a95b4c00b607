"""Per-process writer of read-audit entries (SHARE-4).

Reads are audited without adding statements to the request: entries are queued and a background
thread chains them into the log in batches, at most ``interval`` seconds later (and at shutdown).
Changes are not queued: they are audited inside their own transaction (``schema.customers``).
A process killed outright can lose the reads of its last interval; that trade-off keeps a
100-row page at four SQL statements.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from sqlalchemy import Engine

from resolvers import audit

log = logging.getLogger("kehu.audit")


class AuditWriter:
    def __init__(self, engine: Engine, interval: float = 0.5) -> None:
        self.engine = engine
        self.interval = interval
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kehu-audit", daemon=True)
        self._thread.start()

    def record(self, entry: dict[str, Any]) -> None:
        self._queue.put(entry)

    def flush(self) -> int:
        """Write everything queued so far in one transaction; returns how many entries."""
        with self._flush_lock:
            batch: list[dict[str, Any]] = []
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if batch:
                try:
                    with self.engine.begin() as connection:
                        audit.append(connection, batch)
                except Exception:
                    # Put them back: an audit entry is never dropped silently.
                    for entry in batch:
                        self._queue.put(entry)
                    raise
            return len(batch)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:
                log.exception("audit entries could not be written; retrying")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
