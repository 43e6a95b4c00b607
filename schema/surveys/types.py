"""Surveys as GraphQL types (REL-5): questionnaires, requests, responses, KPI results.

A free-text answer is the ``survey_text`` field group of the access policy: FULL, or withheld
(null + FIELD_FORBIDDEN), and every reveal is audited under the customer.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.fields import present as present_fields
from core.errors import UserInputError
from schema.complaints.enums import CustomerMessageChannel, OutboxStatusEnum
from schema.shared.base import ContextInfo, Node, node_id, user_errors
from schema.shared.customers import nested_customer
from schema.shared.execution import context_only
from schema.surveys.enums import (
    QuestionKindEnum,
    QuestionnairePurposeEnum,
    SurveyErrorCode,
    SurveyOccasionEnum,
)
from store.complaints import CustomerMessageChannel as Channel
from store.outbox import OutboxMessage
from store.surveys import Questionnaire, SurveyAnswer, SurveyRequest, SurveyResponse

if TYPE_CHECKING:
    from schema.customers.types import CustomerNode

LazyCustomer = Annotated["CustomerNode", strawberry.lazy("schema.customers.types")]


@strawberry.type(description="A refused survey input. 调查输入错误。")
class SurveyUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: SurveyErrorCode  # type: ignore[valid-type]
    message: str


def survey_errors(exc: UserInputError) -> list[SurveyUserError]:
    return user_errors(exc, SurveyUserError, lambda code: SurveyErrorCode[code])


@strawberry.type(description="A choice of a question. 选项。")
class QuestionChoice:
    value: str
    label: str


@strawberry.type(description="A question of a questionnaire. 问卷题目。")
class Question:
    key: str
    text: str
    kind: QuestionKindEnum  # type: ignore[valid-type]
    required: bool
    choices: list[QuestionChoice]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Question:
        return cls(
            key=raw["key"],
            text=raw["text"],
            kind=raw["kind"],
            required=bool(raw.get("required")),
            choices=[
                QuestionChoice(value=c["value"], label=c["label"]) for c in raw.get("choices", [])
            ],
        )


@strawberry.type(description="A published questionnaire version. 问卷（版本）。")
class QuestionnaireVersion:
    code: str
    version: int
    purpose: QuestionnairePurposeEnum  # type: ignore[valid-type]
    title: str
    questions: list[Question]

    @classmethod
    def of(cls, row: Questionnaire) -> QuestionnaireVersion:
        return cls(
            code=row.code,
            version=row.version,
            purpose=row.purpose,
            title=row.title,
            questions=[Question.of(q) for q in row.definition["questions"]],
        )


@strawberry.type(
    name="SurveyRequest",
    description="A questionnaire to put to a customer after an occasion (REL-5). 调查请求。",
)
class SurveyRequestNode(Node):
    _customer_id: strawberry.Private[int]
    _message_id: strawberry.Private[int | None]
    occasion: SurveyOccasionEnum  # type: ignore[valid-type]
    questionnaire: QuestionnaireVersion
    requested_at: dt.datetime
    answered_at: dt.datetime | None

    @classmethod
    def of(cls, row: SurveyRequest, questionnaire: Questionnaire) -> SurveyRequestNode:
        return cls(
            id=node_id("SurveyRequest", row.id),
            _customer_id=row.customer_id,
            _message_id=row.message_id,
            occasion=row.occasion,
            questionnaire=QuestionnaireVersion.of(questionnaire),
            requested_at=row.requested_at,
            answered_at=row.answered_at,
        )

    @strawberry.field(description="The customer (null when you may not see them).")
    @context_only
    def customer(self, info: ContextInfo) -> LazyCustomer | None:
        return nested_customer(info, self._customer_id, "survey_customers")

    @strawberry.field(
        description="The invitation sent to the customer through the outbox (null: none — a "
        "request made before invitations were sent). 调查邀请发送情况。"
    )
    def invitation(self, info: ContextInfo) -> SurveyInvitation | None:
        if self._message_id is None:
            return None
        # A page announced its messages: one statement for the page.
        pending = info.context.pending("survey_invitations")
        return info.context.batched(
            "survey_invitations", self._message_id, _invitations, keys=pending
        )


@strawberry.type(description="A survey's invitation in the outbox (REL-5). 调查邀请。")
class SurveyInvitation:
    channel: CustomerMessageChannel  # type: ignore[valid-type]
    delivery_status: OutboxStatusEnum  # type: ignore[valid-type]
    send_at: dt.datetime | None = strawberry.field(
        description="When it is (or was last) due to be sent: the customer's preferred time."
    )


def _invitations(session: Session, ids: Any) -> dict[int, SurveyInvitation]:
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.channel,
            OutboxMessage.status,
            OutboxMessage.next_attempt_at,
        ).where(OutboxMessage.id.in_(list(ids)))
    )
    return {
        row.id: SurveyInvitation(
            channel=Channel(row.channel), delivery_status=row.status, send_at=row.next_attempt_at
        )
        for row in rows
    }


@strawberry.type(name="SurveyAnswer", description="One answer. 答案。")
class SurveyAnswerNode:
    question: str
    scale: int | None
    yes_no: bool | None
    choice: str | None
    text: str | None = strawberry.field(
        description="Free text: the `survey_text` group of the access policy. 文本答案。"
    )


@strawberry.type(name="SurveyResponse", description="A customer's answers to a survey. 调查答卷。")
class SurveyResponseNode:
    questionnaire: QuestionnaireVersion
    recorded_at: dt.datetime
    score: int | None = strawberry.field(
        description="A risk questionnaire's score (0 … 100); it set the risk tolerance."
    )
    answers: list[SurveyAnswerNode]


def present_response(
    info: ContextInfo,
    row: SurveyResponse,
    questionnaire: Questionnaire,
    answers: list[SurveyAnswer],
) -> SurveyResponseNode:
    ctx = info.context
    access = ctx.access.access_for(row.customer_id)
    if any(a.text is not None for a in answers):
        ctx.customer_ids.append(row.customer_id)  # a personal value revealed: audited
    return SurveyResponseNode(
        questionnaire=QuestionnaireVersion.of(questionnaire),
        recorded_at=row.recorded_at,
        score=row.score,
        answers=[
            SurveyAnswerNode(
                question=a.question,
                scale=a.scale,
                yes_no=a.yes_no,
                choice=a.choice,
                **present_fields("SurveyAnswer", {"text": a.text}, access),
            )
            for a in answers
        ],
    )


@strawberry.type
class SurveyRequestPayload:
    request: SurveyRequestNode | None = None
    created: bool | None = strawberry.field(
        default=None, description="False when the occasion had its request already."
    )
    errors: list[SurveyUserError]


@strawberry.type
class SurveyResponsePayload:
    response: SurveyResponseNode | None = None
    errors: list[SurveyUserError]


@strawberry.type(description="numerator / denominator of a survey KPI; null when suppressed.")
class SurveyRatio:
    numerator: int | None
    denominator: int | None
    value: float | None = strawberry.field(description="numerator / denominator.")


@strawberry.type(description="Survey KPIs of a period and scope (REL-5). 调查结果统计。")
class SurveyResults:
    start: dt.date
    end: dt.date
    minimum_count: int
    satisfaction: SurveyRatio = strawberry.field(
        description="Average satisfaction: the sum of the 1 … 5 scores / the scores given."
    )
    recommend: SurveyRatio = strawberry.field(
        description="Would recommend: yes answers / answers to the recommendation question."
    )
    definition: str
