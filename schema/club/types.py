"""The customer club as GraphQL types (REL-4): member tiers, events, registrations, payloads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import strawberry

from core import clock
from core.errors import UserInputError
from resolvers.club import queries as logic
from schema.club.enums import ClubErrorCode, ClubEventKindEnum
from schema.segments.enums import ValueTierEnum
from schema.shared.base import ContextInfo, Node, node_id, user_errors
from schema.shared.customers import nested_customer
from schema.shared.execution import context_only
from schema.staff import BranchNode
from store.club import ClubEvent, ClubRegistration, ClubTier
from store.staff import Branch

if TYPE_CHECKING:
    from schema.customers.types import CustomerNode

LazyCustomer = Annotated["CustomerNode", strawberry.lazy("schema.customers.types")]


@strawberry.type(description="A refused club input. 客户俱乐部输入错误。")
class ClubUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: ClubErrorCode  # type: ignore[valid-type]
    message: str


def club_errors(exc: UserInputError) -> list[ClubUserError]:
    return user_errors(exc, ClubUserError, lambda code: ClubErrorCode[code])


@strawberry.type(description="A value tier whose customers are club members. 俱乐部会员等级。")
class ClubMembershipTier:
    tier: ValueTierEnum  # type: ignore[valid-type]
    level: str = strawberry.field(description="The membership level, e.g. `GOLD`.")
    label: str = strawberry.field(description="The level as customers read it, e.g. 金卡会员.")

    @classmethod
    def of(cls, row: ClubTier) -> ClubMembershipTier:
        return cls(tier=row.tier, level=row.level, label=row.label)


@strawberry.type(
    name="ClubEvent",
    description="A customer-club event of a branch (REL-4): a lecture, an investment salon or a "
    "family activity, with its capacity and counts. 客户俱乐部活动。",
)
class ClubEventNode(Node):
    _pk: strawberry.Private[int]
    kind: ClubEventKindEnum  # type: ignore[valid-type]
    title: str
    branch: BranchNode
    starts_at: dt.datetime = strawberry.field(description="When it begins (UTC).")
    starts_on: dt.date = strawberry.field(description="The Beijing date it begins. 北京日期。")
    capacity: int
    registered: int = strawberry.field(description="Seats taken.")
    seats_left: int
    invited: int = strawberry.field(description="Customers invited (every branch member).")
    attended: int = strawberry.field(description="Registered customers who came.")
    cancelled_at: dt.datetime | None = strawberry.field(
        default=None, description="When it was cancelled (null: it was not). 取消时间。"
    )
    cancel_reason: str | None = strawberry.field(
        default=None, description="Why it was cancelled (staff's record; not sent). 取消原因。"
    )

    @classmethod
    def of(cls, row: ClubEvent, branch: Branch, counts: logic.EventCounts) -> ClubEventNode:
        return cls(
            id=node_id("ClubEvent", row.id),
            _pk=row.id,
            kind=row.kind,
            title=row.title,
            branch=BranchNode.of(branch),
            starts_at=row.starts_at,
            starts_on=clock.business_date(row.starts_at),
            capacity=row.capacity,
            registered=row.registered,
            seats_left=row.capacity - row.registered,
            invited=counts.invited,
            attended=counts.attended,
            cancelled_at=row.cancelled_at,
            cancel_reason=row.cancel_reason,
        )


def present_events(info: ContextInfo, rows: Sequence[ClubEvent]) -> list[ClubEventNode]:
    """Event nodes with their branches and counts, a constant number of statements."""
    session = info.context.session
    counts = logic.counts(session, [r.id for r in rows])
    branches = {b.id: b for b in logic.branches(session, {r.branch_id for r in rows})}
    return [ClubEventNode.of(r, branches[r.branch_id], counts[r.id]) for r in rows]


@strawberry.type(description="A customer registered for a club event. 活动报名。")
class ClubRegistrationNode:
    _customer_id: strawberry.Private[int]
    event: ClubEventNode
    registered_at: dt.datetime
    attended_at: dt.datetime | None = strawberry.field(description="When attendance was noted.")

    @strawberry.field(description="The customer (null when you may not see them).")
    @context_only
    def customer(self, info: ContextInfo) -> LazyCustomer | None:
        return nested_customer(info, self._customer_id, "club_customers")


def present_registration(info: ContextInfo, row: ClubRegistration) -> ClubRegistrationNode:
    event = info.context.session.get_one(ClubEvent, row.event_id)
    info.context.pending("club_customers").append(row.customer_id)
    return ClubRegistrationNode(
        _customer_id=row.customer_id,
        event=present_events(info, [event])[0],
        registered_at=row.registered_at,
        attended_at=row.attended_at,
    )


@strawberry.type
class ClubEventPayload:
    event: ClubEventNode | None = None
    errors: list[ClubUserError]


@strawberry.type
class ClubInvitationPayload:
    event: ClubEventNode | None = None
    invited: int | None = strawberry.field(
        default=None, description="Customers invited by this call (0 when all already were)."
    )
    errors: list[ClubUserError]


@strawberry.type
class ClubRegistrationPayload:
    registration: ClubRegistrationNode | None = None
    errors: list[ClubUserError]


@strawberry.type
class ClubMembershipPayload:
    tiers: list[ClubMembershipTier] | None = strawberry.field(
        default=None, description="The member tiers after the change."
    )
    errors: list[ClubUserError]
