"""Complaints benchmark: lifecycles through the API, engine share, state size, timers.

For SQLite and (when configured) PostgreSQL:

1. ``KEHU_BENCH_COMPLAINTS`` (default 1,000) complaints driven over HTTP against a real
   ``kehu serve`` from submission to close: assign, investigate, decide, call back. Prints
   complaints/s and the serialized state size at close (target ≤ 64 KB).
2. ``completeTask`` median latency against a plain mutation of similar size
   (``recordFinancialSnapshot``), interleaved in one run. Target ≤ 3×.
3. The share of request time spent inside SpiffWorkflow (load, engine steps, save), measured
   in process on a sample of lifecycles.
4. 1,000 complaints whose clocks are due (a progress update each), swept by one
   ``kehu worker --once --now`` run: complaints/s.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import httpx2 as httpx
from common import ROOT, bench_env, postgres_url, server  # type: ignore[import-not-found]
from sqlalchemy import select, text, true
from starlette.testclient import TestClient

from core import clock
from core.settings import Settings
from kehu.auth import mint_token
from kehu.seed import DEMO_DECISION, DEMO_INVESTIGATION, ensure_reference_data, seed_customers
from store import audit_chain, crypto, migrate
from store.db import make_engine

COMPLAINTS = int(os.environ.get("KEHU_BENCH_COMPLAINTS", "1000"))
TIMERS = int(os.environ.get("KEHU_BENCH_TIMERS", "1000"))
SAMPLE = 100
CUSTOMERS = 2000

SUBMIT = """mutation($input: SubmitComplaintInput!) { submitComplaint(input: $input) {
  complaint { id process { instance { openTasks { id elementId } } } } errors { code } } }"""
COMPLETE = """mutation($input: CompleteTaskInput!) { completeTask(input: $input) {
  task { processInstance { status stateSize openTasks { id elementId } } } errors { code } } }"""
SNAPSHOT = """mutation($input: RecordFinancialSnapshotInput!) {
  recordFinancialSnapshot(input: $input) { financialSnapshot { netWorth } errors { code } } }"""


def fresh_database(name: str, url: str | None) -> dict[str, str]:
    """An empty, migrated bench database with a few thousand customers."""
    env = bench_env(name, url)
    env["KEHU_EMBEDDED_WORKER"] = "false"
    settings = Settings.from_env(env)
    if url is None:
        path = settings.var_dir / "kehu.db"
        for suffix in ("", "-wal", "-shm"):
            (settings.var_dir / f"kehu.db{suffix}").unlink(missing_ok=True)
        assert not path.exists()
    else:
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    ensure_reference_data(engine)
    seed_customers(engine, CUSTOMERS, seed=11, transactions_per_customer=1)
    engine.dispose()
    return env


def customers(settings: Settings, count: int) -> list[tuple[int, str, str, str]]:
    """(customer id, branch code, relationship manager number) for ``count`` customers."""
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.id, b.code, s.employee_no FROM customers c "
                "JOIN branches b ON b.id = c.branch_id "
                "JOIN staff s ON s.id = c.relationship_manager_id "
                "ORDER BY c.id LIMIT :n"
            ),
            {"n": count},
        ).all()
    engine.dispose()
    return [(r[0], r[1], r[2], _global("Customer", r[0])) for r in rows]


def _global(type_name: str, pk: int) -> str:
    from core.ids import global_id

    return global_id(type_name, pk)


class Driver:
    """Posts GraphQL as the staff each lane needs (tokens minted once)."""

    def __init__(self, settings: Settings, post: Any) -> None:
        self.settings = settings
        self.post = post
        self.tokens: dict[str, str] = {}
        self.latencies: dict[str, list[float]] = {"completeTask": [], "snapshot": []}

    def gql(self, staff: str, query: str, variables: dict[str, Any], kind: str = "") -> Any:
        token = self.tokens.setdefault(staff, mint_token(self.settings, staff))
        headers = {"Authorization": f"Bearer {token}", "X-Purpose": "CUSTOMER_SERVICE"}
        started = time.perf_counter()
        response = self.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        elapsed = time.perf_counter() - started
        if kind:
            self.latencies[kind].append(elapsed)
        body = response.json()
        if "errors" in body:
            raise RuntimeError(body["errors"])
        return body["data"]

    def complete(self, staff: str, tasks: list[dict[str, Any]], element: str, data: Any) -> Any:
        task = next(t for t in tasks if t["elementId"] == element)
        payload = self.gql(
            staff, COMPLETE, {"input": {"id": task["id"], "data": data}}, "completeTask"
        )["completeTask"]
        if payload["errors"]:
            raise RuntimeError(payload["errors"])
        return payload["task"]["processInstance"]

    def snapshot(self, customer: str, n: int) -> None:
        self.gql(
            "HO0001",
            SNAPSHOT,
            {
                "input": {
                    "customerId": customer,
                    "asOf": "2026-10-31",
                    "annualIncome": str(300000 + n),
                    "totalAssets": "2500000",
                    "totalLiabilities": "400000",
                    "assetsUnderManagement": "750000",
                    "source": {"kind": "BUSINESS_TRANSACTION", "detail": "bench"},
                }
            },
            "snapshot",
        )

    def lifecycle(self, n: int, customer: tuple[int, str, str, str]) -> int:
        """Submit and close one complaint; returns its state size at close."""
        _pk, branch, manager, global_id = customer
        submitted = self.gql(
            "HO0001",
            SUBMIT,
            {
                "input": {
                    "customerId": global_id,
                    "channel": "HOTLINE",
                    "category": "FEES_AND_CHARGES",
                    "description": "账户管理费扣收未提前告知",
                    "idempotencyKey": f"bench-{n}",
                }
            },
        )["submitComplaint"]
        tasks = submitted["complaint"]["process"]["instance"]["openTasks"]
        handler = "CH0001" if branch == "BJ01" else f"{branch}CH01"
        supervisor = "SUP0001" if branch == "BJ01" else f"{branch}SUP01"
        tasks = self.complete(supervisor, tasks, "Task_AssignHandler", {"handler": handler})[
            "openTasks"
        ]
        self.snapshot(global_id, n)
        tasks = self.complete(handler, tasks, "Task_Investigate", DEMO_INVESTIGATION)["openTasks"]
        tasks = self.complete(handler, tasks, "Task_DecisionNotice", DEMO_DECISION)["openTasks"]
        self.snapshot(global_id, n + 1)
        tasks = self.complete(
            manager, tasks, "Task_CallBack", {"satisfaction_score": 5, "satisfied": True}
        )["openTasks"]
        done = self.complete(manager, tasks, "Task_ReviewRequest", {"review_requested": False})
        assert done["status"] == "COMPLETED", done
        return int(done["stateSize"])


def run_lifecycles(env: dict[str, str], label: str) -> None:
    settings = Settings.from_env(env)
    people = customers(settings, COMPLAINTS)
    with server(env) as base, httpx.Client(base_url=base, timeout=60) as client:
        driver = Driver(settings, client.post)
        started = time.perf_counter()
        sizes = [driver.lifecycle(n, c) for n, c in enumerate(people)]
        elapsed = time.perf_counter() - started
    complete_median = statistics.median(driver.latencies["completeTask"])
    snapshot_median = statistics.median(driver.latencies["snapshot"])
    ratio = complete_median / snapshot_median
    print(
        f"  {label}: {len(sizes)} complaints submitted and closed over HTTP in {elapsed:.1f} s "
        f"→ {len(sizes) / elapsed:.1f} complaints/s"
    )
    verdict = "met" if max(sizes) <= 64 * 1024 else "MISSED"
    print(
        f"  {label}: state at close: median {statistics.median(sizes) / 1024:.1f} KB, "
        f"max {max(sizes) / 1024:.1f} KB (target ≤ 64 KB: {verdict})"
    )
    print(
        f"  {label}: completeTask median {complete_median * 1000:.2f} ms, recordFinancialSnapshot "
        f"median {snapshot_median * 1000:.2f} ms → ratio {ratio:.2f}× "
        f"(target ≤ 3×: {'met' if ratio <= 3 else 'MISSED'})"
    )


def engine_share(env: dict[str, str], label: str) -> None:
    """Share of request time inside SpiffWorkflow, measured in process on SAMPLE lifecycles."""
    from kehu.app import create_app
    from workflows.engine import EngineClock

    settings = Settings.from_env(env)
    people = customers(settings, COMPLAINTS + SAMPLE)[COMPLAINTS:]
    app = create_app(settings)
    with TestClient(app) as client:
        driver = Driver(settings, client.post)
        engine_before = EngineClock.seconds
        started = time.perf_counter()
        for n, customer in enumerate(people):
            driver.lifecycle(COMPLAINTS + 10 * n, customer)
        total = time.perf_counter() - started
        inside = EngineClock.seconds - engine_before
    print(
        f"  {label}: time inside SpiffWorkflow (load, steps, save): {inside:.2f} s of "
        f"{total:.2f} s of requests → {100 * inside / total:.1f} %"
    )


def timers(env: dict[str, str], label: str) -> None:
    """TIMERS complaints with a clock due, swept by one `kehu worker --once --now` run."""
    from kehu.wiring import wire

    wire()
    from resolvers import workflows as workflow_logic
    from resolvers.complaints import commands as logic
    from resolvers.complaints.sweep import due_complaint_ids
    from store.complaints import Category, Channel
    from store.db import make_session_factory, transaction
    from store.staff import Staff
    from store.workflows import ProcessTask
    from workflows.deployment import ensure_deployed

    settings = Settings.from_env(env)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    people = customers(settings, CUSTOMERS)[-TIMERS:]
    with transaction(factory) as session:
        ensure_deployed(session)
        staff = {s.employee_no: s for s in session.scalars(select(Staff))}
        for n, (pk, branch, _manager, _id) in enumerate(people):
            complaint, _ = logic.submit(
                session,
                staff["HO0001"],
                logic.ComplaintDraft(pk, Channel.ONLINE, Category.CARDS, "年费争议", f"timer-{n}"),
                true(),  # head office registers them: every customer is visible
            )
            supervisor = staff["SUP0001" if branch == "BJ01" else f"{branch}SUP01"]
            task = session.scalars(
                select(ProcessTask).where(ProcessTask.instance_id == complaint.instance_id)
            ).one()
            handler = "CH0001" if branch == "BJ01" else f"{branch}CH01"
            workflow_logic.complete_task(session, supervisor, task.id, {"handler": handler})
    # Five days on, every complaint's progress update is due.
    due = clock.now() + timedelta(days=5, hours=1)
    with factory() as session:
        waiting = due_complaint_ids(session, due, TIMERS * 2, set())
    output = subprocess.run(
        [sys.executable, "-m", "kehu.cli", "worker", "--once", "--now", due.isoformat()],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    match = re.search(
        r"Advanced (\d+) instances, swept (\d+) complaints' deadlines \((\d+) failed\) "
        r"in ([\d.]+) s",
        output,
    )
    if match is None:
        raise RuntimeError(output)
    swept, failed, seconds = int(match[2]), int(match[3]), float(match[4])
    print(
        f"  {label}: worker --once swept {swept} complaints with a clock due ({len(waiting)} "
        f"waiting, {failed} failed) in {seconds:.1f} s → {swept / seconds:.0f} complaints/s"
    )
    engine.dispose()


def own_postgres_database(base_url: str) -> str:
    """A database of its own beside the configured one (this bench empties it every run)."""
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = "kehu_bench_complaints"
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
        if not exists:
            connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    print(f"bench/complaints.py — {COMPLAINTS} complaints, {TIMERS} timers")
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    base = postgres_url()
    if base:
        backends.append(("PostgreSQL", own_postgres_database(base)))
    for label, url in backends:
        env = fresh_database("complaints" if url is None else "complaints-pg", url)
        run_lifecycles(env, label)
        engine_share(env, label)
        timers(env, label)


if __name__ == "__main__":
    main()
