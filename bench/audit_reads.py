"""Bench: the cost of synchronous read audit (KEHU_AUDIT_READS=sync vs. buffered).

Two apps on the same seeded database answer the same requests over the in-process HTTP client:
one buffers READ entries (a background thread writes them every 0.5 s), the other commits each
entry before answering. Prints the median time of a 100-row customers page and of one customer,
and the ratio sync/buffered, on SQLite and, when a PostgreSQL URL is configured, on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable

from common import bench_env, postgres_url, prepared
from customers_page import QUERY
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from kehu.app import create_app
from kehu.auth import mint_token
from store.db import make_engine

RUNS = 40
ONE = "query One($id: ID!) { customer(id: $id) { name idNumber phone address } }"


def _reads(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(text("SELECT COUNT(*) FROM audit_log WHERE action = 'READ'")) or 0
        )


def run(name: str, database_url: str | None) -> None:
    print(f"\n== read audit, sync vs. buffered, on {name} ==", flush=True)
    env = bench_env(name, database_url)
    env["KEHU_EMBEDDED_WORKER"] = "false"  # no timers or checkpoints in the measurement
    settings = prepared(env)
    engine = make_engine(settings.database_url)
    before = _reads(engine)
    headers = {
        "Authorization": f"Bearer {mint_token(settings, 'HO0001')}",
        "X-Purpose": "CUSTOMER_SERVICE",
    }
    modes = {
        mode: TestClient(create_app(dataclasses.replace(settings, audit_reads=mode)))
        for mode in ("buffered", "sync")
    }
    for client in modes.values():
        client.__enter__()
    first_id = (
        modes["sync"]
        .post("/graphql", json={"query": QUERY, "variables": {"first": 1}}, headers=headers)
        .json()["data"]["customers"]["edges"][0]["node"]["id"]
    )
    requests: dict[str, tuple[str, dict[str, object]]] = {
        "page": (QUERY, {"first": 100}),
        "one": (ONE, {"id": first_id}),
    }

    def call(client: TestClient, query: str, variables: dict[str, object]) -> Callable[[], None]:
        def once() -> None:
            response = client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            assert response.status_code == 200 and "errors" not in response.json()

        return once

    actions = {
        (mode, kind): call(client, *requests[kind])
        for mode, client in modes.items()
        for kind in requests
    }
    for action in actions.values():
        for _ in range(5):
            action()
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in actions}
    for _ in range(RUNS):
        for key, action in actions.items():  # interleaved: noise hits every mode alike
            started = time.perf_counter()
            action()
            samples[key].append(time.perf_counter() - started)
    for client in modes.values():
        client.__exit__(None, None, None)  # writes the buffered entries
    written = _reads(engine) - before
    engine.dispose()
    median = {key: statistics.median(values) * 1000 for key, values in samples.items()}
    for kind, label in (("page", "100-row customers page"), ("one", "one customer")):
        sync, buffered = median[("sync", kind)], median[("buffered", kind)]
        print(
            f"{label}: buffered {buffered:.2f} ms, sync {sync:.2f} ms, "
            f"sync/buffered = {sync / buffered:.2f}× (+{sync - buffered:.2f} ms)"
        )
    sent = 1 + len(actions) * (5 + RUNS)
    print(f"READ entries written: {written} for {sent} requests (both modes audit every read)")


if __name__ == "__main__":
    run("sqlite", None)
    url = postgres_url()
    if url:
        run("postgresql", url)
