"""Survey aggregates for the KPIs (REL-5): satisfaction and "would recommend" over the responses
recorded in a period (Beijing dates), for the customers in scope; small counts suppressed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core import clock
from resolvers.kpis import families
from resolvers.kpis.periods import Window
from resolvers.kpis.scope import Attribution, Level, Scope
from resolvers.segments.queries import MINIMUM_CELL
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.customers import Customer
from store.surveys import (
    METRIC_RECOMMEND,
    METRIC_SATISFACTION,
    Questionnaire,
    SurveyAnswer,
    SurveyRequest,
    SurveyResponse,
)

SATISFACTION = METRIC_SATISFACTION
RECOMMEND = METRIC_RECOMMEND


@dataclass(frozen=True)
class Ratio:
    """numerator / denominator, all None when the denominator is below the minimum count."""

    numerator: int | None
    denominator: int | None

    @classmethod
    def of(cls, numerator: int, denominator: int) -> Ratio:
        """Withheld when the denominator is under the minimum."""
        if denominator < MINIMUM_CELL:
            return cls(None, None)
        return cls(numerator, denominator)


@dataclass(frozen=True)
class Results:
    satisfaction: Ratio
    recommend: Ratio


def results(
    session: Session,
    scope: ColumnElement[bool],
    start: date,
    end: date,
) -> Results:
    """Answers of responses recorded from ``start`` to ``end`` (Beijing dates, inclusive) by
    customers in ``scope``: the KPI indicators' own statement (SATISFACTION_SCORE and
    REFERRAL_RATE, ``resolvers.kpis.families.survey``), one statement. (Callers who see
    aggregates only read these through ``kpis``.)"""
    window = Window(f"{start}/{end}", start, end + timedelta(days=1))
    now = clock.now()
    frame = families.Frame(
        Scope(Level.BANK), (), (window,), scope, Attribution(now), now, clock.business_date(now)
    )
    row = session.execute(families.survey(frame)).mappings().first()
    found = dict(row) if row is not None else {}

    def measure(name: str) -> int:
        return int(found.get(name) or 0)

    return Results(
        Ratio.of(measure("score_sum"), measure("scored")),
        Ratio.of(measure("recommend_yes"), measure("recommend_answered")),
    )


RESPONSE_KEYS = [
    SortKey(SurveyResponse.recorded_at, True, datetime),
    SortKey(SurveyResponse.id, True, int),
]


def response_page(
    session: Session, visible: ColumnElement[bool], customer_id: int, request: PageRequest
) -> Page:
    """One page of a customer's responses (none when the caller does not see them), newest
    first."""
    statement = (
        select(SurveyResponse)
        .join(Customer, Customer.id == SurveyResponse.customer_id)
        .where(visible, SurveyResponse.customer_id == customer_id)
    )
    return paginate(session, statement, RESPONSE_KEYS, request, lambda r: [r.recorded_at, r.id])


def answers_of(session: Session, response_ids: Sequence[int]) -> dict[int, list[SurveyAnswer]]:
    """The answers of the responses, one statement."""
    found: dict[int, list[SurveyAnswer]] = {i: [] for i in response_ids}
    for answer in session.scalars(
        select(SurveyAnswer)
        .where(SurveyAnswer.response_id.in_(response_ids))
        .order_by(SurveyAnswer.id)
    ):
        found[answer.response_id].append(answer)
    return found


def questionnaires_of(session: Session, ids: set[int]) -> dict[int, Questionnaire]:
    return {
        q.id: q for q in session.scalars(select(Questionnaire).where(Questionnaire.id.in_(ids)))
    }


REQUEST_KEYS = [
    SortKey(SurveyRequest.requested_at, False, datetime),
    SortKey(SurveyRequest.id, False, int),
]


def request_page(
    session: Session,
    visible: ColumnElement[bool],
    condition: ColumnElement[bool],
    request: PageRequest,
) -> Page:
    """One page of the survey requests of the customers the caller sees, oldest first (the
    longest waiting first)."""
    statement = (
        select(SurveyRequest)
        .join(Customer, Customer.id == SurveyRequest.customer_id)
        .where(visible, condition)
    )
    return paginate(session, statement, REQUEST_KEYS, request, lambda r: [r.requested_at, r.id])
