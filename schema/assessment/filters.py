"""The `where` inputs of the inspectors' and owners' worklists and what they compile to."""

from __future__ import annotations

import strawberry

from resolvers.shared.filters import FilterField
from schema.assessment.enums import RectificationStatusEnum
from schema.shared.base import BooleanFilter, DateTimeFilter
from store.assessment import SpotCheckItem, SpotCheckRectification


@strawberry.input(description="Filters of your inspection items; all given conditions must hold.")
class SpotCheckItemWhere:
    inspected: BooleanFilter | None = strawberry.field(
        default=None, description="`{eq: false}`: the items still without findings."
    )
    and_: list[SpotCheckItemWhere] | None = strawberry.field(name="and", default=None)
    or_: list[SpotCheckItemWhere] | None = strawberry.field(name="or", default=None)


@strawberry.input(description="Rectification status filter.")
class RectificationStatusFilter:
    eq: RectificationStatusEnum | None = None  # type: ignore[valid-type]
    in_: list[RectificationStatusEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of rectifications; all given conditions must hold.")
class SpotCheckRectificationWhere:
    status: RectificationStatusFilter | None = None
    due_at: DateTimeFilter | None = None
    and_: list[SpotCheckRectificationWhere] | None = strawberry.field(name="and", default=None)
    or_: list[SpotCheckRectificationWhere] | None = strawberry.field(name="or", default=None)


SPOT_CHECK_ITEM_FILTERS = {"inspected": FilterField(SpotCheckItem.inspected_at.is_not(None))}
RECTIFICATION_FILTERS = {
    "status": FilterField(SpotCheckRectification.status),
    "due_at": FilterField(SpotCheckRectification.due_at),
}
