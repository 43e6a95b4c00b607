"""Enums of surveys: occasions, question kinds, questionnaire purposes, error codes."""

from __future__ import annotations

from enum import Enum

from schema.shared.base import bilingual_enum
from store.surveys import QuestionKind, QuestionnairePurpose, SurveyOccasion

SurveyOccasionEnum = bilingual_enum(
    SurveyOccasion,
    "What a survey follows (REL-5). 调查触发场景。",
    {
        "CONTACT": "A contact with the customer 客户联系之后",
        "COMPLAINT": "A complaint, once closed 投诉办结之后",
        "CLUB_EVENT": "A club event the customer attended 参加俱乐部活动之后",
        "RISK_REVIEW": "A risk-tolerance review 风险承受能力评估",
    },
)

QuestionKindEnum = bilingual_enum(
    QuestionKind,
    "How a question is answered. 题型。",
    {
        "SCALE": "A score of 1 … 5 评分（1–5）",
        "YES_NO": "Yes or no 是/否",
        "CHOICE": "One of the question's choices 单选",
        "TEXT": "Free text (personal data) 文本",
    },
)

QuestionnairePurposeEnum = bilingual_enum(
    QuestionnairePurpose,
    "What a questionnaire is for. 问卷用途。",
    {
        "SATISFACTION": "Satisfaction and recommendation (KPIs) 满意度调查",
        "RISK_TOLERANCE": "Risk tolerance: its score sets the customer's 风险承受能力评估",
    },
)


class _SurveyErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_ID = "INVALID_ID"
    TOO_LONG = "TOO_LONG"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_FOUND = "NOT_FOUND"
    NOT_CLOSED = "NOT_CLOSED"
    NOT_ATTENDED = "NOT_ATTENDED"
    UNKNOWN_QUESTION = "UNKNOWN_QUESTION"
    UNKNOWN_CHOICE = "UNKNOWN_CHOICE"
    DUPLICATE = "DUPLICATE"
    ALREADY_ANSWERED = "ALREADY_ANSWERED"
    DATE_IN_FUTURE = "DATE_IN_FUTURE"


SurveyErrorCode = bilingual_enum(
    _SurveyErrorCode,
    "Why a survey input was refused. 调查输入错误代码。",
    {
        "REQUIRED": "A required value or answer is missing or blank 缺少必填项或必答题",
        "INVALID": "The value is malformed or does not apply 格式或取值不正确",
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "TOO_LONG": "Text too long 文本过长",
        "OUT_OF_RANGE": "A score outside 1 … 5, or a period that runs backwards 超出范围",
        "NOT_FOUND": "No such record you may use 记录不存在",
        "NOT_CLOSED": "The complaint is not closed yet 投诉尚未办结",
        "NOT_ATTENDED": "The customer did not attend the event 客户未参加活动",
        "UNKNOWN_QUESTION": "Not a question of this questionnaire 非本问卷题目",
        "UNKNOWN_CHOICE": "Not one of the question's choices 非本题选项",
        "DUPLICATE": "The question is answered twice 重复作答",
        "ALREADY_ANSWERED": "The survey was answered already 问卷已作答",
        "DATE_IN_FUTURE": "A period ending after today 统计期间在未来",
    },
)


class SurveyMetric(Enum):
    SATISFACTION = "SATISFACTION"
    RECOMMEND = "RECOMMEND"


SurveyMetricEnum = bilingual_enum(
    SurveyMetric,
    "The KPI a question's answers feed (`surveyResults`). 题目对应的指标。",
    {
        "SATISFACTION": "Satisfaction: a SCALE question 满意度（评分题）",
        "RECOMMEND": "Would recommend: a YES_NO question 推荐意愿（是否题）",
    },
)


class PreferenceQuestion(Enum):
    CONTACT_METHOD = "contact_method"


PreferenceQuestionEnum = bilingual_enum(
    PreferenceQuestion,
    "The customer preference a CHOICE question records (choices: its values). 题目对应的偏好。",
    {"CONTACT_METHOD": "Contact method (PHONE, SMS, EMAIL, WECHAT, VISIT) 联系方式"},
)
