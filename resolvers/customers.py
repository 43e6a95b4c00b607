"""Customer information: commands (create, update, record …) and queries (pages, batches).

Every command runs inside the caller's transaction and either completes or raises before
anything is committed: validation first (all problems at once), then writes, then the change
history (INFO-5), the re-verification schedule (INFO-4) and the notification outbox (INFO-6).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    bindparam,
    case,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from authz.rows import is_visible, may_place, require_visible
from core import clock
from core.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Problems,
    UserInputError,
)
from core.ids import pk_of
from resolvers import sharing
from resolvers.shared import validation
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store import crypto
from store.customers import (
    INFLOW_TYPES,
    Account,
    AccountKind,
    CreditStatus,
    Customer,
    CustomerChange,
    CustomerWatcher,
    FinancialSnapshot,
    InformationKind,
    InformationSource,
    Notification,
    Preferences,
    RiskAssessment,
    RiskTolerance,
    SourceKind,
    Transaction,
    TransactionChannel,
    TransactionType,
    Verification,
    VerificationDue,
    VerificationResult,
)
from store.staff import Branch, Role, Staff

# How long each kind of information stays current before it is due for re-verification (INFO-4).
REVIEW_INTERVALS: dict[InformationKind, timedelta] = {
    InformationKind.BASIC: timedelta(days=365),
    InformationKind.FINANCIAL: timedelta(days=180),
    InformationKind.TRANSACTIONS: timedelta(days=90),
    InformationKind.PREFERENCES: timedelta(days=365),
    InformationKind.RISK: timedelta(days=365),
}
MAX_IMPORT_ROWS = 1000
RISK_ASSESSMENT_VALIDITY = timedelta(days=365)


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceDraft:
    """How the information in a command was collected (INFO-1)."""

    kind: SourceKind
    detail: str
    third_party_name: str | None = None
    legal_basis: str | None = None
    collected_at: datetime | None = None


@dataclass(frozen=True)
class AccountDraft:
    account_no: str
    kind: AccountKind
    opened_on: date
    balance: Decimal | None = None


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


# Fields of the basic record a caller may change, and the name the API uses for each.
BASIC_FIELDS = {
    "name": "name",
    "id_number": "idNumber",
    "gender": "gender",
    "birth_date": "birthDate",
    "phone": "phone",
    "email": "email",
    "address": "address",
    "occupation": "occupation",
    "employer": "employer",
    "branch_id": "branch",
    "relationship_manager_id": "relationshipManager",
}


# --- shared steps -----------------------------------------------------------------------------


def _source_problems(draft: SourceDraft) -> Problems:
    """What is wrong with a source: third-party data needs a named source and legal basis."""
    problems = Problems()
    detail = draft.detail.strip()
    if not detail:
        problems.add(("source", "detail"), "REQUIRED", "say how the information was collected")
    if len(detail) > 200:
        problems.add(("source", "detail"), "TOO_LONG", "must be at most 200 characters")
    if draft.kind is SourceKind.THIRD_PARTY:
        if not (draft.third_party_name or "").strip():
            problems.add(
                ("source", "thirdPartyName"),
                "THIRD_PARTY_NAME_REQUIRED",
                "third-party data needs the name of the third party",
            )
        if not (draft.legal_basis or "").strip():
            problems.add(
                ("source", "legalBasis"),
                "LEGAL_BASIS_REQUIRED",
                "third-party data needs its legal basis or agreement reference",
            )
    if draft.collected_at is not None:
        try:
            validation.not_future_time(draft.collected_at, ("source", "collectedAt"))
        except UserInputError as exc:
            problems.extend(exc)
    return problems


def _source(
    session: Session,
    actor: Staff,
    customer_id: int,
    kind: InformationKind,
    draft: SourceDraft,
    problems: Problems,
) -> InformationSource | None:
    """Validate the source (into ``problems``) and, when it is valid, add its row."""
    own = _source_problems(draft)
    problems.errors.extend(own.errors)
    if own.errors:
        return None
    source = InformationSource(
        customer_id=customer_id,
        information_kind=kind,
        kind=draft.kind,
        detail=draft.detail.strip(),
        third_party_name=(draft.third_party_name or "").strip() or None,
        legal_basis=(draft.legal_basis or "").strip() or None,
        collected_at=draft.collected_at or clock.now(),
        recorded_by_id=actor.id,
        recorded_at=clock.now(),
    )
    session.add(source)
    return source


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _record_change(
    session: Session,
    actor: Staff,
    customer: Customer,
    kind: InformationKind,
    changes: Sequence[tuple[str, Any, Any]],
) -> None:
    """Bump the customer's version; write history, the new due date and notifications."""
    now = clock.now()
    customer.updated_at = now  # the row changes, so the mapper bumps ``version``
    session.flush()
    session.add_all(
        CustomerChange(
            customer_id=customer.id,
            version=customer.version,
            information_kind=kind,
            field=name,
            old_value=_as_text(old),
            new_value=_as_text(new),
            changed_by_id=actor.id,
            changed_at=now,
        )
        for name, old, new in changes
    )
    _refresh_due(session, customer.id, kind, verified_at=None)
    _notify(session, actor, customer, kind, [name for name, _, _ in changes])
    audit_change(session, customer.id, kind, changes)


def audit_change(
    session: Session,
    customer_id: int,
    kind: InformationKind | str,
    changes: Sequence[tuple[str, Any, Any]],
    type_name: str = "Customer",
) -> None:
    """Note a change for the CHANGE audit entry the mutation writes before it commits.

    ``type_name`` is the GraphQL type the changed fields belong to (``Complaint.status``).
    """
    session.info.setdefault("audit_changes", []).append(
        {
            "customer_id": customer_id,
            "kind": str(kind),
            "type": type_name,
            "changes": [[field, _as_text(old), _as_text(new)] for field, old, new in changes],
        }
    )


def _refresh_due(
    session: Session, customer_id: int, kind: InformationKind, verified_at: datetime | None
) -> None:
    due = session.get(VerificationDue, (customer_id, kind))
    due_on = clock.today() + REVIEW_INTERVALS[kind]
    if due is None:
        session.add(
            VerificationDue(
                customer_id=customer_id,
                information_kind=kind,
                last_verified_at=verified_at,
                due_on=due_on,
            )
        )
    else:
        due.due_on = due_on
        if verified_at is not None:
            due.last_verified_at = verified_at


def _notify(
    session: Session, actor: Staff, customer: Customer, kind: InformationKind, fields: list[str]
) -> None:
    """Outbox rows for the relationship manager, the watchers and the departments holding a
    share grant of the customer (INFO-6) — never for the actor themself."""
    recipients = set(
        session.scalars(
            select(CustomerWatcher.staff_id).where(CustomerWatcher.customer_id == customer.id)
        )
    )
    if customer.relationship_manager_id is not None:
        recipients.add(customer.relationship_manager_id)
    recipients |= sharing.grant_holders(session, customer.id, customer.branch_id)
    recipients.discard(actor.id)
    if not recipients:
        return
    summary = f"{kind.value.lower()} information changed: {', '.join(fields)}"
    now = clock.now()
    session.execute(
        insert(Notification),
        [
            {
                "recipient_id": staff_id,
                "customer_id": customer.id,
                "customer_version": customer.version,
                "information_kind": kind,
                "fields": fields,
                "summary": summary,
                "created_at": now,
                "read_at": None,
            }
            for staff_id in sorted(recipients)
        ],
    )


def _require_placeable(
    session: Session,
    staff: Staff,
    write_scopes: frozenset[str],
    branch_id: int,
    manager_id: int | None,
) -> None:
    manager = None if manager_id is None else session.get(Staff, manager_id)
    if not may_place(staff, write_scopes, branch_id, manager):
        raise ForbiddenError(
            "the customer's branch and relationship manager would be outside the rows your "
            "roles may change"
        )


def get_customer(session: Session, customer_id: int, *, for_update: bool = False) -> Customer:
    statement = select(Customer).where(Customer.id == customer_id)
    if for_update:
        statement = statement.with_for_update()
    customer = session.scalar(statement)
    if customer is None:
        raise NotFoundError("no customer with this ID")
    return customer


def _find_by_id_number(session: Session, number: str) -> int | None:
    hashes = crypto.cipher().blind_indexes(number)
    return session.scalar(select(Customer.id).where(Customer.id_number_hash.in_(hashes)))


REGISTRATION_REFUSED = "registration of this ID number is refused: ask your supervisor"


def _refuse_duplicate(
    session: Session,
    number: str,
    visible: ColumnElement[bool],
    problems: Problems,
    own_id: int | None = None,
) -> None:
    """Refuse an ID number another customer has (INFO-5), naming that customer only to a caller
    who may see them: the ID goes in ``existing_customer_id``, never in the message. Anyone else
    learns only that registration is refused and whom to ask, not who banks here (issue 8)."""
    existing = _find_by_id_number(session, number)
    if existing is None or existing == own_id:
        return
    if not is_visible(session, existing, visible):
        problems.add("idNumber", "DUPLICATE_ID_NUMBER", REGISTRATION_REFUSED)
        return
    problems.add(
        "idNumber",
        "DUPLICATE_ID_NUMBER",
        "a customer with this ID number exists (see existingCustomerId)",
        existing_customer_id=existing,
    )


def _relationship_manager(
    session: Session, staff_id: int, problems: Problems, field: str = "relationshipManager"
) -> Staff | None:
    manager = session.get(Staff, staff_id)
    if manager is None or not manager.active or Role.RELATIONSHIP_MANAGER not in manager.roles:
        problems.add(
            field, "INVALID_RELATIONSHIP_MANAGER", "must be an active relationship manager"
        )
        return None
    return manager


def _branch(session: Session, branch_id: int, problems: Problems) -> Branch | None:
    branch = session.get(Branch, branch_id)
    if branch is None:
        problems.add("branch", "NOT_FOUND", "no branch with this ID")
    return branch


def _validated_basic(values: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """Validate basic fields present in ``values``; returns the normalised values."""
    clean: dict[str, Any] = {}
    checks = {
        "phone": validation.mobile,
        "email": validation.email,
    }
    for key, check in checks.items():
        if values.get(key) is not None:
            try:
                clean[key] = check(values[key], BASIC_FIELDS[key])
            except UserInputError as exc:
                problems.extend(exc)
        elif key in values:
            clean[key] = None
    for key, limit, required in (
        ("name", 100, True),
        ("address", 300, False),
        ("occupation", 100, False),
        ("employer", 200, False),
    ):
        if key not in values:
            continue
        if values[key] is None:
            if required:
                problems.add(BASIC_FIELDS[key], "REQUIRED", "must not be empty")
            else:
                clean[key] = None
            continue
        try:
            clean[key] = (
                validation.text(values[key], BASIC_FIELDS[key], max_length=limit, required=required)
                or None
            )
        except UserInputError as exc:
            problems.extend(exc)
    if values.get("id_number") is not None:
        try:
            resident = validation.resident_id(values["id_number"])
        except UserInputError as exc:
            problems.extend(exc)
        else:
            clean["id_number"] = resident.number
            given_birth = values.get("birth_date")
            given_gender = values.get("gender")
            if given_birth is not None and given_birth != resident.birth_date:
                problems.add(
                    "birthDate",
                    "ID_NUMBER_MISMATCH",
                    "does not match the birth date in the ID number",
                )
            if given_gender is not None and str(given_gender) != resident.gender:
                problems.add(
                    "gender", "ID_NUMBER_MISMATCH", "does not match the gender in the ID number"
                )
            clean["birth_date"] = resident.birth_date
            clean["gender"] = resident.gender
    elif "id_number" in values:
        problems.add("idNumber", "REQUIRED", "must not be empty")
    elif values.get("birth_date") is not None or values.get("gender") is not None:
        problems.add(
            "idNumber",
            "ID_NUMBER_MISMATCH",
            "birth date and gender follow the ID number: change the ID number instead",
        )
    return clean


def _set_searchable(customer: Customer, key: str, value: str | None) -> None:
    """Set a personal value and its keyed hash together."""
    setattr(customer, key, value)
    if key in ("id_number", "phone", "email"):
        index = None if value is None else crypto.cipher().blind_index(value)
        setattr(customer, f"{key}_hash", index)


# --- commands ---------------------------------------------------------------------------------


def create_customer(
    session: Session,
    actor: Staff,
    values: dict[str, Any],
    source: SourceDraft,
    visible: ColumnElement[bool],
    write_scopes: frozenset[str] = frozenset({"bank"}),
) -> Customer:
    """Register a customer; a known ID number is refused (``_refuse_duplicate``).

    The new customer must lie in the caller's ``write_scopes`` (its branch or manager).
    """
    problems = Problems()
    if values.get("id_number") is None:
        problems.add("idNumber", "REQUIRED", "the resident ID number is required")
    if not values.get("name"):
        problems.add("name", "REQUIRED", "must not be empty")
    clean = _validated_basic(values, problems)
    branch_id = values.get("branch_id") or actor.branch_id
    _branch(session, branch_id, problems)
    manager_id = values.get("relationship_manager_id")
    if manager_id is None and Role.RELATIONSHIP_MANAGER in actor.roles:
        manager_id = actor.id  # a manager registers their own customers unless told otherwise
    _require_placeable(session, actor, write_scopes, branch_id, manager_id)
    if manager_id is not None:
        _relationship_manager(session, manager_id, problems)
    if "id_number" in clean:
        _refuse_duplicate(session, clean["id_number"], visible, problems)
    # The source row needs the new customer's id, but its problems are reported with the rest.
    problems.errors.extend(_source_problems(source).errors)
    problems.raise_if_any()

    now = clock.now()
    customer = Customer(
        name=clean["name"],
        gender=clean["gender"],
        birth_date=clean["birth_date"],
        occupation=clean.get("occupation"),
        employer=clean.get("employer"),
        branch_id=branch_id,
        relationship_manager_id=manager_id,
        created_at=now,
        updated_at=now,
    )
    for key in ("id_number", "phone", "email", "address"):
        _set_searchable(customer, key, clean.get(key))
    session.add(customer)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same ID number won
        # Who won is not looked up again: the answer is the one for an invisible customer.
        raise UserInputError.one(
            ("idNumber",), "DUPLICATE_ID_NUMBER", REGISTRATION_REFUSED
        ) from exc
    _source(session, actor, customer.id, InformationKind.BASIC, source, Problems())
    for kind, interval in REVIEW_INTERVALS.items():
        session.add(
            VerificationDue(
                customer_id=customer.id,
                information_kind=kind,
                last_verified_at=None,
                due_on=clock.business_date(now) + interval,
            )
        )
    _notify(session, actor, customer, InformationKind.BASIC, ["created"])
    audit_change(
        session,
        customer.id,
        InformationKind.BASIC,
        [(BASIC_FIELDS[key], None, value) for key, value in clean.items() if value is not None],
    )
    return customer


def update_customer(
    session: Session,
    actor: Staff,
    customer_id: int,
    expected_version: int,
    values: dict[str, Any],
    source: SourceDraft,
    visible: ColumnElement[bool],
    write_scopes: frozenset[str] = frozenset({"bank"}),
) -> Customer:
    """Change basic information; refused with ``CONFLICT`` when the version is stale (INFO-5).

    ``visible`` (the caller's customers) decides whether a duplicate ID number is named; a
    changed branch or manager must keep the customer in the caller's ``write_scopes``.
    """
    customer = get_customer(session, customer_id, for_update=True)
    if customer.version != expected_version:
        raise ConflictError(
            f"the customer was changed meanwhile: expected version {expected_version}, "
            f"current version {customer.version}; reload and apply your change again"
        )
    problems = Problems()
    if not values:
        problems.add("changes", "REQUIRED", "give at least one field to change")
    clean = _validated_basic(values, problems)
    if values.get("branch_id") is not None and _branch(session, values["branch_id"], problems):
        clean["branch_id"] = values["branch_id"]
    if "relationship_manager_id" in values:
        manager_id = values["relationship_manager_id"]
        if manager_id is None or _relationship_manager(session, manager_id, problems):
            clean["relationship_manager_id"] = manager_id
    if "branch_id" in clean or "relationship_manager_id" in clean:
        _require_placeable(
            session,
            actor,
            write_scopes,
            clean.get("branch_id", customer.branch_id),
            clean.get("relationship_manager_id", customer.relationship_manager_id),
        )
    new_id = clean.get("id_number")
    if new_id is not None and new_id != customer.id_number:
        _refuse_duplicate(session, new_id, visible, problems, customer.id)
    _source(session, actor, customer.id, InformationKind.BASIC, source, problems)
    problems.raise_if_any()

    changes: list[tuple[str, Any, Any]] = []
    for key, new in clean.items():
        old = getattr(customer, key)
        if old == new:
            continue
        changes.append((BASIC_FIELDS[key], old, new))
        _set_searchable(customer, key, new)
    if not changes:
        return customer  # nothing differs: no new version, no notification
    _record_change(session, actor, customer, InformationKind.BASIC, changes)
    return customer


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
    source_row = _source(session, actor, customer_id, InformationKind.FINANCIAL, source, problems)
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
    _record_change(
        session,
        actor,
        customer,
        InformationKind.FINANCIAL,
        [("financialSnapshot", None, as_of)],
    )
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
    source_row = _source(
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
            )
            session.add(account)
            known[draft.account_no] = account
            created += 1
        elif draft.balance is not None:
            account.balance = draft.balance
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
        _record_change(
            session,
            actor,
            customer,
            InformationKind.TRANSACTIONS,
            [
                ("transactions", None, f"{len(rows)} imported"),
                *([("accounts", None, f"{created} opened")] if created else []),
            ],
        )
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
    source_row = _source(session, actor, customer_id, InformationKind.PREFERENCES, source, problems)
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
        if key in ("products", "service_channels") and new is not None:
            new = sorted(dict.fromkeys(i.strip() for i in new if i.strip()))
        old = getattr(current, key)
        if old != new:
            changes.append((api_names[key], old, new))
            setattr(current, key, new)
    current.source_id = source_row.id
    current.updated_at = clock.now()
    if changes:
        _record_change(session, actor, customer, InformationKind.PREFERENCES, changes)
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
    source_row = _source(session, actor, customer_id, InformationKind.RISK, source, problems)
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
    _record_change(
        session,
        actor,
        customer,
        InformationKind.RISK,
        [("riskTolerance", None, risk_tolerance), ("creditStatus", None, credit_status)],
    )
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
        _refresh_due(session, customer_id, kind, verified_at=now)
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


def mark_notifications_read(session: Session, actor: Staff, ids: Iterable[int]) -> int:
    """Mark the actor's own notifications read; returns how many changed."""
    rows = session.scalars(
        select(Notification).where(
            Notification.id.in_(list(ids)),
            Notification.recipient_id == actor.id,
            Notification.read_at.is_(None),
        )
    ).all()
    for row in rows:
        row.read_at = clock.now()
    return len(rows)


# --- queries ----------------------------------------------------------------------------------


CUSTOMER_SORT = {
    "NAME": (Customer.name, str),
    "BIRTH_DATE": (Customer.birth_date, date),
    "CREATED_AT": (Customer.created_at, datetime),
    "UPDATED_AT": (Customer.updated_at, datetime),
    "ID": (Customer.id, int),
}


def customer_sort_keys(order_by: Sequence[tuple[str, bool]]) -> list[SortKey]:
    """Sort keys for ``(field, descending)`` pairs, always ending with the unique id."""
    keys = [
        SortKey(CUSTOMER_SORT[name][0], descending, CUSTOMER_SORT[name][1])
        for name, descending in order_by
        if name != "ID"
    ]
    id_descending = next((d for n, d in order_by if n == "ID"), False)
    keys.append(SortKey(Customer.id, id_descending, int))
    return keys


# The read model of a customer: one row with its branch and relationship manager (and the
# manager's branch) joined in. Plain rows, not ORM entities: a 100-row page is built about
# twice as fast, and the page stays one statement whatever its size.
_customers = Customer.__table__
_branches = Branch.__table__
_manager = Staff.__table__.alias("manager")
_manager_branch = Branch.__table__.alias("manager_branch")
CUSTOMER_ROW = select(
    *(c for c in _customers.c if not c.key.endswith("_hash")),
    _branches.c.code.label("branch_code"),
    _branches.c.name.label("branch_name"),
    _branches.c.city.label("branch_city"),
    _manager.c.employee_no.label("manager_employee_no"),
    _manager.c.name.label("manager_name"),
    _manager.c.roles.label("manager_roles"),
    _manager.c.active.label("manager_active"),
    _manager.c.branch_id.label("manager_branch_id"),
    _manager_branch.c.code.label("manager_branch_code"),
    _manager_branch.c.name.label("manager_branch_name"),
    _manager_branch.c.city.label("manager_branch_city"),
).select_from(
    _customers.join(_branches, _branches.c.id == _customers.c.branch_id)
    .outerjoin(_manager, _manager.c.id == _customers.c.relationship_manager_id)
    .outerjoin(_manager_branch, _manager_branch.c.id == _manager.c.branch_id)
)


def customer_page(
    session: Session,
    conditions: Sequence[Any],
    order_by: Sequence[tuple[str, bool]],
    request: PageRequest,
    extra_columns: Sequence[Any] = (),
) -> Page:
    """One page of customer rows (``CUSTOMER_ROW``), filtered, ordered, keyset-paginated."""
    keys = customer_sort_keys(order_by)
    return paginate(
        session,
        CUSTOMER_ROW.add_columns(*extra_columns).where(*conditions),
        keys,
        request,
        row_values=lambda c: [getattr(c, k.column.key) for k in keys],
        count_statement=select(Customer.id).where(*conditions),
    )


def customers_by_id(
    session: Session,
    customer_ids: Sequence[int],
    visible: ColumnElement[bool],
    extra_columns: Sequence[Any] = (),
) -> dict[int, Any]:
    """Customer rows (``CUSTOMER_ROW``) by primary key, only those the caller may see."""
    statement = CUSTOMER_ROW.add_columns(*extra_columns).where(
        _customers.c.id.in_(customer_ids), visible
    )
    return {row.id: row for row in session.connection().execute(statement).all()}


@lru_cache(maxsize=8)
def _latest_statement(model: Any, order: tuple[str, ...]) -> Any:
    """The ranking statement of ``_latest``, built once per model (ids bound at run time)."""
    table = model.__table__
    ordering = [
        table.c[name.lstrip("-")].desc() if name.startswith("-") else table.c[name]
        for name in order
    ]
    ranked = (
        select(
            *table.c,
            func.row_number()
            .over(partition_by=table.c.customer_id, order_by=ordering)
            .label("rank"),
        )
        .where(table.c.customer_id.in_(bindparam("customer_ids", expanding=True)))
        .subquery()
    )
    return select(*(ranked.c[c.key] for c in table.c)).where(ranked.c.rank == 1)


def _latest(
    session: Session, model: Any, order: tuple[str, ...], customer_ids: Sequence[int]
) -> dict[int, Any]:
    """The newest row of ``model`` per customer, as plain rows, in one statement.

    The rows are ranked inside one subquery restricted to the customers asked for, so the
    database reads only their rows (joining the ranking back to the table scanned it whole).
    ``order`` names columns, ``-`` for descending.
    """
    statement = _latest_statement(model, order)
    rows = session.connection().execute(statement, {"customer_ids": list(customer_ids)}).all()
    return {row.customer_id: row for row in rows}


def latest_snapshots(session: Session, customer_ids: Sequence[int]) -> dict[int, Any]:
    """The newest financial snapshot of each customer."""
    return _latest(session, FinancialSnapshot, ("-as_of", "-id"), customer_ids)


def latest_risk(session: Session, customer_ids: Sequence[int]) -> dict[int, Any]:
    """The newest risk assessment of each customer."""
    return _latest(session, RiskAssessment, ("-assessed_at", "-id"), customer_ids)


def search_hashes(value: str) -> list[str]:
    """Keyed hashes to look for when searching a personal value (every live hash key)."""
    return crypto.cipher().blind_indexes(value)


def _per_customer(
    session: Session,
    model: Any,
    customer_ids: Sequence[int],
    order: Sequence[Any],
    options: Sequence[Any] = (),
) -> dict[int, list[Any]]:
    """Every row of ``model`` for the given customers, grouped by customer, one statement."""
    rows = session.scalars(
        select(model).options(*options).where(model.customer_id.in_(customer_ids)).order_by(*order)
    )
    result: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        result[row.customer_id].append(row)
    return result


def snapshots(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    order = (FinancialSnapshot.as_of.desc(), FinancialSnapshot.id.desc())
    return _per_customer(session, FinancialSnapshot, customer_ids, order)


def risk_history(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    order = (RiskAssessment.assessed_at.desc(), RiskAssessment.id.desc())
    return _per_customer(session, RiskAssessment, customer_ids, order)


def accounts(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    return _per_customer(session, Account, customer_ids, (Account.id,))


def preferences(session: Session, customer_ids: Sequence[int]) -> dict[int, Preferences]:
    rows = session.scalars(select(Preferences).where(Preferences.customer_id.in_(customer_ids)))
    return {row.customer_id: row for row in rows}


def sources(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    return _per_customer(session, InformationSource, customer_ids, (InformationSource.id.desc(),))


def verification_status(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    order = (VerificationDue.due_on, VerificationDue.information_kind)
    return _per_customer(session, VerificationDue, customer_ids, order)


def verifications(session: Session, customer_ids: Sequence[int]) -> dict[int, list[Any]]:
    order = (Verification.verified_at.desc(), Verification.id.desc())
    return _per_customer(
        session, Verification, customer_ids, order, [joinedload(Verification.verified_by)]
    )


@dataclass(frozen=True)
class TransactionSummary:
    """Frequency and amounts derived from a customer's transactions over a window (INFO-2)."""

    customer_id: int
    days: int
    count: int
    inflow: Decimal
    outflow: Decimal
    last_occurred_at: datetime | None


def transaction_summaries(
    session: Session, customer_ids: Sequence[int], days: int
) -> dict[int, TransactionSummary]:
    """Count, money in and money out per customer over the last ``days`` days, one statement."""
    since = clock.now() - timedelta(days=days)
    inflow = Transaction.type.in_(list(INFLOW_TYPES))
    zero = Decimal("0.00")
    statement = (
        select(
            Transaction.customer_id,
            func.count(),
            func.sum(case((inflow, Transaction.amount), else_=None)),
            func.sum(case((inflow, None), else_=Transaction.amount)),
            func.max(Transaction.occurred_at),
        )
        .where(Transaction.customer_id.in_(customer_ids), Transaction.occurred_at >= since)
        .group_by(Transaction.customer_id)
    )
    result: dict[int, TransactionSummary] = {}
    # The aggregates keep the column types, so Money and UTC conversion apply to them too.
    for customer_id, count, money_in, money_out, last in session.execute(statement):
        result[customer_id] = TransactionSummary(
            customer_id=customer_id,
            days=days,
            count=count,
            inflow=money_in if money_in is not None else zero,
            outflow=money_out if money_out is not None else zero,
            last_occurred_at=last,
        )
    return {
        cid: result.get(cid) or TransactionSummary(cid, days, 0, zero, zero, None)
        for cid in customer_ids
    }


def transactions_page(
    session: Session,
    customer_id: int,
    conditions: Sequence[Any],
    request: PageRequest,
    visible: ColumnElement[bool],
) -> Page:
    """A customer's transactions, newest first."""
    require_visible(session, customer_id, visible)
    keys = [
        SortKey(Transaction.occurred_at, True, datetime),
        SortKey(Transaction.id, True, int),
    ]
    statement = select(Transaction).where(Transaction.customer_id == customer_id, *conditions)
    return paginate(session, statement, keys, request, lambda t: [t.occurred_at, t.id])


def change_page(
    session: Session, customer_id: int, request: PageRequest, visible: ColumnElement[bool]
) -> Page:
    """The change history of a customer, newest first (INFO-5)."""
    require_visible(session, customer_id, visible)
    keys = [SortKey(CustomerChange.id, True, int)]
    statement = select(CustomerChange).where(CustomerChange.customer_id == customer_id)
    return paginate(
        session,
        statement,
        keys,
        request,
        lambda c: [c.id],
        options=[joinedload(CustomerChange.changed_by)],
    )


def due_page(
    session: Session,
    kind: InformationKind | None,
    as_of: date,
    request: PageRequest,
    visible: ColumnElement[bool],
) -> Page:
    """Customers whose information of ``kind`` (any kind if None) is due by ``as_of`` (INFO-4)."""
    keys = [
        SortKey(VerificationDue.due_on, False, date),
        SortKey(VerificationDue.customer_id, False, int),
        SortKey(VerificationDue.information_kind, False, str),
    ]
    statement = (
        select(VerificationDue)
        .join(Customer, Customer.id == VerificationDue.customer_id)
        .where(VerificationDue.due_on <= as_of, visible)
    )
    if kind is not None:
        statement = statement.where(VerificationDue.information_kind == kind)
    return paginate(
        session,
        statement,
        keys,
        request,
        lambda d: [d.due_on, d.customer_id, d.information_kind.value],
    )


def notification_page(
    session: Session, recipient: Staff, unread_only: bool, request: PageRequest
) -> Page:
    keys = [SortKey(Notification.id, True, int)]
    statement = select(Notification).where(Notification.recipient_id == recipient.id)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    return paginate(session, statement, keys, request, lambda n: [n.id])


def notifications_after(session: Session, recipient_id: int, after_id: int) -> list[Notification]:
    """New notifications for a subscription (oldest first)."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.recipient_id == recipient_id, Notification.id > after_id)
            .order_by(Notification.id)
            .limit(100)
        )
    )


def latest_notification_id(session: Session, recipient_id: int) -> int:
    return int(
        session.scalar(
            select(func.max(Notification.id)).where(Notification.recipient_id == recipient_id)
        )
        or 0
    )


def parse_customer_id(value: str, field: str | tuple[str, ...] = "customerId") -> int:
    return pk_of(value, "Customer", field)
