"""The ``where:`` and ``orderBy:`` inputs of the complaints list and statistics."""

from __future__ import annotations

import strawberry

from schema.complaints.enums import (
    CategoryEnum,
    ChannelEnum,
    ComplaintOrderField,
    ComplaintStatusEnum,
    SlaStateEnum,
)
from schema.shared.base import BooleanFilter, DateTimeFilter, IDFilter, SortDirection


@strawberry.input(description="Match complaint statuses.")
class ComplaintStatusFilter:
    eq: ComplaintStatusEnum | None = None  # type: ignore[valid-type]
    in_: list[ComplaintStatusEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Match deadline health (as `slaState` shows it now).")
class SlaStateFilter:
    eq: SlaStateEnum | None = None  # type: ignore[valid-type]
    in_: list[SlaStateEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Match complaint categories.")
class ComplaintCategoryFilter:
    eq: CategoryEnum | None = None  # type: ignore[valid-type]
    in_: list[CategoryEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Match the channels complaints arrived by.")
class ComplaintChannelFilter:
    eq: ChannelEnum | None = None  # type: ignore[valid-type]
    in_: list[ChannelEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters for complaints; all given conditions must hold.")
class ComplaintWhere:
    status: ComplaintStatusFilter | None = None
    sla_state: SlaStateFilter | None = None
    category: ComplaintCategoryFilter | None = None
    channel: ComplaintChannelFilter | None = None
    customer: IDFilter | None = strawberry.field(default=None, description="Customer IDs.")
    branch: IDFilter | None = strawberry.field(default=None, description="Handling branch IDs.")
    overdue: BooleanFilter | None = strawberry.field(
        default=None,
        description="Undecided at or past the deadline (or a review at or past its deadline), "
        "as the `overdue` field says.",
    )
    delivery_failed: BooleanFilter | None = strawberry.field(
        default=None,
        description="A message to the customer could not be delivered (FAILED in the outbox: "
        "refused, out of retries, or no address) — the supervisor's list to follow up.",
    )
    accepted_at: DateTimeFilter | None = None
    decision_due_at: DateTimeFilter | None = None
    major: BooleanFilter | None = strawberry.field(
        default=None, description="Major complaints (重大投诉, CMP-7)."
    )
    regulator_referred: BooleanFilter | None = strawberry.field(
        default=None, description="Complaints referred by a regulator (CMP-7)."
    )
    and_: list[ComplaintWhere] | None = strawberry.field(name="and", default=None)
    or_: list[ComplaintWhere] | None = strawberry.field(name="or", default=None)


@strawberry.input(description="Filters for head office's complaint alerts.")
class ComplaintAlertWhere:
    acknowledged: BooleanFilter | None = None


@strawberry.input
class ComplaintOrderBy:
    field: ComplaintOrderField  # type: ignore[valid-type]
    direction: SortDirection = SortDirection.ASC
