"""The club events list's `where` input and what it compiles to."""

from __future__ import annotations

import strawberry

from resolvers.shared.filters import FilterField
from schema.club.enums import ClubEventKindEnum
from schema.shared.base import DateTimeFilter, IDFilter
from store.club import ClubEvent


@strawberry.input(description="Event kind filter.")
class ClubEventKindFilter:
    eq: ClubEventKindEnum | None = None  # type: ignore[valid-type]
    in_: list[ClubEventKindEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of club events; all given conditions must hold.")
class ClubEventWhere:
    starts_at: DateTimeFilter | None = None
    kind: ClubEventKindFilter | None = None
    branch: IDFilter | None = None
    and_: list[ClubEventWhere] | None = strawberry.field(name="and", default=None)
    or_: list[ClubEventWhere] | None = strawberry.field(name="or", default=None)


CLUB_EVENT_FILTERS = {
    "starts_at": FilterField(ClubEvent.starts_at),
    "kind": FilterField(ClubEvent.kind),
    "branch": FilterField(ClubEvent.branch_id, "id", id_type="Branch"),
}
