"""Survey queries (REL-5): the KPI results, the published questionnaires."""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy import select

from core import clock
from core.errors import UserInputError
from core.ids import pk_of
from resolvers.segments.queries import MINIMUM_CELL
from resolvers.shared.filters import compile_where
from resolvers.surveys import queries as logic
from schema.shared.base import Connection, ContextInfo, NodeLoader, page_request
from schema.shared.rights import Authenticated, HasRight, SeesCustomerRows
from schema.shared.rights import field as guarded_field
from schema.surveys.filters import SURVEY_REQUEST_FILTERS, SurveyRequestWhere
from schema.surveys.types import (
    QuestionnaireVersion,
    SurveyRatio,
    SurveyRequestNode,
    SurveyResponseNode,
    SurveyResults,
    present_response,
)
from store.customers import Customer
from store.surveys import Questionnaire, SurveyRequest

DEFINITION = (
    "Responses recorded from start to end (Beijing dates, inclusive) by customers in scope "
    "(the customers you see, or the whole bank for roles that see no customer rows; with "
    "branch: that branch's customers now). satisfaction = sum of the answers to satisfaction "
    "questions (1 … 5) / their number; recommend = yes answers to recommendation questions / "
    "their number. A ratio whose denominator is below minimumCount is suppressed (null)."
)


def _ratio(ratio: logic.Ratio) -> SurveyRatio:
    value = (
        None
        if ratio.numerator is None or not ratio.denominator
        else round(ratio.numerator / ratio.denominator, 4)
    )
    return SurveyRatio(numerator=ratio.numerator, denominator=ratio.denominator, value=value)


@strawberry.type
class SurveyQuery:
    @guarded_field(
        "Satisfaction and would-recommend results of a period (REL-5, for the KPIs) over the "
        "customers you may see: numerators and denominators, small counts suppressed. "
        "调查结果统计。",
        SeesCustomerRows("survey:results"),
    )
    def survey_results(
        self,
        info: ContextInfo,
        start: dt.date,
        end: dt.date,
        branch: strawberry.ID | None = None,
    ) -> SurveyResults:
        if end < start:
            raise UserInputError.one(("end",), "OUT_OF_RANGE", "must not be before start")
        if end > clock.today():
            raise UserInputError.one(("end",), "DATE_IN_FUTURE", "must not be after today")
        ctx = info.context
        scope = ctx.access.visible
        if branch is not None:
            scope = scope & (Customer.branch_id == pk_of(branch, "Branch", "branch"))
        found = logic.results(ctx.session, scope, start, end)
        return SurveyResults(
            start=start,
            end=end,
            minimum_count=MINIMUM_CELL,
            satisfaction=_ratio(found.satisfaction),
            recommend=_ratio(found.recommend),
            definition=DEFINITION,
        )

    @guarded_field(
        "Survey requests of the customers you see, the longest waiting first; `where: "
        "{answered: {eq: false}}` for the surveys still to put (REL-5). 调查请求。",
        Authenticated(),
    )
    def survey_requests(
        self,
        info: ContextInfo,
        where: SurveyRequestWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[SurveyRequestNode]:
        ctx = info.context
        ctx.access.require_rows()
        condition = compile_where(where, SURVEY_REQUEST_FILTERS)
        request = page_request(first, after, last, before)
        page = logic.request_page(ctx.session, ctx.access.visible, condition, request)
        versions = logic.questionnaires_of(ctx.session, {r.questionnaire_id for r in page.rows})
        ctx.pending("survey_customers").extend(r.customer_id for r in page.rows)
        ctx.pending("survey_invitations").extend(r.message_id for r in page.rows if r.message_id)
        nodes = [SurveyRequestNode.of(r, versions[r.questionnaire_id]) for r in page.rows]
        return Connection.of(page, nodes)

    @guarded_field(
        "A customer's survey responses, newest first (free-text answers: the `survey_text` "
        "group of the access policy) of a customer you see. 客户调查答卷。",
        Authenticated(),
    )
    def survey_responses(
        self,
        info: ContextInfo,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[SurveyResponseNode]:
        ctx = info.context
        ctx.access.require_rows()
        customer = pk_of(customer_id, "Customer", "customerId")
        request = page_request(first, after, last, before)
        page = logic.response_page(ctx.session, ctx.access.visible, customer, request)
        answers = logic.answers_of(ctx.session, [r.id for r in page.rows])
        versions = logic.questionnaires_of(ctx.session, {r.questionnaire_id for r in page.rows})
        nodes = [
            present_response(info, r, versions[r.questionnaire_id], answers[r.id])
            for r in page.rows
        ]
        return Connection.of(page, nodes)

    @guarded_field("The newest version of each questionnaire. 问卷。", HasRight("survey:record"))
    def questionnaires(self, info: ContextInfo) -> list[QuestionnaireVersion]:
        rows = info.context.session.scalars(
            select(Questionnaire).order_by(Questionnaire.code, Questionnaire.version.desc())
        )
        newest: dict[str, Questionnaire] = {}
        for row in rows:
            newest.setdefault(row.code, row)
        return [QuestionnaireVersion.of(q) for q in newest.values()]


def _load_request(info: ContextInfo, pk: int) -> SurveyRequestNode | None:
    """A survey request is visible exactly when its customer is."""
    ctx = info.context
    row = ctx.session.scalar(
        select(SurveyRequest)
        .join(Customer, Customer.id == SurveyRequest.customer_id)
        .where(SurveyRequest.id == pk, ctx.access.visible)
    )
    if row is None:
        return None
    return SurveyRequestNode.of(row, ctx.session.get_one(Questionnaire, row.questionnaire_id))


NODE_LOADERS: dict[str, NodeLoader] = {"SurveyRequest": _load_request}
