"""Customers and their information as GraphQL object types (INFO-1 … INFO-5).

Types are built from store rows by ``present`` class methods; personal values pass through
``authz.fields.present`` so field-level policies apply to every type the same way. Nested lists
are loaded for every customer of the request at once (``Context.batched``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.orm import Session

from authz.fields import PERSONAL_FIELDS, PolicyAccess, present, reveal
from core import clock
from core.errors import UserInputError
from resolvers.customers import loaders
from resolvers.customers.queries import manager_roles
from schema.customers.enums import (
    AccountKindEnum,
    ContactMethodEnum,
    ContactTimeEnum,
    CreditStatusEnum,
    CustomerErrorCode,
    GenderEnum,
    InformationKindEnum,
    RiskToleranceEnum,
    SourceKindEnum,
    TransactionChannelEnum,
    TransactionTypeEnum,
    VerificationResultEnum,
)
from schema.segments.types import (
    CustomerSegment,
    SegmentChange,
    ServiceMeasure,
    customer_segment,
    segment_history,
    service_measures,
)
from schema.shared.base import Connection, ContextInfo, Node, node_id, page_request, user_errors
from schema.shared.context import Context
from schema.shared.execution import context_only
from schema.staff import BranchNode, StaffNode, required_staff_field, staff_field
from store import customers as rows
from store.base import open_tagged
from store.customers import Transaction

if TYPE_CHECKING:
    from schema.care import CareOccasionType
    from schema.contacts.filters import ContactOrderBy, ContactWhere
    from schema.contacts.recommendations import RecommendationType
    from schema.contacts.types import ContactNode

# The contacts domain builds on customers: its types are resolved on use (no import cycle).
LazyContact = Annotated["ContactNode", strawberry.lazy("schema.contacts.types")]
LazyContactWhere = Annotated["ContactWhere", strawberry.lazy("schema.contacts.filters")]
LazyContactOrderBy = Annotated["ContactOrderBy", strawberry.lazy("schema.contacts.filters")]
LazyCare = Annotated["CareOccasionType", strawberry.lazy("schema.care")]
LazyRecommendation = Annotated[
    "RecommendationType", strawberry.lazy("schema.contacts.recommendations")
]


@strawberry.type(description="A refused input field. 输入错误。")
class CustomerUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: CustomerErrorCode  # type: ignore[valid-type]
    message: str
    existing_customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="DUPLICATE_ID_NUMBER: the customer who has this ID number — only when you "
        "may see them; otherwise null, and registration is refused (ask your supervisor). "
        "已存在的客户（仅当您有权查看时提供）。",
    )


def customer_errors(exc: UserInputError) -> list[CustomerUserError]:
    return user_errors(
        exc,
        CustomerUserError,
        lambda code: CustomerErrorCode[code],
        lambda e: {
            "existing_customer_id": None
            if e.existing_customer_id is None
            else node_id("Customer", e.existing_customer_id)
        },
    )


@strawberry.type(description="How a piece of information was collected (INFO-1). 信息来源。")
class InformationSource:
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    kind: SourceKindEnum  # type: ignore[valid-type]
    detail: str
    third_party_name: str | None
    legal_basis: str | None
    collected_at: dt.datetime

    @classmethod
    def present(cls, row: rows.InformationSource) -> InformationSource:
        return cls(
            information_kind=row.information_kind,
            kind=row.kind,
            detail=row.detail,
            third_party_name=row.third_party_name,
            legal_basis=row.legal_basis,
            collected_at=row.collected_at,
        )


@strawberry.type(description="Financial status as of a date. 财务状况快照。")
class FinancialSnapshot:
    as_of: dt.date
    annual_income: Decimal | None
    total_assets: Decimal | None
    total_liabilities: Decimal | None
    assets_under_management: Decimal | None = strawberry.field(
        description="Monthly-average assets held with the bank (AUM). 月日均金融资产。"
    )
    net_worth: Decimal | None
    recorded_at: dt.datetime

    @classmethod
    def present(cls, row: Any, ctx: Context) -> FinancialSnapshot:
        access = ctx.access.access_for(row.customer_id)
        values = present(
            "FinancialSnapshot",
            {
                "annual_income": row.annual_income,
                "total_assets": row.total_assets,
                "total_liabilities": row.total_liabilities,
                "assets_under_management": row.assets_under_management,
                "net_worth": row.total_assets - row.total_liabilities,
            },
            access,
        )
        return cls(as_of=row.as_of, recorded_at=row.recorded_at, **values)


@strawberry.type(name="Account", description="An account of the customer. 账户。")
class AccountNode(Node):
    account_no: str | None
    kind: AccountKindEnum  # type: ignore[valid-type]
    currency: str
    opened_on: dt.date
    closed_on: dt.date | None
    balance: Decimal | None

    @classmethod
    def present(cls, row: rows.Account, ctx: Context) -> AccountNode:
        values = present(
            "Account",
            {"account_no": row.account_no, "balance": row.balance},
            ctx.access.access_for(row.customer_id),
        )
        return cls(
            id=node_id("Account", row.id),
            kind=row.kind,
            currency=row.currency,
            opened_on=row.opened_on,
            closed_on=row.closed_on,
            **values,
        )


@strawberry.type(name="Transaction", description="A transaction record. 交易记录。")
class TransactionNode(Node):
    account: strawberry.ID
    external_ref: str
    occurred_at: dt.datetime
    amount: Decimal | None
    type: TransactionTypeEnum  # type: ignore[valid-type]
    channel: TransactionChannelEnum  # type: ignore[valid-type]

    @classmethod
    def present(cls, row: Transaction, ctx: Context) -> TransactionNode:
        values = present(
            "Transaction", {"amount": row.amount}, ctx.access.access_for(row.customer_id)
        )
        return cls(
            id=node_id("Transaction", row.id),
            account=node_id("Account", row.account_id),
            external_ref=row.external_ref,
            occurred_at=row.occurred_at,
            type=row.type,
            channel=row.channel,
            **values,
        )


@strawberry.type(description="Frequency and amounts derived from transactions. 交易汇总。")
class TransactionSummary:
    days: int = strawberry.field(description="Length of the window, ending now.")
    count: int
    inflow: Decimal | None
    outflow: Decimal | None
    last_occurred_at: dt.datetime | None

    @classmethod
    def present(cls, row: loaders.TransactionSummary, ctx: Context) -> TransactionSummary:
        values = present(
            "TransactionSummary",
            {"inflow": row.inflow, "outflow": row.outflow},
            ctx.access.access_for(row.customer_id),
        )
        return cls(days=row.days, count=row.count, last_occurred_at=row.last_occurred_at, **values)


@strawberry.type(description="Product, channel and contact preferences. 客户偏好。")
class Preferences:
    products: list[str] | None
    service_channels: list[str] | None
    contact_method: ContactMethodEnum | None  # type: ignore[valid-type]
    contact_time: ContactTimeEnum | None  # type: ignore[valid-type]
    marketing_opt_in: bool | None = strawberry.field(description="Marketing consent. 同意营销。")
    updated_at: dt.datetime

    @classmethod
    def present(cls, row: rows.Preferences, ctx: Context) -> Preferences:
        values = present(
            "Preferences",
            {
                "products": list(row.products),
                "service_channels": list(row.service_channels),
                "contact_method": row.contact_method,
                "contact_time": row.contact_time,
                "marketing_opt_in": row.marketing_opt_in,
            },
            ctx.access.access_for(row.customer_id),
        )
        return cls(updated_at=row.updated_at, **values)


@strawberry.type(description="A risk assessment. 风险评估。")
class RiskAssessment:
    assessed_at: dt.datetime
    risk_tolerance: RiskToleranceEnum | None  # type: ignore[valid-type]
    questionnaire_score: int | None
    credit_score: int | None
    credit_status: CreditStatusEnum | None  # type: ignore[valid-type]
    valid_until: dt.date
    is_valid: bool = strawberry.field(description="Not expired today. 是否在有效期内。")

    @classmethod
    def present(cls, row: Any, ctx: Context) -> RiskAssessment:
        values = present(
            "RiskAssessment",
            {
                "risk_tolerance": row.risk_tolerance,
                "questionnaire_score": row.questionnaire_score,
                "credit_score": row.credit_score,
                "credit_status": row.credit_status,
            },
            ctx.access.access_for(row.customer_id),
        )
        return cls(
            assessed_at=row.assessed_at,
            valid_until=row.valid_until,
            is_valid=row.valid_until >= clock.today(),
            **values,
        )


@strawberry.type(description="When a kind of information is next due for re-verification.")
class VerificationStatus:
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    last_verified_at: dt.datetime | None
    due_on: dt.date
    is_due: bool

    @classmethod
    def present(cls, row: rows.VerificationDue) -> VerificationStatus:
        return cls(
            information_kind=row.information_kind,
            last_verified_at=row.last_verified_at,
            due_on=row.due_on,
            is_due=row.due_on <= clock.today(),
        )


def _verifier(root: Verification, info: ContextInfo) -> StaffNode:
    """``Verification.verifiedBy`` (withheld from a third party: ``required_staff_field``)."""
    staff = root._verified_by
    return required_staff_field(
        info.context, "Verification", "verifiedBy", staff._pk, lambda: staff
    )


@strawberry.type(description="A recorded re-verification (INFO-4). 信息核实记录。")
class Verification:
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    result: VerificationResultEnum  # type: ignore[valid-type]
    note: str | None
    _verified_by: strawberry.Private[StaffNode]
    verified_by: StaffNode = strawberry.field(resolver=_verifier)
    verified_at: dt.datetime = strawberry.field()

    @classmethod
    def present(cls, row: rows.Verification) -> Verification:
        return cls(
            information_kind=row.information_kind,
            result=row.result,
            note=row.note,
            _verified_by=StaffNode.of(row.verified_by),
            verified_at=row.verified_at,
        )


def _sealed_field(attribute: str) -> Callable[[CustomerNode, ContextInfo], str | None]:
    """The resolver of a sealed customer field: decrypted here, when the answer selects it and
    the policy reveals it (``authz.fields.reveal``), not when the row is read."""

    column = f"sealed_{attribute}"

    @context_only
    def resolve(root: CustomerNode, info: ContextInfo) -> str | None:
        tagged = root._row[column]  # not decrypted yet (``sealed_later``)
        return reveal(  # type: ignore[no-any-return]
            "Customer", attribute, root._access, lambda: open_tagged("customers", attribute, tagged)
        )

    return resolve


@strawberry.type(name="Customer", description="A customer of the bank. 客户。")
class CustomerNode(Node):
    _pk: strawberry.Private[int]
    # The ``CUSTOMER_ROW`` row's mapping (sealed columns unopened) and its field effects.
    _row: strawberry.Private[Any]
    _access: strawberry.Private[PolicyAccess]
    version: int = strawberry.field(description="Changes with every change (pass to updates).")
    name: str | None
    gender: GenderEnum | None  # type: ignore[valid-type]
    birth_date: dt.date | None
    age: int | None
    id_number: str | None = strawberry.field(
        resolver=_sealed_field("id_number"), description="Resident ID number. 身份证号码。"
    )
    phone: str | None = strawberry.field(
        resolver=_sealed_field("phone"), description="Mobile number. 手机号码。"
    )
    email: str | None = strawberry.field(resolver=_sealed_field("email"))
    address: str | None = strawberry.field(resolver=_sealed_field("address"))
    occupation: str | None
    employer: str | None
    branch: BranchNode
    relationship_manager: StaffNode | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def present(cls, row: Any, ctx: Context) -> CustomerNode:
        """From a ``CUSTOMER_ROW`` row (customer with branch and manager columns)."""
        # By key: a Row's attribute access by column name is about ten times slower.
        m = row._mapping
        pk = m["id"]
        ctx.customer_ids.append(pk)
        ctx.access.note_customer(row)
        today = ctx.memo(("today",), clock.today)
        birth = m["birth_date"]
        age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        access = ctx.access.access_for(pk)
        # The sealed fields (ID number, phone, e-mail, address) are revealed by their resolvers.
        values = present(
            "Customer",
            {
                "name": m["name"],
                "gender": m["gender"],
                "birth_date": birth,
                "age": age,
                "occupation": m["occupation"],
                "employer": m["employer"],
            },
            access,
        )
        manager_id = m["relationship_manager_id"]
        manager = staff_field(
            ctx,
            "Customer",
            "relationshipManager",
            manager_id,
            lambda: ctx.memo(
                ("Staff", manager_id),
                lambda: StaffNode.of_parts(
                    manager_id,
                    m["manager_employee_no"],
                    m["manager_name"],
                    manager_roles(m["manager_roles"]),
                    m["manager_active"],
                    BranchNode.of_parts(
                        m["manager_branch_id"],
                        m["manager_branch_code"],
                        m["manager_branch_name"],
                        m["manager_branch_city"],
                    ),
                ),
            ),
        )
        branch_id = m["branch_id"]
        branch = ctx.memo(
            ("Branch", branch_id),
            lambda: BranchNode.of_parts(
                branch_id, m["branch_code"], m["branch_name"], m["branch_city"]
            ),
        )
        return cls(
            id=node_id("Customer", pk),
            _pk=pk,
            _row=m,
            _access=access,
            version=m["version"],
            branch=branch,
            relationship_manager=manager,
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            **values,
        )

    def _batched(
        self, info: ContextInfo, name: str, load: Callable[[Session, Sequence[int]], Any]
    ) -> Any:
        return info.context.batched(name, self._pk, load)

    @strawberry.field(description="The newest financial snapshot. 最新财务状况。")
    @context_only
    def latest_financial_snapshot(self, info: ContextInfo) -> FinancialSnapshot | None:
        row = self._batched(info, "latest_snapshot", loaders.latest_snapshots)
        return FinancialSnapshot.present(row, info.context) if row else None

    @strawberry.field(description="Every financial snapshot, newest first. 财务状况历史。")
    def financial_snapshots(self, info: ContextInfo) -> list[FinancialSnapshot]:
        found = self._batched(info, "snapshots", loaders.snapshots) or []
        return [FinancialSnapshot.present(r, info.context) for r in found]

    @strawberry.field(description="Accounts. 账户。")
    def accounts(self, info: ContextInfo) -> list[AccountNode]:
        found = self._batched(info, "accounts", loaders.accounts) or []
        return [AccountNode.present(r, info.context) for r in found]

    @strawberry.field(description="Transaction frequency and amounts over the last `days` days.")
    def transaction_summary(self, info: ContextInfo, days: int = 90) -> TransactionSummary:
        if not 1 <= days <= 3660:
            raise UserInputError.one(("days",), "OUT_OF_RANGE", "must be 1…3660")

        def load(session: Session, ids: Sequence[int]) -> Any:
            return loaders.transaction_summaries(session, ids, days)

        row = self._batched(info, f"transaction_summary:{days}", load)
        return TransactionSummary.present(row, info.context)

    @strawberry.field(description="Current preferences. 偏好。")
    @context_only
    def preferences(self, info: ContextInfo) -> Preferences | None:
        row = self._batched(info, "preferences", loaders.preferences)
        return Preferences.present(row, info.context) if row else None

    @strawberry.field(description="The newest risk assessment. 最新风险评估。")
    @context_only
    def risk_profile(self, info: ContextInfo) -> RiskAssessment | None:
        row = self._batched(info, "latest_risk", loaders.latest_risk)
        return RiskAssessment.present(row, info.context) if row else None

    @strawberry.field(description="Every risk assessment, newest first. 风险评估历史。")
    def risk_assessments(self, info: ContextInfo) -> list[RiskAssessment]:
        found = self._batched(info, "risk_history", loaders.risk_history) or []
        return [RiskAssessment.present(r, info.context) for r in found]

    @strawberry.field(description="Re-verification schedule per kind of information (INFO-4).")
    def verification_status(self, info: ContextInfo) -> list[VerificationStatus]:
        found = self._batched(info, "verification_status", loaders.verification_status) or []
        return [VerificationStatus.present(r) for r in found]

    @strawberry.field(description="Recorded re-verifications, newest first. 核实记录。")
    def verifications(self, info: ContextInfo) -> list[Verification]:
        found = self._batched(info, "verifications", loaders.verifications) or []
        return [Verification.present(r) for r in found]

    @strawberry.field(description="Where each piece of information came from, newest first.")
    def sources(self, info: ContextInfo) -> list[InformationSource]:
        found = self._batched(info, "sources", loaders.sources) or []
        return [InformationSource.present(r) for r in found]

    @strawberry.field(
        description="The value segment and why (SEG-1): null until the customer is classified. "
        "客户价值分类。"
    )
    @context_only
    def segment(self, info: ContextInfo) -> CustomerSegment | None:
        return customer_segment(info.context, self._pk)

    @strawberry.field(description="Every change of the segment, newest first (SEG-4). 分类变动。")
    def segment_history(self, info: ContextInfo) -> list[SegmentChange]:
        return segment_history(info.context, self._pk)

    @strawberry.field(
        description="The service measures of the customer's segments (SEG-5): of its value tier, "
        "needs and risk grade, as far as you may see each; null until classified. 分类管理措施。"
    )
    @context_only
    def service_measures(self, info: ContextInfo) -> list[ServiceMeasure] | None:
        return service_measures(info.context, self._pk)

    @strawberry.field(
        description="Contacts with the customer, newest first (REL-1); summary, outcome and "
        "next step are the `contacts` group of the access policy. 联系记录。"
    )
    def contacts(
        self,
        info: ContextInfo,
        where: LazyContactWhere | None = None,
        order_by: list[LazyContactOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[LazyContact]:
        from schema.contacts.types import customer_contacts

        return customer_contacts(
            info, self._pk, where, order_by, page_request(first, after, last, before)
        )

    @strawberry.field(
        description="Products recommended to the customer, newest first, with the disclosure "
        "given (REL-3). 产品推荐记录。"
    )
    def recommendations(self, info: ContextInfo) -> list[LazyRecommendation]:
        from schema.contacts.recommendations import customer_recommendations

        return customer_recommendations(info, self._pk)

    @strawberry.field(
        description="The customer's care, newest first (at most 50): birthdays, festivals and "
        "call-backs with the offer given and the greeting's delivery (REL-4). 客户关怀记录。"
    )
    def care(self, info: ContextInfo) -> list[LazyCare]:
        from schema.care import customer_care

        return customer_care(info, self._pk)


@strawberry.type(description="One changed field (INFO-5); values protected like the live ones.")
class CustomerChange:
    version: int
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    field: str
    old_value: str | None
    new_value: str | None
    changed_by: StaffNode | None
    changed_at: dt.datetime

    @classmethod
    def present(cls, row: rows.CustomerChange, ctx: Context) -> CustomerChange:
        # A changed personal field is revealed exactly as the live field would be — of whichever
        # type it belongs to (a preference, a risk assessment …); a field neither personal nor
        # known to carry no personal value is withheld (allow-list).
        access = ctx.access.access_for(row.customer_id)
        owner = CHANGED_FIELDS.get(row.field)
        if owner is None:
            old, new = row.old_value, row.new_value
            if row.field not in NON_PERSONAL_CHANGES:
                old = new = None
        else:
            type_name, snake = owner
            old = present(type_name, {snake: row.old_value}, access)[snake]
            new = present(type_name, {snake: row.new_value}, access)[snake]
            effect = access.effect(type_name, row.field)
            for name, value in (("oldValue", old), ("newValue", new)):
                if value is not None:
                    ctx.note_value_shown(f"CustomerChange.{name}", effect)
        return cls(
            version=row.version,
            information_kind=row.information_kind,
            field=row.field,
            old_value=None if old is None else str(old),
            new_value=None if new is None else str(new),
            changed_by=staff_field(
                ctx,
                "CustomerChange",
                "changedBy",
                row.changed_by_id,
                lambda: StaffNode.of(row.changed_by) if row.changed_by else None,
            ),
            changed_at=row.changed_at,
        )


# Change-history field name → (type, attribute) of the personal field it records; a name of the
# customer's own fields wins over another type's field of the same name.
CHANGED_FIELDS: dict[str, tuple[str, str]] = {
    graphql: (type_name, python)
    for type_name, names in sorted(PERSONAL_FIELDS.items(), key=lambda item: item[0] == "Customer")
    for python, graphql in names.items()
}
# Recorded changes whose values are not personal data: who serves the customer, and what was
# recorded (a snapshot's date, a count of imported transactions or opened accounts).
NON_PERSONAL_CHANGES = frozenset(
    {"branch", "relationshipManager", "financialSnapshot", "transactions", "accounts"}
)
