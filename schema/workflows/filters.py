"""The ``where:`` inputs of the task inbox and of process versions."""

from __future__ import annotations

import strawberry

from schema.shared.base import BooleanFilter, DateTimeFilter, StringFilter
from schema.workflows.enums import IncidentStatusEnum


@strawberry.input(description="Filters of your inbox; all given conditions must hold.")
class TaskWhere:
    process: StringFilter | None = strawberry.field(
        default=None, description="The process key of the task's instance (e.g. `complaint`)."
    )
    due_at: DateTimeFilter | None = None
    overdue: BooleanFilter | None = strawberry.field(
        default=None, description="At or past its due instant, as the `overdue` field says."
    )
    claimed: BooleanFilter | None = strawberry.field(
        default=None,
        description="true: tasks someone has (in your inbox: yours); false: unclaimed ones.",
    )
    and_: list[TaskWhere] | None = strawberry.field(name="and", default=None)
    or_: list[TaskWhere] | None = strawberry.field(name="or", default=None)


@strawberry.input(description="Filters of process versions.")
class ProcessVersionWhere:
    process_key: StringFilter | None = None
    and_: list[ProcessVersionWhere] | None = strawberry.field(name="and", default=None)
    or_: list[ProcessVersionWhere] | None = strawberry.field(name="or", default=None)


@strawberry.input(description="Match incident statuses.")
class IncidentStatusFilter:
    eq: IncidentStatusEnum | None = None  # type: ignore[valid-type]
    in_: list[IncidentStatusEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of process incidents.")
class ProcessIncidentWhere:
    status: IncidentStatusFilter | None = None
    element_id: StringFilter | None = None
    and_: list[ProcessIncidentWhere] | None = strawberry.field(name="and", default=None)
    or_: list[ProcessIncidentWhere] | None = strawberry.field(name="or", default=None)
