"""Internal share grants (SHARE-2): one department lets another see some of its customers.

A grant names the granting branch, the receiving role (and branch, or any branch), the purpose,
the customers (the whole granting branch, or a listed few), the field groups, and a validity
period. It works only between ``valid_from`` and ``expires_at`` and until it is revoked — every
query checks that, so expiry needs no job.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, UTCDateTime


class ShareGrant(Base):
    __tablename__ = "share_grants"
    __table_args__ = (
        Index("ix_share_grants_receiver", "receiving_role", "receiving_branch_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    granting_branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    receiving_role: Mapped[str] = mapped_column(String(32))
    receiving_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    whole_branch: Mapped[bool]
    field_groups: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Encrypted("share_grants.reason"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class ShareGrantCustomer(Base):
    """The customers of a grant that does not cover the whole granting branch."""

    __tablename__ = "share_grant_customers"
    __table_args__ = (Index("ix_share_grant_customers_customer", "customer_id", "grant_id"),)

    grant_id: Mapped[int] = mapped_column(ForeignKey("share_grants.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)


class ThirdParty(Base):
    """An outside organisation that may receive data under a confidentiality agreement."""

    __tablename__ = "third_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    agreement_reference: Mapped[str] = mapped_column(String(200))
    agreement_signed_on: Mapped[date]
    agreement_expires_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessingMethod(StrEnum):
    """How the recipient will handle the data: the acts of PIPL art. 4 (个人信息的处理)."""

    COLLECTION = "COLLECTION"
    STORAGE = "STORAGE"
    USE = "USE"
    PROCESSING = "PROCESSING"
    TRANSMISSION = "TRANSMISSION"
    PROVISION = "PROVISION"
    DISCLOSURE = "DISCLOSURE"
    DELETION = "DELETION"


class ShareRequestStatus(StrEnum):
    """Where a share request stands: waiting for its approval process, or decided."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DENIED = "DENIED"


class ShareGrantStatus(StrEnum):
    """Whether a grant works now (computed from its period and revocation, never stored)."""

    SCHEDULED = "SCHEDULED"
    IN_FORCE = "IN_FORCE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class Consent(Base):
    """A customer's explicit consent to share named data with a third party (SHARE-3, PIPL 23).

    PIPL art. 23 has the customer told the recipient's name and contact, the purpose, the
    processing method and the categories. The recipient's contact person is personal data
    (sealed); consents recorded before migration 0008 have neither contact nor method (NULL).
    """

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_customer", "customer_id", "third_party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    third_party_id: Mapped[int] = mapped_column(ForeignKey("third_parties.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    evidence: Mapped[str] = mapped_column(Encrypted("consents.evidence"))
    # ProcessingMethod values, sorted.
    processing_methods: Mapped[list[str] | None] = mapped_column(JSON)
    recipient_contact_name: Mapped[str | None] = mapped_column(
        Encrypted("consents.recipient_contact_name")
    )
    recipient_contact_phone: Mapped[str | None] = mapped_column(
        Encrypted("consents.recipient_contact_phone")
    )
    recipient_contact_email: Mapped[str | None] = mapped_column(
        Encrypted("consents.recipient_contact_email")
    )
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShareRequest(Base):
    """A request to hand a customer's data to a third party, approved through a process (SHARE-3).

    The approval process checks the customer's consent, then security reviews the request.
    """

    __tablename__ = "share_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    third_party_id: Mapped[int] = mapped_column(ForeignKey("third_parties.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    # Free text staff write about the customer: sealed.
    reason: Mapped[str] = mapped_column(Encrypted("share_requests.reason"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))  # ShareRequestStatus
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Encrypted("share_requests.decision_note"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
