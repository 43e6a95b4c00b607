"""Enums of assessment: spot-check kinds and states, severities, evaluation occasions and
channels, grouping, error codes."""

from __future__ import annotations

from enum import Enum

from resolvers.assessment.queries import By
from schema.shared.base import bilingual_enum
from store.assessment import (
    EvaluationChannel,
    EvaluationOccasion,
    RectificationStatus,
    Severity,
    SpotCheckKind,
    SpotCheckStatus,
)

SpotCheckKindEnum = bilingual_enum(
    SpotCheckKind,
    "What a spot check samples (KPI-2). 抽查对象。",
    {
        "CUSTOMER_RECORD": "Customer records registered in the period: information quality "
        "客户信息质量",
        "CONTACT": "Contacts made in the period: service quality 服务质量",
        "COMPLAINT": "Complaints closed in the period: complaint handling 投诉处理",
    },
)
SpotCheckStatusEnum = bilingual_enum(
    SpotCheckStatus,
    "Where a spot check stands. 抽查状态。",
    {
        "OPEN": "Inspectors record findings 检查中",
        "COMPLETED": "Findings final; failures opened rectifications 已完成",
    },
)
SeverityEnum = bilingual_enum(
    Severity,
    "How serious a failed criterion is; sets the days to rectify. 严重程度。",
    {"LOW": "Low 轻微", "MEDIUM": "Medium 一般", "HIGH": "High 严重"},
)
RectificationStatusEnum = bilingual_enum(
    RectificationStatus,
    "Where a rectification stands. 整改状态。",
    {
        "OPEN": "To put right 待整改",
        "RECTIFIED": "Put right, awaiting the inspector 已整改待验证",
        "VERIFIED": "Verified and closed 已验证关闭",
    },
    name="SpotCheckRectificationStatus",
)
EvaluationOccasionEnum = bilingual_enum(
    EvaluationOccasion,
    "What a customer's evaluation of staff refers to. 评价场景。",
    {
        "CONTACT": "A contact: who made it is evaluated 客户联系",
        "COMPLAINT": "A closed complaint: its handler is evaluated 已办结投诉",
    },
)
EvaluationChannelEnum = bilingual_enum(
    EvaluationChannel,
    "How the customer gave the rating. 评价渠道。",
    {
        "PHONE": "Phone 电话",
        "COUNTER": "Branch counter 柜面",
        "VISIT": "Visit 上门",
        "SMS": "SMS 短信",
        "WECHAT": "WeChat 微信",
        "ONLINE": "Online banking 网上银行",
    },
)
AssessmentByEnum = bilingual_enum(
    By,
    "How an assessment aggregate is grouped. 统计口径。",
    {"STAFF": "Per member of staff 按员工", "BRANCH": "Per branch 按机构"},
    name="AssessmentGrouping",
)


class _AssessmentErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_ID = "INVALID_ID"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    DATE_IN_FUTURE = "DATE_IN_FUTURE"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    EMPTY_POPULATION = "EMPTY_POPULATION"
    ABOVE_POPULATION = "ABOVE_POPULATION"
    INVALID_INSPECTOR = "INVALID_INSPECTOR"
    NO_ELIGIBLE_INSPECTOR = "NO_ELIGIBLE_INSPECTOR"
    OUT_OF_SCOPE = "OUT_OF_SCOPE"
    UNKNOWN_CRITERION = "UNKNOWN_CRITERION"
    ALREADY_RECORDED = "ALREADY_RECORDED"
    CHECK_COMPLETED = "CHECK_COMPLETED"
    ALREADY_COMPLETED = "ALREADY_COMPLETED"
    FINDINGS_MISSING = "FINDINGS_MISSING"
    NOT_OPEN = "NOT_OPEN"
    NOT_RECTIFIED = "NOT_RECTIFIED"
    ALREADY_CLOSED = "ALREADY_CLOSED"
    NOT_CLOSED = "NOT_CLOSED"
    NO_STAFF = "NO_STAFF"
    SELF_EVALUATION = "SELF_EVALUATION"
    ALREADY_EVALUATED = "ALREADY_EVALUATED"
    SEED_NOT_ALLOWED = "SEED_NOT_ALLOWED"


AssessmentErrorCode = bilingual_enum(
    _AssessmentErrorCode,
    "Why an assessment input was refused. 考核输入错误代码。",
    {
        "REQUIRED": "A required value is missing or blank 缺少必填项",
        "INVALID": "The value is malformed or does not apply 取值不正确",
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "TOO_LONG": "Text too long 文本过长",
        "OUT_OF_RANGE": "A number or period outside its range 超出范围",
        "DATE_IN_FUTURE": "A period ending after today 期间在未来",
        "NOT_FOUND": "No such record you may use 记录不存在",
        "DUPLICATE": "Named or answered twice 重复",
        "EMPTY_POPULATION": "Nothing to sample in the period and scope 抽样总体为空",
        "ABOVE_POPULATION": "A sample larger than the population 样本量超过总体",
        "INVALID_INSPECTOR": "Not an active inspector 非有效检查人员",
        "NO_ELIGIBLE_INSPECTOR": "Every inspector named works on the record or in its branch "
        "无可回避的检查人员",
        "OUT_OF_SCOPE": "Outside your branch 超出本机构范围",
        "UNKNOWN_CRITERION": "Not a criterion of the check's checklist 非检查项",
        "ALREADY_RECORDED": "Findings of this item are recorded 已录入检查结果",
        "CHECK_COMPLETED": "The spot check is completed 抽查已完成",
        "ALREADY_COMPLETED": "The spot check is completed already 抽查已完成",
        "FINDINGS_MISSING": "Items without findings 尚有未检查项",
        "NOT_OPEN": "The rectification is not open 整改事项非待整改状态",
        "NOT_RECTIFIED": "The owner has not rectified it 尚未整改",
        "ALREADY_CLOSED": "The rectification is closed already 整改事项已关闭",
        "NOT_CLOSED": "The complaint is not closed 投诉尚未办结",
        "NO_STAFF": "Nobody handled the complaint 投诉无处理人",
        "SELF_EVALUATION": "Staff never record their own evaluation 不得录入对本人的评价",
        "ALREADY_EVALUATED": "The occasion is evaluated already 该场景已评价",
        "SEED_NOT_ALLOWED": "The checked branch's own staff cannot choose the seed 不可自选种子",
    },
)
