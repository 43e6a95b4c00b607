"""Per-process writer of read-audit entries (SHARE-4), and the periodic audit checkpoints.

Buffered (the default, ``KEHU_AUDIT_READS=buffered``): reads are audited without adding
statements to the request: entries are queued and a background thread chains them into the
log in batches, at most ``interval`` seconds later (and at shutdown). A process killed outright
can lose the reads of its last interval; that trade-off keeps a 100-row page at four SQL
statements. Synchronous (``sync``): each read's entry is committed before its answer is sent,
and an answer whose entry cannot be written is withheld (measured cost: README, Security).
Changes are never queued: they are audited inside their own transaction (``schema.customers``).
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from resolvers import audit

log = logging.getLogger("kehu.audit")


class AuditWriter:
    def __init__(self, engine: Engine, interval: float = 0.5, synchronous: bool = False) -> None:
        self.engine = engine
        self.interval = interval
        self.synchronous = synchronous
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kehu-audit", daemon=True)
        if not synchronous:
            self._thread.start()

    def record(self, entry: dict[str, Any]) -> None:
        """Queue ``entry``; when synchronous, commit it now (raises when it cannot be written)."""
        if not self.synchronous:
            self._queue.put(entry)
            return
        with self.engine.begin() as connection:
            audit.append(connection, [entry])

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
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.flush()


class Checkpointer:
    """A thread that signs the audit log's head into ``directory`` every ``interval`` seconds.

    Each checkpoint first verifies the entries written since the previous one, so a log that
    was tampered with is reported (logged as an error) instead of being vouched for.
    """

    def __init__(self, engine: Engine, directory: Path, interval: float) -> None:
        self.engine = engine
        self.directory = directory
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kehu-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.engine.connect() as connection:
                    result = audit.checkpoint(connection, self.directory, only_if_moved=True)
                if not result.ok:
                    log.error("audit log TAMPERED: %s; no checkpoint written", result.problem)
            except Exception:
                log.exception("audit checkpoint failed; retrying")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
