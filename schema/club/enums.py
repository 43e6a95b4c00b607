"""Enums of the customer club: event kinds, error codes."""

from __future__ import annotations

from enum import Enum

from schema.shared.base import bilingual_enum
from store.club import ClubEventKind

ClubEventKindEnum = bilingual_enum(
    ClubEventKind,
    "What a club event is (REL-4). 客户俱乐部活动类型。",
    {
        "LECTURE": "Lecture 讲座",
        "INVESTMENT_SALON": "Investment salon 投资沙龙",
        "FAMILY_ACTIVITY": "Family activity 亲子活动",
    },
)


class _ClubErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_ID = "INVALID_ID"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    DATE_IN_PAST = "DATE_IN_PAST"
    NOT_FOUND = "NOT_FOUND"
    EVENT_STARTED = "EVENT_STARTED"
    EVENT_NOT_STARTED = "EVENT_NOT_STARTED"
    FULL = "FULL"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    NOT_REGISTERED = "NOT_REGISTERED"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    EVENT_CANCELLED = "EVENT_CANCELLED"
    BELOW_REGISTERED = "BELOW_REGISTERED"


ClubErrorCode = bilingual_enum(
    _ClubErrorCode,
    "Why a club input was refused. 客户俱乐部输入错误代码。",
    {
        "REQUIRED": "A required value is missing or blank 缺少必填项",
        "INVALID": "The value is malformed or does not apply 格式或取值不正确",
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "TOO_LONG": "Too long: text, or an event more than a year ahead 文本或期限过长",
        "OUT_OF_RANGE": "A number outside its range 数值超出范围",
        "DATE_IN_PAST": "An event starting in the past 活动时间已过",
        "NOT_FOUND": "No such record you may use 记录不存在",
        "EVENT_STARTED": "The event has begun: no more invitations or registrations 活动已开始",
        "EVENT_NOT_STARTED": "Attendance before the event began 活动尚未开始",
        "FULL": "The event has no free seat 名额已满",
        "ALREADY_REGISTERED": "The customer is already registered 客户已报名",
        "NOT_REGISTERED": "The customer is not registered 客户未报名",
        "NOT_A_MEMBER": "The customer's tier is not a club tier 客户不是俱乐部会员",
        "EVENT_CANCELLED": "The event was cancelled 活动已取消",
        "BELOW_REGISTERED": "A capacity below the seats already taken 名额少于已报名人数",
    },
)
