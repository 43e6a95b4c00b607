"""Customers and their information as GraphQL: types, queries, mutations (INFO-1 … INFO-6).

Types are built from store rows by ``present`` class methods; personal values pass through
``authz.fields.present`` so field-level policies apply to every type the same way. Nested lists
are loaded for every customer of the request at once (``Context.batched``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import strawberry
from sqlalchemy.orm import Session

from authz import rows as row_scopes
from authz.fields import PERSONAL_FIELDS, WRITTEN_FIELDS, Effect, present
from core import clock
from core.errors import ForbiddenError, UserInputError
from core.ids import pk_of
from resolvers import customers as logic
from resolvers.shared import validation
from resolvers.shared.filters import FilterField, compile_where
from resolvers.shared.pagination import PageRequest
from schema.shared.base import (
    Connection,
    ContextInfo,
    DateFilter,
    DateTimeFilter,
    ExactFilter,
    IDFilter,
    Node,
    SortDirection,
    StringFilter,
    bilingual_enum,
    node_id,
    user_errors,
)
from schema.shared.context import Context
from schema.shared.execution import context_only
from schema.shared.mutations import mutate
from schema.shared.rights import Authenticated, HasRight, WritesCustomer
from schema.shared.rights import field as guarded_field
from schema.shared.rights import mutation as guarded_mutation
from schema.staff import BranchNode, StaffNode
from store import customers as rows
from store.customers import Transaction
from store.staff import Staff

R = TypeVar("R")

# --- enums ------------------------------------------------------------------------------------

GenderEnum = bilingual_enum(
    rows.Gender, "Gender. 性别。", {"MALE": "Male 男", "FEMALE": "Female 女"}
)
SourceKindEnum = bilingual_enum(
    rows.SourceKind,
    "How information was collected (INFO-1). 信息来源。",
    {
        "BUSINESS_TRANSACTION": "Business transaction (account opening, deposit, loan) 业务办理",
        "QUESTIONNAIRE": "Questionnaire 问卷调查",
        "PROACTIVE_CONTACT": "Proactive contact (call-back, visit) 主动联系",
        "THIRD_PARTY": "Lawful third-party data (market research, credit bureau) 合法第三方数据",
    },
)
InformationKindEnum = bilingual_enum(
    rows.InformationKind,
    "The five kinds of customer information (INFO-2). 客户信息类别。",
    {
        "BASIC": "Basic information 基本信息",
        "FINANCIAL": "Financial status 财务状况",
        "TRANSACTIONS": "Accounts and transactions 交易记录",
        "PREFERENCES": "Preferences 偏好",
        "RISK": "Risk profile 风险状况",
    },
)
AccountKindEnum = bilingual_enum(
    rows.AccountKind,
    "Kind of account. 账户类型。",
    {
        "DEMAND_DEPOSIT": "Demand deposit 活期存款",
        "TIME_DEPOSIT": "Time deposit 定期存款",
        "LOAN": "Loan 贷款",
        "CREDIT_CARD": "Credit card 信用卡",
        "WEALTH_MANAGEMENT": "Wealth management 理财",
    },
)
TransactionTypeEnum = bilingual_enum(
    rows.TransactionType,
    "Type of transaction. 交易类型。",
    {
        "DEPOSIT": "Deposit 存入",
        "WITHDRAWAL": "Withdrawal 取出",
        "TRANSFER_IN": "Transfer in 转入",
        "TRANSFER_OUT": "Transfer out 转出",
        "PAYMENT": "Payment 消费支付",
        "FEE": "Fee 手续费",
        "INTEREST": "Interest 利息",
        "LOAN_DISBURSEMENT": "Loan disbursement 贷款发放",
        "LOAN_REPAYMENT": "Loan repayment 贷款还款",
        "PRODUCT_PURCHASE": "Product purchase 产品购买",
        "PRODUCT_REDEMPTION": "Product redemption 产品赎回",
    },
)
TransactionChannelEnum = bilingual_enum(
    rows.TransactionChannel,
    "Channel of a transaction. 交易渠道。",
    {
        "BRANCH_COUNTER": "Branch counter 柜面",
        "MOBILE_APP": "Mobile app 手机银行",
        "ONLINE_BANKING": "Online banking 网上银行",
        "ATM": "ATM 自助设备",
        "POS": "Point of sale POS 机",
        "PHONE_BANKING": "Phone banking 电话银行",
    },
)
ContactMethodEnum = bilingual_enum(
    rows.ContactMethod,
    "Preferred contact method. 联系方式偏好。",
    {
        "PHONE": "Phone call 电话",
        "SMS": "SMS 短信",
        "EMAIL": "E-mail 电子邮件",
        "WECHAT": "WeChat 微信",
        "VISIT": "Visit 上门拜访",
    },
)
ContactTimeEnum = bilingual_enum(
    rows.ContactTime,
    "Preferred contact time. 联系时间偏好。",
    {
        "WORKDAY_MORNING": "Workday morning 工作日上午",
        "WORKDAY_AFTERNOON": "Workday afternoon 工作日下午",
        "WORKDAY_EVENING": "Workday evening 工作日晚间",
        "WEEKEND": "Weekend 周末",
        "ANY_TIME": "Any time 任何时间",
    },
)
RiskToleranceEnum = bilingual_enum(
    rows.RiskTolerance,
    "Risk tolerance from the questionnaire (C1–C5). 风险承受能力。",
    {
        "C1_CONSERVATIVE": "C1 conservative 保守型",
        "C2_CAUTIOUS": "C2 cautious 稳健型",
        "C3_BALANCED": "C3 balanced 平衡型",
        "C4_GROWTH": "C4 growth 成长型",
        "C5_AGGRESSIVE": "C5 aggressive 进取型",
    },
)
CreditStatusEnum = bilingual_enum(
    rows.CreditStatus,
    "Credit status, five-category loan classification. 贷款五级分类。",
    {
        "NORMAL": "Normal 正常",
        "SPECIAL_MENTION": "Special mention 关注",
        "SUBSTANDARD": "Substandard 次级",
        "DOUBTFUL": "Doubtful 可疑",
        "LOSS": "Loss 损失",
    },
)
VerificationResultEnum = bilingual_enum(
    rows.VerificationResult,
    "Outcome of a re-verification. 核实结果。",
    {
        "CONFIRMED": "Confirmed unchanged 核实无误",
        "CORRECTED": "Corrected 已更正",
        "UNREACHABLE": "Customer unreachable 无法联系客户",
    },
)


class _CustomerErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_ID = "INVALID_ID"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    TOO_DEEP = "TOO_DEEP"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    DUPLICATE = "DUPLICATE"
    NOT_FOUND = "NOT_FOUND"
    INVALID_ID_NUMBER = "INVALID_ID_NUMBER"
    ID_NUMBER_MISMATCH = "ID_NUMBER_MISMATCH"
    DUPLICATE_ID_NUMBER = "DUPLICATE_ID_NUMBER"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    DATE_IN_FUTURE = "DATE_IN_FUTURE"
    INVALID_RELATIONSHIP_MANAGER = "INVALID_RELATIONSHIP_MANAGER"
    THIRD_PARTY_NAME_REQUIRED = "THIRD_PARTY_NAME_REQUIRED"
    LEGAL_BASIS_REQUIRED = "LEGAL_BASIS_REQUIRED"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    ACCOUNT_OF_ANOTHER_CUSTOMER = "ACCOUNT_OF_ANOTHER_CUSTOMER"
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE"
    INVALID_CURSOR = "INVALID_CURSOR"


CustomerErrorCode = bilingual_enum(
    _CustomerErrorCode,
    "Why customer input was refused. 客户信息输入错误代码。",
    {
        "REQUIRED": "A required value is missing 缺少必填项",
        "INVALID": "The value is malformed 格式不正确",
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "TOO_LONG": "The text is too long 文本过长",
        "TOO_MANY": "Too many items in one request 条目过多",
        "TOO_DEEP": "Filters nested too deep 过滤条件嵌套过深",
        "OUT_OF_RANGE": "The number is outside its range 数值超出范围",
        "DUPLICATE": "The same record exists already 记录重复",
        "NOT_FOUND": "The referenced record does not exist 记录不存在",
        "INVALID_ID_NUMBER": "Not a valid resident ID number (GB 11643) 身份证号码无效",
        "ID_NUMBER_MISMATCH": "Disagrees with the ID number 与身份证号码不符",
        "DUPLICATE_ID_NUMBER": "A customer with this ID number exists 身份证号码已存在",
        "INVALID_PHONE": "Not a mainland mobile number 手机号码无效",
        "INVALID_EMAIL": "Not an e-mail address 电子邮箱无效",
        "INVALID_AMOUNT": "Not an amount with at most 2 decimals 金额格式无效",
        "NEGATIVE_AMOUNT": "The amount is negative 金额为负",
        "DATE_IN_FUTURE": "The date lies in the future 日期晚于今天",
        "INVALID_RELATIONSHIP_MANAGER": "Not an active relationship manager 非有效客户经理",
        "THIRD_PARTY_NAME_REQUIRED": "Third-party data must name its source 第三方数据须注明来源",
        "LEGAL_BASIS_REQUIRED": "Third-party data needs a legal basis 第三方数据须有合法依据",
        "UNKNOWN_ACCOUNT": "Not an account of this customer 非该客户账户",
        "ACCOUNT_OF_ANOTHER_CUSTOMER": "The account belongs to another customer 账户属于其他客户",
        "INVALID_PAGE_SIZE": "Page size outside 0…100 分页大小超出范围",
        "INVALID_CURSOR": "Not a cursor of this list 游标无效",
    },
)


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


def _errors(exc: UserInputError) -> list[CustomerUserError]:
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


# --- object types -----------------------------------------------------------------------------


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
        access = ctx.access_for(row.customer_id)
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
            ctx.access_for(row.customer_id),
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
        values = present("Transaction", {"amount": row.amount}, ctx.access_for(row.customer_id))
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
    def present(cls, row: logic.TransactionSummary, ctx: Context) -> TransactionSummary:
        values = present(
            "TransactionSummary",
            {"inflow": row.inflow, "outflow": row.outflow},
            ctx.access_for(row.customer_id),
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
            ctx.access_for(row.customer_id),
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
            ctx.access_for(row.customer_id),
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


@strawberry.type(description="A recorded re-verification (INFO-4). 信息核实记录。")
class Verification:
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    result: VerificationResultEnum  # type: ignore[valid-type]
    note: str | None
    verified_by: StaffNode
    verified_at: dt.datetime

    @classmethod
    def present(cls, row: rows.Verification) -> Verification:
        return cls(
            information_kind=row.information_kind,
            result=row.result,
            note=row.note,
            verified_by=StaffNode.of(row.verified_by),
            verified_at=row.verified_at,
        )


@strawberry.type(name="Customer", description="A customer of the bank. 客户。")
class CustomerNode(Node):
    _pk: strawberry.Private[int]
    version: int = strawberry.field(description="Changes with every change (pass to updates).")
    name: str | None
    gender: GenderEnum | None  # type: ignore[valid-type]
    birth_date: dt.date | None
    age: int | None
    id_number: str | None = strawberry.field(description="Resident ID number. 身份证号码。")
    phone: str | None = strawberry.field(description="Mobile number. 手机号码。")
    email: str | None
    address: str | None
    occupation: str | None
    employer: str | None
    branch: BranchNode
    relationship_manager: StaffNode | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def present(cls, row: Any, ctx: Context) -> CustomerNode:
        """From a ``CUSTOMER_ROW`` row (customer with branch and manager columns)."""
        ctx.customer_ids.append(row.id)
        ctx.note_customer(row)
        today = clock.today()
        birth = row.birth_date
        age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        values = present(
            "Customer",
            {
                "name": row.name,
                "gender": row.gender,
                "birth_date": birth,
                "age": age,
                "id_number": row.id_number,
                "phone": row.phone,
                "email": row.email,
                "address": row.address,
                "occupation": row.occupation,
                "employer": row.employer,
            },
            ctx.access_for(row.id),
        )
        manager = None
        if row.relationship_manager_id is not None:
            manager = ctx.memo(
                ("Staff", row.relationship_manager_id),
                lambda: StaffNode.of_parts(
                    row.relationship_manager_id,
                    row.manager_employee_no,
                    row.manager_name,
                    row.manager_roles,
                    row.manager_active,
                    BranchNode.of_parts(
                        row.manager_branch_id,
                        row.manager_branch_code,
                        row.manager_branch_name,
                        row.manager_branch_city,
                    ),
                ),
            )
        branch = ctx.memo(
            ("Branch", row.branch_id),
            lambda: BranchNode.of_parts(
                row.branch_id, row.branch_code, row.branch_name, row.branch_city
            ),
        )
        return cls(
            id=node_id("Customer", row.id),
            _pk=row.id,
            version=row.version,
            branch=branch,
            relationship_manager=manager,
            created_at=row.created_at,
            updated_at=row.updated_at,
            **values,
        )

    def _batched(
        self, info: ContextInfo, name: str, load: Callable[[Session, Sequence[int]], Any]
    ) -> Any:
        return info.context.batched(name, self._pk, load)

    @strawberry.field(description="The newest financial snapshot. 最新财务状况。")
    @context_only
    def latest_financial_snapshot(self, info: ContextInfo) -> FinancialSnapshot | None:
        row = self._batched(info, "latest_snapshot", logic.latest_snapshots)
        return FinancialSnapshot.present(row, info.context) if row else None

    @strawberry.field(description="Every financial snapshot, newest first. 财务状况历史。")
    def financial_snapshots(self, info: ContextInfo) -> list[FinancialSnapshot]:
        found = self._batched(info, "snapshots", logic.snapshots) or []
        return [FinancialSnapshot.present(r, info.context) for r in found]

    @strawberry.field(description="Accounts. 账户。")
    def accounts(self, info: ContextInfo) -> list[AccountNode]:
        found = self._batched(info, "accounts", logic.accounts) or []
        return [AccountNode.present(r, info.context) for r in found]

    @strawberry.field(description="Transaction frequency and amounts over the last `days` days.")
    def transaction_summary(self, info: ContextInfo, days: int = 90) -> TransactionSummary:
        if not 1 <= days <= 3660:
            raise UserInputError.one(("days",), "OUT_OF_RANGE", "must be 1…3660")

        def load(session: Session, ids: Sequence[int]) -> Any:
            return logic.transaction_summaries(session, ids, days)

        row = self._batched(info, f"transaction_summary:{days}", load)
        return TransactionSummary.present(row, info.context)

    @strawberry.field(description="Current preferences. 偏好。")
    @context_only
    def preferences(self, info: ContextInfo) -> Preferences | None:
        row = self._batched(info, "preferences", logic.preferences)
        return Preferences.present(row, info.context) if row else None

    @strawberry.field(description="The newest risk assessment. 最新风险评估。")
    @context_only
    def risk_profile(self, info: ContextInfo) -> RiskAssessment | None:
        row = self._batched(info, "latest_risk", logic.latest_risk)
        return RiskAssessment.present(row, info.context) if row else None

    @strawberry.field(description="Every risk assessment, newest first. 风险评估历史。")
    def risk_assessments(self, info: ContextInfo) -> list[RiskAssessment]:
        found = self._batched(info, "risk_history", logic.risk_history) or []
        return [RiskAssessment.present(r, info.context) for r in found]

    @strawberry.field(description="Re-verification schedule per kind of information (INFO-4).")
    def verification_status(self, info: ContextInfo) -> list[VerificationStatus]:
        found = self._batched(info, "verification_status", logic.verification_status) or []
        return [VerificationStatus.present(r) for r in found]

    @strawberry.field(description="Recorded re-verifications, newest first. 核实记录。")
    def verifications(self, info: ContextInfo) -> list[Verification]:
        found = self._batched(info, "verifications", logic.verifications) or []
        return [Verification.present(r) for r in found]

    @strawberry.field(description="Where each piece of information came from, newest first.")
    def sources(self, info: ContextInfo) -> list[InformationSource]:
        found = self._batched(info, "sources", logic.sources) or []
        return [InformationSource.present(r) for r in found]


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
        access = ctx.access_for(row.customer_id)
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
            changed_by=StaffNode.of(row.changed_by) if row.changed_by else None,
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


@strawberry.type(description="A customer whose information is due for re-verification.")
class DueVerification:
    _customer_id: strawberry.Private[int]
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    due_on: dt.date
    last_verified_at: dt.datetime | None

    @strawberry.field
    def customer(self, info: ContextInfo) -> CustomerNode | None:
        return nested_customer(info, self._customer_id, "due_customers")


@strawberry.type(name="Notification", description="A change to a customer you follow (INFO-6).")
class NotificationNode(Node):
    _customer_id: strawberry.Private[int]
    customer_version: int
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    fields: list[str]
    summary: str
    created_at: dt.datetime
    read_at: dt.datetime | None

    @classmethod
    def present(cls, row: rows.Notification) -> NotificationNode:
        return cls(
            id=node_id("Notification", row.id),
            _customer_id=row.customer_id,
            customer_version=row.customer_version,
            information_kind=row.information_kind,
            fields=list(row.fields),
            summary=row.summary,
            created_at=row.created_at,
            read_at=row.read_at,
        )

    @strawberry.field
    def customer(self, info: ContextInfo) -> CustomerNode | None:
        return nested_customer(info, self._customer_id, "notification_customers")


def nested_customer(info: ContextInfo, customer_id: int, batch: str) -> CustomerNode | None:
    """A customer referenced by a list item, loaded together with the other items' customers."""
    row = nested_customer_row(info, customer_id, batch)
    return CustomerNode.present(row, info.context) if row else None


def nested_customer_row(info: ContextInfo, customer_id: int, batch: str) -> Any:
    """The visible customer row (with how it is seen) of a list item, or None; one statement."""
    ctx = info.context
    visible = ctx.visible
    return ctx.batched(
        batch,
        customer_id,
        lambda session, ids: logic.customers_by_id(session, ids, visible, ctx.row_columns),
        keys=ctx.pending(batch),
    )


# --- filters and ordering ---------------------------------------------------------------------


@strawberry.input(description="Gender filter.")
class GenderFilter:
    eq: GenderEnum | None = None  # type: ignore[valid-type]
    in_: list[GenderEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of the customers list; all given conditions must hold.")
class CustomerWhere:
    name: StringFilter | None = None
    gender: GenderFilter | None = None
    birth_date: DateFilter | None = None
    created_at: DateTimeFilter | None = None
    updated_at: DateTimeFilter | None = None
    branch: IDFilter | None = None
    relationship_manager: IDFilter | None = None
    id_number: ExactFilter | None = strawberry.field(
        default=None, description="Exact resident ID number (x or X). 按身份证号精确查找。"
    )
    phone: ExactFilter | None = strawberry.field(
        default=None, description="Exact mobile number (+86 optional). 按手机号精确查找。"
    )
    email: ExactFilter | None = None
    and_: list[CustomerWhere] | None = strawberry.field(name="and", default=None)
    or_: list[CustomerWhere] | None = strawberry.field(name="or", default=None)


def _normalise_id_number(value: str, path: tuple[str, ...]) -> str:
    return _at(path, lambda: validation.resident_id(value).number)


def _normalise_phone(value: str, path: tuple[str, ...]) -> str:
    return _at(path, lambda: validation.mobile(value))


def _normalise_email(value: str, path: tuple[str, ...]) -> str:
    return _at(path, lambda: validation.email(value))


def _at(path: tuple[str, ...], check: Callable[[], str]) -> str:
    """Run a validator and report its error at ``path`` instead of the validator's default."""
    try:
        return check()
    except UserInputError as exc:
        raise UserInputError.one(path, exc.errors[0].code, exc.errors[0].message) from exc


CUSTOMER_FILTERS = {
    "name": FilterField(rows.Customer.name, "text"),
    "gender": FilterField(rows.Customer.gender),
    "birth_date": FilterField(rows.Customer.birth_date),
    "created_at": FilterField(rows.Customer.created_at),
    "updated_at": FilterField(rows.Customer.updated_at),
    "branch": FilterField(rows.Customer.branch_id, "id", id_type="Branch"),
    "relationship_manager": FilterField(
        rows.Customer.relationship_manager_id, "id", id_type="Staff"
    ),
    "id_number": FilterField(rows.Customer.id_number_hash, "exact", normalise=_normalise_id_number),
    "phone": FilterField(rows.Customer.phone_hash, "exact", normalise=_normalise_phone),
    "email": FilterField(rows.Customer.email_hash, "exact", normalise=_normalise_email),
}


@strawberry.enum(description="Fields the customers list can be ordered by. 客户列表排序字段。")
class CustomerOrderField(Enum):
    NAME = "NAME"
    BIRTH_DATE = "BIRTH_DATE"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    ID = "ID"


@strawberry.input(description="One ordering of the customers list.")
class CustomerOrderBy:
    field: CustomerOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Filters of a customer's transactions.")
class TransactionWhere:
    occurred_at: DateTimeFilter | None = None
    type: list[TransactionTypeEnum] | None = None  # type: ignore[valid-type]
    and_: list[TransactionWhere] | None = strawberry.field(name="and", default=None)
    or_: list[TransactionWhere] | None = strawberry.field(name="or", default=None)


class _InList:
    """Adapts a plain list argument to the ``in`` operator."""

    def __init__(self, values: list[Any]) -> None:
        self.in_ = values


TRANSACTION_FILTERS = {
    "occurred_at": FilterField(Transaction.occurred_at),
    "type": FilterField(Transaction.type),
}


# --- queries ----------------------------------------------------------------------------------


# Filters and orderings that reveal a personal field: allowed only with FULL access to it.
FILTERED_FIELDS = {
    "name": "name",
    "gender": "gender",
    "birth_date": "birthDate",
    "id_number": "idNumber",
    "phone": "phone",
    "email": "email",
}
ORDERED_FIELDS = {"NAME": "name", "BIRTH_DATE": "birthDate"}


def _refuse_hidden_filters(ctx: Context, where: Any, order_by: Sequence[Any]) -> None:
    """FORBIDDEN when a filter or ordering uses a field the caller cannot read in full.

    Otherwise values would leak through which rows match or how they sort.
    """
    used: set[str] = set()
    pending = [where] if where is not None else []
    while pending:
        item = pending.pop()
        used |= {graphql for key, graphql in FILTERED_FIELDS.items() if getattr(item, key)}
        pending += [*(item.and_ or []), *(item.or_ or [])]
    used |= {ORDERED_FIELDS[o.field.value] for o in order_by if o.field.value in ORDERED_FIELDS}
    groups = ctx.policy.field_groups()
    # Rows seen through a grant or consents show a field in full only when it covers the
    # field's group (a grant only for the purpose it names): any other such row would leak
    # through the filter — a third party with a contact-only consent testing names.
    covers: list[set[str] | frozenset[str]] = []
    if used:
        covers += [
            set(g.field_groups) if g.purpose == ctx.purpose else set()
            for g in ctx.grants_in_force()
        ]
        covers += ctx.consented_categories()
    hidden = sorted(
        f
        for f in used
        if ctx.access.effect("Customer", f) is not Effect.FULL
        or any(groups.get(f"Customer.{f}") not in covered for covered in covers)
    )
    if hidden:
        raise ForbiddenError(
            f"filtering or ordering on {', '.join(hidden)} needs FULL access to "
            f"{'it' if len(hidden) == 1 else 'them'}"
        )


def _page(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    return PageRequest(first=first, after=after, last=last, before=before)


def _note_owner(info: ContextInfo, customer_id: int) -> None:
    """Record how the owner of listed data is seen (by scope or grant), for its field effects."""
    load_customer(info, customer_id)


def load_customer(info: ContextInfo, customer_id: int) -> CustomerNode | None:
    """A customer the caller may see, or None."""
    ctx = info.context
    rows = logic.customers_by_id(ctx.session, [customer_id], ctx.visible, ctx.row_columns)
    row = rows.get(customer_id)
    return CustomerNode.present(row, info.context) if row else None


@strawberry.type
class CustomerQuery:
    @guarded_field("One customer by global ID. 按 ID 查询客户。", Authenticated())
    def customer(self, info: ContextInfo, id: strawberry.ID) -> CustomerNode | None:
        info.context.require_rows()
        return load_customer(info, pk_of(id, "Customer", "id"))

    @guarded_field(
        "Customers, filtered and ordered; search by exact `idNumber` or `phone` in `where`. "
        "客户列表。",
        Authenticated(),
    )
    def customers(
        self,
        info: ContextInfo,
        where: CustomerWhere | None = None,
        order_by: list[CustomerOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CustomerNode]:
        ctx = info.context
        ctx.require_rows()
        _refuse_hidden_filters(ctx, where, order_by or [])
        condition = compile_where(where, CUSTOMER_FILTERS)
        ordering = [(o.field.value, o.direction is SortDirection.DESC) for o in order_by or []]
        page = logic.customer_page(
            ctx.session,
            [condition, ctx.visible],
            ordering,
            _page(first, after, last, before),
            ctx.row_columns,
        )
        return Connection.of(page, [CustomerNode.present(r, ctx) for r in page.rows])

    @guarded_field("A customer's transactions, newest first. 交易记录。", Authenticated())
    def transactions(
        self,
        info: ContextInfo,
        customer_id: strawberry.ID,
        where: TransactionWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[TransactionNode]:
        ctx = info.context
        ctx.require_rows()
        if where is not None and where.type is not None:
            where.type = _InList(where.type)  # type: ignore[assignment]
        condition = compile_where(where, TRANSACTION_FILTERS)
        owner = pk_of(customer_id, "Customer", "customerId")
        page = logic.transactions_page(
            ctx.session, owner, [condition], _page(first, after, last, before), ctx.visible
        )
        _note_owner(info, owner)
        return Connection.of(page, [TransactionNode.present(r, ctx) for r in page.rows])

    @guarded_field(
        "Change history of a customer, newest first (INFO-5). 变更历史。", Authenticated()
    )
    def customer_history(
        self,
        info: ContextInfo,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CustomerChange]:
        ctx = info.context
        ctx.require_rows()
        owner = pk_of(customer_id, "Customer", "customerId")
        page = logic.change_page(ctx.session, owner, _page(first, after, last, before), ctx.visible)
        _note_owner(info, owner)
        return Connection.of(page, [CustomerChange.present(r, ctx) for r in page.rows])

    @guarded_field(
        "Customers whose information is due for re-verification by `asOf` "
        "(default today), most overdue first (INFO-4). 待核实客户。",
        Authenticated(),
    )
    def customers_due_for_reverification(
        self,
        info: ContextInfo,
        information_kind: InformationKindEnum | None = None,  # type: ignore[valid-type]
        as_of: dt.date | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[DueVerification]:
        ctx = info.context
        ctx.require_rows()
        page = logic.due_page(
            ctx.session,
            information_kind,
            as_of or clock.today(),
            _page(first, after, last, before),
            ctx.visible,
        )
        ctx.pending("due_customers").extend(r.customer_id for r in page.rows)
        nodes = [
            DueVerification(
                _customer_id=r.customer_id,
                information_kind=r.information_kind,
                due_on=r.due_on,
                last_verified_at=r.last_verified_at,
            )
            for r in page.rows
        ]
        return Connection.of(page, nodes)

    @guarded_field("Your change notifications, newest first (INFO-6). 变更通知。", Authenticated())
    def notifications(
        self,
        info: ContextInfo,
        unread_only: bool = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[NotificationNode]:
        ctx = info.context
        page = logic.notification_page(
            ctx.session, ctx.actor, unread_only, _page(first, after, last, before)
        )
        ctx.pending("notification_customers").extend(r.customer_id for r in page.rows)
        return Connection.of(page, [NotificationNode.present(r) for r in page.rows])


# --- mutations --------------------------------------------------------------------------------


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

    def draft(self) -> logic.SourceDraft:
        return logic.SourceDraft(
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


def _basic_values(given: Any) -> dict[str, Any]:
    """The fields actually given in a create/changes input, with IDs decoded."""
    values: dict[str, Any] = {}
    for key in logic.BASIC_FIELDS:
        value = getattr(given, key.removesuffix("_id"), strawberry.UNSET)
        if value is strawberry.UNSET:
            continue
        if key == "branch_id" and value is not None:
            value = pk_of(value, "Branch", "branch")
        elif key == "relationship_manager_id" and value is not None:
            value = pk_of(value, "Staff", "relationshipManager")
        values[key] = value
    return values


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


@strawberry.type
class ImportTransactionsPayload:
    errors: list[CustomerUserError]
    imported: int = 0
    skipped_duplicates: int = 0
    accounts_created: int = 0
    customer: CustomerNode | None = None


@strawberry.input(description="Preferences to record; omitted fields stay as they are.")
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


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID]


@strawberry.type
class MarkNotificationsReadPayload:
    errors: list[CustomerUserError]
    marked: int = 0


P = TypeVar("P")


def run_command(
    info: ContextInfo,
    payload: type[P],
    command: Callable[[Session, Staff], R],
    answer: Callable[[R], P],
) -> P:
    """Run a mutation's command in one transaction and build its payload.

    Refused input (including malformed IDs) becomes the payload's ``errors`` with nothing
    written; ``answer`` builds the successful payload after the commit.
    """
    actor = info.context.actor
    try:
        result = mutate(info, lambda session: command(session, actor))
    except UserInputError as exc:
        return payload(errors=_errors(exc))  # type: ignore[call-arg]
    return answer(result)


def _seen(info: ContextInfo, session: Session, value: str, field: str = "customerId") -> int:
    """The customer a mutation refers to: a valid ID of a customer the caller may see."""
    return row_scopes.require_visible(
        session, pk_of(value, "Customer", field), info.context.visible
    )


def _target(info: ContextInfo, session: Session, value: str, field: str = "customerId") -> int:
    """The customer a mutation changes: one in the caller's write rows (NOT_FOUND if unseen)."""
    ctx = info.context
    return row_scopes.require_writable(
        session, pk_of(value, "Customer", field), ctx.visible, ctx.writable
    )


def _written(type_name: str, given: Any, *, null_clears: bool = False) -> list[str]:
    """``Type.field`` of every field an input sets (``null_clears``: null is a change): personal
    fields and a customer's placement (branch, relationship manager).

    A new ID number also sets the birth date, gender and age it contains.
    """
    written = []
    for python, graphql in WRITTEN_FIELDS[type_name].items():
        value = getattr(given, python, strawberry.UNSET)
        if value is strawberry.UNSET or (value is None and not null_clears):
            continue
        written.append(f"{type_name}.{graphql}")
        if python == "id_number":
            written += [f"{type_name}.{f}" for f in ("birthDate", "gender", "age")]
    return written


def _all(*type_names: str) -> list[str]:
    return [f"{t}.{f}" for t in type_names for f in PERSONAL_FIELDS[t].values()]


# What confirming each kind of information vouches for: its fields (INFO-4).
VERIFIED_FIELDS = {
    rows.InformationKind.BASIC: _all("Customer"),
    rows.InformationKind.FINANCIAL: _all("FinancialSnapshot"),
    rows.InformationKind.TRANSACTIONS: ["Account.accountNo", "Transaction.amount"],
    rows.InformationKind.PREFERENCES: _all("Preferences"),
    rows.InformationKind.RISK: _all("RiskAssessment"),
}


def _imported(input: Any) -> list[str]:
    balances = any(a.balance is not None for a in input.accounts)
    return ["Transaction.amount", "Account.accountNo"] + (["Account.balance"] if balances else [])


def _write_scopes(info: ContextInfo) -> frozenset[str]:
    decisions = info.context.decisions
    return decisions.write_scopes if decisions else frozenset()


@strawberry.type
class CustomerMutation:
    @guarded_mutation(
        "Register a customer (INFO-2, INFO-3, INFO-5). 新建客户。",
        WritesCustomer(
            lambda a: _written("Customer", a["input"]),
            "the fields given",
            right="customer:create",
        ),
    )
    def create_customer(self, info: ContextInfo, input: CreateCustomerInput) -> CustomerPayload:
        scopes = _write_scopes(info)
        return run_command(
            info,
            CustomerPayload,
            lambda s, actor: logic.create_customer(
                s,
                actor,
                _basic_values(input),
                input.source.draft(),
                info.context.visible,
                scopes,
            ),
            lambda created: CustomerPayload(customer=load_customer(info, created.id), errors=[]),
        )

    @guarded_mutation(
        "Change basic information; a stale `expectedVersion` fails with CONFLICT.",
        WritesCustomer(
            lambda a: _written("Customer", a["input"].changes, null_clears=True),
            "the fields changed",
        ),
    )
    def update_customer(self, info: ContextInfo, input: UpdateCustomerInput) -> CustomerPayload:
        scopes = _write_scopes(info)
        return run_command(
            info,
            CustomerPayload,
            lambda s, actor: logic.update_customer(
                s,
                actor,
                _target(info, s, input.id, "id"),
                input.expected_version,
                _basic_values(input.changes),
                input.source.draft(),
                info.context.visible,
                scopes,
            ),
            lambda changed: CustomerPayload(customer=load_customer(info, changed.id), errors=[]),
        )

    @guarded_mutation(
        "Record a dated financial snapshot. 记录财务状况。",
        WritesCustomer(lambda a: _all("FinancialSnapshot"), "financial snapshots"),
    )
    def record_financial_snapshot(
        self, info: ContextInfo, input: RecordFinancialSnapshotInput
    ) -> RecordFinancialSnapshotPayload:
        amounts = {
            "annual_income": input.annual_income,
            "total_assets": input.total_assets,
            "total_liabilities": input.total_liabilities,
            "assets_under_management": input.assets_under_management,
        }
        return run_command(
            info,
            RecordFinancialSnapshotPayload,
            lambda s, actor: logic.record_financial_snapshot(
                s,
                actor,
                _target(info, s, input.customer_id),
                input.as_of,
                amounts,
                input.source.draft(),
            ),
            lambda snapshot: RecordFinancialSnapshotPayload(
                financial_snapshot=FinancialSnapshot.present(snapshot, info.context),
                customer=load_customer(info, snapshot.customer_id),
                errors=[],
            ),
        )

    @guarded_mutation(
        "Import accounts and transactions in bulk. 批量导入交易。",
        WritesCustomer(lambda a: _imported(a["input"]), "accounts and transactions"),
    )
    def import_transactions(
        self, info: ContextInfo, input: ImportTransactionsInput
    ) -> ImportTransactionsPayload:
        accounts = [
            logic.AccountDraft(a.account_no, a.kind, a.opened_on, a.balance) for a in input.accounts
        ]
        transactions = [
            logic.TransactionDraft(
                t.account_no, t.external_ref, t.occurred_at, t.amount, t.type, t.channel
            )
            for t in input.transactions
        ]

        def command(s: Session, actor: Staff) -> tuple[int, logic.ImportResult]:
            customer_id = _target(info, s, input.customer_id)
            result = logic.import_transactions(
                s, actor, customer_id, accounts, transactions, input.source.draft()
            )
            return customer_id, result

        return run_command(
            info,
            ImportTransactionsPayload,
            command,
            lambda done: ImportTransactionsPayload(
                imported=done[1].imported,
                skipped_duplicates=done[1].skipped_duplicates,
                accounts_created=done[1].accounts_created,
                customer=load_customer(info, done[0]),
                errors=[],
            ),
        )

    @guarded_mutation(
        "Record preferences and marketing consent. 记录偏好。",
        # Even with no field given it creates the preferences and replaces their source (INFO-1).
        WritesCustomer(
            lambda a: _written("Preferences", a["input"], null_clears=True) or _all("Preferences"),
            "the preferences",
        ),
    )
    def record_preferences(
        self, info: ContextInfo, input: RecordPreferencesInput
    ) -> RecordPreferencesPayload:
        fields = ("products", "service_channels", "contact_method", "contact_time")
        values = {
            key: getattr(input, key)
            for key in (*fields, "marketing_opt_in")
            if getattr(input, key) is not strawberry.UNSET
        }

        def command(s: Session, actor: Staff) -> Any:
            if "marketing_opt_in" in values and values["marketing_opt_in"] is None:
                raise UserInputError.one(("marketingOptIn",), "REQUIRED", "must be true or false")
            return logic.record_preferences(
                s, actor, _target(info, s, input.customer_id), values, input.source.draft()
            )

        return run_command(
            info,
            RecordPreferencesPayload,
            command,
            lambda prefs: RecordPreferencesPayload(
                preferences=Preferences.present(prefs, info.context),
                customer=load_customer(info, prefs.customer_id),
                errors=[],
            ),
        )

    @guarded_mutation(
        "Record a risk assessment. 记录风险评估。",
        WritesCustomer(lambda a: _written("RiskAssessment", a["input"]), "risk assessments"),
    )
    def record_risk_assessment(
        self, info: ContextInfo, input: RecordRiskAssessmentInput
    ) -> RecordRiskAssessmentPayload:
        return run_command(
            info,
            RecordRiskAssessmentPayload,
            lambda s, actor: logic.record_risk_assessment(
                s,
                actor,
                _target(info, s, input.customer_id),
                risk_tolerance=input.risk_tolerance,
                credit_status=input.credit_status,
                questionnaire_score=input.questionnaire_score,
                credit_score=input.credit_score,
                assessed_at=input.assessed_at,
                source=input.source.draft(),
            ),
            lambda assessment: RecordRiskAssessmentPayload(
                risk_assessment=RiskAssessment.present(assessment, info.context),
                customer=load_customer(info, assessment.customer_id),
                errors=[],
            ),
        )

    @guarded_mutation(
        "Record a re-verification (INFO-4). 记录信息核实。",
        WritesCustomer(
            lambda a: VERIFIED_FIELDS[a["input"].information_kind], "the kind of information"
        ),
    )
    def record_verification(
        self, info: ContextInfo, input: RecordVerificationInput
    ) -> RecordVerificationPayload:
        return run_command(
            info,
            RecordVerificationPayload,
            lambda s, actor: logic.record_verification(
                s,
                actor,
                _target(info, s, input.customer_id),
                input.information_kind,
                input.result,
                input.note,
            ),
            lambda verification: RecordVerificationPayload(
                verification=Verification.present(verification),
                customer=load_customer(info, verification.customer_id),
                errors=[],
            ),
        )

    @guarded_mutation(
        "Follow a customer's changes (INFO-6). 关注客户变更。", HasRight("customer:watch")
    )
    def watch_customer(self, info: ContextInfo, input: WatchCustomerInput) -> CustomerPayload:
        def command(s: Session, actor: Staff) -> int:
            customer_id = _seen(info, s, input.customer_id)
            logic.watch_customer(s, actor, customer_id, input.reason)
            return customer_id

        return run_command(
            info,
            CustomerPayload,
            command,
            lambda customer_id: CustomerPayload(
                customer=load_customer(info, customer_id), errors=[]
            ),
        )

    @guarded_mutation("Stop following a customer's changes. 取消关注。", HasRight("customer:watch"))
    def unwatch_customer(self, info: ContextInfo, input: UnwatchCustomerInput) -> CustomerPayload:
        def command(s: Session, actor: Staff) -> int:
            customer_id = _seen(info, s, input.customer_id)
            logic.unwatch_customer(s, actor, customer_id)
            return customer_id

        return run_command(
            info,
            CustomerPayload,
            command,
            lambda customer_id: CustomerPayload(
                customer=load_customer(info, customer_id), errors=[]
            ),
        )

    @guarded_mutation("Mark your notifications read. 标记通知已读。", HasRight("customer:watch"))
    def mark_notifications_read(
        self, info: ContextInfo, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        def command(s: Session, actor: Staff) -> int:
            if len(input.ids) > 100:
                raise UserInputError.one(("ids",), "TOO_MANY", "at most 100 per call")
            ids = [pk_of(v, "Notification", ("ids", str(i))) for i, v in enumerate(input.ids)]
            return logic.mark_notifications_read(s, actor, ids)

        return run_command(
            info,
            MarkNotificationsReadPayload,
            command,
            lambda marked: MarkNotificationsReadPayload(marked=marked, errors=[]),
        )


__all__ = ["CustomerMutation", "CustomerNode", "CustomerQuery"]
