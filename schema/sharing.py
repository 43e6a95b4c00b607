"""Access and sharing of personal data as GraphQL (SHARE, PLAT-3): explaining decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from sqlalchemy import select

from authz import rows as row_scopes
from authz.fields import Effect
from authz.policy import AccessAction
from authz.rows import row_visibility_reason
from core import clock
from core.errors import NotFoundError, UserInputError
from core.ids import pk_of
from resolvers import sharing
from resolvers.shared import validation
from resolvers.shared.pagination import PageRequest
from resolvers.shared.staff import staff_by_employee_number
from schema.shared.base import Connection, ContextInfo, Node, bilingual_enum, node_id, user_errors
from schema.shared.mutations import mutate
from schema.shared.rights import Authenticated, HasRight, SelfOrRight
from schema.shared.rights import field as guarded_field
from schema.shared.rights import mutation as guarded_mutation
from schema.staff import StaffNode
from store.sharing import Consent, ProcessingMethod, ShareGrant, ShareRequest, ThirdParty
from store.staff import Staff

EffectEnum = bilingual_enum(
    Effect,
    "What a caller sees of a personal-data field. 字段访问效果。",
    {"FULL": "Shown in full 明文", "MASKED": "Masked 脱敏显示", "DENIED": "Withheld 不予显示"},
)


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


AccessActionEnum = bilingual_enum(
    AccessAction,
    "What an access question asks. 访问类型。",
    {
        "READ": "See a field 查看字段",
        "WRITE": "Change a field (FULL: allowed) 修改字段",
        "USE": "Use a right `type:field`, e.g. customer:create (FULL: allowed) 使用权限",
    },
)


@strawberry.type(name="ShareGrant", description="An internal share grant (SHARE-2). 内部共享授权。")
class ShareGrantNode(Node):
    granting_branch: strawberry.ID
    receiving_role: str
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
    in_force: bool

    @classmethod
    def of(cls, grant: ShareGrant) -> ShareGrantNode:
        now = clock.now()
        return cls(
            id=node_id("ShareGrant", grant.id),
            granting_branch=node_id("Branch", grant.granting_branch_id),
            receiving_role=grant.receiving_role,
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
            in_force=grant.revoked_at is None and grant.valid_from <= now < grant.expires_at,
        )


@strawberry.type(description="A refused share grant change. 共享授权错误。")
class SharingUserError:
    field: list[str] | None
    code: str = strawberry.field(
        description="UNKNOWN_ROLE, UNKNOWN_PURPOSE, UNKNOWN_GROUP, EXPIRED, TOO_LONG, REQUIRED, "
        "NOT_FOUND, NOT_OF_YOUR_BRANCH, OVERLAPPING, INVALID_ID, EVIDENCE_REQUIRED, "
        "AGREEMENT_REQUIRED, AGREEMENT_NOT_IN_FORCE, CONTACT_REQUIRED, INVALID_PHONE, INVALID_EMAIL"
    )
    message: str


@strawberry.type
class ShareGrantPayload:
    errors: list[SharingUserError]
    share_grant: ShareGrantNode | None = None


@strawberry.input(description="Share customers of your branch with a role (and branch).")
class CreateShareGrantInput:
    receiving_role: str
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


@strawberry.input
class RevokeShareGrantInput:
    id: strawberry.ID


def _grant_change(info: ContextInfo, command: Any) -> ShareGrantPayload:
    try:
        grant = mutate(info, lambda session: command(session, info.context.actor))
        if info.context.grant_presence is not None:
            info.context.grant_presence.forget()
    except UserInputError as exc:
        return ShareGrantPayload(errors=_sharing_errors(exc))
    return ShareGrantPayload(errors=[], share_grant=ShareGrantNode.of(grant))


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


ProcessingMethodEnum = bilingual_enum(
    ProcessingMethod,
    "How the recipient will handle the data (PIPL art. 4, 23). 个人信息处理方式。",
    {
        "COLLECTION": "Collection 收集",
        "STORAGE": "Storage 存储",
        "USE": "Use 使用",
        "PROCESSING": "Processing, e.g. analysis 加工",
        "TRANSMISSION": "Transmission 传输",
        "PROVISION": "Provision to others 提供",
        "DISCLOSURE": "Public disclosure 公开",
        "DELETION": "Deletion 删除",
    },
)


@strawberry.type(
    description="Whom the customer may contact at the recipient (PIPL art. 23): a person or "
    "office, by mobile and/or e-mail. Personal data: sealed at rest, never logged. 接收方联系方式。"
)
class RecipientContact:
    name: str
    phone: str | None
    email: str | None


@strawberry.input(description="The recipient's contact: a name and a mobile number or e-mail.")
class RecipientContactInput:
    name: str = strawberry.field(description="Person or office, at most 50 characters.")
    phone: str | None = strawberry.field(default=None, description="Mainland mobile number.")
    email: str | None = None


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
    def of(cls, consent: Consent) -> ConsentNode:
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
            in_force=consent.revoked_at is None and consent.valid_from <= now < consent.valid_until,
        )


@strawberry.type
class ThirdPartyPayload:
    errors: list[SharingUserError]
    third_party: ThirdPartyNode | None = None


@strawberry.type
class ConsentPayload:
    errors: list[SharingUserError]
    consent: ConsentNode | None = None


@strawberry.input(description="An organisation and its confidentiality agreement.")
class RegisterThirdPartyInput:
    name: str
    agreement_reference: str
    agreement_signed_on: dt.date
    agreement_expires_on: dt.date


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


@strawberry.input
class RevokeConsentInput:
    id: strawberry.ID


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
    status: str = strawberry.field(description="PENDING, APPROVED or DENIED")
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
            status=row.status,
            consent=node_id("Consent", row.consent_id) if row.consent_id else None,
            requested_at=row.requested_at,
            decided_at=row.decided_at,
            decision_note=row.decision_note,
            process_instance=node_id("ProcessInstance", row.instance_id)
            if row.instance_id
            else None,
        )


@strawberry.input(description="What to share with whom, and why.")
class RequestDataShareInput:
    customer_id: strawberry.ID
    third_party: strawberry.ID
    purpose: str
    data_categories: list[str]
    reason: str


@strawberry.type
class ShareRequestPayload:
    errors: list[SharingUserError]
    share_request: ShareRequestNode | None = None


def _sharing_errors(exc: UserInputError) -> list[SharingUserError]:
    return user_errors(exc, SharingUserError)


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
                session, pk_of(input.customer_id, "Customer", "customerId"), ctx.visible
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
            request = mutate(info, command)
        except UserInputError as exc:
            return ShareRequestPayload(errors=_sharing_errors(exc))
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
            )
        except UserInputError as exc:
            return ThirdPartyPayload(errors=_sharing_errors(exc))
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
                session, pk_of(input.customer_id, "Customer", "customerId"), ctx.visible
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
            consent = mutate(info, command)
        except UserInputError as exc:
            return ConsentPayload(errors=_sharing_errors(exc))
        return ConsentPayload(errors=[], consent=ConsentNode.of(consent))

    @guarded_mutation(
        "Revoke a consent: sharing stops at the next request.",
        HasRight("consent:record", purpose=True),
    )
    def revoke_consent(self, info: ContextInfo, input: RevokeConsentInput) -> ConsentPayload:
        ctx = info.context

        def command(session: Any) -> Consent:
            consent_id = pk_of(input.id, "Consent", "id")
            found = sharing.consents_by_id(session, [consent_id]).get(consent_id)
            # A consent of a customer the caller cannot see is answered like a missing one.
            if found is None or not row_scopes.is_visible(session, found.customer_id, ctx.visible):
                raise NotFoundError("no consent with this ID")
            return sharing.revoke_consent(session, ctx.actor, consent_id)

        try:
            consent = mutate(info, command)
        except UserInputError as exc:
            return ConsentPayload(errors=_sharing_errors(exc))
        return ConsentPayload(errors=[], consent=ConsentNode.of(consent))

    @guarded_mutation(
        "Share customer data of your branch (supervisors; SHARE-2).", HasRight("admin:share")
    )
    def create_share_grant(
        self, info: ContextInfo, input: CreateShareGrantInput
    ) -> ShareGrantPayload:

        def command(session: Any, actor: Staff) -> ShareGrant:
            draft = sharing.GrantDraft(
                receiving_role=input.receiving_role.strip(),
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

        return _grant_change(info, command)

    @guarded_mutation(
        "Revoke a share grant (yours, or any with `admin:policy`); it stops working at once.",
        HasRight("admin:share", "admin:policy"),
    )
    def revoke_share_grant(
        self, info: ContextInfo, input: RevokeShareGrantInput
    ) -> ShareGrantPayload:
        may_revoke_any = info.context.has_right("admin:policy")
        return _grant_change(
            info,
            lambda session, actor: sharing.revoke_grant(
                session, actor, pk_of(input.id, "ShareGrant", "id"), may_revoke_any
            ),
        )


@strawberry.type
class SharingQuery:
    @guarded_field(
        "External data share requests: yours, or all for security admins "
        "(`admin:policy`). 数据对外提供申请。",
        Authenticated(),
    )
    def share_requests(
        self, info: ContextInfo, status: str | None = None
    ) -> list[ShareRequestNode]:
        ctx = info.context
        rows = sharing.share_requests(ctx.session, ctx.actor, ctx.has_right("admin:policy"), status)
        return [ShareRequestNode.of(r) for r in rows]

    @guarded_field("A customer's consents, newest first. 客户授权同意记录。", Authenticated())
    def consents(self, info: ContextInfo, customer_id: strawberry.ID) -> list[ConsentNode]:
        ctx = info.context
        customer = row_scopes.require_visible(
            ctx.session, pk_of(customer_id, "Customer", "customerId"), ctx.visible
        )
        statement = select(Consent).where(Consent.customer_id == customer)
        if ctx.actor.third_party_id is not None:
            # A third party learns only of its own consents, not of other recipients'.
            statement = statement.where(Consent.third_party_id == ctx.actor.third_party_id)
        rows = ctx.session.scalars(statement.order_by(Consent.id.desc()))
        return [ConsentNode.of(c) for c in rows]

    @guarded_field(
        "Share grants your branch gave or you receive (all, for security admins "
        "and auditors), newest first. 共享授权列表。",
        Authenticated(),
    )
    def share_grants(
        self,
        info: ContextInfo,
        in_force: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ShareGrantNode]:
        ctx = info.context
        see_all = ctx.has_right("admin:policy") or ctx.has_right("admin:audit")
        page = sharing.grant_page(
            ctx.session, ctx.actor, see_all, in_force, PageRequest(first=first, after=after)
        )
        return Connection.of(page, [ShareGrantNode.of(g) for g in page.rows])

    @guarded_field(
        "FULL / MASKED / DENIED for a field — and which rule decided — for you or any staff "
        "member; with `action: WRITE`, whether they may change it (rows: their write scopes); "
        "with `action: USE`, whether they hold the right `type:field` (e.g. `customer:create`). "
        "Declared purpose is not considered. 说明字段访问权限。",
        SelfOrRight("admin:explain", argument="employee_no"),
    )
    def explain_access(
        self,
        info: ContextInfo,
        type: str,
        field: str,
        employee_no: str | None = None,
        customer_id: strawberry.ID | None = None,
        action: AccessActionEnum = AccessAction.READ,  # type: ignore[valid-type]
    ) -> AccessExplanation:
        ctx = info.context
        caller = ctx.actor
        subject = caller
        if employee_no is not None:
            employee_no = validation.employee_number(employee_no)
        if employee_no is not None and employee_no != caller.employee_no:
            found = staff_by_employee_number(ctx.session, employee_no)
            if found is None:
                raise NotFoundError("no staff member with this employee number")
            subject = found
        decision = ctx.policy.explain(subject.roles, type, field, action)
        visible: bool | None = None
        reason: str | None = None
        if customer_id is not None:
            scopes = ctx.policy.row_scopes(subject.roles, action)
            visible, reason = row_visibility_reason(ctx.session, subject, scopes, customer_id)
        return AccessExplanation(
            staff=StaffNode.of(subject),
            type=type,
            field=field,
            effect=decision.effect if visible is not False else Effect.DENIED,
            rule=decision.rule if visible is not False else (reason or decision.rule),
            row_visible=visible,
            row_reason=reason,
        )
