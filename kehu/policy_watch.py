"""Keeps this process's access policy current (PLAT-3).

At start the live rules are loaded from the database (imported from ``authz/policy.csv`` the
first time, when the database has none). A thread then polls ``policy_versions``; a change made
by any process is applied here within ``interval`` seconds, without a restart.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import Engine

from authz.policy import POLICY_FILE, AccessPolicy, DatabaseAdapter
from resolvers import policy as policy_logic
from store.db import make_session_factory, transaction

log = logging.getLogger("kehu.policy")


def ensure_live_policy(engine: Engine, source: Path = POLICY_FILE) -> int:
    """The live policy version, importing ``source`` first if the database has no policy."""
    with transaction(make_session_factory(engine)) as session:
        version = policy_logic.current_version(session)
        if version == 0:
            rules = policy_logic.parse_lines(source.read_text().splitlines())
            version = policy_logic.import_rules(session, rules, actor="system")
            log.info("imported %d policy rules from %s", len(rules), source)
        return version


class PolicyWatcher:
    """The live ``AccessPolicy`` of this process, reloaded when another version appears."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self.seen = ensure_live_policy(engine)
        self.policy = AccessPolicy(policy=DatabaseAdapter(engine))
        self._factory = make_session_factory(engine)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kehu-policy", daemon=True)
        self._thread.start()

    def check(self) -> bool:
        """Reload if the database has a newer version; True when it did."""
        with self._lock, self._factory() as session:
            version = policy_logic.current_version(session)
            if version == self.seen:
                return False
            self.policy.reload()
            self.seen = version
            log.info("access policy version %d applied", version)
            return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:
                log.exception("could not check the policy version; retrying")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
