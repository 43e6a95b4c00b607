"""Enums of contacts: channels, phone lines, purposes, orderings, cadence, error codes."""

from __future__ import annotations

from enum import Enum

from schema.shared.base import bilingual_enum
from store.contacts import ContactChannel, ContactPurpose, PhoneLine

ContactChannelEnum = bilingual_enum(
    ContactChannel,
    "How the bank and the customer were in contact (REL-1). 联系渠道。",
    {
        "PHONE": "Phone: the hotline or the manager (`phoneLine`) 电话",
        "VISIT": "Face-to-face visit 面谈拜访",
        "EMAIL": "E-mail 电子邮件",
        "SMS": "SMS 短信",
        "WECHAT": "WeChat official account 微信公众号",
        "WEIBO": "Weibo 微博",
    },
)

PhoneLineEnum = bilingual_enum(
    PhoneLine,
    "Which phone line a phone contact went over. 电话类型。",
    {
        "HOTLINE": "The bank's customer service hotline 客服热线",
        "MANAGER": "The relationship manager's own line 客户经理电话",
    },
)

ContactPurposeEnum = bilingual_enum(
    ContactPurpose,
    "What a contact was for (REL-1). 联系目的。",
    {
        "CONSULTATION": "Consultation 业务咨询",
        "PRODUCT_RECOMMENDATION": "Product recommendation 产品推荐",
        "CARE_AND_FEEDBACK": "Care and feedback 关怀回访",
        "MARKET_INFORMATION": "Market information 市场资讯",
    },
)


class _ContactOrderField(Enum):
    CONTACTED_AT = "CONTACTED_AT"


ContactOrderField = bilingual_enum(
    _ContactOrderField,
    "What the contacts list can be ordered by (ties: by contact). 联系记录排序字段。",
    {"CONTACTED_AT": "When the contact took place 联系时间"},
)


class _WorklistStatus(Enum):
    DUE = "DUE"
    OVERDUE = "OVERDUE"


WorklistStatus = bilingual_enum(
    _WorklistStatus,
    "Where a customer stands with the contact cadence (REL-2). 联系频次状态。",
    {
        "DUE": "Not contacted yet in the current period (contacted in the previous one) 本期待联系",
        "OVERDUE": "Not contacted in the previous period either, or never 已逾期",
    },
)


class _CadencePeriod(Enum):
    WEEK = "WEEK"
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


CadencePeriod = bilingual_enum(
    _CadencePeriod,
    "A period of the cadence, in Beijing dates. 联系频次周期。",
    {
        "WEEK": "ISO week, Monday to Sunday (HIGH) 自然周",
        "MONTH": "Calendar month (MEDIUM) 自然月",
        "QUARTER": "Calendar quarter (LOW) 自然季度",
        "YEAR": "Calendar year (reports only) 自然年",
    },
)


class _CadenceGrouping(Enum):
    MANAGER = "MANAGER"
    BRANCH = "BRANCH"


CadenceGrouping = bilingual_enum(
    _CadenceGrouping,
    "How a compliance report is grouped. 统计口径。",
    {
        "MANAGER": "Per relationship manager of the customers 按客户经理",
        "BRANCH": "Per branch of the customers 按网点",
    },
)


class _ContactErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_ID = "INVALID_ID"
    TOO_LONG = "TOO_LONG"
    DATE_IN_FUTURE = "DATE_IN_FUTURE"
    DATE_IN_PAST = "DATE_IN_PAST"
    PROCESS_NOT_DEPLOYED = "PROCESS_NOT_DEPLOYED"
    NOT_FOUND = "NOT_FOUND"
    TOO_MANY = "TOO_MANY"
    TOO_DEEP = "TOO_DEEP"
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE"
    INVALID_CURSOR = "INVALID_CURSOR"


ContactErrorCode = bilingual_enum(
    _ContactErrorCode,
    "Why a contact input was refused. 客户联系输入错误代码。",
    {
        "REQUIRED": "A required value is missing or blank 缺少必填项",
        "INVALID": "The value is malformed or does not apply 格式或取值不正确",
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "TOO_LONG": "Too long: text, or a next step more than a year ahead 文本或期限过长",
        "DATE_IN_FUTURE": "A contact dated in the future 联系时间在未来",
        "DATE_IN_PAST": "A next step due before today 后续安排日期已过",
        "PROCESS_NOT_DEPLOYED": "The follow-up process is not deployed 跟进流程未部署",
        "NOT_FOUND": "The referenced record does not exist 记录不存在",
        "TOO_MANY": "Too many values 取值过多",
        "TOO_DEEP": "Filters nested too deep 筛选嵌套过深",
        "INVALID_PAGE_SIZE": "Page size outside 0…100 分页大小超出范围",
        "INVALID_CURSOR": "Not a cursor of this list and order 无效的游标",
    },
)
