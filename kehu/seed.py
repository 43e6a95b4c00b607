"""Demo data: branches, staff of every role, realistic customers with their information.

Customers are generated with Faker ``zh_CN``. ID numbers are valid GB 11643 numbers built from
a real area code of the customer's branch region, the birth date and the gender; the address
lies in the same region. Rows are written with bulk inserts in chunks, so 100,000 customers take
well under two minutes on a small machine (``bench/seed_speed.py`` measures it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from faker import Faker
from sqlalchemy import Connection, Engine, func, insert, select, text, true
from stdnum.cn import ric

from core import clock
from store import crypto
from store.base import for_row, sealed_columns
from store.customers import (
    Account,
    AccountKind,
    ContactMethod,
    ContactTime,
    CreditStatus,
    Customer,
    FinancialSnapshot,
    InformationKind,
    InformationSource,
    Preferences,
    RiskAssessment,
    RiskTolerance,
    SourceKind,
    Transaction,
    TransactionChannel,
    TransactionType,
    VerificationDue,
)
from store.staff import Branch, Role, Staff

# (code, name, city, area codes of districts the branch serves)
BRANCHES: list[tuple[str, str, str, list[str]]] = [
    ("HO", "总行", "北京市", ["110101", "110102"]),
    ("BJ01", "北京分行", "北京市", ["110105", "110108", "110106", "110107"]),
    ("SH01", "上海分行", "上海市", ["310101", "310104", "310105", "310112"]),
    ("GZ01", "广州分行", "广州市", ["440103", "440104", "440106", "440111"]),
    ("SZ01", "深圳分行", "深圳市", ["440303", "440304", "440305"]),
    ("HZ01", "杭州分行", "杭州市", ["330102", "330105", "330106"]),
    ("NJ01", "南京分行", "南京市", ["320102", "320104", "320105", "320106"]),
    ("CD01", "成都分行", "成都市", ["510104", "510105", "510106", "510107"]),
    ("WH01", "武汉分行", "武汉市", ["420102", "420103", "420104", "420106"]),
    ("XA01", "西安分行", "西安市", ["610102", "610103", "610104", "610113"]),
]

# Demo staff whose tokens `kehu token --demo` prints: (employee no, role, branch code).
DEMO_STAFF: list[tuple[str, Role, str]] = [
    ("RM0001", Role.RELATIONSHIP_MANAGER, "BJ01"),
    ("SUP0001", Role.BRANCH_SUPERVISOR, "BJ01"),
    ("CH0001", Role.COMPLAINT_HANDLER, "BJ01"),
    ("RISK0001", Role.RISK_OFFICER, "HO"),
    ("MKT0001", Role.MARKETING_ANALYST, "HO"),
    ("AUD0001", Role.AUDITOR, "HO"),
    ("SEC0001", Role.SECURITY_ADMIN, "HO"),
    ("PO0001", Role.PROCESS_OWNER, "HO"),
    ("HO0001", Role.HEAD_OFFICE, "HO"),
]
MANAGERS_PER_BRANCH = 4

PRODUCTS = ["定期存款", "大额存单", "理财产品", "基金", "保险", "贵金属", "个人贷款", "信用卡"]
SERVICE_CHANNELS = ["网点柜面", "手机银行", "网上银行", "电话银行", "微信银行"]
CHANNEL_WEIGHTS = [
    (TransactionChannel.MOBILE_APP, 50),
    (TransactionChannel.ONLINE_BANKING, 15),
    (TransactionChannel.POS, 15),
    (TransactionChannel.BRANCH_COUNTER, 10),
    (TransactionChannel.ATM, 8),
    (TransactionChannel.PHONE_BANKING, 2),
]
TYPE_WEIGHTS = [
    (TransactionType.PAYMENT, 35),
    (TransactionType.TRANSFER_OUT, 15),
    (TransactionType.TRANSFER_IN, 15),
    (TransactionType.DEPOSIT, 12),
    (TransactionType.WITHDRAWAL, 8),
    (TransactionType.INTEREST, 5),
    (TransactionType.PRODUCT_PURCHASE, 5),
    (TransactionType.PRODUCT_REDEMPTION, 3),
    (TransactionType.FEE, 2),
]


def _resident_id(rng: random.Random, area: str, birth: date, male: bool) -> str:
    sequence = rng.randrange(0, 500) * 2 + (1 if male else 0)
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def _weighted(rng: random.Random, choices: list[tuple[Any, int]], k: int = 1) -> list[Any]:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices], k=k)


class _Pools:
    """Faker values drawn once and reused: generating each per customer would dominate seeding."""

    def __init__(self, faker: Faker, size: int = 3000) -> None:
        self.streets = [faker.street_name() for _ in range(size)]
        self.jobs = [faker.job() for _ in range(size // 3)]
        self.companies = [faker.company() for _ in range(size)]
        self.user_names = [faker.user_name() for _ in range(size)]
        self.mail_domains = [faker.free_email_domain() for _ in range(50)]
        self.male_names = [faker.name_male() for _ in range(size * 2)]
        self.female_names = [faker.name_female() for _ in range(size * 2)]


def _money(value: float) -> Decimal:
    return Decimal(f"{max(value, 0):.2f}")


def ensure_reference_data(engine: Engine) -> dict[str, Any]:
    """Branches and staff (idempotent); returns ids the customer generator needs."""
    now = clock.now()
    faker = Faker("zh_CN")
    faker.seed_instance(7)
    with engine.begin() as connection:
        existing = {code for (code,) in connection.execute(select(Branch.code))}
        for code, name, city, _areas in BRANCHES:
            if code not in existing:
                connection.execute(insert(Branch).values(code=code, name=name, city=city))
        branch_ids = {code: id_ for code, id_ in connection.execute(select(Branch.code, Branch.id))}
        staff_existing = {no for (no,) in connection.execute(select(Staff.employee_no))}
        wanted: list[dict[str, Any]] = []
        for employee_no, role, branch_code in DEMO_STAFF:
            wanted.append(
                {
                    "employee_no": employee_no,
                    "name": faker.name(),
                    "branch_id": branch_ids[branch_code],
                    "roles": [role.value],
                    "active": True,
                    "created_at": now,
                }
            )
        for code, *_ in BRANCHES:
            if code == "HO":
                continue
            for i in range(1, MANAGERS_PER_BRANCH + 1):
                wanted.append(
                    {
                        "employee_no": f"{code}RM{i:02d}",
                        "name": faker.name(),
                        "branch_id": branch_ids[code],
                        "roles": [Role.RELATIONSHIP_MANAGER.value],
                        "active": True,
                        "created_at": now,
                    }
                )
            for prefix, role in (("SUP", Role.BRANCH_SUPERVISOR), ("CH", Role.COMPLAINT_HANDLER)):
                wanted.append(
                    {
                        "employee_no": f"{code}{prefix}01",
                        "name": faker.name(),
                        "branch_id": branch_ids[code],
                        "roles": [role.value],
                        "active": True,
                        "created_at": now,
                    }
                )
        new = [w for w in wanted if w["employee_no"] not in staff_existing]
        if new:
            connection.execute(insert(Staff), new)
        managers: dict[int, list[int]] = {}
        for staff_id, branch_id, roles in connection.execute(
            select(Staff.id, Staff.branch_id, Staff.roles)
        ):
            if Role.RELATIONSHIP_MANAGER.value in roles:
                managers.setdefault(branch_id, []).append(staff_id)
        recorder = connection.scalar(select(Staff.id).where(Staff.employee_no == "RM0001"))
        staff_count = connection.scalar(select(func.count()).select_from(Staff))
    return {
        "branch_ids": branch_ids,
        "managers": managers,
        "recorder": recorder,
        "staff": staff_count,
    }


def seed_customers(
    engine: Engine,
    count: int,
    *,
    seed: int = 20261129,
    transactions_per_customer: int = 6,
    chunk: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add ``count`` customers with their five kinds of information; returns how many."""
    reference = ensure_reference_data(engine)
    rng = random.Random(seed)
    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    cipher = crypto.cipher()
    pools = _Pools(faker)
    now = clock.now()
    today = clock.business_date(now)
    branches = [(reference["branch_ids"][code], areas) for code, _, _, areas in BRANCHES[1:]]
    recorder = reference["recorder"]
    place_names: dict[str, str] = {}
    ids = _IdAllocator(engine)
    used_numbers: set[str] = set()
    with engine.connect() as connection:
        for (hashed,) in connection.execute(select(Customer.id_number_hash)):
            used_numbers.add(hashed)

    def place(area: str) -> str:
        if area not in place_names:
            found = ric.get_birth_place(area + "199001010010")
            province = found.get("province", "")
            county = found.get("county", "")
            city = next((c for _, _, c, a in BRANCHES if area in a), "")
            place_names[area] = province + (city if city != province else "") + county
        return place_names[area]

    made = 0
    while made < count:
        size = min(chunk, count - made)
        tables: dict[Any, list[dict[str, Any]]] = {
            Customer: [],
            InformationSource: [],
            FinancialSnapshot: [],
            Account: [],
            Transaction: [],
            Preferences: [],
            RiskAssessment: [],
            VerificationDue: [],
        }
        for _ in range(size):
            customer_id = ids.next("customers")
            branch_id, areas = rng.choice(branches)
            area = rng.choice(areas)
            male = rng.random() < 0.5
            birth = date(1945, 1, 1) + timedelta(days=rng.randrange(0, 59 * 365))
            number = _resident_id(rng, area, birth, male)
            hashed = cipher.blind_index(number)
            while hashed in used_numbers:
                number = _resident_id(rng, area, birth, male)
                hashed = cipher.blind_index(number)
            used_numbers.add(hashed)
            phone = f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}"
            email = (
                f"{rng.choice(pools.user_names)}{rng.randrange(100, 999)}"
                f"@{rng.choice(pools.mail_domains)}"
            )
            created = now - timedelta(days=rng.randrange(30, 3650), seconds=rng.randrange(86400))
            managers = reference["managers"].get(branch_id) or [None]
            tables[Customer].append(
                {
                    "id": customer_id,
                    "version": 1,
                    "name": rng.choice(pools.male_names if male else pools.female_names),
                    "gender": "MALE" if male else "FEMALE",
                    "birth_date": birth,
                    "id_number": number,
                    "id_number_hash": hashed,
                    "phone": phone,
                    "phone_hash": cipher.blind_index(phone),
                    "email": email,
                    "email_hash": cipher.blind_index(email),
                    "address": f"{place(area)}{rng.choice(pools.streets)}{rng.randrange(1, 300)}号",
                    "occupation": rng.choice(pools.jobs),
                    "employer": rng.choice(pools.companies),
                    "branch_id": branch_id,
                    "relationship_manager_id": rng.choice(managers),
                    "created_at": created,
                    "updated_at": created,
                }
            )
            sources = {}
            for kind, source_kind, detail in (
                (InformationKind.BASIC, SourceKind.BUSINESS_TRANSACTION, "开户 account opening"),
                (InformationKind.FINANCIAL, SourceKind.QUESTIONNAIRE, "财务状况问卷 questionnaire"),
                (InformationKind.TRANSACTIONS, SourceKind.BUSINESS_TRANSACTION, "核心系统 core"),
                (InformationKind.PREFERENCES, SourceKind.PROACTIVE_CONTACT, "客户经理回访 call"),
                (InformationKind.RISK, SourceKind.QUESTIONNAIRE, "风险测评 risk questionnaire"),
            ):
                source_id = ids.next("information_sources")
                sources[kind] = source_id
                tables[InformationSource].append(
                    {
                        "id": source_id,
                        "customer_id": customer_id,
                        "information_kind": kind,
                        "kind": source_kind,
                        "detail": detail,
                        "third_party_name": None,
                        "legal_basis": None,
                        "collected_at": created,
                        "recorded_by_id": recorder,
                        "recorded_at": created,
                    }
                )
            # AUM is log-normal: most customers hold little, a few are private-banking clients.
            aum = rng.lognormvariate(10.6, 1.6)
            for quarter in range(rng.randint(1, 3)):
                as_of = today - timedelta(days=90 * quarter + rng.randrange(1, 30))
                drift = 1 + rng.uniform(-0.1, 0.1) * quarter
                assets = aum * rng.uniform(1.2, 4.0) * drift
                tables[FinancialSnapshot].append(
                    {
                        "id": ids.next("financial_snapshots"),
                        "customer_id": customer_id,
                        "as_of": as_of,
                        "annual_income": _money(rng.lognormvariate(11.5, 0.7)),
                        "total_assets": _money(assets),
                        "total_liabilities": _money(assets * rng.uniform(0, 0.6)),
                        "assets_under_management": _money(aum * drift),
                        "source_id": sources[InformationKind.FINANCIAL],
                        "recorded_by_id": recorder,
                        "recorded_at": now,
                    }
                )
            account_ids = []
            for n in range(rng.randint(1, 3)):
                account_id = ids.next("accounts")
                account_ids.append(account_id)
                account_kind = (
                    AccountKind.DEMAND_DEPOSIT if n == 0 else rng.choice(list(AccountKind))
                )
                tables[Account].append(
                    {
                        "id": account_id,
                        "customer_id": customer_id,
                        "account_no": f"6222{customer_id:010d}{n:02d}",
                        "kind": account_kind,
                        "currency": "CNY",
                        "opened_on": clock.business_date(created),
                        "balance": _money(aum / (n + 1)),
                        "closed_on": None,
                        "source_id": sources[InformationKind.TRANSACTIONS],
                    }
                )
            activity = rng.randint(0, 2 * transactions_per_customer)
            kinds = _weighted(rng, TYPE_WEIGHTS, activity)
            channels = _weighted(rng, CHANNEL_WEIGHTS, activity)
            for t in range(activity):
                tables[Transaction].append(
                    {
                        "id": ids.next("transactions"),
                        "account_id": rng.choice(account_ids),
                        "customer_id": customer_id,
                        "external_ref": f"SEED{customer_id}-{t}",
                        "occurred_at": now - timedelta(seconds=rng.randrange(1, 365 * 86400)),
                        "amount": _money(max(rng.lognormvariate(6.5, 1.5), 0.01)),
                        "type": kinds[t],
                        "channel": channels[t],
                        "source_id": sources[InformationKind.TRANSACTIONS],
                    }
                )
            tables[Preferences].append(
                {
                    "customer_id": customer_id,
                    "products": rng.sample(PRODUCTS, rng.randint(0, 3)),
                    "service_channels": rng.sample(SERVICE_CHANNELS, rng.randint(1, 2)),
                    "contact_method": rng.choice(list(ContactMethod)),
                    "contact_time": rng.choice(list(ContactTime)),
                    "marketing_opt_in": rng.random() < 0.6,
                    "source_id": sources[InformationKind.PREFERENCES],
                    "updated_at": created,
                }
            )
            assessed = now - timedelta(days=rng.randrange(0, 540))
            tables[RiskAssessment].append(
                {
                    "id": ids.next("risk_assessments"),
                    "customer_id": customer_id,
                    "assessed_at": assessed,
                    "risk_tolerance": rng.choice(list(RiskTolerance)),
                    "questionnaire_score": rng.randint(10, 95),
                    "credit_score": rng.randint(350, 950),
                    "credit_status": _weighted(
                        rng,
                        [
                            (CreditStatus.NORMAL, 90),
                            (CreditStatus.SPECIAL_MENTION, 6),
                            (CreditStatus.SUBSTANDARD, 2),
                            (CreditStatus.DOUBTFUL, 1),
                            (CreditStatus.LOSS, 1),
                        ],
                    )[0],
                    "valid_until": clock.business_date(assessed) + timedelta(days=365),
                    "source_id": sources[InformationKind.RISK],
                    "recorded_by_id": recorder,
                }
            )
            for kind in InformationKind:
                # Spread due dates from 60 days overdue to a year ahead: the due list is realistic.
                tables[VerificationDue].append(
                    {
                        "customer_id": customer_id,
                        "information_kind": kind,
                        "last_verified_at": None,
                        "due_on": today + timedelta(days=rng.randrange(-60, 365)),
                    }
                )
        with engine.begin() as connection:
            for model, table_rows in tables.items():
                _bulk_insert(connection, model, table_rows)
        made += size
        if progress is not None:
            progress(size)
    ids.sync_sequences()
    return made


def _bulk_insert(connection: Connection, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows straight through the driver's ``executemany``.

    The column types' own bind processors still convert every value (encryption, money, UTC),
    but SQLAlchemy's per-row statement compilation is skipped: seeding is about 2x faster.
    Sealed values are bound to their row's ``id`` (every bulk row carries its key).
    """
    if not rows:
        return
    dialect = connection.dialect
    table = model.__table__
    names = list(rows[0])
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([marker] * len(names))})"
    )
    converters = [(i, convert) for i, convert in enumerate(processors) if convert is not None]
    sealed = [i for i, name in enumerate(names) if name in sealed_columns(table)]
    values = []
    for row in rows:
        item = [row[name] for name in names]
        for i in sealed:
            item[i] = for_row(item[i], row["id"])
        for i, convert in converters:
            item[i] = convert(item[i])
        values.append(tuple(item))
    if dialect.name == "postgresql":
        # COPY is several times faster than INSERT on PostgreSQL.
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for record in values:
                copy.write_row(record)
        return
    connection.exec_driver_sql(statement, values)


class _IdAllocator:
    """Hands out primary keys for bulk inserts; PostgreSQL sequences are moved past them after."""

    TABLES = (
        "customers",
        "information_sources",
        "financial_snapshots",
        "accounts",
        "transactions",
        "risk_assessments",
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.connect() as connection:
            self.current = {
                table: int(connection.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")))
                for table in self.TABLES
            }

    def next(self, table: str) -> int:
        self.current[table] += 1
        return self.current[table]

    def sync_sequences(self) -> None:
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as connection:
            for table in self.TABLES:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
                )


def customer_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(Customer)) or 0)


DEMO_INVESTIGATION: dict[str, Any] = {
    "findings": "核实扣费记录，开户时未书面告知收费标准",
    "evidence": ["扣费流水", "开户申请书"],
    "cause": "PROCESS_DEFECT",
    "systemic": False,
    "on_the_spot": True,
    "complexity": "STANDARD",
}
DEMO_DECISION: dict[str, Any] = {
    "verified_facts": "开户时未书面告知账户管理费",
    "basis": "《商业银行服务价格管理办法》",
    "outcome": "UPHELD",
    "remedies": "如不满意，可在30日内申请复核，或申请调解、提起诉讼",
    "channel": "SMS",
    "proof_of_delivery": "短信网关回执",
}


def seed_complaints(engine: Engine, count: int) -> int:
    """Demo complaints at every stage: registered, investigating, decided, closed (CMP).

    They run through the real complaint process, so inboxes, timelines and statistics show data.
    """
    # The operations the diagrams call are registered by these modules.
    from resolvers import sharing  # noqa: F401
    from resolvers import workflows as tasks
    from resolvers.complaints import commands as complaints
    from store.complaints import Category, Channel, Complaint
    from store.customers import Customer
    from store.db import make_session_factory, transaction
    from store.workflows import ProcessTask, TaskStatus
    from workflows.deployment import ensure_deployed

    factory = make_session_factory(engine)
    with transaction(factory) as session:
        ensure_deployed(session)
        if session.scalar(select(Complaint.id).limit(1)) is not None:
            return 0
        staff = {s.employee_no: s for s in session.scalars(select(Staff))}
        branches = {b.id: b.code for b in session.scalars(select(Branch))}
        people = session.scalars(
            select(Customer)
            .where(Customer.relationship_manager_id.is_not(None))
            .order_by(Customer.id)
            .limit(count)
        ).all()
        categories, channels = list(Category), list(Channel)
        for n, customer in enumerate(people):
            code = branches[customer.branch_id]
            supervisor = staff["SUP0001" if code == "BJ01" else f"{code}SUP01"]
            handler = staff["CH0001" if code == "BJ01" else f"{code}CH01"]
            manager = session.get(Staff, customer.relationship_manager_id)
            complaint, _ = complaints.submit(
                session,
                staff["HO0001"],
                complaints.ComplaintDraft(
                    customer_id=customer.id,
                    channel=channels[n % len(channels)],
                    category=categories[n % len(categories)],
                    description="客户反映账户管理费扣收未提前告知",
                    idempotency_key=f"demo-{n}",
                    requested_remedy="退还费用",
                ),
                true(),  # head office registers them: every customer is visible
            )
            steps: list[tuple[Staff | None, dict[str, Any]]] = [
                (supervisor, {"handler": handler.employee_no}),
                (handler, DEMO_INVESTIGATION),
                (handler, DEMO_DECISION),
                (manager, {"satisfaction_score": 4 + n % 2, "satisfied": True}),
            ][: n % 5]
            for actor, data in steps:
                task = session.scalars(
                    select(ProcessTask).where(
                        ProcessTask.instance_id == complaint.instance_id,
                        ProcessTask.status == TaskStatus.OPEN,
                    )
                ).first()
                assert task is not None and actor is not None
                tasks.complete_task(session, actor, task.id, data)
    return len(people)
