"""Keeps this process's access policy current (PLAT-3).

At start the live rules are loaded from the database (imported from ``authz/policy.csv`` the
first time, when the database has none). Once started, a thread polls ``policy_versions``; a
change made by any process is applied here within ``interval`` seconds, without a restart.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import Engine

from authz.policy import POLICY_FILE, AccessPolicy, DatabaseAdapter
from kehu.background import BackgroundLoop
from resolvers import policy as policy_logic
from store.db import make_session_factory

log = logging.getLogger("kehu.policy")


def ensure_live_policy(engine: Engine, source: Path = POLICY_FILE) -> int:
    """The live policy version, importing ``source`` first if the database has no policy."""
    with make_session_factory(engine)() as session:
        version = policy_logic.current_version(session)
        if version == 0:
            rules = policy_logic.parse_lines(source.read_text().splitlines())
            version = policy_logic.import_policy(session, rules, actor="system")
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
        self._loop = BackgroundLoop(
            "kehu-policy",
            interval,
            self.check,
            log=log,
            failure="could not check the policy version; retrying",
            join_timeout=5,
        )

    def start(self) -> None:
        """Poll for new policy versions every ``interval`` seconds."""
        self._loop.start()

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

    def close(self) -> None:
        self._loop.stop()
