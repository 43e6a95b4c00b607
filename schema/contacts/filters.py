"""The contacts list's and the worklist's `where` and `orderBy` inputs, and what they compile to."""

from __future__ import annotations

import strawberry

from resolvers.shared.filters import FilterField
from schema.contacts.enums import ContactChannelEnum, ContactOrderField, ContactPurposeEnum
from schema.segments.filters import ValueTierFilter
from schema.shared.base import BooleanFilter, DateTimeFilter, IDFilter, SortDirection
from store.contacts import Contact
from store.customers import Customer


@strawberry.input(description="Channel filter.")
class ContactChannelFilter:
    eq: ContactChannelEnum | None = None  # type: ignore[valid-type]
    in_: list[ContactChannelEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Purpose filter.")
class ContactPurposeFilter:
    eq: ContactPurposeEnum | None = None  # type: ignore[valid-type]
    in_: list[ContactPurposeEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of contacts; all given conditions must hold.")
class ContactWhere:
    customer: IDFilter | None = None
    contacted_by: IDFilter | None = strawberry.field(
        default=None, description="The member of staff who made the contact."
    )
    relationship_manager: IDFilter | None = strawberry.field(
        default=None, description="The customer's relationship manager (now)."
    )
    branch: IDFilter | None = strawberry.field(
        default=None, description="The customer's branch (now)."
    )
    channel: ContactChannelFilter | None = None
    purpose: ContactPurposeFilter | None = None
    contacted_at: DateTimeFilter | None = None
    and_: list[ContactWhere] | None = strawberry.field(name="and", default=None)
    or_: list[ContactWhere] | None = strawberry.field(name="or", default=None)


CONTACT_FILTERS = {
    "customer": FilterField(Contact.customer_id, "id", id_type="Customer"),
    "contacted_by": FilterField(Contact.staff_id, "id", id_type="Staff"),
    "relationship_manager": FilterField(Customer.relationship_manager_id, "id", id_type="Staff"),
    "branch": FilterField(Customer.branch_id, "id", id_type="Branch"),
    "channel": FilterField(Contact.channel),
    "purpose": FilterField(Contact.purpose),
    "contacted_at": FilterField(Contact.contacted_at),
}


@strawberry.input(description="One ordering of contacts (default: newest first).")
class ContactOrderBy:
    field: ContactOrderField  # type: ignore[valid-type]
    direction: SortDirection = SortDirection.DESC


@strawberry.input(description="Filters of the contact worklist; all given conditions must hold.")
class ContactWorklistWhere:
    relationship_manager: IDFilter | None = strawberry.field(
        default=None, description="The customers of one manager (supervisors, head office)."
    )
    branch: IDFilter | None = strawberry.field(
        default=None, description="The customers of one branch (head office)."
    )
    tier: ValueTierFilter | None = strawberry.field(
        default=None, description="The tier the cadence follows (not classified: LOW)."
    )
    overdue: BooleanFilter | None = strawberry.field(
        default=None, description="Only overdue (true) or only due this period (false)."
    )


@strawberry.input(description="Filters of a compliance report.")
class ContactCadenceWhere:
    relationship_manager: IDFilter | None = None
    branch: IDFilter | None = None


SCOPE_FILTERS = {
    "relationship_manager": FilterField(Customer.relationship_manager_id, "id", id_type="Staff"),
    "branch": FilterField(Customer.branch_id, "id", id_type="Branch"),
}
