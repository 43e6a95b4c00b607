"""The background loops of a process: started and stopped with the app, failures not fatal."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

import pytest
from starlette.testclient import TestClient

from kehu.app import create_app
from kehu.background import BackgroundLoop
from tests.conftest import Backend


def _wait_for(condition: object, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_a_failing_step_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def step() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")

    loop = BackgroundLoop(
        "kehu-test", 0.01, step, log=logging.getLogger("kehu.test"), failure="test step failed"
    )
    with caplog.at_level(logging.ERROR, logger="kehu.test"):
        loop.start()
        try:
            assert _wait_for(lambda: len(calls) >= 3)
        finally:
            loop.stop()
    assert not loop.running
    assert [r.getMessage() for r in caplog.records] == ["test step failed"]
    assert "kehu-test" not in {t.name for t in threading.enumerate()}


def test_stop_waits_for_the_step_in_progress() -> None:
    started, finished = threading.Event(), threading.Event()

    def step() -> None:
        started.set()
        time.sleep(0.2)
        finished.set()

    loop = BackgroundLoop("kehu-slow", 0.01, step, log=logging.getLogger("kehu.test"))
    loop.start()
    assert started.wait(5)
    loop.stop()
    assert finished.is_set() and not loop.running


def test_the_app_runs_its_loops_only_while_it_serves(backend: Backend) -> None:
    """Started by the app's lifespan, stopped (and joined) when it ends."""
    settings = dataclasses.replace(
        backend.settings,
        embedded_worker=True,
        worker_poll_seconds=60,  # no timer of the suite's database fires meanwhile
        audit_checkpoint_seconds=60,
    )
    app = create_app(settings)
    state = app.state
    parts = [state.policy_watcher, state.auditor, state.timers]
    assert all(not part._loop.running for part in parts)  # built, not started
    with TestClient(app):
        assert all(part._loop.running for part in parts)
    assert all(not part._loop.running for part in parts)
