"""Enums of the scorecards: levels, score directions, honour titles, error codes."""

from __future__ import annotations

from enum import Enum

from resolvers.scorecards.model import Direction, HonourTitle
from schema.shared.base import bilingual_enum


class _ScorecardLevel(Enum):
    BRANCH = "BRANCH"
    TEAM = "TEAM"
    STAFF = "STAFF"


ScorecardLevelEnum = bilingual_enum(
    _ScorecardLevel,
    "Who a scorecard assesses (KPI-2). 考核对象层级。",
    {
        "BRANCH": "A branch 分支机构",
        "TEAM": "A team within a branch 团队",
        "STAFF": "A member of staff (their customers) 员工",
    },
    name="ScorecardLevel",
)

ScoreDirectionEnum = bilingual_enum(
    Direction,
    "Which way an indicator is better (how its value becomes a 0–100 score). 指标方向。",
    {
        "HIGHER": "Higher is better: 100 at or above the target, 0 at or below the floor 越高越好",
        "LOWER": "Lower is better: 100 at or below the target, 0 at or above the floor 越低越好",
    },
    name="ScoreDirection",
)

HonourTitleEnum = bilingual_enum(
    HonourTitle,
    "An honour title awarded on frozen scorecards (KPI-3). 荣誉称号。",
    {
        "EXCELLENT_TEAM": "Excellent Customer Management Team 优秀客户管理团队",
        "SERVICE_STAR": "Customer Service Star 客户服务明星",
    },
    name="HonourTitle",
)


class _ScorecardErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_ID = "INVALID_ID"
    TOO_LONG = "TOO_LONG"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    UNKNOWN_INDICATOR = "UNKNOWN_INDICATOR"
    UNKNOWN_SCOPE = "UNKNOWN_SCOPE"
    WEIGHTS_NOT_ONE = "WEIGHTS_NOT_ONE"
    OVERLAPPING_WEIGHT_VERSIONS = "OVERLAPPING_WEIGHT_VERSIONS"
    INVALID_RANGE = "INVALID_RANGE"
    FUTURE_PERIOD = "FUTURE_PERIOD"
    PERIOD_NOT_ENDED = "PERIOD_NOT_ENDED"
    NO_WEIGHTS = "NO_WEIGHTS"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    NOTHING_TO_SPLIT = "NOTHING_TO_SPLIT"


ScorecardErrorCode = bilingual_enum(
    _ScorecardErrorCode,
    "Why a scorecard input was refused. 考核输入错误代码。",
    {
        "REQUIRED": "A required value is missing or blank 缺少必填项",
        "INVALID": "The value is malformed or out of range 格式或取值不正确",
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "TOO_LONG": "Too long 文本过长",
        "NOT_FOUND": "No such record 记录不存在",
        "DUPLICATE": "Listed twice 重复",
        "UNKNOWN_INDICATOR": "No such indicator in the KPI registry 指标不存在",
        "UNKNOWN_SCOPE": "No such branch, team or staff member 考核范围不存在",
        "WEIGHTS_NOT_ONE": "A level's weights do not add up to exactly 1 权重之和不等于 1",
        "OVERLAPPING_WEIGHT_VERSIONS": "The validity overlaps another weight version "
        "权重版本有效期重叠",
        "INVALID_RANGE": "The end comes before the start 起止日期颠倒",
        "FUTURE_PERIOD": "The period has not begun 考核期间尚未开始",
        "PERIOD_NOT_ENDED": "The period has not ended yet 考核期间尚未结束",
        "NO_WEIGHTS": "No weight version is in force on the period's last day 无适用的权重版本",
        "INVALID_AMOUNT": "Not an amount to the fen 金额格式不正确",
        "NEGATIVE_AMOUNT": "A negative amount 金额为负",
        "NOTHING_TO_SPLIT": "No scorecard has a score above 0 无可分配的得分",
    },
)
