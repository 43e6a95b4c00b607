"""Realistic demo customers with their five kinds of information."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from faker import Faker
from sqlalchemy import Engine, func, select
from stdnum.cn import ric

from core import clock
from kehu.seed.bulk import IdAllocator, bulk_insert
from kehu.seed.staff import BRANCHES, ensure_reference_data
from store import crypto
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
    ids = IdAllocator(engine)
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
                        # Early-warning data (SEG-3), spread without drawing from ``rng`` (the
                        # rest of the data stays as it was): 0 … 120 days past due, R1 … R5.
                        "days_past_due": (customer_id % 7) * 20
                        if account_kind in (AccountKind.LOAN, AccountKind.CREDIT_CARD)
                        else 0,
                        "product_risk_level": 1 + customer_id % 5
                        if account_kind is AccountKind.WEALTH_MANAGEMENT
                        else None,
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
                bulk_insert(connection, model, table_rows)
        made += size
        if progress is not None:
            progress(size)
    ids.sync_sequences()
    return made


def customer_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(Customer)) or 0)
