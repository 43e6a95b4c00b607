"""Contacts as GraphQL types (REL-1, REL-2): the contact, a customer's contact history, the
worklist item, the compliance report, payloads.

A contact's summary, outcome and next step are the ``contacts`` field group of the access policy
(``authz.fields.present``): FULL, or withheld (null + FIELD_FORBIDDEN), and every reveal is
audited under the contact's customer like the customer's own fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from authz.fields import Effect
from authz.fields import present as present_fields
from core import clock
from core.errors import UserInputError
from resolvers.contacts import loaders
from resolvers.contacts import queries as logic
from resolvers.contacts.cadence import current_period
from resolvers.shared.filters import compile_where
from resolvers.shared.pagination import PageRequest
from schema.contacts.enums import (
    CadenceGrouping,
    CadencePeriod,
    ContactChannelEnum,
    ContactErrorCode,
    ContactPurposeEnum,
    PhoneLineEnum,
    WorklistStatus,
)
from schema.contacts.filters import CONTACT_FILTERS, ContactOrderBy, ContactWhere
from schema.customers.enums import ContactMethodEnum, ContactTimeEnum
from schema.segments.enums import ValueTierEnum
from schema.shared.base import Connection, ContextInfo, Node, node_id, user_errors
from schema.shared.context import Context
from schema.shared.customers import nested_customer, nested_customer_row
from schema.shared.execution import context_only
from schema.staff import BranchNode, StaffNode
from schema.workflows import TaskNode, batched_staff
from store.contacts import Contact, ContactChannel
from store.customers import ContactMethod, ContactTime
from store.segments import ValueTier

if TYPE_CHECKING:
    from schema.customers.types import CustomerNode

LazyCustomer = Annotated["CustomerNode", strawberry.lazy("schema.customers.types")]


@strawberry.type(description="A refused contact input. 客户联系输入错误。")
class ContactUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: ContactErrorCode  # type: ignore[valid-type]
    message: str


def contact_errors(exc: UserInputError) -> list[ContactUserError]:
    return user_errors(exc, ContactUserError, lambda code: ContactErrorCode[code])


@strawberry.type(
    name="Contact",
    description="One contact of a member of staff with a customer (REL-1): channel, purpose, "
    "when, and what was said — summary, outcome and next step are the `contacts` group of the "
    "access policy. 客户联系记录。",
)
class ContactNode(Node):
    _pk: strawberry.Private[int]
    _customer_id: strawberry.Private[int]
    _staff_id: strawberry.Private[int]
    _instance_id: strawberry.Private[int | None]
    channel: ContactChannelEnum  # type: ignore[valid-type]
    phone_line: PhoneLineEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="For `PHONE`: the hotline or the manager's line."
    )
    purpose: ContactPurposeEnum  # type: ignore[valid-type]
    contacted_at: dt.datetime
    summary: str | None = strawberry.field(description="What was said. 联系内容摘要。")
    outcome: str | None = strawberry.field(description="What came of it. 联系结果。")
    next_step: str | None = strawberry.field(description="What is to happen next. 后续安排。")
    next_step_due_on: dt.date | None = strawberry.field(
        description="The Beijing date the next step is due; it is a task in the manager's "
        "inbox (`followUpTask`)."
    )
    recorded_at: dt.datetime

    @classmethod
    def of(cls, row: Contact, ctx: Context) -> ContactNode:
        personal = present_fields(
            "Contact",
            {"summary": row.summary, "outcome": row.outcome, "next_step": row.next_step},
            ctx.access.access_for(row.customer_id),
        )
        return cls(
            id=node_id("Contact", row.id),
            _pk=row.id,
            _customer_id=row.customer_id,
            _staff_id=row.staff_id,
            _instance_id=row.instance_id,
            channel=row.channel,
            phone_line=row.phone_line,
            purpose=row.purpose,
            contacted_at=row.contacted_at,
            next_step_due_on=row.next_step_due_on,
            recorded_at=row.recorded_at,
            **personal,
        )

    @strawberry.field(description="The customer (null when you may not see them).")
    @context_only
    def customer(self, info: ContextInfo) -> LazyCustomer | None:
        return nested_customer(info, self._customer_id, "contact_customers")

    @strawberry.field(description="Who made the contact.")
    @context_only
    def contacted_by(self, info: ContextInfo) -> StaffNode | None:
        return batched_staff(info, self._staff_id, "Contact", "contactedBy")

    @strawberry.field(
        description="The task the dated next step opened in the manager's inbox (`myTasks`; "
        "done through `completeTask`), null without one."
    )
    @context_only
    def follow_up_task(self, info: ContextInfo) -> TaskNode | None:
        if self._instance_id is None:
            return None
        ctx = info.context
        task = ctx.batched(
            "contact_follow_ups",
            self._instance_id,
            loaders.follow_up_tasks,
            keys=ctx.pending("contact_instances"),
        )
        return TaskNode.of(task) if task is not None else None


def present(info: ContextInfo, rows: Sequence[Contact]) -> list[ContactNode]:
    """Contact nodes; their customers (how each is seen, for the field effects and the read
    audit), staff and tasks load together, one statement each."""
    ctx = info.context
    ctx.pending("contact_customers").extend(r.customer_id for r in rows)
    ctx.pending("staff").extend(r.staff_id for r in rows)
    ctx.pending("contact_instances").extend(r.instance_id for r in rows if r.instance_id)
    for customer_id in dict.fromkeys(r.customer_id for r in rows):
        customer = nested_customer_row(info, customer_id, "contact_customers")
        if customer is not None:
            ctx.access.note_customer(customer)
            # Their personal values are revealed in this answer: audited under the customer.
            ctx.customer_ids.append(customer_id)
    return [ContactNode.of(r, ctx) for r in rows]


def newest_first(order_by: list[ContactOrderBy] | None) -> bool:
    """Whether contacts run newest first (the default; ties by contact, the same way)."""
    if not order_by:
        return True
    return bool(order_by[-1].direction.value == "DESC")


def customer_contacts(
    info: ContextInfo,
    customer_id: int,
    where: ContactWhere | None,
    order_by: list[ContactOrderBy] | None,
    request: PageRequest,
) -> Connection[ContactNode]:
    """``Customer.contacts``: the first page of every customer of the answer in one statement;
    a page after or before a cursor (one customer's history) is its own query."""
    ctx = info.context
    condition = compile_where(where, CONTACT_FILTERS)
    keys = logic.contact_keys(newest_first(order_by))
    visible = ctx.access.visible
    mine = logic.Contact.customer_id == customer_id
    if request.after or request.before or request.last is not None:
        page = logic.contact_page(ctx.session, visible, condition & mine, keys, request)
    else:
        size = request.validated().first
        size = 20 if size is None else size
        batch = f"contacts:{size}:{keys[0].descending}:{where!r}"
        found = ctx.batched(
            batch,
            customer_id,
            lambda session, ids: loaders.first_pages(session, ids, visible, condition, keys, size),
        )
        assert found is not None
        page = found
        # A nested contact's customer is one of the answer's customers: announce them all, so
        # that the first page presented loads every page's customer in one statement.
        pending = ctx.pending("contact_customers")
        if customer_id not in pending:
            pending.extend(ctx.customer_ids)
    return Connection.of(page, present(info, page.rows))


@strawberry.type(
    description="A customer due (or overdue) for a contact in the current cadence period "
    "(REL-2). 待联系客户。"
)
class ContactWorklistItem:
    _customer_id: strawberry.Private[int]
    _manager_id: strawberry.Private[int | None]
    _last_contact_id: strawberry.Private[int | None]
    status: WorklistStatus  # type: ignore[valid-type]
    tier: ValueTierEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The tier the cadence follows (not classified: LOW); null when your "
        "policy withholds segments."
    )
    period: CadencePeriod  # type: ignore[valid-type]
    period_start: dt.date = strawberry.field(description="First day of the current period.")
    due_by: dt.date = strawberry.field(
        description="Last day of the current period (Beijing): contact the customer by then."
    )
    last_contacted_at: dt.datetime | None = strawberry.field(description="Null: never.")
    last_channel: ContactChannelEnum | None  # type: ignore[valid-type]
    preferred_channel: ContactMethodEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The customer's preferred contact method (preferences group). 首选联系方式。"
    )
    preferred_time: ContactTimeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The customer's preferred contact time (preferences group). 首选联系时间。"
    )

    @strawberry.field(description="The customer.")
    @context_only
    def customer(self, info: ContextInfo) -> LazyCustomer | None:
        return nested_customer(info, self._customer_id, "worklist_customers")

    @strawberry.field(description="The customer's relationship manager.")
    @context_only
    def relationship_manager(self, info: ContextInfo) -> StaffNode | None:
        if self._manager_id is None:
            return None
        return batched_staff(info, self._manager_id, "ContactWorklistItem", "relationshipManager")


# Stored enumerations (members' names, as SQLAlchemy's Enum stores them) → members, looked up
# once per process rather than built per row.
_TIERS = {t.name: t for t in ValueTier}
_CHANNELS = {c.name: c for c in ContactChannel}
_METHODS = {m.name: m for m in ContactMethod}
_TIMES = {t.name: t for t in ContactTime}


def _preference(
    ctx: Context, value: str | None, shown: bool, members: dict[str, Any], graphql: str
) -> Any:
    """A stored preference as the worklist serves it: its member, or withheld (null)."""
    if value is None:
        return None
    if shown:
        return members[value]
    ctx.access.withhold("ContactWorklistItem", graphql)
    return None


def present_worklist(info: ContextInfo, rows: Sequence[Any]) -> list[ContactWorklistItem]:
    ctx = info.context
    today = clock.today()
    # By key: a Row's attribute access by column name is about ten times slower.
    found = [row._mapping for row in rows]
    ctx.pending("worklist_customers").extend(m["customer_id"] for m in found)
    ctx.pending("staff").extend(m["manager_id"] for m in found if m["manager_id"])
    # The caller's own rows (``in_rows``): the roles' field effects apply to every item, so they
    # are decided once per page, not per row.
    access = ctx.access.fields
    tier_shown = access.effect("CustomerSegment", "tier") is Effect.FULL
    # Preferences are served as ``Preferences.<field>`` would be; they have no masks, so
    # anything less than FULL withholds them.
    method_shown = access.effect("Preferences", "contactMethod") is Effect.FULL
    time_shown = access.effect("Preferences", "contactTime") is Effect.FULL
    periods = {tier: current_period(tier, today) for tier in ValueTier}
    items = []
    for m in found:
        customer_id = m["customer_id"]
        ctx.customer_ids.append(customer_id)
        tier = _TIERS[m["tier"]]
        period = periods[tier]
        channel = m["last_channel"]
        items.append(
            ContactWorklistItem(
                _customer_id=customer_id,
                _manager_id=m["manager_id"],
                _last_contact_id=m["last_contact_id"],
                status=WorklistStatus.OVERDUE if m["overdue"] else WorklistStatus.DUE,  # type: ignore[attr-defined]
                tier=tier if tier_shown else None,
                period=CadencePeriod[period.kind.value],
                period_start=period.start,
                due_by=period.end - dt.timedelta(days=1),
                last_contacted_at=m["last_contacted_at"],
                last_channel=_CHANNELS[channel] if channel else None,
                preferred_channel=_preference(
                    ctx, m["contact_method"], method_shown, _METHODS, "preferredChannel"
                ),
                preferred_time=_preference(
                    ctx, m["contact_time"], time_shown, _TIMES, "preferredTime"
                ),
            )
        )
    if found:
        if not tier_shown:
            ctx.access.withhold("ContactWorklistItem", "tier")
        if method_shown and any(m["contact_method"] is not None for m in found):
            ctx.note_value_shown("ContactWorklistItem.preferredChannel", Effect.FULL)
        if time_shown and any(m["contact_time"] is not None for m in found):
            ctx.note_value_shown("ContactWorklistItem.preferredTime", Effect.FULL)
    return items


@strawberry.type(description="Cadence compliance of one manager or branch (REL-2). 联系达标率。")
class ContactCadenceRow:
    _manager_id: strawberry.Private[int | None]
    branch: BranchNode | None = strawberry.field(description="When grouped by branch.")
    due: int = strawberry.field(
        description="Cadence periods that count: per customer, each period of its tier that "
        "ends in the report period, has ended, and began on or after the customer joined."
    )
    met: int = strawberry.field(description="Of those, periods with at least one contact.")
    rate: Decimal | None = strawberry.field(
        description="met / due, 4 decimals rounded down; null when nothing was due."
    )

    @strawberry.field(description="When grouped by manager (null: customers without one).")
    @context_only
    def relationship_manager(self, info: ContextInfo) -> StaffNode | None:
        if self._manager_id is None:
            return None
        return batched_staff(info, self._manager_id, "ContactCadenceRow", "relationshipManager")


@strawberry.type(
    description="A cadence compliance report (REL-2, for the KPIs). 联系频次达标情况。"
)
class ContactCadenceReport:
    period: CadencePeriod  # type: ignore[valid-type]
    label: str = strawberry.field(description="`2026-11`, `2026-Q4` or `2026`.")
    start: dt.date
    end: dt.date = strawberry.field(description="Last day of the report period.")
    as_of: dt.date = strawberry.field(description="Periods ending after this day do not count.")
    grouping: CadenceGrouping  # type: ignore[valid-type]
    rows: list[ContactCadenceRow]
    total: ContactCadenceRow
    definition: str = strawberry.field(description="How `rate` is computed.")


@strawberry.type
class ContactPayload:
    errors: list[ContactUserError]
    contact: ContactNode | None = None
