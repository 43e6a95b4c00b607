"""Bench: ``kehu care run`` for 100,000 customers (REL-4): seconds and statements per run.

Two days are run as ``kehu care run`` runs them (one unit of work, audit entry, commit): the
Spring Festival 2027-02-06 (every customer gets a greeting, and the day's birthdays) and an
ordinary day (birthdays only); each is run twice, the second time finding nothing new. The care
rows and messages of an earlier bench run are removed first. The statements are counted on the
engine (all of them); they grow with the day's occasions and the pages of 1,000 rows written,
not per customer.

SQLite, plus PostgreSQL with ``KEHU_BENCH_POSTGRES_URL`` (its own database: the bench seeds it).
``KEHU_BENCH_CUSTOMERS`` changes the size (default 100,000).
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime
from datetime import time as clock_time

import common
from common import bench_env
from sqlalchemy import text
from sqlalchemy.orm import Session

from core import clock
from core.settings import Settings
from resolvers.care import runs
from resolvers.shared import unit_of_work
from store import audit_chain, crypto
from store.db import StatementCounter, make_engine

DAYS = (date(2027, 2, 6), date(2027, 3, 10))


def bench(settings: Settings, label: str) -> None:
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    engine = make_engine(settings.database_url)
    with engine.begin() as connection:
        customers = connection.execute(text("SELECT COUNT(*) FROM customers")).scalar_one()
        connection.execute(text("DELETE FROM care_occasions"))
        connection.execute(text("DELETE FROM care_runs"))
        connection.execute(text("DELETE FROM outbox_messages WHERE subject LIKE '%祝福'"))
    for day in DAYS:
        for attempt in ("first", "again"):
            moment = datetime.combine(day, clock_time(6), clock.BUSINESS_TIME)
            with (
                clock.travel_to(moment),
                Session(engine) as session,
                StatementCounter(engine) as counter,
            ):
                started = time.perf_counter()
                run = unit_of_work.run(
                    session,
                    unit_of_work.Actor(name="bench"),
                    unit_of_work.SYSTEM,
                    "runCare",
                    lambda s, d=day: runs.run(s, d, "bench"),
                )
                seconds = time.perf_counter() - started
                made, sent = run.occasions, run.messages
            print(
                f"care run {label}, {day.isoformat()} ({attempt}), {customers:,} customers: "
                f"{seconds:.2f} s, {counter.count} statements, {made:,} care tasks, "
                f"{sent:,} messages",
                flush=True,
            )
    engine.dispose()


if __name__ == "__main__":
    targets = [("SQLite", common.prepared(bench_env("care", None), ["--complaints", "0"]))]
    postgres = os.environ.get("KEHU_BENCH_POSTGRES_URL")
    if postgres:
        targets.append(
            ("PostgreSQL", common.prepared(bench_env("care-pg", postgres), ["--complaints", "0"]))
        )
    for label, settings in targets:
        bench(settings, label)
