"""Enums of segments: value tiers, model inputs, reasons of changes, run scopes, error codes."""

from __future__ import annotations

from enum import Enum

from schema.shared.base import bilingual_enum
from store.segments import (
    ChangeReason,
    MeasureAction,
    Need,
    NeedSource,
    RiskGrade,
    RiskSignal,
    RunScope,
    RunStatus,
    SegmentDimension,
    ValueInput,
    ValueTier,
)

ValueTierEnum = bilingual_enum(
    ValueTier,
    "A customer's value tier (SEG-1). 客户价值等级。",
    {
        "HIGH": "High value 高价值",
        "MEDIUM": "Medium value 中等价值",
        "LOW": "Low value 低价值",
    },
)

ValueInputEnum = bilingual_enum(
    ValueInput,
    "An input of the value model. 价值模型输入项。",
    {
        "AUM": "Monthly-average assets under management (CNY) 月日均金融资产",
        "TRANSACTION_FREQUENCY": "Transactions in the last 12 months 近12个月交易笔数",
        "DEPOSIT_BALANCE": "Deposits on open accounts (CNY) 存款余额",
        "LOAN_AMOUNT": "Loans outstanding (CNY) 贷款余额",
        "FEE_INCOME": "Fees paid in the last 12 months (CNY) 近12个月中间业务收入",
    },
)

RiskGradeEnum = bilingual_enum(
    RiskGrade,
    "A customer's risk grade (SEG-3). 客户风险等级。",
    {
        "HIGH": "High risk 高风险",
        "MEDIUM": "Medium risk 中风险",
        "LOW": "Low risk 低风险",
    },
)

RiskSignalEnum = bilingual_enum(
    RiskSignal,
    "What the risk model reads: the credit-score band and early-warning signals. 风险预警信号。",
    {
        "CREDIT_SCORE": "Credit score of the latest risk assessment (banded) 信用评分",
        "DAYS_PAST_DUE": "Most days past due on loans and credit cards 逾期天数",
        "LARGE_OUTFLOW": "Money flowing out within the window (CNY) 大额资金流出",
        "AUM_DROP": "Fall of AUM within the window (per cent) 资产规模下降",
        "MARKET_RISK": "Highest product risk level held (R1 … R5) 持仓产品市场风险",
    },
)

SegmentDimensionEnum = bilingual_enum(
    SegmentDimension,
    "A kind of segment. 客户分类维度。",
    {
        "VALUE_TIER": "Value tier (SEG-1) 价值等级",
        "NEED": "Need (SEG-2) 客户需求",
        "RISK_GRADE": "Risk grade (SEG-3) 风险等级",
    },
)


class _DistributionDimension(Enum):
    VALUE_TIER = "VALUE_TIER"
    RISK_GRADE = "RISK_GRADE"
    NEED = "NEED"


DistributionDimensionEnum = bilingual_enum(
    _DistributionDimension,
    "What the `segments` distribution counts by. 分布维度。",
    {
        "VALUE_TIER": "Value tier (SEG-1) 价值等级",
        "RISK_GRADE": "Risk grade (SEG-3) 风险等级",
        "NEED": "Need (SEG-2): a customer counts under each of its needs, so the cells overlap "
        "and do not add up to the customers 客户需求（一个客户可计入多个需求）",
    },
)

MeasureActionEnum = bilingual_enum(
    MeasureAction,
    "What the system does about a service measure by itself (SEG-5). 系统自动执行的措施。",
    {
        "MANAGER_WORKLIST": "Without an active dedicated manager the customer is on the "
        "supervisor's worklist (`segmentWorklist`) 未配备专属客户经理时列入主管待分配清单",
        "REASSESSMENT_TASK": "The manager gets a periodic re-assessment task (`myTasks`) "
        "客户经理定期收到风险重评任务",
    },
)

NeedEnum = bilingual_enum(
    Need,
    "A customer's need (SEG-2); a customer can have several. 客户需求。",
    {
        "INVESTMENT": "Investment: wealth products, market reports 投资需求",
        "FINANCING": "Financing: loans, credit 融资需求",
        "SETTLEMENT": "Settlement: payments, transfers 结算需求",
    },
)

NeedSourceEnum = bilingual_enum(
    NeedSource,
    "Where a customer's need comes from. 客户需求来源。",
    {
        "DERIVED": "Derived from holdings and transactions 系统识别",
        "STAFF": "Set by staff with a reason 人工设置",
    },
)

SegmentChangeReasonEnum = bilingual_enum(
    ChangeReason,
    "Why a customer's segment changed. 客户分类变动原因。",
    {
        "FIRST_CLASSIFICATION": "Classified for the first time 首次分类",
        "INPUTS_CHANGED": "Its inputs changed (snapshot, transactions) 分类依据数据变动",
        "RECLASSIFIED": "A classification run 批量重新分类",
        "OVERRIDE": "Overridden by a supervisor 主管调整",
        "OVERRIDE_WITHDRAWN": "An override was withdrawn 撤销主管调整",
        "OVERRIDE_EXPIRED": "An override expired: the computed tier applies again 主管调整到期",
    },
)

RunScopeEnum = bilingual_enum(
    RunScope,
    "Which customers a classification run covered. 分类批次范围。",
    {
        "CUSTOMER": "One customer, after a change of its inputs 单个客户",
        "BRANCH": "The customers of a branch 本网点客户",
        "BANK": "Every customer of the bank 全行客户",
    },
)

RunStatusEnum = bilingual_enum(
    RunStatus,
    "Where a classification run stands. 分类批次状态。",
    {
        "PENDING": "Waiting for a worker 等待执行",
        "RUNNING": "Running 执行中",
        "DONE": "Done: the segments are applied 已完成",
        "FAILED": "Failed: nothing of it applied; start it again 失败（未生效）",
    },
)


class _SegmentErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_ID = "INVALID_ID"
    TOO_LONG = "TOO_LONG"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    INVALID_WEIGHT = "INVALID_WEIGHT"
    UNKNOWN_INPUT = "UNKNOWN_INPUT"
    DUPLICATE_INPUT = "DUPLICATE_INPUT"
    MISSING_INPUT = "MISSING_INPUT"
    WEIGHTS_DO_NOT_ADD_UP = "WEIGHTS_DO_NOT_ADD_UP"
    UNKNOWN_TIER = "UNKNOWN_TIER"
    DUPLICATE_TIER = "DUPLICATE_TIER"
    MISSING_TIER = "MISSING_TIER"
    TIER_ORDER = "TIER_ORDER"
    GAP = "GAP"
    OVERLAPPING = "OVERLAPPING"
    EXPIRED = "EXPIRED"
    UNKNOWN_GRADE = "UNKNOWN_GRADE"
    DUPLICATE_GRADE = "DUPLICATE_GRADE"
    MISSING_GRADE = "MISSING_GRADE"
    GRADE_ORDER = "GRADE_ORDER"
    UNKNOWN_SIGNAL = "UNKNOWN_SIGNAL"
    DUPLICATE_SIGNAL = "DUPLICATE_SIGNAL"
    MISSING_SIGNAL = "MISSING_SIGNAL"
    INVALID_THRESHOLD = "INVALID_THRESHOLD"
    THRESHOLD_ORDER = "THRESHOLD_ORDER"
    INVALID_WINDOW = "INVALID_WINDOW"
    NO_OVERRIDE = "NO_OVERRIDE"
    NOT_SET_BY_STAFF = "NOT_SET_BY_STAFF"
    NOT_FOUND = "NOT_FOUND"
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_RANGE = "INVALID_RANGE"
    FUTURE = "FUTURE"
    UNKNOWN_SEGMENT = "UNKNOWN_SEGMENT"
    DUPLICATE_CODE = "DUPLICATE_CODE"


SegmentErrorCode = bilingual_enum(
    _SegmentErrorCode,
    "Why a segment input was refused. 客户分类输入错误代码。",
    {
        "REQUIRED": "A required value is missing 缺少必填项",
        "INVALID": "The value is malformed or out of range 格式或取值不正确",
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "TOO_LONG": "Too long: text, or an override's period 文本或期限过长",
        "INVALID_AMOUNT": "Not an amount in CNY with at most 2 decimals 金额无效",
        "NEGATIVE_AMOUNT": "An amount below zero 金额为负",
        "INVALID_WEIGHT": "A weight outside 0 … 1 or with more than 4 decimals 权重无效",
        "UNKNOWN_INPUT": "Not an input of the value model 未知的模型输入项",
        "DUPLICATE_INPUT": "An input given twice 输入项重复",
        "MISSING_INPUT": "An input of the model has no factor 缺少模型输入项",
        "WEIGHTS_DO_NOT_ADD_UP": "The weights do not add up to exactly 1 权重之和不等于1",
        "UNKNOWN_TIER": "Not a value tier 未知的价值等级",
        "DUPLICATE_TIER": "A tier given two ranges 等级重复",
        "MISSING_TIER": "A tier has no AUM range 缺少等级区间",
        "TIER_ORDER": "The ranges do not rise LOW, MEDIUM, HIGH 等级区间顺序错误",
        "GAP": "The AUM ranges or credit-score bands leave a gap 区间存在空档",
        "OVERLAPPING": "The AUM ranges or credit-score bands overlap 区间重叠",
        "EXPIRED": "The expiry lies in the past 到期时间已过",
        "UNKNOWN_GRADE": "Not a risk grade 未知的风险等级",
        "DUPLICATE_GRADE": "A grade given two credit-score bands 风险等级重复",
        "MISSING_GRADE": "A risk grade has no credit-score band 缺少风险等级区间",
        "GRADE_ORDER": "The bands do not rise HIGH, MEDIUM, LOW in score 信用评分区间顺序错误",
        "UNKNOWN_SIGNAL": "Not an early-warning signal 未知的预警信号",
        "DUPLICATE_SIGNAL": "A signal given twice 预警信号重复",
        "MISSING_SIGNAL": "A signal of the model has no thresholds 缺少预警信号",
        "INVALID_THRESHOLD": "A threshold outside the signal's range 预警阈值无效",
        "THRESHOLD_ORDER": "The MEDIUM threshold lies above the HIGH one 中风险阈值高于高风险阈值",
        "INVALID_WINDOW": "A window (1 … 365 days) or period (1 … 3650) out of range 观察期无效",
        "NO_OVERRIDE": "The customer has no override in force 客户没有生效的主管调整",
        "NOT_SET_BY_STAFF": "Staff have not set this need: it is derived 该需求未经人工设置",
        "NOT_FOUND": "The referenced record does not exist 记录不存在",
        "INVALID_PAGE_SIZE": "Page size outside 0…100 分页大小超出范围",
        "INVALID_CURSOR": "Not a cursor of this list and order 无效的游标",
        "INVALID_RANGE": "A month range reversed or longer than allowed 月份范围无效",
        "FUTURE": "A month after the current one 月份晚于当前月份",
        "UNKNOWN_SEGMENT": "Not a segment of the measure's dimension 不是该维度的分类",
        "DUPLICATE_CODE": "A measure code given twice 措施代码重复",
    },
)
