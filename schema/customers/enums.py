"""The customers domain's enums, each value with an English + 中文 description."""

from __future__ import annotations

from enum import Enum

from schema.shared.base import bilingual_enum
from store import customers as rows

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
    rows.NotificationKind,
    "The five kinds of customer information (INFO-2), and COMPLAINT for what a notification "
    "says of a customer's complaint. 客户信息类别。",
    {
        "BASIC": "Basic information 基本信息",
        "FINANCIAL": "Financial status 财务状况",
        "TRANSACTIONS": "Accounts and transactions 交易记录",
        "PREFERENCES": "Preferences 偏好",
        "RISK": "Risk profile 风险状况",
        "COMPLAINT": "A complaint of the customer (notifications only; not customer information "
        "to verify) 投诉（仅用于通知）",
        "SPOT_CHECK": "An overdue spot-check rectification about the customer's record "
        "(notifications only, KPI-2) 抽查整改逾期（仅用于通知）",
    },
    name="InformationKind",  # the released name; COMPLAINT was added to it
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


class _CustomerOrderField(Enum):
    NAME = "NAME"
    BIRTH_DATE = "BIRTH_DATE"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    ID = "ID"
    SCORE = "SCORE"


CustomerOrderField = bilingual_enum(
    _CustomerOrderField,
    "Fields the customers list can be ordered by. 客户列表排序字段。",
    {
        "NAME": "Name 姓名",
        "BIRTH_DATE": "Birth date 出生日期",
        "CREATED_AT": "When the customer was registered 建档时间",
        "UPDATED_AT": "When the customer last changed 最近变更时间",
        "ID": "Registration order (the customer's ID) 客户编号",
        "SCORE": "Value score, unclassified customers lowest (needs FULL access to the "
        "`segment` group) 价值评分",
    },
)
