"""Sharing changes: grants, third parties, consents and share requests (SHARE-2, SHARE-3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.consents import agreement_in_force
from authz.policy import PURPOSES
from core import clock
from core.errors import FieldError, ForbiddenError, NotFoundError, Problems, UserInputError
from resolvers.shared import unit_of_work, validation
from resolvers.workflows import start_for
from store.customers import Customer
from store.policy import PolicyRule
from store.sharing import (
    Consent,
    ProcessingMethod,
    ShareGrant,
    ShareGrantCustomer,
    ShareRequest,
    ShareRequestStatus,
    ThirdParty,
)
from store.staff import Branch, Role, Staff

MAX_GRANT_DAYS = 366
# Free text (a grant's reason, a consent's evidence, a share request's reason): sealed, so the
# column type no longer bounds it.
MAX_TEXT = 300


@dataclass(frozen=True)
class GrantDraft:
    receiving_role: str
    receiving_branch_id: int | None
    purpose: str
    field_groups: Sequence[str]
    customer_ids: Sequence[int]
    expires_at: datetime
    reason: str


def _groups(session: Session) -> set[str]:
    return set(session.scalars(select(PolicyRule.v1).where(PolicyRule.ptype == "g2")))


def _purpose_and_groups(
    session: Session, purpose: str, groups: Sequence[str], groups_field: str
) -> list[FieldError]:
    """What grants and consents check alike: a known purpose and known field groups."""
    problems: list[FieldError] = []
    if purpose not in PURPOSES:
        problems.append(
            FieldError(("purpose",), "UNKNOWN_PURPOSE", f"must be one of {', '.join(PURPOSES)}")
        )
    known = _groups(session)
    if not groups or set(groups) - known:
        problems.append(
            FieldError(
                (groups_field,),
                "UNKNOWN_GROUP",
                f"name one or more of {', '.join(sorted(known))}",
            )
        )
    return problems


def create_grant(session: Session, actor: Staff, draft: GrantDraft) -> ShareGrant:
    """A supervisor shares customers of their own branch with another role or department."""
    problems: list[FieldError] = []

    def fail(field: str, code: str, message: str) -> None:
        problems.append(FieldError((field,), code, message))

    now = clock.now()
    # Staff roles only: a third party receives data by the customer's consent, never by a
    # branch's grant (SHARE-3).
    receivers = [role for role in Role.__members__ if role != Role.THIRD_PARTY.value]
    if draft.receiving_role not in receivers:
        fail("receivingRole", "UNKNOWN_ROLE", f"must be one of {', '.join(receivers)}")
    problems += _purpose_and_groups(session, draft.purpose, draft.field_groups, "fieldGroups")
    if (problem := validation.instant_problem(draft.expires_at)) is not None:
        fail("expiresAt", "INVALID", problem)
    elif draft.expires_at <= now:
        fail("expiresAt", "EXPIRED", "must lie in the future")
    elif draft.expires_at > now + timedelta(days=MAX_GRANT_DAYS):
        fail("expiresAt", "TOO_LONG", f"a grant lasts at most {MAX_GRANT_DAYS} days")
    if not draft.reason.strip():
        fail("reason", "REQUIRED", "say why the data is shared")
    elif len(draft.reason.strip()) > MAX_TEXT:
        fail("reason", "TOO_LONG", f"at most {MAX_TEXT} characters")
    if (
        draft.receiving_branch_id is not None
        and session.get(Branch, draft.receiving_branch_id) is None
    ):
        fail("receivingBranch", "NOT_FOUND", "no branch with this ID")
    if draft.customer_ids:
        outside = session.scalars(
            select(Customer.id).where(
                Customer.id.in_(list(draft.customer_ids)), Customer.branch_id != actor.branch_id
            )
        ).all()
        found = set(
            session.scalars(select(Customer.id).where(Customer.id.in_(list(draft.customer_ids))))
        )
        if outside or len(found) != len(set(draft.customer_ids)):
            fail("customers", "NOT_OF_YOUR_BRANCH", "share only customers of your own branch")
    overlapping = session.scalar(
        select(ShareGrant.id).where(
            ShareGrant.granting_branch_id == actor.branch_id,
            ShareGrant.receiving_role == draft.receiving_role,
            ShareGrant.receiving_branch_id.is_(None)
            if draft.receiving_branch_id is None
            else ShareGrant.receiving_branch_id == draft.receiving_branch_id,
            ShareGrant.purpose == draft.purpose,
            ShareGrant.revoked_at.is_(None),
            ShareGrant.expires_at > now,
        )
    )
    if overlapping is not None:
        fail("receivingRole", "OVERLAPPING", f"grant {overlapping} already shares with them")
    if problems:
        raise UserInputError(problems)
    grant = ShareGrant(
        granting_branch_id=actor.branch_id,
        receiving_role=draft.receiving_role,
        receiving_branch_id=draft.receiving_branch_id,
        purpose=draft.purpose,
        whole_branch=not draft.customer_ids,
        field_groups=sorted(set(draft.field_groups)),
        reason=draft.reason.strip(),
        valid_from=now,
        expires_at=draft.expires_at,
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(grant)
    session.flush()
    session.add_all(
        ShareGrantCustomer(grant_id=grant.id, customer_id=c)
        for c in sorted(set(draft.customer_ids))
    )
    session.flush()
    _audit_grant(session, actor, f"share grant {grant.id} created", grant, draft.customer_ids)
    return grant


def _audit_grant(
    session: Session, actor: Staff, what: str, grant: ShareGrant, customer_ids: Sequence[int]
) -> None:
    """Grants are changes: audited in the transaction that makes them (SHARE-4)."""
    detail = {
        "receiving_role": grant.receiving_role,
        "receiving_branch_id": grant.receiving_branch_id,
        "field_groups": grant.field_groups,
        "expires_at": grant.expires_at,
    }
    note_change(session, actor, what, customer_ids, detail, f"grant:{grant.id}")


def revoke_grant(session: Session, actor: Staff, grant_id: int, may_revoke_any: bool) -> ShareGrant:
    grant = session.get(ShareGrant, grant_id)
    if grant is None:
        raise NotFoundError("no share grant with this ID")
    if grant.granting_branch_id != actor.branch_id and not may_revoke_any:
        raise ForbiddenError("only the granting branch or a security admin may revoke a grant")
    if grant.revoked_at is None:
        grant.revoked_at = clock.now()
        grant.revoked_by_id = actor.id
        _audit_grant(session, actor, f"share grant {grant.id} revoked", grant, [])
    return grant


def note_change(
    session: Session, actor: Staff, what: str, customer_ids: Sequence[int], detail: Any, via: str
) -> None:
    """What the CHANGE entry of the unit of work says about a sharing change (SHARE-4)."""
    unit_of_work.note(session, what, customer_ids=customer_ids, via=[via], detail=detail)


def register_third_party(
    session: Session,
    actor: Staff,
    name: str,
    agreement_reference: str,
    signed_on: date,
    expires_on: date,
) -> tuple[ThirdParty, Staff]:
    """An organisation with its confidentiality agreement, and the principal it signs in as."""
    problems: list[FieldError] = []
    if not name.strip():
        problems.append(FieldError(("name",), "REQUIRED", "name the organisation"))
    elif session.scalar(select(ThirdParty.id).where(ThirdParty.name == name.strip())):
        problems.append(FieldError(("name",), "DUPLICATE", "this organisation is registered"))
    if not agreement_reference.strip():
        problems.append(
            FieldError(
                ("agreementReference",),
                "AGREEMENT_REQUIRED",
                "data goes to a third party only under a recorded confidentiality agreement",
            )
        )
    if expires_on <= signed_on:
        problems.append(FieldError(("agreementExpiresOn",), "INVALID", "must follow the signing"))
    if problems:
        raise UserInputError(problems)
    party = ThirdParty(
        name=name.strip(),
        agreement_reference=agreement_reference.strip(),
        agreement_signed_on=signed_on,
        agreement_expires_on=expires_on,
        created_at=clock.now(),
    )
    session.add(party)
    session.flush()
    principal = Staff(
        employee_no=f"TP{party.id:04d}",
        name=party.name[:50],
        branch_id=actor.branch_id,
        roles=[Role.THIRD_PARTY.value],
        active=True,
        third_party_id=party.id,
        created_at=clock.now(),
    )
    session.add(principal)
    session.flush()
    note_change(
        session,
        actor,
        f"third party {party.id} registered",
        [],
        {"name": party.name},
        f"third_party:{party.id}",
    )
    return party, principal


@dataclass(frozen=True)
class RecipientContact:
    """Whom the customer was told to contact at the recipient (PIPL art. 23): a person or
    office, reachable by a mainland mobile number and/or an e-mail address."""

    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class ConsentDraft:
    customer_id: int
    third_party_id: int
    purpose: str
    data_categories: Sequence[str]
    valid_until: datetime
    evidence: str
    processing_methods: Sequence[str]
    recipient_contact: RecipientContact


def _recipient_contact(contact: RecipientContact, problems: list[FieldError]) -> RecipientContact:
    """The contact validated and normalised; what is wrong is added to ``problems``."""
    found = Problems(("recipientContact",))

    def checked(check: Callable[[str], str], value: str | None) -> str | None:
        if not (value or "").strip():
            return None
        try:
            return check(value or "")
        except UserInputError as exc:
            found.extend(exc)
            return None

    name = checked(lambda v: validation.text(v, "name", max_length=50), contact.name)
    if name is None and not found.errors:
        found.add("name", "REQUIRED", "name the person or office to contact")
    phone = checked(validation.mobile, contact.phone)
    email = checked(validation.email, contact.email)
    if not (contact.phone or "").strip() and not (contact.email or "").strip():
        found.add((), "CONTACT_REQUIRED", "give a mobile number or an e-mail address")
    problems += found.errors
    return RecipientContact(name or "", phone, email)


def record_consent(session: Session, actor: Staff, draft: ConsentDraft) -> Consent:
    """Record a customer's explicit consent naming recipient, purpose, categories and period."""
    problems: list[FieldError] = []

    def fail(field: str, code: str, message: str) -> None:
        problems.append(FieldError((field,), code, message))

    now = clock.now()
    party = session.get(ThirdParty, draft.third_party_id)
    if party is None:
        fail("thirdParty", "NOT_FOUND", "no such third party")
    elif not agreement_in_force(party, now):
        fail(
            "thirdParty", "AGREEMENT_NOT_IN_FORCE", "its confidentiality agreement is not in force"
        )
    problems += _purpose_and_groups(session, draft.purpose, draft.data_categories, "dataCategories")
    if not draft.evidence.strip():
        fail(
            "evidence", "EVIDENCE_REQUIRED", "keep the proof of consent (signed form, recording …)"
        )
    elif len(draft.evidence.strip()) > MAX_TEXT:
        fail("evidence", "TOO_LONG", f"at most {MAX_TEXT} characters")
    if (problem := validation.instant_problem(draft.valid_until)) is not None:
        fail("validUntil", "INVALID", problem)
    elif draft.valid_until <= now:
        fail("validUntil", "EXPIRED", "must lie in the future")
    methods = sorted(set(draft.processing_methods))
    if not methods or set(methods) - set(ProcessingMethod):
        fail(
            "processingMethods",
            "REQUIRED",
            f"name one or more of {', '.join(ProcessingMethod)} (PIPL art. 4)",
        )
    contact = _recipient_contact(draft.recipient_contact, problems)
    if problems:
        raise UserInputError(problems)
    consent = Consent(
        customer_id=draft.customer_id,
        third_party_id=draft.third_party_id,
        purpose=draft.purpose,
        data_categories=sorted(set(draft.data_categories)),
        evidence=draft.evidence.strip(),
        processing_methods=methods,
        recipient_contact_name=contact.name,
        recipient_contact_phone=contact.phone,
        recipient_contact_email=contact.email,
        valid_from=now,
        valid_until=draft.valid_until,
        recorded_by_id=actor.id,
        recorded_at=now,
    )
    session.add(consent)
    session.flush()
    note_change(
        session,
        actor,
        f"consent {consent.id} recorded",
        [draft.customer_id],
        # Not the recipient's contact: personal data stays out of the audit detail.
        {
            "third_party": draft.third_party_id,
            "categories": consent.data_categories,
            "processing_methods": methods,
        },
        f"consent:{consent.id}",
    )
    return consent


def revoke_consent(session: Session, actor: Staff, consent_id: int) -> Consent:
    """Revoking stops sharing at the next request (SHARE-3)."""
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFoundError("no consent with this ID")
    if consent.revoked_at is None:
        consent.revoked_at = clock.now()
        note_change(
            session,
            actor,
            f"consent {consent.id} revoked",
            [consent.customer_id],
            None,
            f"consent:{consent.id}",
        )
    return consent


# --- share requests: handing data to a third party, approved by a process (share_request.bpmn) -

SHARE_PROCESS_KEY = "share_request"


@dataclass(frozen=True)
class ShareRequestDraft:
    customer_id: int
    third_party_id: int
    purpose: str
    data_categories: Sequence[str]
    reason: str


def request_share(session: Session, actor: Staff, draft: ShareRequestDraft) -> ShareRequest:
    """Ask to hand a customer's data to a third party; the approval process starts at once."""
    problems: list[FieldError] = []
    if session.get(ThirdParty, draft.third_party_id) is None:
        problems.append(FieldError(("thirdParty",), "NOT_FOUND", "no such third party"))
    problems += _purpose_and_groups(session, draft.purpose, draft.data_categories, "dataCategories")
    reason = draft.reason.strip()
    if not reason:
        problems.append(FieldError(("reason",), "REQUIRED", "say why the data must be shared"))
    elif len(reason) > MAX_TEXT:
        problems.append(FieldError(("reason",), "TOO_LONG", f"at most {MAX_TEXT} characters"))
    if problems:
        raise UserInputError(problems)
    request = ShareRequest(
        customer_id=draft.customer_id,
        third_party_id=draft.third_party_id,
        purpose=draft.purpose,
        data_categories=sorted(set(draft.data_categories)),
        reason=reason,
        requested_by_id=actor.id,
        requested_at=clock.now(),
        status=ShareRequestStatus.PENDING,
    )
    session.add(request)
    session.flush()

    start_for(session, request, SHARE_PROCESS_KEY, {"share_request_id": request.id}, actor)
    return request
