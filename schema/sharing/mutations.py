"""Sharing mutations: share grants, third parties, consents, external share requests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from authz import rows as row_scopes
from core.errors import NotFoundError, UserInputError
from core.ids import pk_of
from resolvers.sharing import commands as sharing
from schema.shared.base import ContextInfo
from schema.shared.mutations import KEY_DESCRIPTION, Once, created_id, load_row, mutate
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from schema.sharing.enums import ProcessingMethodEnum
from schema.sharing.queries import visible_consent
from schema.sharing.types import (
    ConsentNode,
    ConsentPayload,
    ShareGrantNode,
    ShareGrantPayload,
    ShareRequestNode,
    ShareRequestPayload,
    ThirdPartyNode,
    ThirdPartyPayload,
    sharing_errors,
)
from schema.staff import RoleEnum
from store.sharing import Consent, ShareGrant, ShareRequest, ThirdParty
from store.staff import Role, Staff


@strawberry.input(description="Share customers of your branch with a role (and branch).")
class CreateShareGrantInput:
    receiving_role: RoleEnum = strawberry.field(  # type: ignore[valid-type]
        description="A staff role; THIRD_PARTY is refused (outsiders receive data by consent)."
    )
    receiving_branch: strawberry.ID | None = strawberry.field(
        default=None, description="Null: that role in every branch."
    )
    purpose: str
    field_groups: list[str] = strawberry.field(
        description="identity, contact, financial, transactions, credit_risk, preferences"
    )
    customers: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only these customers; default: every customer of your branch."
    )
    expires_at: dt.datetime
    reason: str
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.input
class RevokeShareGrantInput:
    id: strawberry.ID


@strawberry.input(description="The recipient's contact: a name and a mobile number or e-mail.")
class RecipientContactInput:
    name: str = strawberry.field(description="Person or office, at most 50 characters.")
    phone: str | None = strawberry.field(default=None, description="Mainland mobile number.")
    email: str | None = None


@strawberry.input(description="An organisation and its confidentiality agreement.")
class RegisterThirdPartyInput:
    name: str
    agreement_reference: str
    agreement_signed_on: dt.date
    agreement_expires_on: dt.date
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.input(description="A customer's explicit consent (PIPL art. 23).")
class RecordConsentInput:
    customer_id: strawberry.ID
    third_party: strawberry.ID
    purpose: str
    data_categories: list[str]
    processing_methods: list[ProcessingMethodEnum] = strawberry.field(  # type: ignore[valid-type]
        description="How the recipient will process the data; one or more."
    )
    recipient_contact: RecipientContactInput
    valid_until: dt.datetime
    evidence: str = strawberry.field(description="Where the proof is kept (form no., recording).")
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.input
class RevokeConsentInput:
    id: strawberry.ID


@strawberry.input(description="What to share with whom, and why.")
class RequestDataShareInput:
    customer_id: strawberry.ID
    third_party: strawberry.ID
    purpose: str
    data_categories: list[str]
    reason: str
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


def _grant_change(
    info: ContextInfo, command: Any, once: Once[ShareGrant] | None = None
) -> ShareGrantPayload:
    try:
        grant = mutate(info, lambda session: command(session, info.context.actor), once)
        if info.context.grant_presence is not None:
            info.context.grant_presence.forget()
    except UserInputError as exc:
        return ShareGrantPayload(errors=sharing_errors(exc))
    return ShareGrantPayload(errors=[], share_grant=ShareGrantNode.of(grant))


def _saved_party(created: tuple[ThirdParty, Staff]) -> list[int]:
    return [created[0].id, created[1].id]


def _loaded_party(session: Any, saved: Any) -> tuple[ThirdParty, Staff]:
    party, principal = load_row(ThirdParty)(session, saved[0]), load_row(Staff)(session, saved[1])
    return party, principal


@strawberry.type
class SharingMutation:
    @guarded_mutation(
        "Ask to give a customer's data to a third party: the approval process "
        "checks the consent, then security reviews it (SHARE-3). 申请对外提供数据。",
        HasRight("share:request", purpose=True),
    )
    def request_data_share(
        self, info: ContextInfo, input: RequestDataShareInput
    ) -> ShareRequestPayload:
        ctx = info.context

        def command(session: Any) -> ShareRequest:
            customer = row_scopes.require_visible(
                session, pk_of(input.customer_id, "Customer", "customerId"), ctx.access.visible
            )
            draft = sharing.ShareRequestDraft(
                customer_id=customer,
                third_party_id=pk_of(input.third_party, "ThirdParty", "thirdParty"),
                purpose=input.purpose.strip(),
                data_categories=[c.strip() for c in input.data_categories],
                reason=input.reason,
            )
            return sharing.request_share(session, ctx.actor, draft)

        try:
            request = mutate(
                info,
                command,
                Once(input.idempotency_key, input, created_id, load_row(ShareRequest)),
            )
        except UserInputError as exc:
            return ShareRequestPayload(errors=sharing_errors(exc))
        return ShareRequestPayload(errors=[], share_request=ShareRequestNode.of(request))

    @guarded_mutation(
        "Register a third party (security admins; SHARE-3).", HasRight("admin:policy")
    )
    def register_third_party(
        self, info: ContextInfo, input: RegisterThirdPartyInput
    ) -> ThirdPartyPayload:
        try:
            party, principal = mutate(
                info,
                lambda session: sharing.register_third_party(
                    session,
                    info.context.actor,
                    input.name,
                    input.agreement_reference,
                    input.agreement_signed_on,
                    input.agreement_expires_on,
                ),
                Once(input.idempotency_key, input, _saved_party, _loaded_party),
            )
        except UserInputError as exc:
            return ThirdPartyPayload(errors=sharing_errors(exc))
        return ThirdPartyPayload(
            errors=[], third_party=ThirdPartyNode.of(party, principal.employee_no)
        )

    @guarded_mutation(
        "Record a customer's consent to share data with a third party (staff only).",
        HasRight("consent:record", purpose=True),
    )
    def record_consent(self, info: ContextInfo, input: RecordConsentInput) -> ConsentPayload:
        ctx = info.context

        def command(session: Any) -> Consent:
            customer = row_scopes.require_visible(
                session, pk_of(input.customer_id, "Customer", "customerId"), ctx.access.visible
            )
            draft = sharing.ConsentDraft(
                customer_id=customer,
                third_party_id=pk_of(input.third_party, "ThirdParty", "thirdParty"),
                purpose=input.purpose.strip(),
                data_categories=[c.strip() for c in input.data_categories],
                valid_until=input.valid_until,
                evidence=input.evidence,
                processing_methods=[str(m) for m in input.processing_methods],
                recipient_contact=sharing.RecipientContact(
                    name=input.recipient_contact.name,
                    phone=input.recipient_contact.phone,
                    email=input.recipient_contact.email,
                ),
            )
            return sharing.record_consent(session, ctx.actor, draft)

        try:
            consent = mutate(
                info, command, Once(input.idempotency_key, input, created_id, load_row(Consent))
            )
        except UserInputError as exc:
            return ConsentPayload(errors=sharing_errors(exc))
        return ConsentPayload(errors=[], consent=ConsentNode.of(consent))

    @guarded_mutation(
        "Revoke a consent: sharing stops at the next request.",
        HasRight("consent:record", purpose=True),
    )
    def revoke_consent(self, info: ContextInfo, input: RevokeConsentInput) -> ConsentPayload:
        ctx = info.context

        def command(session: Any) -> Consent:
            consent_id = pk_of(input.id, "Consent", "id")
            # A consent the caller cannot see is answered like a missing one.
            if visible_consent(session, ctx, consent_id) is None:
                raise NotFoundError("no consent with this ID")
            return sharing.revoke_consent(session, ctx.actor, consent_id)

        try:
            consent = mutate(info, command)
        except UserInputError as exc:
            return ConsentPayload(errors=sharing_errors(exc))
        return ConsentPayload(errors=[], consent=ConsentNode.of(consent))

    @guarded_mutation(
        "Share customer data of your branch (supervisors; SHARE-2).", HasRight("admin:share")
    )
    def create_share_grant(
        self, info: ContextInfo, input: CreateShareGrantInput
    ) -> ShareGrantPayload:

        def command(session: Any, actor: Staff) -> ShareGrant:
            draft = sharing.GrantDraft(
                receiving_role=Role(input.receiving_role).value,
                receiving_branch_id=pk_of(input.receiving_branch, "Branch", "receivingBranch")
                if input.receiving_branch
                else None,
                purpose=input.purpose.strip(),
                field_groups=[g.strip() for g in input.field_groups],
                customer_ids=[
                    pk_of(c, "Customer", ("customers", str(i)))
                    for i, c in enumerate(input.customers or [])
                ],
                expires_at=input.expires_at,
                reason=input.reason,
            )
            return sharing.create_grant(session, actor, draft)

        return _grant_change(
            info,
            command,
            Once(input.idempotency_key, input, created_id, load_row(ShareGrant)),
        )

    @guarded_mutation(
        "Revoke a share grant (yours, or any with `admin:policy`); it stops working at once.",
        HasRight("admin:share", "admin:policy"),
    )
    def revoke_share_grant(
        self, info: ContextInfo, input: RevokeShareGrantInput
    ) -> ShareGrantPayload:
        may_revoke_any = info.context.access.has_right("admin:policy")
        return _grant_change(
            info,
            lambda session, actor: sharing.revoke_grant(
                session, actor, pk_of(input.id, "ShareGrant", "id"), may_revoke_any
            ),
        )
