"""Club queries (REL-4): the events of your branch, the member tiers."""

from __future__ import annotations

import strawberry

from resolvers.club import commands
from resolvers.club import queries as logic
from resolvers.shared.filters import compile_where
from schema.club.filters import CLUB_EVENT_FILTERS, ClubEventWhere
from schema.club.types import ClubEventNode, ClubMembershipTier, present_events
from schema.shared.base import Connection, ContextInfo, NodeLoader, page_request
from schema.shared.rights import HasRight
from schema.shared.rights import field as guarded_field


@strawberry.type
class ClubQuery:
    @guarded_field(
        "Club events of your branch (head office: every branch), soonest first; "
        "`where: {startsAt: {gte}}` for the coming ones. 客户俱乐部活动。",
        HasRight("club:read"),
    )
    def club_events(
        self,
        info: ContextInfo,
        where: ClubEventWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ClubEventNode]:
        ctx = info.context
        reach = commands.events_in_reach(ctx.actor, ctx.access.row_scopes)
        condition = compile_where(where, CLUB_EVENT_FILTERS)
        request = page_request(first, after, last, before)
        page = logic.event_page(ctx.session, reach, condition, request)
        return Connection.of(page, present_events(info, page.rows))

    @guarded_field(
        "The value tiers whose customers are club members, with their levels. 俱乐部会员等级。",
        HasRight("club:read"),
    )
    def club_membership_tiers(self, info: ContextInfo) -> list[ClubMembershipTier]:
        return [ClubMembershipTier.of(t) for t in logic.tiers(info.context.session)]


def _load_event(info: ContextInfo, pk: int) -> ClubEventNode | None:
    """An event is a node for those who read the club events of its branch."""
    ctx = info.context
    if not ctx.access.has_right("club:read"):
        return None
    reach = commands.events_in_reach(ctx.actor, ctx.access.row_scopes)
    row = logic.event(ctx.session, reach, pk)
    return present_events(info, [row])[0] if row is not None else None


NODE_LOADERS: dict[str, NodeLoader] = {"ClubEvent": _load_event}
