"""Per-process writer of read-audit entries (SHARE-4), and the periodic audit checkpoints.

Buffered (the default, ``KEHU_AUDIT_READS=buffered``): reads are audited without adding
statements to the request: entries are queued and a background thread chains them into the
log in batches, at most ``interval`` seconds later (and at shutdown). A process killed outright
can lose the reads of its last interval; that trade-off keeps a 100-row page at four SQL
statements. Synchronous (``sync``): each read's entry is committed before its answer is sent,
and an answer whose entry cannot be written is withheld (measured cost: README, Security).
Changes are never queued: they are audited inside their own transaction (the unit of work,
``resolvers.shared.unit_of_work``). The threads are started by ``start`` (the app's lifespan).
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from kehu.background import BackgroundLoop
from resolvers import audit

log = logging.getLogger("kehu.audit")


class AuditWriter:
    def __init__(self, engine: Engine, interval: float = 0.5, synchronous: bool = False) -> None:
        self.engine = engine
        self.interval = interval
        self.synchronous = synchronous
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._flush_lock = threading.Lock()
        self._loop = BackgroundLoop(
            "kehu-audit",
            interval,
            self.flush,
            log=log,
            failure="audit entries could not be written; retrying",
            join_timeout=5,
        )

    def start(self) -> None:
        """Write queued entries every ``interval`` seconds (buffered mode only)."""
        if not self.synchronous:
            self._loop.start()

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

    def close(self) -> None:
        """Stop the thread, then write what is still queued."""
        self._loop.stop()
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
        self._loop = BackgroundLoop(
            "kehu-checkpoints",
            interval,
            self.step,
            log=log,
            failure="audit checkpoint failed; retrying",
        )

    def step(self) -> None:
        with self.engine.connect() as connection:
            result = audit.checkpoint(connection, self.directory, only_if_moved=True)
        if not result.ok:
            log.error("audit log TAMPERED: %s; no checkpoint written", result.problem)

    def start(self) -> None:
        self._loop.start()

    def close(self) -> None:
        self._loop.stop()
