"""Survey mutations (REL-5): request a survey after an occasion, record the answers."""

from __future__ import annotations

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from authz import rows as row_scopes
from core.errors import UserInputError
from core.ids import pk_of
from resolvers.surveys import commands
from schema.customers.enums import RiskToleranceEnum
from schema.shared.base import ContextInfo
from schema.shared.mutations import KEY_DESCRIPTION, Once, created_id, load_row, run_command
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from schema.surveys.enums import (
    PreferenceQuestionEnum,
    QuestionKindEnum,
    QuestionnairePurposeEnum,
    SurveyMetricEnum,
    SurveyOccasionEnum,
)
from schema.surveys.types import (
    QuestionnaireVersion,
    SurveyRequestNode,
    SurveyRequestPayload,
    SurveyResponsePayload,
    SurveyUserError,
    present_response,
    survey_errors,
)
from store.customers import Customer, RiskTolerance
from store.staff import Staff
from store.surveys import (
    QuestionKind,
    Questionnaire,
    QuestionnairePurpose,
    SurveyAnswer,
    SurveyOccasion,
    SurveyRequest,
    SurveyResponse,
)

# The type of the global ID an occasion names.
OCCASION_TYPES = {
    SurveyOccasion.CONTACT: "Contact",
    SurveyOccasion.COMPLAINT: "Complaint",
    SurveyOccasion.CLUB_EVENT: "ClubEvent",
}


@strawberry.input(description="Ask a customer a survey after an occasion. 发起调查。")
class RequestSurveyInput:
    customer_id: strawberry.ID
    occasion: SurveyOccasionEnum  # type: ignore[valid-type]
    occasion_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The contact, the closed complaint or the attended club event; none for "
        "`RISK_REVIEW`.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.input(description="One answer: the field of the question's kind. 答案。")
class SurveyAnswerInput:
    question: str
    scale: int | None = None
    yes_no: bool | None = None
    choice: str | None = None
    text: str | None = strawberry.field(default=None, description="At most 2,000 characters.")


@strawberry.input(description="A customer's answers to a survey request. 录入答卷。")
class RecordSurveyResponseInput:
    request_id: strawberry.ID
    answers: list[SurveyAnswerInput]
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


def _occasion_pk(occasion: SurveyOccasion, given: strawberry.ID | None) -> int | None:
    if given is None or occasion is SurveyOccasion.RISK_REVIEW:
        return None if given is None else -1  # (-1: refused as "names no occasion")
    return pk_of(given, OCCASION_TYPES[occasion], "occasionId")


def _request_node(session: Session, row: SurveyRequest) -> SurveyRequestNode:
    return SurveyRequestNode.of(row, session.get_one(Questionnaire, row.questionnaire_id))


@strawberry.input(description="A choice of a CHOICE question. 选项。")
class QuestionChoiceInput:
    value: str = strawberry.field(description="Upper-case letters, digits, _ (at most 50).")
    label: str
    points: int = strawberry.field(default=0, description="Risk points, 0 … 100.")


@strawberry.input(description="A question. 题目。")
class QuestionInput:
    key: str = strawberry.field(description="Lower-case letters, digits, _ (at most 50).")
    text: str
    kind: QuestionKindEnum  # type: ignore[valid-type]
    required: bool = False
    metric: SurveyMetricEnum | None = None  # type: ignore[valid-type]
    preference: PreferenceQuestionEnum | None = None  # type: ignore[valid-type]
    choices: list[QuestionChoiceInput] = strawberry.field(default_factory=list)
    points_per_step: int | None = strawberry.field(
        default=None, description="A SCALE question's risk points per step above 1 (0 … 25)."
    )


@strawberry.input(description="A risk-score band: from this score on, this tolerance. 分数段。")
class QuestionnaireBandInput:
    from_score: int
    tolerance: RiskToleranceEnum  # type: ignore[valid-type]


@strawberry.input(description="A new questionnaire version. 发布问卷新版本。")
class PublishQuestionnaireInput:
    code: str = strawberry.field(description="Upper-case letters, digits, _ (at most 50).")
    purpose: QuestionnairePurposeEnum  # type: ignore[valid-type]
    title: str
    questions: list[QuestionInput]
    bands: list[QuestionnaireBandInput] = strawberry.field(
        default_factory=list, description="For RISK_TOLERANCE: from 0, rising, up to 100."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.type
class QuestionnairePayload:
    questionnaire: QuestionnaireVersion | None = None
    errors: list[SurveyUserError]


def _new_questionnaire(input: PublishQuestionnaireInput) -> commands.NewQuestionnaire:
    return commands.NewQuestionnaire(
        code=input.code,
        purpose=QuestionnairePurpose(input.purpose),
        title=input.title,
        questions=[
            commands.NewQuestion(
                key=q.key,
                text=q.text,
                kind=QuestionKind(q.kind),
                required=q.required,
                metric=None if q.metric is None else q.metric.value,
                preference=None if q.preference is None else q.preference.value,
                choices=[commands.NewChoice(c.value, c.label, c.points) for c in q.choices],
                points_per_step=q.points_per_step,
            )
            for q in input.questions
        ],
        bands=[(b.from_score, RiskTolerance(b.tolerance)) for b in input.bands],
    )


@strawberry.type
class SurveyMutation:
    @guarded_mutation(
        "Publish a new version of a questionnaire (version 1 for a new code): its questions "
        "with their kinds, the KPI or preference each feeds, and for a risk questionnaire the "
        "score bands; earlier versions stay as answered. 发布问卷。",
        HasRight("survey:design"),
    )
    def publish_questionnaire(
        self, info: ContextInfo, input: PublishQuestionnaireInput
    ) -> QuestionnairePayload:
        given = _new_questionnaire(input)
        return run_command(
            info,
            QuestionnairePayload,
            lambda session, actor: commands.publish(session, given),
            lambda row: QuestionnairePayload(errors=[], questionnaire=QuestionnaireVersion.of(row)),
            errors=survey_errors,
            once=Once(input.idempotency_key, input, created_id, load_row(Questionnaire)),
        )

    @guarded_mutation(
        "Ask a customer you may change a survey after a contact, a closed complaint or an "
        "attended club event — or a risk-tolerance review; once per customer and occasion "
        "(asking again answers with the first request). 发起客户调查。",
        HasRight("survey:record", purpose=True),
    )
    def request_survey(self, info: ContextInfo, input: RequestSurveyInput) -> SurveyRequestPayload:
        ctx = info.context
        occasion = SurveyOccasion(input.occasion)

        def command(session: Session, actor: Staff) -> tuple[SurveyRequest, bool]:
            customer_id = row_scopes.require_writable(
                session,
                pk_of(input.customer_id, "Customer", "customerId"),
                ctx.access.visible,
                ctx.access.writable,
            )
            occasion_id = _occasion_pk(occasion, input.occasion_id)
            return commands.request_survey(session, actor, customer_id, occasion, occasion_id)

        def answer(result: tuple[SurveyRequest, bool]) -> SurveyRequestPayload:
            row, created = result
            return SurveyRequestPayload(
                errors=[], request=_request_node(ctx.session, row), created=created
            )

        def load(session: Session, pk: int) -> tuple[SurveyRequest, bool]:
            return load_row(SurveyRequest)(session, pk), False

        return run_command(
            info,
            SurveyRequestPayload,
            command,
            answer,
            errors=survey_errors,
            once=Once(input.idempotency_key, input, lambda r: r[0].id, load),
        )

    @guarded_mutation(
        "Record a customer's answers to a survey request (staff for the customer; each answer "
        "checked against its question's kind). A risk questionnaire's score sets the risk "
        "tolerance with the questionnaire as source; a preference question sets the "
        "preference. 录入客户答卷。",
        HasRight("survey:record", purpose=True),
    )
    def record_survey_response(
        self, info: ContextInfo, input: RecordSurveyResponseInput
    ) -> SurveyResponsePayload:
        ctx = info.context
        given = [
            commands.GivenAnswer(
                question=a.question, scale=a.scale, yes_no=a.yes_no, choice=a.choice, text=a.text
            )
            for a in input.answers
        ]

        def command(session: Session, actor: Staff) -> SurveyResponse:
            pk = pk_of(input.request_id, "SurveyRequest", "requestId")
            # A request about a customer the caller does not see answers as none at all.
            request = session.scalar(
                select(SurveyRequest)
                .join(Customer, Customer.id == SurveyRequest.customer_id)
                .where(SurveyRequest.id == pk, ctx.access.visible)
                .with_for_update(of=SurveyRequest)
            )
            if request is None:
                raise UserInputError.one(("requestId",), "NOT_FOUND", "no survey with this ID")
            row_scopes.require_writable(
                session, request.customer_id, ctx.access.visible, ctx.access.writable
            )
            return commands.record_response(session, actor, request, given)

        def answer(row: SurveyResponse) -> SurveyResponsePayload:
            session = ctx.session
            answers = list(
                session.scalars(
                    select(SurveyAnswer)
                    .where(SurveyAnswer.response_id == row.id)
                    .order_by(SurveyAnswer.id)
                )
            )
            questionnaire = session.get_one(Questionnaire, row.questionnaire_id)
            return SurveyResponsePayload(
                errors=[], response=present_response(info, row, questionnaire, answers)
            )

        return run_command(
            info,
            SurveyResponsePayload,
            command,
            answer,
            errors=survey_errors,
            once=Once(input.idempotency_key, input, created_id, load_row(SurveyResponse)),
        )
