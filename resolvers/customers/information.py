"""Commands on the other kinds of information (INFO-2), re-verification (INFO-4) and
following a customer (INFO-6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers.customers.commands import get_customer
from resolvers.customers.history import (
    SourceDraft,
    audit_change,
    record_change,
    record_source,
    refresh_due,
)
from resolvers.segments.runs import classify_after_change
from resolvers.shared import validation
from store.customers import (
    Account,
    AccountKind,
    CreditStatus,
    CustomerWatcher,
    FinancialSnapshot,
    InformationKind,
    Preferences,
    RiskAssessment,
    RiskTolerance,
    Transaction,
    TransactionChannel,
    TransactionType,
    Verification,
    VerificationResult,
)
from store.staff import Staff

MAX_IMPORT_ROWS = 1000
RISK_ASSESSMENT_VALIDITY = timedelta(days=365)


@dataclass(frozen=True)
class AccountDraft:
    account_no: str
    kind: AccountKind
    opened_on: date
    balance: Decimal | None = None
    # Early-warning data (SEG-3); None: unchanged.
    days_past_due: int | None = None
    product_risk_level: int | None = None
    # The day the core system closed the account (KPI-1 lost customers); None: unchanged.
    closed_on: date | None = None


@dataclass(frozen=True)
class TransactionDraft:
    account_no: str
    external_ref: str
    occurred_at: datetime
    amount: Decimal
    type: TransactionType
    channel: TransactionChannel


_Draft = TypeVar("_Draft", AccountDraft, TransactionDraft)


def _normal_account_numbers(
    drafts: Sequence[_Draft], list_name: str, problems: Problems
) -> list[_Draft]:
    """``drafts`` with their account numbers normalised (a bad one is reported, kept as is)."""
    result = []
    for i, draft in enumerate(drafts):
        try:
            number = validation.account_number(draft.account_no, (list_name, str(i), "accountNo"))
        except UserInputError as exc:
            problems.extend(exc)
            number = draft.account_no
        result.append(replace(draft, account_no=number))
    return result


@dataclass(frozen=True)
class ImportResult:
    imported: int
    skipped_duplicates: int
    accounts_created: int


def record_financial_snapshot(
    session: Session,
    actor: Staff,
    customer_id: int,
    as_of: date,
    amounts: dict[str, Decimal],
    source: SourceDraft,
) -> FinancialSnapshot:
    """Add a dated snapshot of income, assets, liabilities and AUM; earlier ones are kept."""
    customer = get_customer(session, customer_id)
    problems = Problems()
    clean: dict[str, Decimal] = {}
    for key, api_name in (
        ("annual_income", "annualIncome"),
        ("total_assets", "totalAssets"),
        ("total_liabilities", "totalLiabilities"),
        ("assets_under_management", "assetsUnderManagement"),
    ):
        try:
            clean[key] = validation.money(amounts[key], api_name)
        except UserInputError as exc:
            problems.extend(exc)
    try:
        validation.not_future_date(as_of, "asOf")
    except UserInputError as exc:
        problems.extend(exc)
    exists = session.scalar(
        select(FinancialSnapshot.id).where(
            FinancialSnapshot.customer_id == customer_id, FinancialSnapshot.as_of == as_of
        )
    )
    if exists is not None:
        problems.add("asOf", "DUPLICATE", "a snapshot for this date exists already")
    source_row = record_source(
        session, actor, customer_id, InformationKind.FINANCIAL, source, problems
    )
    problems.raise_if_any()
    assert source_row is not None
    session.flush()
    snapshot = FinancialSnapshot(
        customer_id=customer_id,
        as_of=as_of,
        source_id=source_row.id,
        recorded_by_id=actor.id,
        recorded_at=clock.now(),
        **clean,
    )
    session.add(snapshot)
    record_change(
        session,
        actor,
        customer,
        InformationKind.FINANCIAL,
        [("financialSnapshot", None, as_of)],
    )
    # AUM is the value model's main input: the segment follows in the same transaction.
    session.flush()
    classify_after_change(session, customer_id, actor.employee_no)
    return snapshot


def import_transactions(
    session: Session,
    actor: Staff,
    customer_id: int,
    accounts: Sequence[AccountDraft],
    transactions: Sequence[TransactionDraft],
    source: SourceDraft,
) -> ImportResult:
    """Import accounts and transactions in bulk; a repeated external reference is skipped."""
    customer = get_customer(session, customer_id)
    problems = Problems()
    if len(transactions) > MAX_IMPORT_ROWS:
        problems.add("transactions", "TOO_MANY", f"import at most {MAX_IMPORT_ROWS} per call")
        problems.raise_if_any()
    accounts = _normal_account_numbers(accounts, "accounts", problems)
    transactions = _normal_account_numbers(transactions, "transactions", problems)
    wanted_numbers = {a.account_no for a in accounts} | {t.account_no for t in transactions}
    known = {
        a.account_no: a
        for a in session.scalars(select(Account).where(Account.account_no.in_(wanted_numbers)))
    }
    for i, draft in enumerate(accounts):
        path = ("accounts", str(i))
        existing = known.get(draft.account_no)
        if existing is not None and existing.customer_id != customer_id:
            problems.add(
                (*path, "accountNo"),
                "ACCOUNT_OF_ANOTHER_CUSTOMER",
                "this account belongs to another customer",
            )
        try:
            validation.not_future_date(draft.opened_on, (*path, "openedOn"))
            if draft.balance is not None:
                validation.money(draft.balance, (*path, "balance"))
        except UserInputError as exc:
            problems.extend(exc)
        if draft.days_past_due is not None and not 0 <= draft.days_past_due <= 36500:
            problems.add((*path, "daysPastDue"), "OUT_OF_RANGE", "must be 0 … 36500 days")
        if draft.product_risk_level is not None and not 1 <= draft.product_risk_level <= 5:
            problems.add((*path, "productRiskLevel"), "OUT_OF_RANGE", "must be 1 … 5 (R1 … R5)")
        if draft.closed_on is not None:
            opened = existing.opened_on if existing is not None else draft.opened_on
            if draft.closed_on > clock.today():
                problems.add((*path, "closedOn"), "DATE_IN_FUTURE", "must not be in the future")
            elif draft.closed_on < opened:
                problems.add((*path, "closedOn"), "OUT_OF_RANGE", "must not be before openedOn")
    declared = {a.account_no for a in accounts}
    seen_refs: set[tuple[str, str]] = set()
    for i, tx in enumerate(transactions):
        path = ("transactions", str(i))
        account = known.get(tx.account_no)
        if tx.account_no not in declared and (
            account is None or account.customer_id != customer_id
        ):
            problems.add(
                (*path, "accountNo"), "UNKNOWN_ACCOUNT", "is not an account of this customer"
            )
        if not tx.external_ref.strip() or len(tx.external_ref) > 64:
            problems.add((*path, "externalRef"), "INVALID", "must be 1–64 characters")
        key = (tx.account_no, tx.external_ref)
        if key in seen_refs:
            problems.add((*path, "externalRef"), "DUPLICATE", "appears twice in this import")
        seen_refs.add(key)
        try:
            validation.positive_money(tx.amount, (*path, "amount"))
            validation.not_future_time(tx.occurred_at, (*path, "occurredAt"))
        except UserInputError as exc:
            problems.extend(exc)
    source_row = record_source(
        session, actor, customer_id, InformationKind.TRANSACTIONS, source, problems
    )
    problems.raise_if_any()
    assert source_row is not None
    session.flush()

    created = 0
    for draft in accounts:
        account = known.get(draft.account_no)
        if account is None:
            account = Account(
                customer_id=customer_id,
                account_no=draft.account_no,
                kind=draft.kind,
                opened_on=draft.opened_on,
                balance=draft.balance or Decimal("0.00"),
                source_id=source_row.id,
                days_past_due=draft.days_past_due or 0,
                product_risk_level=draft.product_risk_level,
                closed_on=draft.closed_on,
            )
            session.add(account)
            known[draft.account_no] = account
            created += 1
        else:
            if draft.balance is not None:
                account.balance = draft.balance
            if draft.days_past_due is not None:
                account.days_past_due = draft.days_past_due
            if draft.product_risk_level is not None:
                account.product_risk_level = draft.product_risk_level
            if draft.closed_on is not None:
                account.closed_on = draft.closed_on
    session.flush()
    account_ids = {no: a.id for no, a in known.items()}
    existing_refs = (
        set(
            session.execute(
                select(Transaction.account_id, Transaction.external_ref).where(
                    tuple_(Transaction.account_id, Transaction.external_ref).in_(
                        [(account_ids[t.account_no], t.external_ref) for t in transactions]
                    )
                )
            )
        )
        if transactions
        else set()
    )
    rows = [
        {
            "account_id": account_ids[t.account_no],
            "customer_id": customer_id,
            "external_ref": t.external_ref,
            "occurred_at": t.occurred_at,
            "amount": t.amount,
            "type": t.type,
            "channel": t.channel,
            "source_id": source_row.id,
        }
        for t in transactions
        if (account_ids[t.account_no], t.external_ref) not in existing_refs
    ]
    if rows:
        session.execute(insert(Transaction), rows)
    if rows or created:
        record_change(
            session,
            actor,
            customer,
            InformationKind.TRANSACTIONS,
            [
                ("transactions", None, f"{len(rows)} imported"),
                *([("accounts", None, f"{created} opened")] if created else []),
            ],
        )
    # Frequency, fees and balances are inputs of the value model (SEG-1).
    session.flush()
    classify_after_change(session, customer_id, actor.employee_no)
    return ImportResult(
        imported=len(rows),
        skipped_duplicates=len(transactions) - len(rows),
        accounts_created=created,
    )


def record_preferences(
    session: Session,
    actor: Staff,
    customer_id: int,
    values: dict[str, Any],
    source: SourceDraft,
) -> Preferences:
    """Record products, service channels, contact method/time and marketing opt-in/out."""
    customer = get_customer(session, customer_id)
    problems = Problems()
    for key, api_name in (("products", "products"), ("service_channels", "serviceChannels")):
        items = values.get(key)
        if items is not None and (len(items) > 20 or any(len(i) > 50 for i in items)):
            problems.add(api_name, "INVALID", "at most 20 entries of at most 50 characters")
    if "marketing_opt_in" in values and values["marketing_opt_in"] is None:
        problems.add("marketingOptIn", "REQUIRED", "give true or false, or leave it out")
    source_row = record_source(
        session, actor, customer_id, InformationKind.PREFERENCES, source, problems
    )
    problems.raise_if_any()
    assert source_row is not None
    session.flush()
    current = session.get(Preferences, customer_id)
    if current is None:
        current = Preferences(customer_id=customer_id, products=[], service_channels=[])
        current.marketing_opt_in = False
        current.contact_method = None
        current.contact_time = None
        session.add(current)
    api_names = {
        "products": "products",
        "service_channels": "serviceChannels",
        "contact_method": "contactMethod",
        "contact_time": "contactTime",
        "marketing_opt_in": "marketingOptIn",
    }
    changes: list[tuple[str, Any, Any]] = []
    for key, new in values.items():
        if key in ("products", "service_channels"):
            # null clears the list: the lists are never null, so reads stay well-formed.
            new = sorted(dict.fromkeys(i.strip() for i in new or [] if i.strip()))
        old = getattr(current, key)
        if old != new:
            changes.append((api_names[key], old, new))
            setattr(current, key, new)
    current.source_id = source_row.id
    current.updated_at = clock.now()
    if changes:
        record_change(session, actor, customer, InformationKind.PREFERENCES, changes)
    return current


def record_risk_assessment(
    session: Session,
    actor: Staff,
    customer_id: int,
    *,
    risk_tolerance: RiskTolerance,
    credit_status: CreditStatus,
    questionnaire_score: int | None,
    credit_score: int | None,
    assessed_at: datetime | None,
    source: SourceDraft,
) -> RiskAssessment:
    """Record a risk-tolerance assessment with the credit score and status (valid one year)."""
    customer = get_customer(session, customer_id)
    problems = Problems()
    if questionnaire_score is not None and not 0 <= questionnaire_score <= 100:
        problems.add("questionnaireScore", "OUT_OF_RANGE", "must be between 0 and 100")
    if credit_score is not None and not 0 <= credit_score <= 1000:
        problems.add("creditScore", "OUT_OF_RANGE", "must be between 0 and 1000")
    when = assessed_at or clock.now()
    if assessed_at is not None:
        try:
            validation.not_future_time(assessed_at, "assessedAt")
        except UserInputError as exc:
            problems.extend(exc)
    source_row = record_source(session, actor, customer_id, InformationKind.RISK, source, problems)
    problems.raise_if_any()
    assert source_row is not None
    session.flush()
    assessment = RiskAssessment(
        customer_id=customer_id,
        assessed_at=when,
        risk_tolerance=risk_tolerance,
        questionnaire_score=questionnaire_score,
        credit_score=credit_score,
        credit_status=credit_status,
        valid_until=clock.business_date(when) + RISK_ASSESSMENT_VALIDITY,
        source_id=source_row.id,
        recorded_by_id=actor.id,
    )
    session.add(assessment)
    record_change(
        session,
        actor,
        customer,
        InformationKind.RISK,
        [("riskTolerance", None, risk_tolerance), ("creditStatus", None, credit_status)],
    )
    # The credit score is the risk model's main input (SEG-3): the grade follows at once.
    session.flush()
    classify_after_change(session, customer_id, actor.employee_no)
    return assessment


def record_verification(
    session: Session,
    actor: Staff,
    customer_id: int,
    kind: InformationKind,
    result: VerificationResult,
    note: str | None,
) -> Verification:
    """Record that a kind of information was re-verified (INFO-4).

    CONFIRMED and CORRECTED move the next due date a full interval ahead; UNREACHABLE keeps
    the customer on the due list.
    """
    get_customer(session, customer_id)
    if kind not in set(InformationKind):
        # COMPLAINT names what a notification is about, not information to re-verify.
        raise UserInputError.one(
            ("informationKind",), "INVALID", "is not a kind of customer information"
        )
    problems = Problems()
    if note is not None and len(note) > 500:
        problems.add("note", "TOO_LONG", "must be at most 500 characters")
    if result is VerificationResult.CORRECTED and not (note or "").strip():
        problems.add("note", "REQUIRED", "say what was corrected")
    problems.raise_if_any()
    now = clock.now()
    verification = Verification(
        customer_id=customer_id,
        information_kind=kind,
        result=result,
        note=(note or "").strip() or None,
        verified_by=actor,
        verified_at=now,
    )
    session.add(verification)
    audit_change(session, customer_id, kind, [("verification", None, result.value)])
    if result is not VerificationResult.UNREACHABLE:
        refresh_due(session, customer_id, kind, verified_at=now)
    return verification


def watch_customer(session: Session, actor: Staff, customer_id: int, reason: str) -> None:
    """Subscribe ``actor`` to change notifications of a customer (idempotent)."""
    get_customer(session, customer_id)
    reason = validation.text(reason, "reason", max_length=200)
    if session.get(CustomerWatcher, (customer_id, actor.id)) is None:
        session.add(
            CustomerWatcher(
                customer_id=customer_id, staff_id=actor.id, reason=reason, created_at=clock.now()
            )
        )


def unwatch_customer(session: Session, actor: Staff, customer_id: int) -> None:
    watcher = session.get(CustomerWatcher, (customer_id, actor.id))
    if watcher is not None:
        session.delete(watcher)
