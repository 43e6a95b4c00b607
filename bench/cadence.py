"""Bench: cadence compliance (REL-2, ``contactCadence``) bank-wide, counted in SQL.

The bench database gets ``KEHU_BENCH_CUSTOMERS`` customers (default 10,000), placed and
classified as ``bench/contacts.py`` does, then moved two years back (joined, classified) with
their one to three contacts spread over the last 400 days. In-process over HTTP, head office's
``contactCadence(by: BRANCH)`` for a month, a quarter and a year: SQL statements per request
and median time, against the Python loop it replaced (every customer and every contact of the
window loaded, then counted per customer and period; today's tier), run on the same data.

SQLite, plus PostgreSQL with ``KEHU_BENCH_POSTGRES_URL`` (its own database: the bench seeds it).
"""

from __future__ import annotations

import os
import statistics
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import common
from common import bench_env
from contacts import _arrange, timed
from sqlalchemy import event, func, select, text, update
from sqlalchemy.orm import Session

from core import clock
from core.settings import Settings
from resolvers.contacts import cadence
from resolvers.segments.loaders import effective_tier
from store import audit_chain, crypto
from store.contacts import Contact
from store.customers import Customer
from store.db import make_engine
from store.segments import SegmentChange, ValueTier

REPEAT = int(os.environ.get("KEHU_BENCH_REPEAT", "5"))
CUSTOMERS = min(common.CUSTOMERS, int(os.environ.get("KEHU_BENCH_CUSTOMERS", "10000")))
common.CUSTOMERS = CUSTOMERS

QUERY = """query($period: CadencePeriod!, $of: Date!) {
  contactCadence(period: $period, of: $of, by: BRANCH) { rows { due met rate } total { due met } }
}"""


def prepared(name: str, url: str | None) -> Settings:
    settings = common.prepared(bench_env(name, url), ["--transactions", "2", "--complaints", "0"])
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        if session.scalar(select(Contact.id).limit(1)) is None:
            print("  placing customers, classifying, logging contacts (once) …", flush=True)
            _arrange(session)
            _backdate(session)
    engine.dispose()
    return settings


def _backdate(session: Session) -> None:
    """Customers joined and were classified two years ago; contacts over the last 400 days."""
    then = clock.now() - timedelta(days=730)
    session.execute(update(Customer).values(created_at=then))
    session.execute(update(SegmentChange).values(changed_at=then))
    ids = list(session.scalars(select(Contact.id).order_by(Contact.id)))
    now = clock.now()
    for start in range(0, len(ids), 5000):
        session.execute(
            update(Contact),
            [
                {"id": pk, "contacted_at": now - timedelta(hours=(pk * 7919) % (400 * 24))}
                for pk in ids[start : start + 5000]
            ],
        )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))
        session.commit()


def python_loop(session: Session, report: cadence.Period, today: date) -> tuple[int, int]:
    """The count as it was before: customers and the window's contacts loaded, counted in
    Python per customer and period, with today's tier (a reference, not the rule now)."""
    due_periods = {
        tier: [p for p in cadence.periods_ending_in(kind, report) if p.end <= today]
        for tier, kind in cadence.CADENCE.items()
    }
    tier = func.coalesce(effective_tier(clock.now()), cadence.UNCLASSIFIED.value)
    customers = session.execute(select(Customer.id, Customer.created_at, tier.label("tier")))
    starts = [p for ps in due_periods.values() for p in ps]
    days: dict[int, list[date]] = defaultdict(list)
    if starts:
        window = select(Contact.customer_id, Contact.contacted_at).where(
            Contact.contacted_at >= min(p.starts_at for p in starts),
            Contact.contacted_at < max(p.ends_at for p in starts),
        )
        for customer_id, at in session.execute(window):
            days[customer_id].append(at.astimezone(clock.BUSINESS_TIME).date())
    due = met = 0
    for customer in customers.all():
        joined = customer.created_at.astimezone(clock.BUSINESS_TIME).date()
        for period in due_periods[ValueTier(customer.tier)]:
            if period.start >= joined:
                due += 1
                met += any(period.start <= d < period.end for d in days.get(customer.id, []))
    return due, met


def bench(settings: Settings, label: str) -> None:
    from starlette.testclient import TestClient

    from kehu.app import create_app
    from kehu.auth import mint_token

    engine = make_engine(settings.database_url, hide_parameters=True)
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        statements[0] += 1

    today = clock.today()
    last_month = today.replace(day=1) - timedelta(days=1)
    reports = [
        ("MONTH", last_month),
        ("QUARTER", last_month.replace(day=1) - timedelta(days=95)),
        ("YEAR", today.replace(year=today.year - 1)),
    ]
    headers = {"Authorization": f"Bearer {mint_token(settings, 'HO0001')}"}
    with TestClient(create_app(settings, engine)) as client:
        for kind, of in reports:
            body = {"query": QUERY, "variables": {"period": kind, "of": of.isoformat()}}
            client.post("/graphql", json=body, headers=headers)  # warm
            api, counted = [], []
            for _ in range(REPEAT):
                before = statements[0]
                seconds, response = timed(
                    lambda b=body: client.post("/graphql", json=b, headers=headers)
                )
                answer = response.json()
                assert "errors" not in answer, answer
                counted.append(statements[0] - before)
                api.append(seconds)
            total = answer["data"]["contactCadence"]["total"]
            report = cadence.report_period(cadence.PeriodKind(kind), of, "of")
            with Session(engine) as session:
                loop = [
                    timed(lambda s=session, r=report: python_loop(s, r, today)) for _ in range(3)
                ]
            loop_seconds = statistics.median(t for t, _ in loop)
            old_due, old_met = loop[0][1]
            print(
                f"contactCadence {label}, {kind} {report.label}, bank-wide {CUSTOMERS:,} "
                f"customers: {max(counted)} statements per request (auth included), "
                f"{statistics.median(api) * 1000:.0f} ms over HTTP (due {total['due']:,}, met "
                f"{total['met']:,}); the Python loop it replaced {loop_seconds * 1000:.0f} ms "
                f"(due {old_due:,}, met {old_met:,}; today's tier)",
                flush=True,
            )
    engine.dispose()


if __name__ == "__main__":
    targets = [("SQLite", prepared("cadence", None))]
    postgres = os.environ.get("KEHU_BENCH_POSTGRES_URL")
    if postgres:
        targets.append(("PostgreSQL", prepared("cadence-pg", postgres)))
    for label, settings in targets:
        bench(settings, label)
