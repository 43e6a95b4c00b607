"""Bench: the contact worklist (REL-2) of a manager with 500 customers and of a branch with
10,000.

The bench database gets ``KEHU_BENCH_CUSTOMERS`` customers (default 10,000), all moved to one
branch (BJ01): 500 of them managed by RM0001, 50 by BJ01RM01, the rest by the branch's other
managers; classified by the value model, with one to three contacts for most of them over the
last 120 days. Then, in-process over HTTP (the app as ``kehu serve`` runs it):

1. SQL statements per ``contactWorklist(first: 100)`` request for the manager of 50 and the
   manager of 500 customers, and for the branch's supervisor (target: the same number);
2. median time of each request against the same worklist in raw SQL, target ≤ 2×. The raw SQL
   side is what a hand-written service answering the same request does (the target's "raw
   SQL" floor): a plain Starlette route on the same app and test client — it checks the bearer
   token and loads its staff member (one statement, as Kehu does), runs the worklist query by
   hand (the tier, the latest contact, the due rule, the order and the first page of 101
   rows), builds the same JSON (same rows, same fields and values: global IDs, period, due
   date, ISO instants, the sealed end cursor) and encodes it with orjson. Its answer is
   checked equal to the API's. The bare query (``execute().all()``, no token, no JSON, no
   HTTP) is printed too, as before, with its own ratio.

SQLite, plus PostgreSQL with ``KEHU_BENCH_POSTGRES_URL`` (its own database: the bench seeds it).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import common
import orjson
from common import bench_env
from sqlalchemy import bindparam, event, select, text, true, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from core import clock
from core.ids import global_id
from core.settings import Settings
from resolvers.contacts import cadence
from resolvers.contacts import queries as logic
from resolvers.contacts.queries import NEVER
from resolvers.segments.runs import classify
from resolvers.shared import unit_of_work
from resolvers.shared.pagination import PageRequest, decode_cursor
from store import audit_chain, crypto
from store.base import UTCDateTime
from store.contacts import Contact, ContactChannel, ContactPurpose, ContactStatus
from store.customers import Customer
from store.db import make_engine
from store.segments import RunScope, ValueTier
from store.staff import Branch, Staff

REPEAT = int(os.environ.get("KEHU_BENCH_REPEAT", "15"))
CUSTOMERS = min(common.CUSTOMERS, int(os.environ.get("KEHU_BENCH_CUSTOMERS", "10000")))
common.CUSTOMERS = CUSTOMERS

QUERY = """query($manager: ID) {
  contactWorklist(first: 100, where: {relationshipManager: {eq: $manager}}) {
    edges { node { status tier period dueBy lastContactedAt lastChannel preferredChannel
                   preferredTime customer { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

# The same worklist by hand: tier shown (override in force, else computed, else LOW), the
# latest contact, the due rule per tier, overdue first, the longest since the last contact.
FLOOR_SQL = """
SELECT w.*, CASE WHEN w.last IS NULL OR w.last < (CASE w.tier WHEN 'HIGH' THEN :hp
              WHEN 'MEDIUM' THEN :mp ELSE :lp END) THEN 1 ELSE 0 END AS overdue
FROM (
  SELECT c.id, c.name, c.relationship_manager_id, c.branch_id,
         COALESCE(o.tier, s.tier, 'LOW') AS tier, st.last_contacted_at AS last,
         st.last_channel, p.contact_method, p.contact_time
  FROM customers c
  LEFT JOIN customer_segments s ON s.customer_id = c.id
  LEFT JOIN segment_overrides o ON o.customer_id = c.id AND o.withdrawn_at IS NULL
                               AND o.expires_at > :now
  LEFT JOIN contact_status st ON st.customer_id = c.id
  LEFT JOIN preferences p ON p.customer_id = c.id
  WHERE c.branch_id = :branch{manager}
) w
WHERE w.last IS NULL OR w.last < (CASE w.tier WHEN 'HIGH' THEN :hs WHEN 'MEDIUM' THEN :ms
                                   ELSE :ls END)
ORDER BY overdue DESC, COALESCE(w.last, :never), w.id
LIMIT 101"""


def prepared(name: str, url: str | None) -> Settings:
    settings = common.prepared(bench_env(name, url), ["--transactions", "2", "--complaints", "0"])
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        if session.scalar(select(Contact.id).limit(1)) is None:
            print("  placing customers, classifying, logging contacts (once) …", flush=True)
            _arrange(session)
    engine.dispose()
    return settings


def _staff(session: Session, employee_no: str) -> Staff:
    return session.scalars(select(Staff).where(Staff.employee_no == employee_no)).one()


def _arrange(session: Session) -> None:
    branch = session.scalars(select(Branch).where(Branch.code == "BJ01")).one()
    big, small = _staff(session, "RM0001"), _staff(session, "BJ01RM01")
    others = [_staff(session, f"BJ01RM{i:02d}").id for i in (2, 3, 4)]
    ids = list(session.scalars(select(Customer.id).order_by(Customer.id)))
    for i, customer_id in enumerate(ids):
        manager = big.id if i < 500 else small.id if i < 550 else others[i % 3]
        session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(branch_id=branch.id, relationship_manager_id=manager)
        )
    session.commit()
    unit_of_work.run(
        session,
        unit_of_work.Actor(name="bench"),
        unit_of_work.SYSTEM,
        "classifyCustomers",
        lambda inner: classify(inner, scope=RunScope.BANK, started_by="bench"),
    )
    rng = random.Random(13)
    now = clock.now()
    latest: dict[int, Contact] = {}
    for start in range(0, len(ids), 1000):
        batch = []
        for customer_id in ids[start : start + 1000]:
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                contact = Contact(
                    customer_id=customer_id,
                    staff_id=big.id,
                    channel=rng.choice(list(ContactChannel)),
                    purpose=rng.choice(list(ContactPurpose)),
                    contacted_at=now - timedelta(minutes=rng.randrange(120 * 24 * 60)),
                    summary="客户咨询理财到期安排",
                    recorded_at=now,
                )
                batch.append(contact)
        session.add_all(batch)
        session.flush()
        for contact in batch:
            kept = latest.get(contact.customer_id)
            if kept is None or contact.contacted_at > kept.contacted_at:
                latest[contact.customer_id] = contact
        session.commit()
    session.add_all(
        ContactStatus(
            customer_id=c.customer_id,
            last_contact_id=c.id,
            last_contacted_at=c.contacted_at,
            last_channel=c.channel,
        )
        for c in latest.values()
    )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))  # plans from statistics of the bench's data
        session.commit()


def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _floor_parameters(branch_id: int, manager_id: int | None) -> dict[str, Any]:
    now = clock.now()
    today = clock.business_date(now)
    periods = {t: cadence.current_period(t, today) for t in ValueTier}
    return {
        "now": now,
        "never": cadence.midnight(today.replace(year=1900)),
        "branch": branch_id,
        **({"manager": manager_id} if manager_id is not None else {}),
        "hs": periods[ValueTier.HIGH].starts_at,
        "ms": periods[ValueTier.MEDIUM].starts_at,
        "ls": periods[ValueTier.LOW].starts_at,
        "hp": periods[ValueTier.HIGH].previous().starts_at,
        "mp": periods[ValueTier.MEDIUM].previous().starts_at,
        "lp": periods[ValueTier.LOW].previous().starts_at,
    }


def _floor_service(
    settings: Settings, engine: Any, branch: int, raw_sql: dict[bool, Any]
) -> tuple[Callable[[Request], Awaitable[Response]], Callable[[str | None, int | None], bytes]]:
    """The hand-written service the API is measured against (see the module docstring): its
    HTTP endpoint, and what the endpoint runs (token, query, JSON) for in-process timing."""
    from kehu.auth import authenticate
    from resolvers.shared.pagination import encode_cursor

    keys = logic.worklist(clock.now(), clock.today(), true(), true()).keys

    def answer(authorization: str | None, manager: int | None) -> bytes:
        with Session(engine) as session:
            authenticate(session, settings, authorization)
            rows = session.connection().execute(
                raw_sql[manager is not None], _floor_parameters(branch, manager)
            )
            rows = rows.all()
        today = clock.today()
        edges = []
        for row in rows[:100]:
            period = cadence.current_period(row.tier, today)
            last = row.last
            edges.append(
                {
                    "node": {
                        "status": "OVERDUE" if row.overdue else "DUE",
                        "tier": row.tier,
                        "period": period.kind.value,
                        "dueBy": (period.end - timedelta(days=1)).isoformat(),
                        "lastContactedAt": None if last is None else last.isoformat(),
                        "lastChannel": row.last_channel,
                        "preferredChannel": row.contact_method,
                        "preferredTime": row.contact_time,
                        "customer": {"id": global_id("Customer", row.id), "name": row.name},
                    }
                }
            )
        shown = rows[:100]
        end_cursor = None
        if shown:
            tail = shown[-1]
            end_cursor = encode_cursor([tail.overdue, tail.last or NEVER, tail.id], keys)
        page_info = {"hasNextPage": len(rows) > 100, "endCursor": end_cursor}
        body = {"data": {"contactWorklist": {"edges": edges, "pageInfo": page_info}}}
        return orjson.dumps(body)

    async def endpoint(request: Request) -> Response:
        variables = (await request.json())["variables"]
        manager = variables["manager"]
        manager_id = None if manager is None else int(manager)
        authorization = request.headers.get("authorization")
        content = await run_in_threadpool(answer, authorization, manager_id)
        return Response(content, media_type="application/json")

    return endpoint, answer


def _api_in_process(app: Any, settings: Settings) -> Callable[[str, dict[str, Any]], bytes]:
    """What the API's HTTP handler runs for one request (``KehuGraphQL.execute_single``: the
    token, the caller's access, the GraphQL execution with its extensions, the JSON), without
    the HTTP layer."""
    from kehu.app import KehuGraphQL, encode
    from kehu.auth import authenticate
    from schema.shared.context import Context

    view = next(r.endpoint for r in app.routes if isinstance(r.endpoint, KehuGraphQL))

    def run(authorization: str, variables: dict[str, Any]) -> bytes:
        context = Context(
            settings=settings,
            session_factory=view.session_factory,
            policy=view.watcher.policy,
            policy_watcher=view.watcher,
            grant_presence=view.grant_presence,
            auditor=view.auditor,
        )
        try:
            staff = authenticate(context.session, settings, authorization)
            context.authorize(staff, "RELATIONSHIP_MANAGEMENT")
            result = view.schema.execute_sync(
                QUERY, variable_values=variables, context_value=context
            )
            assert not result.errors, result.errors
            return encode({"data": result.data})
        finally:
            context.close()

    return run


def bench(settings: Settings, label: str) -> None:
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from kehu.app import create_app
    from kehu.auth import mint_token

    engine = make_engine(settings.database_url, hide_parameters=True)
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        statements[0] += 1

    instants = ("now", "never", "hs", "ms", "ls", "hp", "mp", "lp")
    instant_types = [bindparam(n, type_=UTCDateTime()) for n in instants]
    raw_sql = {
        True: text(FLOOR_SQL.format(manager=" AND c.relationship_manager_id = :manager")),
        False: text(FLOOR_SQL.format(manager="")),
    }
    # The instants come back as instants (SQLite returns text for an untyped column).
    raw_sql = {
        k: v.bindparams(*instant_types).columns(last=UTCDateTime()) for k, v in raw_sql.items()
    }
    with Session(engine) as session:
        branch = session.scalars(select(Branch).where(Branch.code == "BJ01")).one().id
        people = {no: _staff(session, no).id for no in ("RM0001", "BJ01RM01", "SUP0001")}
        sizes = {
            no: session.scalar(
                text("SELECT COUNT(*) FROM customers WHERE relationship_manager_id = :m"),
                {"m": pk},
            )
            for no, pk in people.items()
        }
        sizes["SUP0001"] = session.scalar(
            text("SELECT COUNT(*) FROM customers WHERE branch_id = :b"), {"b": branch}
        )
    cases = [
        ("manager of", "BJ01RM01", people["BJ01RM01"]),
        ("manager of", "RM0001", people["RM0001"]),
        ("branch of", "SUP0001", None),
    ]
    app = create_app(settings, engine)
    endpoint, by_hand_in_process = _floor_service(settings, engine, branch, raw_sql)
    app.router.routes.insert(0, Route("/floor", endpoint, methods=["POST"]))
    api_in_process = _api_in_process(app, settings)
    with TestClient(app) as client:
        for what, who, manager in cases:
            headers = {
                "Authorization": f"Bearer {mint_token(settings, who)}",
                "X-Purpose": "RELATIONSHIP_MANAGEMENT",
            }
            variables = {"manager": global_id("Staff", manager) if manager else None}
            body = {"query": QUERY, "variables": variables}
            by_hand = {"variables": {"manager": manager}}
            client.post("/graphql", json=body, headers=headers)  # warm
            client.post("/floor", json=by_hand, headers=headers)
            api, service, floor, counted, rows = [], [], [], [], 0
            api_inside, service_inside = [], []
            for _ in range(REPEAT):
                seconds, _ = timed(
                    lambda a=headers["Authorization"], m=manager: by_hand_in_process(a, m)
                )
                service_inside.append(seconds)
                seconds, _ = timed(
                    lambda a=headers["Authorization"], v=variables: api_in_process(a, v)
                )
                api_inside.append(seconds)
                with engine.connect() as connection:
                    parameters = _floor_parameters(branch, manager)
                    seconds, found = timed(
                        lambda c=connection, p=parameters, m=manager: c.execute(
                            raw_sql[m is not None], p
                        ).all()
                    )
                floor.append(seconds)
                seconds, hand = timed(
                    lambda b=by_hand, h=headers: client.post("/floor", json=b, headers=h)
                )
                service.append(seconds)
                before = statements[0]
                seconds, response = timed(
                    lambda b=body, h=headers: client.post("/graphql", json=b, headers=h)
                )
                counted.append(statements[0] - before)
                answer = response.json()
                assert "errors" not in answer, answer
                rows = len(answer["data"]["contactWorklist"]["edges"])
                assert rows == min(100, len(found)), (rows, len(found))
                api.append(seconds)
            # Same rows, same values: the hand-written answer is the API's (cursors are sealed
            # with a fresh nonce each time, so the end cursor is compared by what it opens to).
            mine, theirs = answer["data"]["contactWorklist"], hand.json()["data"]["contactWorklist"]
            assert mine["edges"] == theirs["edges"], "the hand-written service answers otherwise"
            for side in (mine, theirs):
                side["pageInfo"]["endCursor"] = decode_cursor(
                    side["pageInfo"]["endCursor"],
                    logic.worklist(clock.now(), clock.today(), true(), true()).keys,
                    "after",
                )
            assert mine["pageInfo"] == theirs["pageInfo"], (mine["pageInfo"], theirs["pageInfo"])
            # The worklist statement as the resolver builds and pages it (rows and sealed
            # cursors, no GraphQL), as the manager's or the supervisor's rows see it.
            with Session(engine) as session:
                scope = (
                    Customer.relationship_manager_id == manager
                    if manager
                    else Customer.branch_id == branch
                )
                resolver = []
                for _ in range(REPEAT):
                    seconds, _ = timed(
                        lambda s=session, c=scope: logic.worklist_page(
                            s, clock.now(), clock.today(), c, true(), PageRequest(first=100)
                        )
                    )
                    resolver.append(seconds)
            ms = {
                name: statistics.median(times) * 1000
                for name, times in (
                    ("api", api),
                    ("service", service),
                    ("floor", floor),
                    ("resolver", resolver),
                    ("api_inside", api_inside),
                    ("service_inside", service_inside),
                )
            }
            ratio = ms["api"] / ms["service"]
            print(
                f"contactWorklist {label}, {what} {sizes[who]:,} customers ({who}): "
                f"{max(counted)} statements per request (all of them, auth included), "
                f"{rows} rows, {ms['api']:.1f} ms vs the same answer in raw SQL by hand "
                f"{ms['service']:.1f} ms, ratio {ratio:.2f}× "
                f"(target ≤ 2×: {'met' if ratio <= 2 else 'NOT met'}); in-process, no HTTP "
                f"on either side: {ms['api_inside']:.1f} ms vs {ms['service_inside']:.1f} ms, "
                f"{ms['api_inside'] / ms['service_inside']:.2f}×; against the bare "
                f"query ({ms['floor']:.1f} ms: no token, no JSON, no HTTP) "
                f"{ms['api'] / ms['floor']:.2f}×; the worklist query alone (resolver, paged, "
                f"no GraphQL) {ms['resolver']:.1f} ms, {ms['resolver'] / ms['floor']:.2f}× the "
                f"bare query",
                flush=True,
            )
    engine.dispose()


if __name__ == "__main__":
    targets = [("SQLite", prepared("contacts", None))]
    postgres = os.environ.get("KEHU_BENCH_POSTGRES_URL")
    if postgres:
        targets.append(("PostgreSQL", prepared("contacts-pg", postgres)))
    for label, settings in targets:
        bench(settings, label)
