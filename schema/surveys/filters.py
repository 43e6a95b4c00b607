"""The survey requests list's `where` input and what it compiles to."""

from __future__ import annotations

import strawberry

from resolvers.shared.filters import FilterField
from schema.shared.base import BooleanFilter, DateTimeFilter, IDFilter
from schema.surveys.enums import SurveyOccasionEnum
from store.customers import Customer
from store.surveys import SurveyRequest


@strawberry.input(description="Occasion filter.")
class SurveyOccasionFilter:
    eq: SurveyOccasionEnum | None = None  # type: ignore[valid-type]
    in_: list[SurveyOccasionEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of survey requests; all given conditions must hold.")
class SurveyRequestWhere:
    customer: IDFilter | None = None
    relationship_manager: IDFilter | None = strawberry.field(
        default=None, description="The customer's relationship manager (now)."
    )
    occasion: SurveyOccasionFilter | None = None
    answered: BooleanFilter | None = strawberry.field(
        default=None, description="`{eq: false}`: the surveys still to put to the customer."
    )
    requested_at: DateTimeFilter | None = None
    and_: list[SurveyRequestWhere] | None = strawberry.field(name="and", default=None)
    or_: list[SurveyRequestWhere] | None = strawberry.field(name="or", default=None)


SURVEY_REQUEST_FILTERS = {
    "customer": FilterField(SurveyRequest.customer_id, "id", id_type="Customer"),
    "relationship_manager": FilterField(Customer.relationship_manager_id, "id", id_type="Staff"),
    "occasion": FilterField(SurveyRequest.occasion),
    "answered": FilterField(SurveyRequest.answered_at.is_not(None)),
    "requested_at": FilterField(SurveyRequest.requested_at),
}
