"""Sharing as GraphQL types: grants, third parties, consents, share requests, explanations."""

from __future__ import annotations

import datetime as dt

import strawberry

from authz import consents as consent_rules
from core import clock
from core.errors import UserInputError
from resolvers.sharing import queries as sharing
from schema.shared.base import Node, node_id, user_errors
from schema.sharing.enums import (
    EffectEnum,
    ProcessingMethodEnum,
    ShareGrantStatusEnum,
    ShareRequestStatusEnum,
    SharingErrorCode,
)
from schema.staff import RoleEnum, StaffNode
from store.sharing import (
    Consent,
    ProcessingMethod,
    ShareGrant,
    ShareGrantStatus,
    ShareRequest,
    ShareRequestStatus,
    ThirdParty,
)
from store.staff import Role


@strawberry.type(description="Why a staff member sees a field as they do. 访问权限说明。")
class AccessExplanation:
    staff: StaffNode
    type: str
    field: str
    effect: EffectEnum  # type: ignore[valid-type]
    rule: str = strawberry.field(description="The deciding rule of authz/policy.csv, or why none.")
    row_visible: bool | None = strawberry.field(
        description="Whether the customer's row is visible (when `customerId` was given)."
    )
    row_reason: str | None


@strawberry.type(name="ShareGrant", description="An internal share grant (SHARE-2). 内部共享授权。")
class ShareGrantNode(Node):
    granting_branch: strawberry.ID
    receiving_role: RoleEnum  # type: ignore[valid-type]
    receiving_branch: strawberry.ID | None = strawberry.field(description="Null: any branch.")
    purpose: str
    field_groups: list[str]
    whole_branch: bool = strawberry.field(
        description="Every customer of the granting branch, or only the listed ones."
    )
    reason: str
    valid_from: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    status: ShareGrantStatusEnum  # type: ignore[valid-type]
    in_force: bool = strawberry.field(description="Whether `status` is IN_FORCE.")

    @classmethod
    def of(cls, grant: ShareGrant) -> ShareGrantNode:
        status = sharing.status_of_grant(grant, clock.now())
        return cls(
            id=node_id("ShareGrant", grant.id),
            granting_branch=node_id("Branch", grant.granting_branch_id),
            receiving_role=Role(grant.receiving_role),
            receiving_branch=node_id("Branch", grant.receiving_branch_id)
            if grant.receiving_branch_id
            else None,
            purpose=grant.purpose,
            field_groups=list(grant.field_groups),
            whole_branch=grant.whole_branch,
            reason=grant.reason,
            valid_from=grant.valid_from,
            expires_at=grant.expires_at,
            revoked_at=grant.revoked_at,
            status=status,
            in_force=status is ShareGrantStatus.IN_FORCE,
        )


@strawberry.type(description="A refused sharing or consent input. 共享与授权同意输入错误。")
class SharingUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: SharingErrorCode  # type: ignore[valid-type]
    message: str


def sharing_errors(exc: UserInputError) -> list[SharingUserError]:
    return user_errors(exc, SharingUserError, lambda code: SharingErrorCode[code])


@strawberry.type(name="ThirdParty", description="An outside organisation (SHARE-3). 第三方机构。")
class ThirdPartyNode(Node):
    name: str
    agreement_reference: str = strawberry.field(description="Confidentiality agreement. 保密协议。")
    agreement_signed_on: dt.date
    agreement_expires_on: dt.date
    principal: str = strawberry.field(description="Employee number its API client signs in as.")

    @classmethod
    def of(cls, party: ThirdParty, principal: str) -> ThirdPartyNode:
        return cls(
            id=node_id("ThirdParty", party.id),
            name=party.name,
            agreement_reference=party.agreement_reference,
            agreement_signed_on=party.agreement_signed_on,
            agreement_expires_on=party.agreement_expires_on,
            principal=principal,
        )


@strawberry.type(
    description="Whom the customer may contact at the recipient (PIPL art. 23): a person or "
    "office, by mobile and/or e-mail. Personal data: sealed at rest, never logged. 接收方联系方式。"
)
class RecipientContact:
    name: str
    phone: str | None
    email: str | None


@strawberry.type(
    name="Consent", description="A customer's consent to share data (SHARE-3). 授权同意。"
)
class ConsentNode(Node):
    customer: strawberry.ID
    third_party: strawberry.ID
    purpose: str
    data_categories: list[str]
    processing_methods: list[ProcessingMethodEnum] | None = strawberry.field(  # type: ignore[valid-type]
        description="Null for consents recorded before the method was required."
    )
    recipient_contact: RecipientContact | None = strawberry.field(
        description="Null for consents recorded before the contact was required."
    )
    evidence: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked_at: dt.datetime | None
    in_force: bool

    @classmethod
    def of(cls, consent: Consent, party: ThirdParty | None = None) -> ConsentNode:
        """``party``: the consent's third party when the caller has it (a page loads them at
        once); otherwise it is loaded for ``inForce``."""
        now = clock.now()
        return cls(
            id=node_id("Consent", consent.id),
            customer=node_id("Customer", consent.customer_id),
            third_party=node_id("ThirdParty", consent.third_party_id),
            purpose=consent.purpose,
            data_categories=list(consent.data_categories),
            processing_methods=[ProcessingMethod(m) for m in consent.processing_methods]
            if consent.processing_methods is not None
            else None,
            recipient_contact=RecipientContact(
                name=consent.recipient_contact_name,
                phone=consent.recipient_contact_phone,
                email=consent.recipient_contact_email,
            )
            if consent.recipient_contact_name is not None
            else None,
            evidence=consent.evidence,
            valid_from=consent.valid_from,
            valid_until=consent.valid_until,
            revoked_at=consent.revoked_at,
            in_force=consent_rules.is_in_force(consent, now, party),
        )


@strawberry.type(
    name="ShareRequest",
    description="A request to give a customer's data to a third party, approved by a process "
    "(consent check, then security review). 数据对外提供申请。",
)
class ShareRequestNode(Node):
    customer: strawberry.ID
    third_party: strawberry.ID
    purpose: str
    data_categories: list[str]
    reason: str
    status: ShareRequestStatusEnum  # type: ignore[valid-type]
    consent: strawberry.ID | None = strawberry.field(description="The consent that covers it.")
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    decision_note: str | None
    process_instance: strawberry.ID | None

    @classmethod
    def of(cls, row: ShareRequest) -> ShareRequestNode:
        return cls(
            id=node_id("ShareRequest", row.id),
            customer=node_id("Customer", row.customer_id),
            third_party=node_id("ThirdParty", row.third_party_id),
            purpose=row.purpose,
            data_categories=list(row.data_categories),
            reason=row.reason,
            status=ShareRequestStatus(row.status),
            consent=node_id("Consent", row.consent_id) if row.consent_id else None,
            requested_at=row.requested_at,
            decided_at=row.decided_at,
            decision_note=row.decision_note,
            process_instance=node_id("ProcessInstance", row.instance_id)
            if row.instance_id
            else None,
        )


@strawberry.type
class ShareGrantPayload:
    errors: list[SharingUserError]
    share_grant: ShareGrantNode | None = None


@strawberry.type
class ThirdPartyPayload:
    errors: list[SharingUserError]
    third_party: ThirdPartyNode | None = None


@strawberry.type
class ConsentPayload:
    errors: list[SharingUserError]
    consent: ConsentNode | None = None


@strawberry.type
class ShareRequestPayload:
    errors: list[SharingUserError]
    share_request: ShareRequestNode | None = None
