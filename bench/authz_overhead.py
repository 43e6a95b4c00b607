"""Bench: the cost of access control on the 100-row customers page.

Runs the page of bench/customers_page.py in-process (schema.execute_sync, the same work as an
HTTP request without the network) as (a) HEAD_OFFICE, everything FULL; (b) a relationship
manager, own customers with the ID number masked; (c) authorization switched off (every field
FULL, every row visible). Prints (a)/(c) (target ≤ 1.15×), (b)/(c) (target ≤ 1.3×) and the
number of Casbin enforce calls per request for 10 and 100 rows (must not grow with the page).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from common import bench_env, postgres_url, prepared
from customers_page import QUERY
from sqlalchemy import select

from authz.fields import PolicyAccess
from authz.policy import AccessPolicy
from schema.schema import build_schema
from schema.shared.context import Context
from store.db import make_engine, make_session_factory
from store.staff import Staff

RUNS = 40


def run(name: str, database_url: str | None) -> None:
    print(f"\n== authz overhead on {name} ==", flush=True)
    settings = prepared(bench_env(name, database_url))
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    schema = build_schema(settings)
    policy = AccessPolicy()
    with factory() as session:
        staff = {
            s.employee_no: s
            for s in session.scalars(
                select(Staff).where(Staff.employee_no.in_(["HO0001", "RM0001"]))
            )
        }
        for member in staff.values():
            session.expunge(member)

    def request(
        employee_no: str, purpose: str, off: bool = False, first: int = 100
    ) -> Callable[[], None]:
        def once() -> None:
            ctx = Context(settings=settings, session_factory=factory, policy=policy)
            ctx.authorize(staff[employee_no], purpose)
            if off:
                ctx.access.fields = PolicyAccess.reveal_all()
                ctx.access.row_scopes = frozenset({"bank"})
            result = schema.execute_sync(QUERY, variable_values={"first": first}, context_value=ctx)
            ctx.close()
            assert not [
                e for e in result.errors or [] if e.extensions.get("code") != "FIELD_FORBIDDEN"
            ], result.errors
            assert len(result.data["customers"]["edges"]) == first  # type: ignore[index]

        return once

    modes = {
        "a": request("HO0001", "CUSTOMER_SERVICE"),
        "b": request("RM0001", "RELATIONSHIP_MANAGEMENT"),
        "c": request("HO0001", "CUSTOMER_SERVICE", off=True),
    }
    for action in modes.values():
        for _ in range(5):
            action()
    samples: dict[str, list[float]] = {key: [] for key in modes}
    for _ in range(RUNS):
        for key, action in modes.items():  # interleaved: noise hits every mode alike
            started = time.perf_counter()
            action()
            samples[key].append(time.perf_counter() - started)
    median = {key: statistics.median(values) for key, values in samples.items()}
    a, b = median["a"] / median["c"], median["b"] / median["c"]
    print(
        f"(a) head office, all FULL: {median['a'] * 1000:.2f} ms; (b) relationship manager, "
        f"masked: {median['b'] * 1000:.2f} ms; (c) authorization off: {median['c'] * 1000:.2f} ms"
    )
    print(
        f"(a)/(c) = {a:.2f}× (target ≤ 1.15×: {'met' if a <= 1.15 else 'NOT met'}); "
        f"(b)/(c) = {b:.2f}× (target ≤ 1.3×: {'met' if b <= 1.3 else 'NOT met'})"
    )
    calls = {}
    for first in (10, 100):
        before = policy.enforce_calls
        request("RM0001", "RELATIONSHIP_MANAGEMENT", first=first)()
        calls[first] = policy.enforce_calls - before
    print(
        f"Casbin enforce calls per request (warm): first:10 → {calls[10]}, first:100 → {calls[100]}"
    )
    cold = AccessPolicy()
    cold.decisions(["RELATIONSHIP_MANAGER"])
    print(f"enforce calls to compute one role's decisions once (cold cache): {cold.enforce_calls}")
    engine.dispose()


if __name__ == "__main__":
    run("sqlite", None)
    url = postgres_url()
    if url:
        run("postgresql", url)
