"""Commands on a customer's basic record: register and change (INFO-3, INFO-5).

Every command runs inside the caller's transaction and either completes or raises before
anything is committed: validation first (all problems at once), then writes, then what every
change records (:mod:`resolvers.customers.history`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authz.rows import is_visible, may_place
from core import clock
from core.errors import ConflictError, ForbiddenError, NotFoundError, Problems, UserInputError
from resolvers.customers.history import (
    REVIEW_INTERVALS,
    SourceDraft,
    audit_change,
    record_change,
    record_source,
    source_problems,
)
from resolvers.notifications import notify_change
from resolvers.segments import applied
from resolvers.segments.runs import classify_after_change
from resolvers.shared import validation
from store import crypto
from store.customers import Customer, InformationKind, VerificationDue
from store.staff import Branch, Role, Staff

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
    learns only that registration is refused and whom to ask, not who banks here."""
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
    problems.errors.extend(source_problems(source).errors)
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
    record_source(session, actor, customer.id, InformationKind.BASIC, source, Problems())
    for kind, interval in REVIEW_INTERVALS.items():
        session.add(
            VerificationDue(
                customer_id=customer.id,
                information_kind=kind,
                last_verified_at=None,
                due_on=clock.business_date(now) + interval,
            )
        )
    notify_change(session, actor, customer, InformationKind.BASIC, ["created"])
    audit_change(
        session,
        customer.id,
        InformationKind.BASIC,
        [(BASIC_FIELDS[key], None, value) for key, value in clean.items() if value is not None],
    )
    # A new customer has a segment from the start (SEG-4): what the models give with no inputs.
    classify_after_change(session, customer.id, actor.employee_no)
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
            # The current version only: an error message never repeats what the caller sent.
            f"the customer was changed meanwhile: the current version is {customer.version}; "
            "reload and apply your change again"
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
    record_source(session, actor, customer.id, InformationKind.BASIC, source, problems)
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
    record_change(session, actor, customer, InformationKind.BASIC, changes)
    if any(key in clean for key in ("relationship_manager_id", "branch_id")):
        # Open re-assessment tasks (SEG-5) follow the customer's new manager or branch.
        session.flush()
        applied.follow_manager(session, customer)
    return customer
