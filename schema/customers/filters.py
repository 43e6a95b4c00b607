"""The customers and transactions lists' `where` and `orderBy` inputs, and what they compile to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from sqlalchemy import String, type_coerce

from authz.fields import Effect
from core import clock
from core.errors import ForbiddenError, UserInputError
from resolvers.shared import validation
from resolvers.shared.filters import FilterField
from schema.customers.enums import (
    CustomerOrderField,
    GenderEnum,
    InformationKindEnum,
    TransactionTypeEnum,
)
from schema.segments.filters import SEGMENT_FILTERED_FIELDS, SegmentWhere, segment_filter
from schema.shared.base import (
    DateFilter,
    DateTimeFilter,
    ExactFilter,
    IDFilter,
    SortDirection,
    StringFilter,
)
from schema.shared.context import Context
from store import customers as rows
from store.customers import Transaction, VerificationDue


@strawberry.input(description="Gender filter.")
class GenderFilter:
    eq: GenderEnum | None = None  # type: ignore[valid-type]
    in_: list[GenderEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of the customers list; all given conditions must hold.")
class CustomerWhere:
    name: StringFilter | None = None
    gender: GenderFilter | None = None
    birth_date: DateFilter | None = None
    created_at: DateTimeFilter | None = None
    updated_at: DateTimeFilter | None = None
    branch: IDFilter | None = None
    relationship_manager: IDFilter | None = None
    id_number: ExactFilter | None = strawberry.field(
        default=None, description="Exact resident ID number (x or X). 按身份证号精确查找。"
    )
    phone: ExactFilter | None = strawberry.field(
        default=None, description="Exact mobile number (+86 optional). 按手机号精确查找。"
    )
    email: ExactFilter | None = None
    segment: SegmentWhere | None = strawberry.field(
        default=None, description="By value segment (SEG-1), e.g. `{tier: {eq: HIGH}}`."
    )
    and_: list[CustomerWhere] | None = strawberry.field(name="and", default=None)
    or_: list[CustomerWhere] | None = strawberry.field(name="or", default=None)


def _normalise_id_number(value: str, path: tuple[str, ...]) -> str:
    return _at(path, lambda: validation.resident_id(value).number)


def _normalise_phone(value: str, path: tuple[str, ...]) -> str:
    return _at(path, lambda: validation.mobile(value))


def _normalise_email(value: str, path: tuple[str, ...]) -> str:
    return _at(path, lambda: validation.email(value))


def _at(path: tuple[str, ...], check: Callable[[], str]) -> str:
    """Run a validator and report its error at ``path`` instead of the validator's default."""
    try:
        return check()
    except UserInputError as exc:
        raise UserInputError.one(path, exc.errors[0].code, exc.errors[0].message) from exc


CUSTOMER_FILTERS = {
    "name": FilterField(rows.Customer.name, "text"),
    "gender": FilterField(rows.Customer.gender),
    "birth_date": FilterField(rows.Customer.birth_date),
    "created_at": FilterField(rows.Customer.created_at),
    "updated_at": FilterField(rows.Customer.updated_at),
    "branch": FilterField(rows.Customer.branch_id, "id", id_type="Branch"),
    "relationship_manager": FilterField(
        rows.Customer.relationship_manager_id, "id", id_type="Staff"
    ),
    "id_number": FilterField(rows.Customer.id_number_hash, "exact", normalise=_normalise_id_number),
    "phone": FilterField(rows.Customer.phone_hash, "exact", normalise=_normalise_phone),
    "email": FilterField(rows.Customer.email_hash, "exact", normalise=_normalise_email),
}


def customer_filters() -> dict[str, FilterField]:
    """The customers list's filters now: the segment shown depends on the time (an override
    counts until it expires)."""
    return {**CUSTOMER_FILTERS, "segment": segment_filter(clock.now())}


@strawberry.input(description="One ordering of the customers list.")
class CustomerOrderBy:
    field: CustomerOrderField  # type: ignore[valid-type]
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Transaction type filter.")
class TransactionTypeFilter:
    eq: TransactionTypeEnum | None = None  # type: ignore[valid-type]
    in_: list[TransactionTypeEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of a customer's transactions.")
class TransactionWhere:
    occurred_at: DateTimeFilter | None = None
    type: TransactionTypeFilter | None = None
    and_: list[TransactionWhere] | None = strawberry.field(name="and", default=None)
    or_: list[TransactionWhere] | None = strawberry.field(name="or", default=None)


TRANSACTION_FILTERS = {
    "occurred_at": FilterField(Transaction.occurred_at),
    "type": FilterField(Transaction.type),
}


@strawberry.input(description="Kind of customer information filter.")
class InformationKindFilter:
    eq: InformationKindEnum | None = None  # type: ignore[valid-type]
    in_: list[InformationKindEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(
    description="Filters of the re-verification list; all given conditions must hold."
)
class DueVerificationWhere:
    information_kind: InformationKindFilter | None = None
    due_on: DateFilter | None = None
    customer: IDFilter | None = None
    and_: list[DueVerificationWhere] | None = strawberry.field(name="and", default=None)
    or_: list[DueVerificationWhere] | None = strawberry.field(name="or", default=None)


DUE_FILTERS = {
    # As text: the enum also names COMPLAINT (a notification's kind), which matches no row here.
    "information_kind": FilterField(type_coerce(VerificationDue.information_kind, String(32))),
    "due_on": FilterField(VerificationDue.due_on),
    "customer": FilterField(VerificationDue.customer_id, "id", id_type="Customer"),
}


# Filters and orderings that reveal a personal field ("Type.field"): allowed only with FULL
# access to it.
FILTERED_FIELDS = {
    "name": "Customer.name",
    "gender": "Customer.gender",
    "birth_date": "Customer.birthDate",
    "id_number": "Customer.idNumber",
    "phone": "Customer.phone",
    "email": "Customer.email",
}
ORDERED_FIELDS = {
    "NAME": "Customer.name",
    "BIRTH_DATE": "Customer.birthDate",
    "SCORE": "CustomerSegment.score",
}


def refuse_hidden_filters(ctx: Context, where: Any, order_by: Sequence[Any]) -> None:
    """FORBIDDEN when a filter or ordering uses a field the caller cannot read in full.

    Otherwise values would leak through which rows match or how they sort.
    """
    used: set[str] = set()
    pending = [where] if where is not None else []
    while pending:
        item = pending.pop()
        used |= {graphql for key, graphql in FILTERED_FIELDS.items() if getattr(item, key)}
        # The segment filter's own fields follow their own groups (tier: `segment`, risk
        # grade: `segment_risk`); an empty `segment: {}` still needs the tier's.
        if item.segment is not None:
            chosen = {k: v for k, v in SEGMENT_FILTERED_FIELDS.items() if getattr(item.segment, k)}
            used |= set(chosen.values()) or {SEGMENT_FILTERED_FIELDS["tier"]}
        pending += [*(item.and_ or []), *(item.or_ or [])]
    used |= {ORDERED_FIELDS[o.field.value] for o in order_by if o.field.value in ORDERED_FIELDS}
    groups = ctx.policy.field_groups()
    # Rows seen through a grant or consents show a field in full only when it covers the
    # field's group (a grant only for the purpose it names): any other such row would leak
    # through the filter — a third party with a contact-only consent testing names.
    covers: list[set[str] | frozenset[str]] = []
    if used:
        covers += [
            set(g.field_groups) if g.purpose == ctx.access.purpose else set()
            for g in ctx.access.grants_in_force()
        ]
        covers += ctx.access.consented_categories()
    hidden = sorted(
        f
        for f in used
        if ctx.access.effect(*f.split(".")) is not Effect.FULL
        or any(groups.get(f) not in covered for covered in covers)
    )
    if hidden:
        raise ForbiddenError(
            f"filtering or ordering on {', '.join(f.removeprefix('Customer.') for f in hidden)} "
            "needs FULL access to "
            f"{'it' if len(hidden) == 1 else 'them'}"
        )
