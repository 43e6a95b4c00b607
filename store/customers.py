"""Customers and the five kinds of customer information (INFO-1 … INFO-7).

basic information lives on ``customers``; financial snapshots, accounts and transactions,
preferences and risk assessments have their own tables; every piece points at the
``information_sources`` row that says how it was collected. Personal values are ``Encrypted``
with a keyed-hash column beside them for exact search.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from store.base import Base, Encrypted, Money, UTCDateTime
from store.staff import Branch, Staff


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, validate_strings=True)


class SourceKind(StrEnum):
    BUSINESS_TRANSACTION = "BUSINESS_TRANSACTION"
    QUESTIONNAIRE = "QUESTIONNAIRE"
    PROACTIVE_CONTACT = "PROACTIVE_CONTACT"
    THIRD_PARTY = "THIRD_PARTY"


class InformationKind(StrEnum):
    BASIC = "BASIC"
    FINANCIAL = "FINANCIAL"
    TRANSACTIONS = "TRANSACTIONS"
    PREFERENCES = "PREFERENCES"
    RISK = "RISK"


class NotificationKind(StrEnum):
    """What a notification is about: one of the kinds of customer information (INFO-2), or a
    complaint of the customer (its deadlines' warnings and escalations, CMP-6)."""

    BASIC = "BASIC"
    FINANCIAL = "FINANCIAL"
    TRANSACTIONS = "TRANSACTIONS"
    PREFERENCES = "PREFERENCES"
    RISK = "RISK"
    COMPLAINT = "COMPLAINT"
    SPOT_CHECK = "SPOT_CHECK"  # an overdue spot-check rectification about the customer's record


class Gender(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"


class AccountKind(StrEnum):
    DEMAND_DEPOSIT = "DEMAND_DEPOSIT"
    TIME_DEPOSIT = "TIME_DEPOSIT"
    LOAN = "LOAN"
    CREDIT_CARD = "CREDIT_CARD"
    WEALTH_MANAGEMENT = "WEALTH_MANAGEMENT"


class TransactionType(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    TRANSFER_IN = "TRANSFER_IN"
    TRANSFER_OUT = "TRANSFER_OUT"
    PAYMENT = "PAYMENT"
    FEE = "FEE"
    INTEREST = "INTEREST"
    LOAN_DISBURSEMENT = "LOAN_DISBURSEMENT"
    LOAN_REPAYMENT = "LOAN_REPAYMENT"
    PRODUCT_PURCHASE = "PRODUCT_PURCHASE"
    PRODUCT_REDEMPTION = "PRODUCT_REDEMPTION"


# Money flowing into the customer's accounts; every other type flows out.
INFLOW_TYPES = frozenset(
    {
        TransactionType.DEPOSIT,
        TransactionType.TRANSFER_IN,
        TransactionType.INTEREST,
        TransactionType.LOAN_DISBURSEMENT,
        TransactionType.PRODUCT_REDEMPTION,
    }
)


class TransactionChannel(StrEnum):
    BRANCH_COUNTER = "BRANCH_COUNTER"
    MOBILE_APP = "MOBILE_APP"
    ONLINE_BANKING = "ONLINE_BANKING"
    ATM = "ATM"
    POS = "POS"
    PHONE_BANKING = "PHONE_BANKING"


class ContactMethod(StrEnum):
    PHONE = "PHONE"
    SMS = "SMS"
    EMAIL = "EMAIL"
    WECHAT = "WECHAT"
    VISIT = "VISIT"


class ContactTime(StrEnum):
    WORKDAY_MORNING = "WORKDAY_MORNING"
    WORKDAY_AFTERNOON = "WORKDAY_AFTERNOON"
    WORKDAY_EVENING = "WORKDAY_EVENING"
    WEEKEND = "WEEKEND"
    ANY_TIME = "ANY_TIME"


class RiskTolerance(StrEnum):
    C1_CONSERVATIVE = "C1_CONSERVATIVE"
    C2_CAUTIOUS = "C2_CAUTIOUS"
    C3_BALANCED = "C3_BALANCED"
    C4_GROWTH = "C4_GROWTH"
    C5_AGGRESSIVE = "C5_AGGRESSIVE"


class CreditStatus(StrEnum):
    """The five-category loan classification (贷款五级分类)."""

    NORMAL = "NORMAL"
    SPECIAL_MENTION = "SPECIAL_MENTION"
    SUBSTANDARD = "SUBSTANDARD"
    DOUBTFUL = "DOUBTFUL"
    LOSS = "LOSS"


class VerificationResult(StrEnum):
    CONFIRMED = "CONFIRMED"
    CORRECTED = "CORRECTED"
    UNREACHABLE = "UNREACHABLE"


class InformationSource(Base):
    """How a piece of information was collected (INFO-1)."""

    __tablename__ = "information_sources"
    __table_args__ = (
        CheckConstraint(
            "kind <> 'THIRD_PARTY' OR (third_party_name IS NOT NULL AND legal_basis IS NOT NULL)",
            name="third_party_needs_legal_basis",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    information_kind: Mapped[InformationKind] = mapped_column(_enum(InformationKind))
    kind: Mapped[SourceKind] = mapped_column(_enum(SourceKind))
    detail: Mapped[str] = mapped_column(Encrypted("information_sources.detail"))
    third_party_name: Mapped[str | None] = mapped_column(String(200))
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Customer(Base):
    """Basic information (INFO-2) and the record's version (INFO-5)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(100), index=True)
    gender: Mapped[Gender] = mapped_column(_enum(Gender))
    birth_date: Mapped[date] = mapped_column(index=True)
    id_number: Mapped[str] = mapped_column(Encrypted("customers.id_number"))
    id_number_hash: Mapped[str] = mapped_column(String(48), unique=True)
    phone: Mapped[str | None] = mapped_column(Encrypted("customers.phone"))
    phone_hash: Mapped[str | None] = mapped_column(String(48), index=True)
    email: Mapped[str | None] = mapped_column(Encrypted("customers.email"))
    email_hash: Mapped[str | None] = mapped_column(String(48), index=True)
    address: Mapped[str | None] = mapped_column(Encrypted("customers.address"))
    occupation: Mapped[str | None] = mapped_column(String(100))
    employer: Mapped[str | None] = mapped_column(String(200))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    relationship_manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)

    branch: Mapped[Branch] = relationship(lazy="raise")
    relationship_manager: Mapped[Staff | None] = relationship(lazy="raise")

    # Every UPDATE checks and bumps ``version``: a concurrent writer fails instead of merging.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class FinancialSnapshot(Base):
    """Income, assets and liabilities as of a date; history is kept, never overwritten."""

    __tablename__ = "financial_snapshots"
    __table_args__ = (UniqueConstraint("customer_id", "as_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    as_of: Mapped[date]
    annual_income: Mapped[Decimal] = mapped_column(Money)
    total_assets: Mapped[Decimal] = mapped_column(Money)
    total_liabilities: Mapped[Decimal] = mapped_column(Money)
    # Monthly-average assets held with the bank (AUM), the basis of value tiers (SEG-1).
    assets_under_management: Mapped[Decimal] = mapped_column(Money)
    source_id: Mapped[int] = mapped_column(ForeignKey("information_sources.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    account_no: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[AccountKind] = mapped_column(_enum(AccountKind))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    opened_on: Mapped[date]
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    closed_on: Mapped[date | None]
    source_id: Mapped[int | None] = mapped_column(ForeignKey("information_sources.id"))
    # Early-warning data the core systems report (SEG-3): days a loan or card repayment is past
    # due, and the product risk level (1 … 5: R1 … R5) of a wealth-management holding.
    days_past_due: Mapped[int] = mapped_column(default=0)
    product_risk_level: Mapped[int | None]


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("account_id", "external_ref"),
        Index("ix_transactions_customer_time", "customer_id", "occurred_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # Denormalised so that a customer's activity is one indexed range scan.
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    external_ref: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount: Mapped[Decimal] = mapped_column(Money)
    type: Mapped[TransactionType] = mapped_column(_enum(TransactionType))
    channel: Mapped[TransactionChannel] = mapped_column(_enum(TransactionChannel))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("information_sources.id"))


class Preferences(Base):
    """Products, service channels, contact method and time, marketing consent."""

    __tablename__ = "preferences"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    products: Mapped[list[str]] = mapped_column(JSON, default=list)
    service_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    contact_method: Mapped[ContactMethod | None] = mapped_column(_enum(ContactMethod))
    contact_time: Mapped[ContactTime | None] = mapped_column(_enum(ContactTime))
    marketing_opt_in: Mapped[bool] = mapped_column(default=False)
    source_id: Mapped[int] = mapped_column(ForeignKey("information_sources.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class RiskAssessment(Base):
    """A risk-tolerance questionnaire result with the credit score and status at that time."""

    __tablename__ = "risk_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    risk_tolerance: Mapped[RiskTolerance] = mapped_column(_enum(RiskTolerance))
    questionnaire_score: Mapped[int | None]
    credit_score: Mapped[int | None]
    credit_status: Mapped[CreditStatus] = mapped_column(_enum(CreditStatus))
    valid_until: Mapped[date]
    source_id: Mapped[int] = mapped_column(ForeignKey("information_sources.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class Verification(Base):
    """A re-verification of one kind of a customer's information (INFO-4)."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    information_kind: Mapped[InformationKind] = mapped_column(_enum(InformationKind))
    result: Mapped[VerificationResult] = mapped_column(_enum(VerificationResult))
    note: Mapped[str | None] = mapped_column(Encrypted("verifications.note"))
    verified_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)

    verified_by: Mapped[Staff] = relationship(lazy="raise")


class VerificationDue(Base):
    """When each kind of a customer's information is next due for re-verification.

    Kept current by every verification and every change, so the "due" list is one indexed
    range query instead of an aggregate over the verification history.
    """

    __tablename__ = "verification_due"
    __table_args__ = (Index("ix_verification_due_due_on", "due_on", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    information_kind: Mapped[InformationKind] = mapped_column(
        _enum(InformationKind), primary_key=True
    )
    last_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_on: Mapped[date]


class CustomerChange(Base):
    """One changed field of a customer's information (INFO-5); values are sealed."""

    __tablename__ = "customer_changes"
    __table_args__ = (Index("ix_customer_changes_customer", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    version: Mapped[int]
    information_kind: Mapped[InformationKind] = mapped_column(_enum(InformationKind))
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Encrypted("customer_changes.old_value"))
    new_value: Mapped[str | None] = mapped_column(Encrypted("customer_changes.new_value"))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    changed_by: Mapped[Staff | None] = relationship(lazy="raise")


class CustomerWatcher(Base):
    """A staff member subscribed to changes of a customer (besides the relationship manager)."""

    __tablename__ = "customer_watchers"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    # Bound to the composite primary key (the table has no id).
    reason: Mapped[str] = mapped_column(
        Encrypted("customer_watchers.reason", key=("customer_id", "staff_id"))
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Notification(Base):
    """Outbox row: one change of one customer, for one recipient (INFO-6).

    Carries the names of the changed fields, never their values.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_recipient", "recipient_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    customer_version: Mapped[int]
    information_kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind))
    fields: Mapped[list[str]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
