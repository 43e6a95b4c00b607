"""Care (REL-4) as GraphQL: a customer's care occasions — birthdays, festivals, call-backs —
with the offer given and where the greeting is on its way; and ``careTasks``, the care of many
customers (a manager's, a branch's) as one list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy.orm import Session

from authz.fields import Effect
from resolvers.care import queries as logic
from resolvers.shared.filters import FilterField, compile_where
from schema.complaints.enums import CustomerMessageChannel, OutboxStatusEnum
from schema.segments.enums import ValueTierEnum
from schema.shared.base import (
    BooleanFilter,
    Connection,
    ContextInfo,
    DateFilter,
    IDFilter,
    StringFilter,
    page_request,
)
from schema.shared.customers import nested_customer
from schema.shared.execution import context_only
from schema.shared.rights import Authenticated
from schema.shared.rights import field as guarded_field
from schema.staff import StaffNode
from schema.workflows import batched_staff
from store.care import CareOccasion
from store.complaints import CustomerMessageChannel as Channel
from store.customers import Customer
from store.outbox import OutboxMessage
from store.segments import ValueTier

if TYPE_CHECKING:
    from schema.customers.types import CustomerNode

LazyCustomer = Annotated["CustomerNode", strawberry.lazy("schema.customers.types")]

# How many of a customer's care occasions the field answers (the newest).
RECENT = 50


@strawberry.type(
    name="CareOccasion",
    description="One care of a customer on one occasion (REL-4): a care task of the "
    "relationship manager and, for greetings, the message queued in the outbox. 客户关怀。",
)
class CareOccasionType:
    occasion: str = strawberry.field(
        description="BIRTHDAY, CALL_BACK, or a festival's code of care.toml (SPRING_FESTIVAL, "
        "MID_AUTUMN, NATIONAL_DAY …). 关怀事由。"
    )
    occasion_on: dt.date = strawberry.field(description="The Beijing date. 关怀日期。")
    tier: ValueTierEnum  # type: ignore[valid-type]
    offer: str | None = strawberry.field(
        description="The tier's birthday offer or gift given (null: none, or the customer "
        "opted out of marketing). 生日礼遇。"
    )
    channel: CustomerMessageChannel | None = strawberry.field(  # type: ignore[valid-type]
        description="How the greeting goes (null: no message — a call-back, or the customer "
        "prefers a call or a visit)."
    )
    delivery_status: OutboxStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Where the greeting is on its way (null: no message)."
    )
    send_at: dt.datetime | None = strawberry.field(
        description="When the greeting is (or was last) due to be sent: the customer's "
        "preferred time of that day."
    )


def care_of(session: Session, customer_ids: Sequence[int]) -> dict[int, list[CareOccasionType]]:
    """The newest care occasions of these customers, one statement."""
    found: dict[int, list[CareOccasionType]] = {pk: [] for pk in customer_ids}
    rows = session.execute(
        logic.care_with_delivery()
        .where(CareOccasion.customer_id.in_(list(customer_ids)))
        .order_by(CareOccasion.customer_id, CareOccasion.occasion_on.desc(), CareOccasion.id)
    )
    for row in rows:
        items = found[row.customer_id]
        if len(items) < RECENT:
            items.append(
                CareOccasionType(
                    occasion=row.occasion,
                    occasion_on=row.occasion_on,
                    tier=ValueTier(row.tier),
                    offer=row.offer,
                    channel=Channel(row.channel) if row.channel else None,
                    delivery_status=row.status,
                    send_at=row.next_attempt_at,
                )
            )
    return found


def customer_care(info: ContextInfo, customer_id: int) -> list[CareOccasionType]:
    """``Customer.care``: every customer of the answer's at once."""
    return info.context.batched("customer_care", customer_id, care_of) or []


# -- careTasks: the care of many customers ---------------------------------------------------


@strawberry.type(
    description="One care task of the list (REL-4): a customer's birthday, festival or "
    "call-back on a Beijing date, for their relationship manager. 关怀任务。"
)
class CareTask:
    _customer_id: strawberry.Private[int]
    _manager_id: strawberry.Private[int | None]
    occasion: str = strawberry.field(
        description="BIRTHDAY, CALL_BACK, or a festival's code of care.toml. 关怀事由。"
    )
    occasion_on: dt.date = strawberry.field(description="The Beijing date. 关怀日期。")
    tier: ValueTierEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The tier the offer followed (null when your policy withholds segments)."
    )
    offer: str | None
    channel: CustomerMessageChannel | None = strawberry.field(  # type: ignore[valid-type]
        description="How the greeting goes (null: no message — the manager calls or visits)."
    )
    delivery_status: OutboxStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Where the greeting is on its way (null: no message)."
    )
    send_at: dt.datetime | None

    @strawberry.field(description="The customer.")
    @context_only
    def customer(self, info: ContextInfo) -> LazyCustomer | None:
        return nested_customer(info, self._customer_id, "care_customers")

    @strawberry.field(description="The relationship manager the task was for when it was made.")
    @context_only
    def relationship_manager(self, info: ContextInfo) -> StaffNode | None:
        if self._manager_id is None:
            return None
        return batched_staff(info, self._manager_id, "CareTask", "relationshipManager")


@strawberry.input(description="Match delivery statuses.")
class OutboxStatusFilter:
    eq: OutboxStatusEnum | None = None  # type: ignore[valid-type]
    in_: list[OutboxStatusEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of care tasks; all given conditions must hold.")
class CareTaskWhere:
    occasion_on: DateFilter | None = strawberry.field(
        default=None, description="The Beijing date range (inclusive)."
    )
    occasion: StringFilter | None = strawberry.field(
        default=None, description="BIRTHDAY, CALL_BACK or a festival's code."
    )
    delivery_status: OutboxStatusFilter | None = strawberry.field(
        default=None, description="Where the greeting is (tasks with a message only)."
    )
    with_message: BooleanFilter | None = strawberry.field(
        default=None, description="Tasks with a greeting (true) or without — call or visit."
    )
    relationship_manager: IDFilter | None = strawberry.field(
        default=None, description="The manager the task was for."
    )
    branch: IDFilter | None = strawberry.field(
        default=None, description="The customer's branch (now)."
    )
    customer: IDFilter | None = None


CARE_TASK_FILTERS = {
    "occasion_on": FilterField(CareOccasion.occasion_on),
    "occasion": FilterField(CareOccasion.occasion),
    "delivery_status": FilterField(OutboxMessage.status),
    "with_message": FilterField(CareOccasion.message_id.is_not(None)),
    "relationship_manager": FilterField(
        CareOccasion.relationship_manager_id, "id", id_type="Staff"
    ),
    "branch": FilterField(Customer.branch_id, "id", id_type="Branch"),
    "customer": FilterField(CareOccasion.customer_id, "id", id_type="Customer"),
}


def present_tasks(info: ContextInfo, rows: Sequence[Any]) -> list[CareTask]:
    ctx = info.context
    ctx.pending("care_customers").extend(r.customer_id for r in rows)
    ctx.pending("staff").extend(
        r.relationship_manager_id for r in rows if r.relationship_manager_id
    )
    tasks = []
    for row in rows:
        shown = ctx.access.access_for(row.customer_id).effect("CustomerSegment", "tier")
        if shown is not Effect.FULL:
            ctx.access.withhold("CareTask", "tier")
        tasks.append(
            CareTask(
                _customer_id=row.customer_id,
                _manager_id=row.relationship_manager_id,
                occasion=row.occasion,
                occasion_on=row.occasion_on,
                tier=ValueTier(row.tier) if shown is Effect.FULL else None,
                offer=row.offer,
                channel=Channel(row.channel) if row.channel else None,
                delivery_status=row.status,
                send_at=row.next_attempt_at,
            )
        )
    return tasks


@strawberry.type
class CareQuery:
    @guarded_field(
        "The care tasks of the customers you see (REL-4) — a manager's customers, a "
        "supervisor's branch, head office's bank — oldest day first; by date range, occasion, "
        "delivery status, manager, branch. One statement per page. 关怀任务清单。",
        Authenticated(),
    )
    def care_tasks(
        self,
        info: ContextInfo,
        where: CareTaskWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CareTask]:
        ctx = info.context
        ctx.access.require_rows()
        condition = compile_where(where, CARE_TASK_FILTERS)
        page = logic.care_task_page(
            ctx.session, ctx.access.visible, condition, page_request(first, after, last, before)
        )
        return Connection.of(page, present_tasks(info, page.rows))
