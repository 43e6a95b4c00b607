"""Enums of the KPIs: scope levels, indicator areas and value kinds, why a value is null,
error codes."""

from __future__ import annotations

from enum import Enum

from resolvers.kpis.indicators import Area, ValueKind
from resolvers.kpis.scope import Level
from schema.shared.base import bilingual_enum

KpiLevelEnum = bilingual_enum(
    Level,
    "A level of the organisation a KPI is scoped by. 考核范围层级。",
    {
        "BANK": "The whole bank 全行",
        "BRANCH": "A branch 分支机构",
        "TEAM": "A team within a branch 团队",
        "STAFF": "A member of staff (their customers) 员工",
    },
    name="KpiLevel",
)

KpiAreaEnum = bilingual_enum(
    Area,
    "What an indicator is about (KPI-1). 指标类别。",
    {
        "SATISFACTION": "Satisfaction 满意度",
        "LOYALTY": "Loyalty 忠诚度",
        "GROWTH": "New and lost customers 客户增长",
        "VALUE_UPLIFT": "Value uplift 价值提升",
        "COMPLAINTS": "Complaint handling 投诉处理",
        "CADENCE": "Contact cadence 联系频次",
        "ASSESSMENT": "Customers' ratings of staff and spot checks (KPI-2) 评价与抽查",
    },
    name="KpiArea",
)

KpiValueKindEnum = bilingual_enum(
    ValueKind,
    "How an indicator's value is made from its numerator and denominator. 指标取值方式。",
    {
        "RATIO": "numerator ÷ denominator 比率",
        "PER_THOUSAND": "numerator ÷ denominator × 1,000 千分率",
        "AVERAGE": "sum ÷ number of answers 平均值",
        "COUNT": "a count (no denominator) 计数",
        "AMOUNT": "an amount in CNY (no denominator) 金额",
    },
    name="KpiValueKind",
)


class _KpiPeriodKind(Enum):
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"
    RANGE = "RANGE"


KpiPeriodKind = bilingual_enum(
    _KpiPeriodKind,
    "What kind of period a KPI report covers. 考核期间类型。",
    {
        "MONTH": "A calendar month 月度",
        "QUARTER": "A calendar quarter 季度",
        "YEAR": "A calendar year 年度",
        "RANGE": "A range of Beijing dates 自定义日期区间",
    },
)


class _KpiNullReason(Enum):
    EMPTY_DENOMINATOR = "EMPTY_DENOMINATOR"
    SUPPRESSED = "SUPPRESSED"


KpiNullReason = bilingual_enum(
    _KpiNullReason,
    "Why a KPI value is null. 指标值为空的原因。",
    {
        "EMPTY_DENOMINATOR": "Nothing to divide by in the period (no division by zero) 分母为零",
        "SUPPRESSED": "Withheld from your roles: too few customers behind the cell, or a member "
        "of staff's appraisal figure (rating, spot checks) 客户数过少或属员工考核数据，已屏蔽",
    },
)


class _KpiErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_ID = "INVALID_ID"
    TOO_LONG = "TOO_LONG"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    OTHER_BRANCH = "OTHER_BRANCH"
    ALREADY_IN_TEAM = "ALREADY_IN_TEAM"


KpiErrorCode = bilingual_enum(
    _KpiErrorCode,
    "Why an organisation input was refused. 组织机构输入错误代码。",
    {
        "REQUIRED": "A required value is missing or blank 缺少必填项",
        "INVALID": "The value is malformed 格式不正确",
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "TOO_LONG": "Too long 文本过长",
        "NOT_FOUND": "No such record you may organise 记录不存在或无权操作",
        "DUPLICATE": "The branch has a team with this code 团队代码重复",
        "OTHER_BRANCH": "The team is of another branch than the staff member 非员工所在机构的团队",
        "ALREADY_IN_TEAM": "The staff member is already in that team 员工已在该团队",
    },
)
