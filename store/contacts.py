"""Contacts with customers (REL-1) and what the cadence needs of them (REL-2).

A contact is one conversation of a member of staff with a customer over one channel, for one
purpose: when, a summary, the outcome and the next step. Summary, outcome and next step are what
staff wrote about the customer, so they are sealed like other personal text (INFO-7). A next
step with a date opens a follow-up task in the manager's inbox (``instance_id``: the
``contact_follow_up`` process). ``contact_status`` keeps each customer's latest contact, so the
cadence worklist is one indexed join, not an aggregate over every contact ever made.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from store.base import Base, Encrypted, UTCDateTime


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, validate_strings=True)


class ContactChannel(StrEnum):
    """REL-1's channels."""

    PHONE = "PHONE"  # the hotline or the manager's phone (``PhoneLine``)
    VISIT = "VISIT"  # face to face
    EMAIL = "EMAIL"
    SMS = "SMS"
    WECHAT = "WECHAT"  # WeChat official account
    WEIBO = "WEIBO"


class PhoneLine(StrEnum):
    HOTLINE = "HOTLINE"  # the bank's customer service hotline
    MANAGER = "MANAGER"  # the relationship manager's own line


class ContactPurpose(StrEnum):
    CONSULTATION = "CONSULTATION"
    PRODUCT_RECOMMENDATION = "PRODUCT_RECOMMENDATION"
    CARE_AND_FEEDBACK = "CARE_AND_FEEDBACK"
    MARKET_INFORMATION = "MARKET_INFORMATION"


class Contact(Base):
    """One contact with a customer (REL-1)."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_customer", "customer_id", "contacted_at", "id"),
        Index("ix_contacts_staff", "staff_id", "contacted_at", "id"),
        Index("ix_contacts_contacted_at", "contacted_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # Who made the contact.
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    channel: Mapped[ContactChannel] = mapped_column(_enum(ContactChannel))
    phone_line: Mapped[PhoneLine | None] = mapped_column(_enum(PhoneLine))
    purpose: Mapped[ContactPurpose] = mapped_column(_enum(ContactPurpose))
    contacted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(Encrypted("contacts.summary"))
    outcome: Mapped[str | None] = mapped_column(Encrypted("contacts.outcome"))
    next_step: Mapped[str | None] = mapped_column(Encrypted("contacts.next_step"))
    # The Beijing date the next step is due; with it, a follow-up task is opened.
    next_step_due_on: Mapped[date | None]
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class ContactStatus(Base):
    """A customer's latest contact (by ``contacted_at``), kept by every logged contact."""

    __tablename__ = "contact_status"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    last_contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    last_contacted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_channel: Mapped[ContactChannel] = mapped_column(_enum(ContactChannel))
