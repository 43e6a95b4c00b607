"""What every change of customer information records: where it came from (INFO-1), the
change history and version (INFO-5), the next re-verification date (INFO-4), the notifications
(INFO-6) and the note for the CHANGE audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers.notifications import notify_change
from resolvers.shared import validation
from store.customers import (
    Customer,
    CustomerChange,
    InformationKind,
    InformationSource,
    SourceKind,
    VerificationDue,
)
from store.staff import Staff

# How long each kind of information stays current before it is due for re-verification (INFO-4).
REVIEW_INTERVALS: dict[InformationKind, timedelta] = {
    InformationKind.BASIC: timedelta(days=365),
    InformationKind.FINANCIAL: timedelta(days=180),
    InformationKind.TRANSACTIONS: timedelta(days=90),
    InformationKind.PREFERENCES: timedelta(days=365),
    InformationKind.RISK: timedelta(days=365),
}


@dataclass(frozen=True)
class SourceDraft:
    """How the information in a command was collected (INFO-1)."""

    kind: SourceKind
    detail: str
    third_party_name: str | None = None
    legal_basis: str | None = None
    collected_at: datetime | None = None


def source_problems(draft: SourceDraft) -> Problems:
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


def record_source(
    session: Session,
    actor: Staff,
    customer_id: int,
    kind: InformationKind,
    draft: SourceDraft,
    problems: Problems,
) -> InformationSource | None:
    """Validate the source (into ``problems``) and, when it is valid, add its row."""
    own = source_problems(draft)
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


def record_change(
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
    refresh_due(session, customer.id, kind, verified_at=None)
    notify_change(session, actor, customer, kind, [name for name, _, _ in changes])
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


def refresh_due(
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
