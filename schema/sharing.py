"""Access and sharing of personal data as GraphQL (SHARE, PLAT-3): explaining decisions."""

from __future__ import annotations

import strawberry
from sqlalchemy import select

from authz.fields import Effect
from resolvers.customers import row_visibility_reason
from resolvers.errors import ForbiddenError, NotFoundError
from schema.base import ContextInfo, bilingual_enum
from schema.staff import StaffNode
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


@strawberry.type
class SharingQuery:
    @strawberry.field(
        description="FULL / MASKED / DENIED for a field — and which rule decided — for you or, "
        "with the `admin:explain` right (security admins, auditors), for any staff member. "
        "Declared purpose is not considered. 说明字段访问权限。"
    )
    def explain_access(
        self,
        info: ContextInfo,
        type: str,
        field: str,
        employee_no: str | None = None,
        customer_id: strawberry.ID | None = None,
    ) -> AccessExplanation:
        ctx = info.context
        caller = ctx.actor
        subject = caller
        if employee_no is not None and employee_no != caller.employee_no:
            if ctx.policy.allows(caller.roles, "admin:explain", "use").effect is not Effect.FULL:
                raise ForbiddenError("explaining another staff member's access needs admin:explain")
            found = ctx.session.scalar(select(Staff).where(Staff.employee_no == employee_no))
            if found is None:
                raise NotFoundError("no staff member with this employee number")
            subject = found
        decision = ctx.policy.field_decision(subject.roles, f"{type}.{field}")
        visible: bool | None = None
        reason: str | None = None
        if customer_id is not None:
            scopes = ctx.policy.decisions(subject.roles).row_scopes
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
