"""Input and payload types of the customer mutations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from resolvers.customers import history
from schema.customers.enums import (
    AccountKindEnum,
    ContactMethodEnum,
    ContactTimeEnum,
    CreditStatusEnum,
    GenderEnum,
    InformationKindEnum,
    RiskToleranceEnum,
    SourceKindEnum,
    TransactionChannelEnum,
    TransactionTypeEnum,
    VerificationResultEnum,
)
from schema.customers.types import (
    CustomerNode,
    CustomerUserError,
    FinancialSnapshot,
    Preferences,
    RiskAssessment,
    Verification,
)
from schema.shared.mutations import KEY_DESCRIPTION


@strawberry.input(description="How the information was collected (INFO-1). 信息来源。")
class SourceInput:
    kind: SourceKindEnum  # type: ignore[valid-type]
    detail: str = strawberry.field(description="e.g. 'account opening at counter'. 来源说明。")
    third_party_name: str | None = strawberry.field(
        default=None, description="Required for THIRD_PARTY. 第三方名称。"
    )
    legal_basis: str | None = strawberry.field(
        default=None, description="Required for THIRD_PARTY: law or agreement reference. 合法依据。"
    )
    collected_at: dt.datetime | None = None

    def draft(self) -> history.SourceDraft:
        return history.SourceDraft(
            kind=self.kind,
            detail=self.detail,
            third_party_name=self.third_party_name,
            legal_basis=self.legal_basis,
            collected_at=self.collected_at,
        )


@strawberry.input(description="A new customer. Birth date and gender follow the ID number.")
class CreateCustomerInput:
    name: str
    id_number: str
    gender: GenderEnum | None = None  # type: ignore[valid-type]
    birth_date: dt.date | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    occupation: str | None = None
    employer: str | None = None
    branch: strawberry.ID | None = strawberry.field(
        default=None, description="Default: your branch."
    )
    relationship_manager: strawberry.ID | None = None
    source: SourceInput
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.input(description="Fields to change; omitted fields stay, null clears.")
class CustomerChangesInput:
    name: str | None = strawberry.UNSET
    id_number: str | None = strawberry.UNSET
    gender: GenderEnum | None = strawberry.UNSET  # type: ignore[valid-type]
    birth_date: dt.date | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    occupation: str | None = strawberry.UNSET
    employer: str | None = strawberry.UNSET
    branch: strawberry.ID | None = strawberry.UNSET
    relationship_manager: strawberry.ID | None = strawberry.UNSET


@strawberry.input(description="A change of basic information, checked against `expectedVersion`.")
class UpdateCustomerInput:
    id: strawberry.ID
    expected_version: int
    changes: CustomerChangesInput
    source: SourceInput


@strawberry.type
class CustomerPayload:
    errors: list[CustomerUserError]
    customer: CustomerNode | None = None


@strawberry.input(description="A dated financial snapshot; money as decimal strings.")
class RecordFinancialSnapshotInput:
    customer_id: strawberry.ID
    as_of: dt.date
    annual_income: Decimal
    total_assets: Decimal
    total_liabilities: Decimal
    assets_under_management: Decimal
    source: SourceInput
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.type
class RecordFinancialSnapshotPayload:
    errors: list[CustomerUserError]
    financial_snapshot: FinancialSnapshot | None = None
    customer: CustomerNode | None = None


@strawberry.input
class AccountInput:
    account_no: str
    kind: AccountKindEnum  # type: ignore[valid-type]
    opened_on: dt.date
    balance: Decimal | None = None
    days_past_due: int | None = strawberry.field(
        default=None,
        description="Days a repayment is past due (loans, credit cards; 0 … 36500), as the core "
        "system reports it (SEG-3 early warning). Null: unchanged. 逾期天数。",
    )
    product_risk_level: int | None = strawberry.field(
        default=None,
        description="Risk level of the wealth-management product held, 1 … 5 (R1 … R5) "
        "(SEG-3 market risk). Null: unchanged. 产品风险等级。",
    )
    closed_on: dt.date | None = strawberry.field(
        default=None,
        description="The day the core system closed the account (Beijing date; not before "
        "openedOn, not in the future): a customer whose accounts are all closed is lost "
        "(KPI-1). Null: unchanged. 销户日期。",
    )


@strawberry.input
class TransactionInput:
    account_no: str
    external_ref: str = strawberry.field(description="Unique per account; a repeat is skipped.")
    occurred_at: dt.datetime
    amount: Decimal = strawberry.field(description="Positive; the type gives the direction.")
    type: TransactionTypeEnum  # type: ignore[valid-type]
    channel: TransactionChannelEnum  # type: ignore[valid-type]


@strawberry.input(description="Accounts and up to 1000 transactions of one customer.")
class ImportTransactionsInput:
    customer_id: strawberry.ID
    accounts: list[AccountInput] = strawberry.field(default_factory=list)
    transactions: list[TransactionInput]
    source: SourceInput
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.type
class ImportTransactionsPayload:
    errors: list[CustomerUserError]
    imported: int = 0
    skipped_duplicates: int = 0
    accounts_created: int = 0
    customer: CustomerNode | None = None


@strawberry.input(
    description=(
        "Preferences to record; omitted fields stay as they are, null clears a list or the"
        " contact method or time (marketingOptIn is true or false)."
    )
)
class RecordPreferencesInput:
    customer_id: strawberry.ID
    products: list[str] | None = strawberry.UNSET
    service_channels: list[str] | None = strawberry.UNSET
    contact_method: ContactMethodEnum | None = strawberry.UNSET  # type: ignore[valid-type]
    contact_time: ContactTimeEnum | None = strawberry.UNSET  # type: ignore[valid-type]
    marketing_opt_in: bool | None = strawberry.UNSET
    source: SourceInput


@strawberry.type
class RecordPreferencesPayload:
    errors: list[CustomerUserError]
    preferences: Preferences | None = None
    customer: CustomerNode | None = None


@strawberry.input(description="A risk assessment; valid for one year from `assessedAt`.")
class RecordRiskAssessmentInput:
    customer_id: strawberry.ID
    risk_tolerance: RiskToleranceEnum  # type: ignore[valid-type]
    credit_status: CreditStatusEnum  # type: ignore[valid-type]
    questionnaire_score: int | None = None
    credit_score: int | None = None
    assessed_at: dt.datetime | None = None
    source: SourceInput
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.type
class RecordRiskAssessmentPayload:
    errors: list[CustomerUserError]
    risk_assessment: RiskAssessment | None = None
    customer: CustomerNode | None = None


@strawberry.input(description="The outcome of re-verifying one kind of information (INFO-4).")
class RecordVerificationInput:
    customer_id: strawberry.ID
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    result: VerificationResultEnum  # type: ignore[valid-type]
    note: str | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.type
class RecordVerificationPayload:
    errors: list[CustomerUserError]
    verification: Verification | None = None
    customer: CustomerNode | None = None


@strawberry.input
class WatchCustomerInput:
    customer_id: strawberry.ID
    reason: str = strawberry.field(description="Why you follow this customer's changes.")


@strawberry.input
class UnwatchCustomerInput:
    customer_id: strawberry.ID
