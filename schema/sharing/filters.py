"""``where:`` inputs of the sharing lists, compiled by ``resolvers.shared.filters``.

Sealed columns (a grant's reason, a consent's evidence and recipient contact, a request's
reason and decision note) have no filter: the database only holds their ciphertext.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.shared.filters import FilterField
from resolvers.sharing import queries as sharing
from schema.shared.base import DateFilter, DateTimeFilter, IDFilter, StringFilter
from schema.sharing.enums import ShareGrantStatusEnum, ShareRequestStatusEnum
from schema.staff import RoleEnum
from store.sharing import Consent, ShareGrant, ShareRequest, ThirdParty


@strawberry.input(description="Share grant status filter.")
class ShareGrantStatusFilter:
    eq: ShareGrantStatusEnum | None = None  # type: ignore[valid-type]
    in_: list[ShareGrantStatusEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Staff role filter.")
class RoleFilter:
    eq: RoleEnum | None = None  # type: ignore[valid-type]
    in_: list[RoleEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of the share grants; all given conditions must hold.")
class ShareGrantWhere:
    status: ShareGrantStatusFilter | None = strawberry.field(
        default=None, description="E.g. `{eq: IN_FORCE}`: the grants that work now."
    )
    receiving_role: RoleFilter | None = None
    granting_branch: IDFilter | None = None
    receiving_branch: IDFilter | None = None
    purpose: StringFilter | None = None
    valid_from: DateTimeFilter | None = None
    expires_at: DateTimeFilter | None = None
    and_: list[ShareGrantWhere] | None = strawberry.field(name="and", default=None)
    or_: list[ShareGrantWhere] | None = strawberry.field(name="or", default=None)


def share_grant_filters(now: datetime) -> dict[str, FilterField]:
    """The grant filters, statuses as of ``now``."""
    return {
        "status": FilterField(sharing.grant_status(now)),
        "receiving_role": FilterField(ShareGrant.receiving_role),
        "granting_branch": FilterField(ShareGrant.granting_branch_id, "id", id_type="Branch"),
        "receiving_branch": FilterField(ShareGrant.receiving_branch_id, "id", id_type="Branch"),
        "purpose": FilterField(ShareGrant.purpose, "text"),
        "valid_from": FilterField(ShareGrant.valid_from),
        "expires_at": FilterField(ShareGrant.expires_at),
    }


@strawberry.input(description="Filters of a customer's consents; all given conditions must hold.")
class ConsentWhere:
    third_party: IDFilter | None = None
    purpose: StringFilter | None = None
    valid_from: DateTimeFilter | None = None
    valid_until: DateTimeFilter | None = None
    and_: list[ConsentWhere] | None = strawberry.field(name="and", default=None)
    or_: list[ConsentWhere] | None = strawberry.field(name="or", default=None)


CONSENT_FILTERS = {
    "third_party": FilterField(Consent.third_party_id, "id", id_type="ThirdParty"),
    "purpose": FilterField(Consent.purpose, "text"),
    "valid_from": FilterField(Consent.valid_from),
    "valid_until": FilterField(Consent.valid_until),
}


@strawberry.input(description="Share request status filter.")
class ShareRequestStatusFilter:
    eq: ShareRequestStatusEnum | None = None  # type: ignore[valid-type]
    in_: list[ShareRequestStatusEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of the share requests; all given conditions must hold.")
class ShareRequestWhere:
    status: ShareRequestStatusFilter | None = None
    customer: IDFilter | None = None
    third_party: IDFilter | None = None
    purpose: StringFilter | None = None
    requested_at: DateTimeFilter | None = None
    decided_at: DateTimeFilter | None = None
    and_: list[ShareRequestWhere] | None = strawberry.field(name="and", default=None)
    or_: list[ShareRequestWhere] | None = strawberry.field(name="or", default=None)


SHARE_REQUEST_FILTERS = {
    "status": FilterField(ShareRequest.status),
    "customer": FilterField(ShareRequest.customer_id, "id", id_type="Customer"),
    "third_party": FilterField(ShareRequest.third_party_id, "id", id_type="ThirdParty"),
    "purpose": FilterField(ShareRequest.purpose, "text"),
    "requested_at": FilterField(ShareRequest.requested_at),
    "decided_at": FilterField(ShareRequest.decided_at),
}


@strawberry.input(description="Filters of the third parties; all given conditions must hold.")
class ThirdPartyWhere:
    name: StringFilter | None = None
    agreement_signed_on: DateFilter | None = None
    agreement_expires_on: DateFilter | None = None
    and_: list[ThirdPartyWhere] | None = strawberry.field(name="and", default=None)
    or_: list[ThirdPartyWhere] | None = strawberry.field(name="or", default=None)


THIRD_PARTY_FILTERS = {
    "name": FilterField(ThirdParty.name, "text"),
    "agreement_signed_on": FilterField(ThirdParty.agreement_signed_on),
    "agreement_expires_on": FilterField(ThirdParty.agreement_expires_on),
}
