"""Bench: classify 100,000 customers with 12 months of transactions (~1M rows), SEG-1/SEG-4.

1. A bank-wide classification run as ``kehu classify`` runs it (``resolvers.segments.jobs``:
   asked for, computed in chunks of 10,000 customer keys with the progress committed after each,
   then history kept and current segments updated and re-assessment tasks synced in one unit of
   work) against the floor: one hand-written set-based SELECT computing the same tiers and risk
   grades (SEG-3: credit band, days past due, outflow, AUM drop, market risk), fetched whole. Prints
   seconds and the ratio (target ≤ 3×; under 60 s on SQLite), and checks that both agree on
   every customer's tier and private-banking mark.
2. The ``segments`` distribution, and ``segmentsOverTime`` over the last 12 months (by value tier,
   and by need: ``dimension: NEED``), as marketing
   asks for them over HTTP (in-process app): statements per request and median time against the
   same aggregate in raw SQL (target ≤ 1.5×).

SQLite, plus PostgreSQL with ``KEHU_BENCH_POSTGRES_URL`` (its own database: the bench seeds it).
``KEHU_BENCH_CUSTOMERS`` changes the size (default 100,000; 10 transactions each).
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import common
from common import bench_env
from sqlalchemy import bindparam, event, func, select, text
from sqlalchemy.orm import Session

from core import clock
from core.settings import Settings
from resolvers.segments import commands, jobs, model, risk_model, risk_sql
from resolvers.segments.runs import WINDOW
from resolvers.shared import unit_of_work
from store import audit_chain, crypto
from store.base import UTCDateTime
from store.customers import Customer
from store.db import make_engine, make_session_factory
from store.segments import CustomerNeed, Need, RiskGrade, RiskSignal, RunScope
from store.staff import Staff

TRANSACTIONS = 10
REPEAT = int(os.environ.get("KEHU_BENCH_REPEAT", "3"))


def prepared(name: str, url: str | None) -> Settings:
    """A bench database of CUSTOMERS customers with TRANSACTIONS transactions each (once)."""
    settings = common.prepared(
        bench_env(name, url), ["--transactions", str(TRANSACTIONS), "--complaints", "0"]
    )
    use_keys(settings)
    return settings


def use_keys(settings: Settings) -> None:
    """Seal and chain with this bench database's keys (each database has its own: the audit
    entries a run writes are sealed with the keys of the database benched, not the last one
    prepared)."""
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)


def risk_floor(risk: risk_model.RiskRuleSet, money: Any) -> str:
    """The risk grade as a CASE over the floor's columns (``cs``, ``dpd``, ``outflow``, ``drop``,
    ``mr``): HIGH if the band or any signal says so, else MEDIUM likewise, else LOW."""
    columns = {
        RiskSignal.DAYS_PAST_DUE: ("dpd", str),
        RiskSignal.LARGE_OUTFLOW: ("outflow", money),
        RiskSignal.AUM_DROP: ("dropped", lambda v: str(int(v * 100))),
        RiskSignal.MARKET_RISK: ("mr", str),
    }

    def says(grade: RiskGrade) -> str:
        band = next(b for b in risk.bands if b.grade is grade)
        inside = f"cs >= {band.from_score}"
        if band.below_score is not None:
            inside += f" AND cs < {band.below_score}"
        parts = [f"({inside})"]
        if risk.unscored_grade is grade:
            parts.append("cs IS NULL")
        for t in risk.thresholds:
            value = t.high_at if grade is RiskGrade.HIGH else t.medium_at
            if value is not None:
                column, unit = columns[t.signal]
                parts.append(f"{column} >= {unit(value)}")
        return " OR ".join(parts)

    return (
        f"CASE WHEN {says(RiskGrade.HIGH)} THEN 'HIGH' "
        f"WHEN {says(RiskGrade.MEDIUM)} THEN 'MEDIUM' ELSE 'LOW' END"
    )


def floor_sql(rules: model.RuleSet, risk: risk_model.RiskRuleSet, dialect: str) -> str:
    """The tiers and risk grades of every customer in one hand-written statement (the models in
    SQL)."""

    def money(value: Decimal) -> str:  # SQLite keeps money in fen (store.base.Money)
        return str(int(value * 100)) if dialect == "sqlite" else str(value)

    def div(a: str, b: str) -> str:
        return f"(({a}) / ({b}))" if dialect == "sqlite" else f"div({a}, {b})"

    columns = {
        "AUM": "aum",
        "TRANSACTION_FREQUENCY": "n",
        "DEPOSIT_BALANCE": "dep",
        "LOAN_AMOUNT": "loan",
        "FEE_INCOME": "fee",
    }
    terms = []
    for f in rules.factors:
        column = columns[f.input.value]
        full = money(f.full_score_at) if f.input in model.MONEY_INPUTS else str(f.full_score_at)
        points = (
            f"CASE WHEN {column} >= {full} THEN 10000 ELSE {div(f'{column} * 10000', full)} END"
        )
        terms.append(f"{f.weight_units} * {points}")
    outflow_types = ", ".join(f"'{t.value}'" for t in risk_sql.OUTFLOW_TYPES)
    lifted, plain = [], []
    lift = rules.lift_units
    for i, cut in enumerate(rules.cut_offs):
        inside = f"aum >= {money(cut.from_aum)}"
        if cut.below_aum is not None:
            inside += f" AND aum < {money(cut.below_aum)}"
        up = model.TIER_ORDER[min(i + 1, len(model.TIER_ORDER) - 1)].value
        if lift is not None:
            lifted.append(f"WHEN {inside} AND score >= {lift} THEN '{up}'")
        plain.append(f"WHEN {inside} THEN '{cut.tier.value}'")
    ranges = lifted + plain
    return f"""
WITH latest AS (SELECT customer_id, MAX(as_of) AS as_of FROM financial_snapshots
                GROUP BY customer_id),
aum AS (SELECT f.customer_id, f.assets_under_management AS aum FROM financial_snapshots f
        JOIN latest l ON l.customer_id = f.customer_id AND l.as_of = f.as_of),
act AS (SELECT customer_id, COUNT(*) AS n,
               SUM(CASE WHEN type = 'FEE' THEN amount ELSE 0 END) AS fee,
               SUM(CASE WHEN occurred_at >= :since_outflow AND type IN ({outflow_types})
                        THEN amount ELSE 0 END) AS outflow
        FROM transactions WHERE occurred_at >= :since GROUP BY customer_id),
hold AS (SELECT customer_id,
                SUM(CASE WHEN kind IN ('DEMAND_DEPOSIT', 'TIME_DEPOSIT') THEN balance ELSE 0 END)
                  AS dep,
                SUM(CASE WHEN kind = 'LOAN' THEN balance ELSE 0 END) AS loan,
                MAX(CASE WHEN kind IN ('LOAN', 'CREDIT_CARD') THEN days_past_due ELSE 0 END)
                  AS dpd,
                MAX(CASE WHEN kind = 'WEALTH_MANAGEMENT' AND balance > 0
                         THEN product_risk_level END) AS mr
         FROM accounts WHERE closed_on IS NULL GROUP BY customer_id),
cr AS (SELECT customer_id, credit_score FROM (
         SELECT customer_id, credit_score, ROW_NUMBER() OVER (
           PARTITION BY customer_id ORDER BY assessed_at DESC, id DESC) AS rn
         FROM risk_assessments) r WHERE rn = 1),
pk AS (SELECT customer_id, MAX(assets_under_management) AS peak FROM financial_snapshots
       WHERE as_of >= :since_drop GROUP BY customer_id),
inp AS (SELECT c.id, COALESCE(a.aum, 0) AS aum, COALESCE(t.n, 0) AS n,
               COALESCE(t.fee, 0) AS fee, COALESCE(h.dep, 0) AS dep, COALESCE(h.loan, 0) AS loan,
               r.credit_score AS cs, COALESCE(h.dpd, 0) AS dpd, h.mr,
               COALESCE(t.outflow, 0) AS outflow, p.peak
        FROM customers c LEFT JOIN aum a ON a.customer_id = c.id
        LEFT JOIN act t ON t.customer_id = c.id LEFT JOIN hold h ON h.customer_id = c.id
        LEFT JOIN cr r ON r.customer_id = c.id LEFT JOIN pk p ON p.customer_id = c.id),
sc AS (SELECT id, aum, cs, dpd, mr, outflow,
              CASE WHEN peak > aum THEN {div("(peak - aum) * 10000", "peak")} ELSE 0 END
                AS dropped,
              {div(" + ".join(terms), "10000")} AS score FROM inp)
SELECT id, CASE {" ".join(ranges)} ELSE 'LOW' END AS tier,
       aum >= {money(rules.private_banking_aum)} AS pb,
       {risk_floor(risk, lambda v: money(v))} AS risk
FROM sc"""


def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def background_run(engine: Any) -> str:
    """A bank-wide run as ``kehu classify`` makes it: asked for (one unit of work), then run in
    chunks with progress committed after each, and applied in one unit of work."""
    factory = make_session_factory(engine)
    actor = unit_of_work.Actor(name="bench")
    with factory() as session:
        run_id = unit_of_work.run(
            session,
            actor,
            unit_of_work.SYSTEM,
            "classifyCustomers",
            lambda inner: jobs.start(inner, RunScope.BANK, "bench").id,
        )
    assert jobs.claim(factory, run_id) == run_id
    return str(jobs.execute(factory, run_id, actor=actor, right=unit_of_work.SYSTEM))


def bench_classify(settings: Settings, label: str) -> None:
    engine = make_engine(settings.database_url)
    dialect = engine.dialect.name
    with Session(engine) as session:
        rules = commands.ensure_rule_set(session)
        risk = commands.ensure_risk_rule_set(session)
        session.commit()
        transactions = session.scalar(text("SELECT COUNT(*) FROM transactions"))
    statement = text(floor_sql(rules, risk, dialect)).bindparams(
        bindparam("since", type_=UTCDateTime()), bindparam("since_outflow", type_=UTCDateTime())
    )

    def windows() -> dict[str, Any]:
        now = clock.now()
        outflow = risk.threshold(RiskSignal.LARGE_OUTFLOW).window_days or 0
        drop = risk.threshold(RiskSignal.AUM_DROP).window_days or 0
        return {
            "since": now - WINDOW,
            "since_outflow": now - timedelta(days=outflow),
            "since_drop": clock.business_date(now) - timedelta(days=drop),
        }

    run_times, floors = [], []
    floor_rows: list[Any] = []
    for _ in range(REPEAT):
        with engine.connect() as connection:
            seconds, floor_rows = timed(lambda c=connection: c.execute(statement, windows()).all())
        floors.append(seconds)
        seconds, status = timed(lambda: background_run(engine))
        assert status == "DONE", status
        run_times.append(seconds)
    with engine.connect() as connection:
        stored = {
            row.customer_id: (row.tier, bool(row.private_banking), row.risk_grade)
            for row in connection.execute(
                text("SELECT customer_id, tier, private_banking, risk_grade FROM customer_segments")
            )
        }
    differ = sum(
        1 for row in floor_rows if stored.get(row.id) != (row.tier, bool(row.pb), row.risk)
    )
    run, floor = statistics.median(run_times), statistics.median(floors)
    print(
        f"classify {label}: {len(floor_rows):,} customers, {transactions:,} transactions — "
        f"run {run:.2f} s, floor (one SELECT) {floor:.2f} s, ratio {run / floor:.2f}× "
        f"(target ≤ 3×: {'met' if run / floor <= 3 else 'NOT met'}; "
        f"{'under' if run < 60 else 'OVER'} 60 s); tiers or risk grades differing from the "
        f"floor: {differ}"
    )
    engine.dispose()


DISTRIBUTION_SQL = """
SELECT tier, COUNT(*), SUM(aum) FROM (
  SELECT COALESCE(o.tier, s.tier) AS tier, COALESCE(s.aum, 0) AS aum
  FROM customers c LEFT JOIN customer_segments s ON s.customer_id = c.id
  LEFT JOIN segment_overrides o ON o.customer_id = c.id AND o.withdrawn_at IS NULL
                               AND o.expires_at > :now
) shown GROUP BY tier ORDER BY tier"""
QUERY = "{ segments { minimumCount cells { tier suppressed customers assetsUnderManagement } } }"


TREND_SQL = """
WITH months AS ({months}),
lc AS (SELECT m.month, c.customer_id, MAX(c.id) AS id FROM segment_changes c
       JOIN months m ON c.changed_at < m.at
       WHERE c.reason IN ('FIRST_CLASSIFICATION', 'INPUTS_CHANGED', 'RECLASSIFIED')
       GROUP BY m.month, c.customer_id),
ov AS (SELECT m.month, o.customer_id, o.tier FROM segment_overrides o
       JOIN months m ON o.created_at < m.at AND o.expires_at >= m.at
                    AND (o.withdrawn_at IS NULL OR o.withdrawn_at >= m.at)),
ls AS (SELECT m.month, f.customer_id, MAX(f.as_of) AS as_of FROM financial_snapshots f
       JOIN months m ON f.recorded_at < m.at GROUP BY m.month, f.customer_id)
SELECT m.month, COALESCE(ov.tier, ch.to_tier) AS tier, COUNT(*),
       SUM(COALESCE(s.assets_under_management, 0))
FROM months m JOIN customers cu ON cu.created_at < m.at
LEFT JOIN lc ON lc.month = m.month AND lc.customer_id = cu.id
LEFT JOIN segment_changes ch ON ch.id = lc.id
LEFT JOIN ov ON ov.month = m.month AND ov.customer_id = cu.id
LEFT JOIN ls ON ls.month = m.month AND ls.customer_id = cu.id
LEFT JOIN financial_snapshots s ON s.customer_id = cu.id AND s.as_of = ls.as_of
GROUP BY m.month, COALESCE(ov.tier, ch.to_tier) ORDER BY 1, 2"""
# By need (SEG-2): each customer once per need it has — the newest staff setting, else the need
# derived (today's segment; at a month end, its last computed change) — in one pass over the
# customers against the three needs.
NEEDS_VALUES = (
    "SELECT 'INVESTMENT' AS need UNION ALL SELECT 'FINANCING' UNION ALL SELECT 'SETTLEMENT'"
)
NEED_OF = """COALESCE((SELECT n.present FROM customer_needs n
                        WHERE n.customer_id = {c} AND n.need = nd.need{when}
                        ORDER BY n.id DESC LIMIT 1),
                       CASE nd.need WHEN 'INVESTMENT' THEN {p}needs_investment
                                    WHEN 'FINANCING' THEN {p}needs_financing
                                    ELSE {p}needs_settlement END, FALSE)"""
NEED_DISTRIBUTION_SQL = f"""
WITH nd AS ({NEEDS_VALUES})
SELECT nd.need, COUNT(*), SUM(COALESCE(s.aum, 0))
FROM customers c LEFT JOIN customer_segments s ON s.customer_id = c.id CROSS JOIN nd
WHERE {NEED_OF.format(c="c.id", when="", p="s.")} GROUP BY nd.need ORDER BY 1"""
NEED_QUERY = (
    "{ segments(dimension: NEED) { cells { need suppressed customers assetsUnderManagement } } }"
)
TREND_NEED_SQL = (
    TREND_SQL.replace("ls AS (", f"nd AS ({NEEDS_VALUES}),\nls AS (")
    .replace("COALESCE(ov.tier, ch.to_tier) AS tier", "nd.need")
    .replace(
        "GROUP BY m.month, COALESCE(ov.tier, ch.to_tier)",
        "WHERE "
        + NEED_OF.format(c="cu.id", when=" AND n.set_at < m.at", p="ch.to_")
        + " GROUP BY m.month, nd.need",
    )
    .replace(
        "LEFT JOIN ov ON ov.month = m.month AND ov.customer_id = cu.id\n",
        "CROSS JOIN nd\n",
    )
)
TREND_MONTHS = 12
TREND_QUERY = """query($from: String!, $to: String!) {
  segmentsOverTime(fromMonth: $from, toMonth: $to) {
    minimumCount months { month asOf cells { tier suppressed customers assetsUnderManagement } }
  } }"""
TREND_NEED_QUERY = TREND_QUERY.replace("toMonth: $to)", "toMonth: $to, dimension: NEED)").replace(
    "cells { tier", "cells { need"
)


def _trend_floor(sql: str = TREND_SQL) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """The over-time aggregate in raw SQL (``sql``) for the last TREND_MONTHS months (ending
    with the current one), its parameters, and the API's variables for the same months."""
    from resolvers.segments.distribution import month_ends

    today = clock.today()
    first = (today.replace(day=1) - timedelta(days=31 * (TREND_MONTHS - 1))).replace(day=1)
    variables = {"from": f"{first:%Y-%m}", "to": f"{today:%Y-%m}"}
    ends = month_ends(variables["from"], variables["to"], clock.now())
    months = " UNION ALL ".join(f"SELECT :m{i} AS month, :t{i} AS at" for i in range(len(ends)))
    statement = text(sql.format(months=months)).bindparams(
        *(bindparam(f"t{i}", type_=UTCDateTime()) for i in range(len(ends)))
    )
    params: dict[str, Any] = {}
    for i, end in enumerate(ends):
        params[f"m{i}"], params[f"t{i}"] = end.month, end.at
    return statement, params, variables


STAFF_NEEDS = 10_000  # staff settings of needs in the bench (a tenth of the customers)


def staff_needs(engine: Any) -> None:
    """Staff settings of needs (once): every tenth customer's need set present or absent, and
    some cleared, so the NEED figures read settings as well as derived needs."""
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(CustomerNeed)):
            return
        staff_id = session.scalar(select(Staff.id).order_by(Staff.id).limit(1))
        ids = session.scalars(select(Customer.id).order_by(Customer.id)).all()[::10]
        now = clock.now()
        needs = list(Need)
        session.add_all(
            CustomerNeed(
                customer_id=customer_id,
                need=needs[i % 3],
                present=(None, True, False)[i % 3],
                reason="面谈确认",
                set_by_id=staff_id,
                set_at=now,
            )
            for i, customer_id in enumerate(ids[:STAFF_NEEDS])
        )
        session.commit()


def bench_distribution(settings: Settings, label: str) -> None:
    from starlette.testclient import TestClient

    from kehu.app import create_app
    from kehu.auth import mint_token

    engine = make_engine(settings.database_url, hide_parameters=True)
    staff_needs(engine)
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        statements[0] += 1

    raw = text(DISTRIBUTION_SQL).bindparams(bindparam("now", type_=UTCDateTime()))
    raw_needs = text(NEED_DISTRIBUTION_SQL)
    trend, trend_params, trend_variables = _trend_floor()
    trend_needs, _, _ = _trend_floor(TREND_NEED_SQL)
    shapes: list[tuple[str, Any, Any]] = [
        ("segments distribution", lambda c: c.execute(raw, {"now": clock.now()}).all(), {}),
        (
            f"segmentsOverTime ({TREND_MONTHS} months)",
            lambda c: c.execute(trend, trend_params).all(),
            {"query": TREND_QUERY, "variables": trend_variables},
        ),
        ("segments distribution by NEED", lambda c: c.execute(raw_needs).all(), NEED_QUERY),
        (
            f"segmentsOverTime by NEED ({TREND_MONTHS} months)",
            lambda c: c.execute(trend_needs, trend_params).all(),
            {"query": TREND_NEED_QUERY, "variables": trend_variables},
        ),
    ]
    headers = {"Authorization": f"Bearer {mint_token(settings, 'MKT0001')}"}
    with TestClient(create_app(settings, engine)) as client:
        for name, floor_query, body in shapes:
            body = {"query": body} if isinstance(body, str) else body or {"query": QUERY}
            client.post("/graphql", json=body, headers=headers)  # warm
            api, floor, counted = [], [], []
            for _ in range(max(REPEAT, 5)):
                with engine.connect() as connection:
                    seconds, _ = timed(lambda c=connection, q=floor_query: q(c))
                floor.append(seconds)
                before = statements[0]
                seconds, response = timed(
                    lambda b=body: client.post("/graphql", json=b, headers=headers)
                )
                counted.append(statements[0] - before)
                assert "errors" not in response.json(), response.json()
                api.append(seconds)
            ratio = statistics.median(api) / statistics.median(floor)
            print(
                f"{name} {label}: {max(counted)} statements per request "
                f"(all of them, auth included), {statistics.median(api) * 1000:.1f} ms vs raw "
                f"SQL {statistics.median(floor) * 1000:.1f} ms, ratio {ratio:.2f}× "
                f"(target ≤ 1.5×: {'met' if ratio <= 1.5 else 'NOT met'})"
            )
    engine.dispose()


if __name__ == "__main__":
    targets = [("SQLite", prepared("classify", None))]
    postgres = os.environ.get("KEHU_BENCH_POSTGRES_URL")
    if postgres:
        targets.append(("PostgreSQL", prepared("classify-pg", postgres)))
    # KEHU_BENCH_ONLY=distribution skips the classification run (while developing).
    only = os.environ.get("KEHU_BENCH_ONLY")
    for label, settings in targets:
        use_keys(settings)
        if only != "distribution":
            bench_classify(settings, label)
        bench_distribution(settings, label)
