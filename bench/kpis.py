"""Bench: a full quarterly KPI set (KPI-1) for the bank and every branch.

The bench database: ``KEHU_BENCH_CUSTOMERS`` customers (default 100,000) with 10 transactions
each (~1M) as ``kehu seed`` makes them (the seeder the other benches use), then, once, written
in bulk over the last 15 months: 20,000 complaints at every stage (decided on time or late,
closed with a call-back score, some reviews), 200,000 contacts, 20,000 survey responses
(satisfaction and would-recommend), 10,000 computed tier changes up and down, and the accounts
of 2,000 customers closed (lost customers).

Measured, each a median of ``KEHU_BENCH_REPEAT`` (default 3) after one warm-up:

1. ``kpis(period: {label: <last full quarter>}, drillDown: true)`` as head office over HTTP
   (in-process app, every indicator with its value, numerator, denominator, both changes and
   its 5-quarter series — which holds the previous quarter and last year's — for the bank and
   its branches): seconds and SQL statements per request;
2. the same through the internal API (``resolvers.kpis.compute.compute``);
3. the floor: the very SQL statements (and parameters) the computation ran, replayed raw
   through the driver, rows fetched.

Prints seconds and the ratios (target ≤ 1.5× the floor, and under 3 s on PostgreSQL).
SQLite, plus PostgreSQL with ``KEHU_BENCH_POSTGRES_URL`` (its own database: the bench seeds it).
``KEHU_BENCH_BACKENDS=sqlite`` or ``postgresql`` runs one of them; the databases are kept (and
reused) under ``KEHU_BENCH_DIR`` (default ``var/bench``).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import timedelta
from typing import Any

import common
from common import bench_env
from sqlalchemy import event, select, text, true, update
from sqlalchemy.orm import Session

from core import clock
from core.settings import Settings
from kehu.seed.bulk import bulk_insert
from resolvers.kpis import compute, periods
from resolvers.kpis.scope import Level, Scope
from resolvers.shared.periods import PeriodKind, period_of
from store import audit_chain, crypto
from store.complaints import Complaint
from store.contacts import Contact
from store.customers import Account, Customer
from store.db import make_engine
from store.segments import SegmentChange
from store.staff import Staff
from store.surveys import Questionnaire, SurveyAnswer, SurveyRequest, SurveyResponse

REPEAT = int(os.environ.get("KEHU_BENCH_REPEAT", "3"))
SCALE = common.CUSTOMERS / 100_000
COMPLAINTS = int(20_000 * SCALE)
CONTACTS = int(200_000 * SCALE)
RESPONSES = int(20_000 * SCALE)
CHANGES = int(10_000 * SCALE)
LOST = int(2_000 * SCALE)
SPAN = timedelta(days=455)  # 15 months back: the quarter, its series and last year's

QUERY = """query($label: String!) {
  kpis(period: {label: $label}, drillDown: true) {
    label scope { label values { ...v } } children { id label values { ...v } }
  }
}
fragment v on KpiValue {
  indicator value numerator denominator nullReason
  changeFromPrevious { absolute relative } changeFromLastYear { absolute relative }
  series { label value numerator denominator customers nullReason breakdown { key customers } }
}"""


def prepared(name: str, url: str | None) -> Settings:
    settings = common.prepared(bench_env(name, url), ["--transactions", "10", "--complaints", "0"])
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        if session.scalar(select(Complaint.id).limit(1)) is None:
            print("  writing complaints, contacts, surveys, tier changes, closings (once) …")
            started = time.perf_counter()
            _arrange(session)
            print(f"  … in {time.perf_counter() - started:.0f} s", flush=True)
    engine.dispose()
    return settings


def _next_id(session: Session, table: str) -> int:
    return int(session.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")) or 0) + 1


def _arrange(session: Session) -> None:
    rng = random.Random(14)
    now = clock.now()
    customers = session.execute(select(Customer.id, Customer.branch_id)).all()
    staff = list(session.scalars(select(Staff.id)))
    questionnaire = session.scalars(
        select(Questionnaire.id).where(Questionnaire.code == "SATISFACTION")
    ).first()
    connection = session.connection()

    def moment() -> Any:
        return now - timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))

    rows: list[dict[str, Any]] = []
    first = _next_id(session, "complaints")
    for n in range(COMPLAINTS):
        customer_id, branch_id = rng.choice(customers)
        accepted = moment()
        due = accepted + timedelta(days=15)
        decided = accepted + timedelta(days=rng.choice((1, 5, 10, 14, 16, 20)))
        stage = rng.random()
        decided_at = decided if stage > 0.2 and decided < now else None
        closed_at = decided_at + timedelta(days=2) if decided_at and stage > 0.35 else None
        rows.append(
            {
                "id": first + n,
                "reference": f"BENCH-{first + n}",
                "customer_id": customer_id,
                "branch_id": branch_id,
                "channel": rng.choice(("HOTLINE", "EMAIL", "ONLINE", "BRANCH_COUNTER")),
                "category": rng.choice(("FEES_AND_CHARGES", "CARDS", "SERVICE_ATTITUDE")),
                "description": "客户反映账户管理费扣收未提前告知",
                "idempotency_key": f"bench-{first + n}",
                "submitted_by_id": staff[0],
                "accepted_at": accepted,
                "status": "CLOSED" if closed_at else ("DECIDED" if decided_at else "INVESTIGATING"),
                "complexity": "STANDARD",
                "sla_state": "ON_TRACK",
                "decision_due_at": due,
                "decided_at": decided_at,
                "satisfaction_score": rng.randint(1, 5) if closed_at else None,
                "closed_at": closed_at,
                "review_requested_at": (
                    decided_at + timedelta(days=3) if decided_at and stage > 0.95 else None
                ),
                "systemic": False,
                "resolved_on_the_spot": False,
                "persons_involved": 1,
                "major": False,
                "paused_days": 0,
            }
        )
    bulk_insert(connection, Complaint, rows)
    contact_first = _next_id(session, "contacts")
    rows = []
    contacted: list[tuple[int, int, Any]] = []
    for n in range(CONTACTS):
        customer_id, _ = rng.choice(customers)
        at = moment()
        rows.append(
            {
                "id": contact_first + n,
                "customer_id": customer_id,
                "staff_id": rng.choice(staff),
                "channel": rng.choice(("PHONE", "VISIT", "WECHAT", "SMS")),
                "purpose": "CARE_AND_FEEDBACK",
                "contacted_at": at,
                "summary": "客户咨询理财到期安排",
                "recorded_at": at,
            }
        )
        if n < RESPONSES:
            contacted.append((contact_first + n, customer_id, at))
        if len(rows) == 20_000:
            bulk_insert(connection, Contact, rows)
            rows = []
    bulk_insert(connection, Contact, rows)
    request_first = _next_id(session, "survey_requests")
    response_first = _next_id(session, "survey_responses")
    answer_first = _next_id(session, "survey_answers")
    requests, responses, answers = [], [], []
    for n, (contact_id, customer_id, at) in enumerate(contacted):
        requests.append(
            {
                "id": request_first + n,
                "customer_id": customer_id,
                "questionnaire_id": questionnaire,
                "occasion": "CONTACT",
                "occasion_id": contact_id,
                "requested_by_id": staff[0],
                "requested_at": at,
                "answered_at": at,
            }
        )
        responses.append(
            {
                "id": response_first + n,
                "request_id": request_first + n,
                "customer_id": customer_id,
                "questionnaire_id": questionnaire,
                "recorded_by_id": staff[0],
                "recorded_at": at,
            }
        )
        for k, (question, metric) in enumerate(
            (("satisfaction", "SATISFACTION"), ("recommend", "RECOMMEND"))
        ):
            answers.append(
                {
                    "id": answer_first + 2 * n + k,
                    "response_id": response_first + n,
                    "question": question,
                    "metric": metric,
                    "scale": rng.randint(1, 5) if k == 0 else None,
                    "yes_no": rng.random() < 0.7 if k == 1 else None,
                }
            )
    bulk_insert(connection, SurveyRequest, requests)
    bulk_insert(connection, SurveyResponse, responses)
    bulk_insert(connection, SurveyAnswer, answers)
    change_first = _next_id(session, "segment_changes")
    tiers = ("LOW", "MEDIUM", "HIGH")
    changes = []
    for n in range(CHANGES):
        customer_id, _ = rng.choice(customers)
        before, after = rng.sample(tiers, 2)
        changes.append(
            {
                "id": change_first + n,
                "customer_id": customer_id,
                "from_tier": before,
                "to_tier": after,
                "from_private_banking": False,
                "to_private_banking": False,
                "reason": "INPUTS_CHANGED",
                "rule_set_version": 1,
                "changed_at": moment(),
                "changed_by": "bench",
            }
        )
    bulk_insert(connection, SegmentChange, changes)
    for customer_id, _ in rng.sample(customers, LOST):
        day = clock.business_date(moment())
        session.execute(
            update(Account).where(Account.customer_id == customer_id).values(closed_on=day)
        )
    if session.get_bind().dialect.name == "postgresql":
        for table in ("complaints", "contacts", "survey_requests", "survey_responses"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
            )
        for table in ("survey_answers", "segment_changes"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
            )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))
        session.commit()


def _median(action: Any) -> tuple[float, Any]:
    action()  # warm
    seconds, result = [], None
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def bench(settings: Settings, label: str) -> None:
    from starlette.testclient import TestClient

    from kehu.app import create_app
    from kehu.auth import mint_token

    engine = make_engine(settings.database_url, hide_parameters=True)
    captured: list[tuple[str, Any]] = []
    recording = [False]

    @event.listens_for(engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if recording[0]:
            captured.append((statement, parameters))

    today = clock.today()
    quarter = period_of(PeriodKind.QUARTER, today).previous()
    label_q = f"{quarter.start.year}-Q{(quarter.start.month - 1) // 3 + 1}"
    period = periods.parse(label_q, None, None, today)
    indicators = compute.indicators_of(None)

    def internal() -> compute.Report:
        with Session(engine) as session:
            return compute.compute(
                session,
                period,
                Scope(Level.BANK),
                indicators,
                now=clock.now(),
                today=today,
                visible=true(),
                drill_down=True,
            )

    recording[0] = True
    report = internal()
    recording[0] = False
    statements = list(captured)

    def floor() -> int:
        rows = 0
        with engine.connect() as connection:
            for statement, parameters in statements:
                cursor = connection.exec_driver_sql(statement, parameters)
                if cursor.returns_rows:  # every SELECT, the settings' set_config ones too
                    rows += len(cursor.fetchall())
        return rows

    floor_s, _ = _median(floor)
    internal_s, _ = _median(internal)
    headers = {"Authorization": f"Bearer {mint_token(settings, 'HO0001')}"}
    body = {"query": QUERY, "variables": {"label": label_q}}
    with TestClient(create_app(settings, engine)) as client:
        counted = [0]

        @event.listens_for(engine, "before_cursor_execute")
        def count(*_: Any) -> None:
            counted[0] += 1

        def http() -> Any:
            response = client.post("/graphql", json=body, headers=headers)
            found = response.json()
            assert "errors" not in found, found.get("errors")
            return found

        http()
        counted[0] = 0
        http()
        per_request = counted[0]
        http_s, found = _median(http)
    branches = len(found["data"]["kpis"]["children"])
    units = [found["data"]["kpis"]["scope"], *found["data"]["kpis"]["children"]]
    values = sum(len(u["values"]) for u in units)
    assert branches == len(report.children)
    print(
        f"{label}: {label_q}, bank + {branches} branches, {values} indicator values (each with "
        f"its series of {len(period.series)} quarters): {len(statements)} KPI statements "
        f"({per_request} per HTTP request, auth included)"
    )
    for name, seconds in (("HTTP kpis", http_s), ("internal compute()", internal_s)):
        ratio = seconds / floor_s
        print(
            f"  {name}: {seconds:.3f} s vs raw SQL {floor_s:.3f} s → ratio {ratio:.2f}× "
            f"(target ≤ 1.5×: {'met' if ratio <= 1.5 else 'NOT met'})"
        )
    if label == "PostgreSQL":
        print(f"  under 3 s on PostgreSQL: {'met' if http_s < 3 else 'NOT met'} ({http_s:.2f} s)")
    engine.dispose()


if __name__ == "__main__":
    print(
        f"bench/kpis.py — {common.CUSTOMERS} customers, ~{common.CUSTOMERS * 10} transactions, "
        f"{COMPLAINTS} complaints, {CONTACTS} contacts"
    )
    # One database per size: the bulk data is written once, for the size it was made at.
    name = f"kpis-{common.CUSTOMERS}"
    # KEHU_BENCH_BACKENDS: "sqlite", "postgresql" or both (the default), comma-separated.
    backends = os.environ.get("KEHU_BENCH_BACKENDS", "sqlite,postgresql").lower().split(",")
    targets = []
    if "sqlite" in backends:
        targets.append(("SQLite", prepared(name, None)))
    postgres = os.environ.get("KEHU_BENCH_POSTGRES_URL")
    if postgres and "postgresql" in backends:
        targets.append(("PostgreSQL", prepared(f"{name}-pg", postgres)))
    for name, settings in targets:
        bench(settings, name)
