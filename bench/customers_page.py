"""Bench: one 100-row customers page over HTTP vs. the floor (one SQL query + orjson).

Prints (a) SQL statements per request for first: 10 and first: 100 (target: equal, ≤ 5) and
(b) median HTTP time / median floor time (target ≤ 5×), on SQLite and, when a PostgreSQL URL
is configured (KEHU_BENCH_POSTGRES_URL or KEHU_TEST_POSTGRES_URL), on PostgreSQL.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx2 as httpx
import orjson
from common import bench_env, postgres_url, prepared, server
from sqlalchemy import text
from starlette.testclient import TestClient

from kehu.app import create_app
from kehu.auth import mint_token
from store import crypto
from store.db import StatementCounter, make_engine

QUERY = """
query Page($first: Int!) {
  customers(first: $first) {
    edges { node {
      id version name gender birthDate age idNumber phone email address occupation employer
      createdAt
      branch { name }
      relationshipManager { name employeeNo }
      latestFinancialSnapshot { asOf assetsUnderManagement totalAssets }
      riskProfile { riskTolerance creditStatus }
    } }
  }
}
"""

FLOOR_SQL = """
SELECT c.id, c.version, c.name, c.gender, c.birth_date, c.id_number, c.phone, c.email, c.address,
       c.occupation, c.employer, c.created_at, b.name AS branch_name,
       s.name AS manager_name, s.employee_no AS manager_no,
       f.as_of, f.assets_under_management, f.total_assets,
       r.risk_tolerance, r.credit_status
FROM customers c
JOIN branches b ON b.id = c.branch_id
LEFT JOIN staff s ON s.id = c.relationship_manager_id
LEFT JOIN (
  SELECT customer_id, as_of, assets_under_management, total_assets,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY as_of DESC, id DESC) AS rank
  FROM financial_snapshots WHERE customer_id IN (SELECT id FROM customers ORDER BY id LIMIT :n)
) f ON f.customer_id = c.id AND f.rank = 1
LEFT JOIN (
  SELECT customer_id, risk_tolerance, credit_status,
         ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY assessed_at DESC, id DESC) AS rank
  FROM risk_assessments WHERE customer_id IN (SELECT id FROM customers ORDER BY id LIMIT :n)
) r ON r.customer_id = c.id AND r.rank = 1
ORDER BY c.id LIMIT :n
"""

RUNS = 40


def floor(engine: Any, n: int, sqlite: bool) -> bytes:
    """The same rows by one hand-written query, decrypted, serialised with orjson."""
    cipher = crypto.cipher()
    with engine.connect() as connection:
        rows = connection.execute(text(FLOOR_SQL), {"n": n}).all()
    money = (
        (lambda v: None if v is None else f"{int(v) / 100:.2f}")
        if sqlite
        else (lambda v: None if v is None else str(v))
    )
    out = [
        {
            "id": r.id,
            "version": r.version,
            "name": r.name,
            "gender": r.gender,
            "birthDate": str(r.birth_date),
            "idNumber": cipher.open(r.id_number, "customers", "id_number", r.id),
            "phone": cipher.open(r.phone, "customers", "phone", r.id) if r.phone else None,
            "email": cipher.open(r.email, "customers", "email", r.id) if r.email else None,
            "address": cipher.open(r.address, "customers", "address", r.id) if r.address else None,
            "occupation": r.occupation,
            "employer": r.employer,
            "createdAt": str(r.created_at),
            "branch": {"name": r.branch_name},
            "relationshipManager": {"name": r.manager_name, "employeeNo": r.manager_no},
            "latestFinancialSnapshot": {
                "asOf": str(r.as_of),
                "assetsUnderManagement": money(r.assets_under_management),
                "totalAssets": money(r.total_assets),
            },
            "riskProfile": {"riskTolerance": r.risk_tolerance, "creditStatus": r.credit_status},
        }
        for r in rows
    ]
    return orjson.dumps({"data": {"customers": {"edges": [{"node": o} for o in out]}}})


def interleaved_medians(first: Any, second: Any, runs: int = RUNS) -> tuple[float, float]:
    """Median seconds of two actions, alternated so that machine noise hits both alike."""
    for _ in range(5):
        first()
        second()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for action, bucket in ((first, samples[0]), (second, samples[1])):
            started = time.perf_counter()
            action()
            bucket.append(time.perf_counter() - started)
    return statistics.median(samples[0]), statistics.median(samples[1])


def run(name: str, database_url: str | None) -> None:
    print(f"\n== customers page on {name} ==", flush=True)
    env = bench_env(name, database_url)
    settings = prepared(env)
    engine = make_engine(settings.database_url)
    token = mint_token(settings, "HO0001")
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": "CUSTOMER_SERVICE"}

    # (a) statements per request, counted in-process on the same database.
    app = create_app(settings, engine)
    counts = {}
    with TestClient(app) as client:
        # Steady state: per-process caches (policy decisions, grant presence) are warm.
        client.post("/graphql", json={"query": QUERY, "variables": {"first": 1}}, headers=headers)
        for n in (10, 100):
            with StatementCounter(engine) as counter:
                body = client.post(
                    "/graphql", json={"query": QUERY, "variables": {"first": n}}, headers=headers
                ).json()
            assert "errors" not in body, body
            assert len(body["data"]["customers"]["edges"]) == n
            counts[n] = counter.count
    print(
        f"SQL statements: first:10 → {counts[10]}, first:100 → {counts[100]}  "
        f"(target: equal and ≤ 5: {'met' if counts[10] == counts[100] <= 5 else 'NOT met'})"
    )

    # (b) full HTTP request against `kehu serve` vs. the floor.
    sqlite = settings.database_url.startswith("sqlite")
    with server(env) as base, httpx.Client(base_url=base, headers=headers) as client:
        payload = {"query": QUERY, "variables": {"first": 100}}

        def request() -> None:
            response = client.post("/graphql", json=payload)
            assert response.status_code == 200 and b'"errors"' not in response.content

        http, floor_time = interleaved_medians(request, lambda: floor(engine, 100, sqlite))
    ratio = http / floor_time
    print(
        f"median HTTP request {http * 1000:.2f} ms, floor {floor_time * 1000:.2f} ms → "
        f"ratio {ratio:.2f}× (target ≤ 5×: {'met' if ratio <= 5 else 'NOT met'})"
    )
    engine.dispose()


if __name__ == "__main__":
    run("sqlite", None)
    url = postgres_url()
    if url:
        run("postgresql", url)
    else:
        print("\n(PostgreSQL skipped: set KEHU_BENCH_POSTGRES_URL to include it)")
