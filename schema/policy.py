"""Policy administration for security admins (PLAT-3): rules, role assignments, versions."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any

import strawberry
from sqlalchemy import case

from core.errors import UserInputError
from resolvers import policy as logic
from resolvers.shared.filters import FilterField, compile_where
from schema.shared.base import (
    Connection,
    ContextInfo,
    StringFilter,
    bilingual_enum,
    page_request,
    user_errors,
)
from schema.shared.mutations import mutate
from schema.shared.rights import HasRight
from schema.shared.rights import field as guarded_field
from schema.shared.rights import mutation as guarded_mutation
from store.policy import PolicyRule, PolicyVersion


class PolicyRuleKind(StrEnum):
    PERMISSION = "PERMISSION"
    FIELD_GROUP = "FIELD_GROUP"


PolicyRuleKindEnum = bilingual_enum(
    PolicyRuleKind,
    "What a policy rule says. 策略规则类型。",
    {
        "PERMISSION": "A permission: `p, role, object, action, effect` 权限规则",
        "FIELD_GROUP": "A field's group: `g2, Type.field, group` 字段分组",
    },
)


class _PolicyErrorCode(Enum):
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    UNKNOWN_SCOPE = "UNKNOWN_SCOPE"
    UNKNOWN_PURPOSE = "UNKNOWN_PURPOSE"
    UNKNOWN_RIGHT = "UNKNOWN_RIGHT"
    INVALID_ACTION = "INVALID_ACTION"
    INVALID_EFFECT = "INVALID_EFFECT"
    DUPLICATE = "DUPLICATE"
    NOT_FOUND = "NOT_FOUND"
    MALFORMED_RULE = "MALFORMED_RULE"
    INVALID = "INVALID"
    SELF_ASSIGNMENT = "SELF_ASSIGNMENT"
    ROLE_NOT_ALLOWED = "ROLE_NOT_ALLOWED"
    ROLE_NEVER_WRITES = "ROLE_NEVER_WRITES"


PolicyErrorCode = bilingual_enum(
    _PolicyErrorCode,
    "Why a policy change was refused. 策略变更错误代码。",
    {
        "UNKNOWN_ROLE": "Not a role 未知的角色",
        "UNKNOWN_FIELD": "Not a personal-data field or field group 未知的字段或字段组",
        "UNKNOWN_SCOPE": "Not a row scope 未知的数据范围",
        "UNKNOWN_PURPOSE": "Not a purpose 未知的用途",
        "UNKNOWN_RIGHT": "Not a right 未知的权限",
        "INVALID_ACTION": "Not an action for this object 动作与对象不符",
        "INVALID_EFFECT": "Neither allow nor deny 效果须为 allow 或 deny",
        "DUPLICATE": "The rule exists already 规则已存在",
        "NOT_FOUND": "No such rule 规则不存在",
        "MALFORMED_RULE": "Not a policy line 规则格式错误",
        "INVALID": "The value is malformed 格式不正确",
        "SELF_ASSIGNMENT": "Your own roles are changed by another admin 不得变更本人角色",
        "ROLE_NOT_ALLOWED": "The role may not hold this (third party or staff) 角色不允许",
        "ROLE_NEVER_WRITES": "This role never changes customer data 该角色不得修改客户数据",
    },
)


@strawberry.type(name="PolicyRule", description="A rule of the live access policy. 访问策略规则。")
class PolicyRuleNode:
    kind: PolicyRuleKindEnum  # type: ignore[valid-type]
    role: str | None = strawberry.field(description="For p rules.")
    object: str
    action: str | None
    effect: str | None
    group: str | None = strawberry.field(description="For g2 rules: the field's group.")
    line: str = strawberry.field(description="The rule as written in policy.csv.")

    @classmethod
    def of(cls, row: PolicyRule) -> PolicyRuleNode:
        rule = logic.Rule(row.ptype, row.v0, row.v1, row.v2, row.v3)
        if row.ptype == "g2":
            return cls(
                kind=PolicyRuleKind.FIELD_GROUP,
                role=None,
                object=row.v0,
                action=None,
                effect=None,
                group=row.v1,
                line=rule.line(),
            )
        return cls(
            kind=PolicyRuleKind.PERMISSION,
            role=row.v0,
            object=row.v1,
            action=row.v2,
            effect=row.v3,
            group=None,
            line=rule.line(),
        )


@strawberry.type(name="PolicyVersion", description="One version of the live policy. 策略版本。")
class PolicyVersionNode:
    version: int
    changed_by: str
    summary: str

    @classmethod
    def of(cls, row: PolicyVersion) -> PolicyVersionNode:
        return cls(version=row.version, changed_by=row.changed_by, summary=row.summary)


@strawberry.type(description="A refused policy change. 策略变更错误。")
class PolicyUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: PolicyErrorCode  # type: ignore[valid-type]
    message: str


@strawberry.input(description="Policy kind filter.")
class PolicyRuleKindFilter:
    eq: PolicyRuleKindEnum | None = None  # type: ignore[valid-type]
    in_: list[PolicyRuleKindEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Filters of the policy rules; all given conditions must hold.")
class PolicyRuleWhere:
    kind: PolicyRuleKindFilter | None = None
    role: StringFilter | None = strawberry.field(
        default=None, description="The role of a permission (field groups have none)."
    )
    object: StringFilter | None = strawberry.field(
        default=None, description="A permission's object, or a field group's field."
    )
    group: StringFilter | None = strawberry.field(
        default=None, description="A field group's group (permissions have none)."
    )
    and_: list[PolicyRuleWhere] | None = strawberry.field(name="and", default=None)
    or_: list[PolicyRuleWhere] | None = strawberry.field(name="or", default=None)


_PERMISSION = PolicyRule.ptype == "p"
# The columns as the API shows them: a permission's v0..v3 and a field group's v0, v1 differ.
POLICY_RULE_FILTERS = {
    "kind": FilterField(
        case((_PERMISSION, PolicyRuleKind.PERMISSION.value), else_=PolicyRuleKind.FIELD_GROUP.value)
    ),
    "role": FilterField(case((_PERMISSION, PolicyRule.v0)), "text"),
    "object": FilterField(case((_PERMISSION, PolicyRule.v1), else_=PolicyRule.v0), "text"),
    "group": FilterField(case((_PERMISSION, None), else_=PolicyRule.v1), "text"),
}


@strawberry.type
class PolicyPayload:
    errors: list[PolicyUserError]
    version: int | None = None


@strawberry.input(description="A permission rule: p, role, object, action, effect.")
class PolicyRuleInput:
    role: str
    object: str = strawberry.field(
        description="Type.field, a field group, rows:…, purpose:…, or a right (customer:create)"
    )
    action: str = strawberry.field(description="full | masked | write | read | declare | use")
    effect: str = strawberry.field(description="allow | deny")

    def rule(self) -> logic.Rule:
        return logic.Rule(
            "p", self.role.strip(), self.object.strip(), self.action.strip(), self.effect.strip()
        )


@strawberry.input(description="Give or take a role.")
class RoleAssignmentInput:
    employee_no: str
    role: str


def _change(info: ContextInfo, command: Any) -> PolicyPayload:
    """Run a policy change in one transaction, then apply it in this process at once."""
    staff = info.context.actor
    try:
        version = mutate(info, lambda session: command(session, staff))
    except UserInputError as exc:
        return PolicyPayload(
            errors=user_errors(exc, PolicyUserError, lambda code: PolicyErrorCode[code])
        )
    if info.context.policy_watcher is not None:
        info.context.policy_watcher.check()
    return PolicyPayload(errors=[], version=version)


@strawberry.type
class PolicyQuery:
    @guarded_field(
        "The live policy rules, in the order they were added.",
        HasRight("admin:policy", "admin:audit"),
    )
    def policy_rules(
        self,
        info: ContextInfo,
        where: PolicyRuleWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[PolicyRuleNode]:
        ctx = info.context
        page = logic.rule_page(
            ctx.session,
            compile_where(where, POLICY_RULE_FILTERS),
            page_request(first, after, last, before),
        )
        return Connection.of(page, [PolicyRuleNode.of(row) for row in page.rows])

    @guarded_field(
        "The versions of the live policy, newest first (who changed what).",
        HasRight("admin:policy", "admin:audit"),
    )
    def policy_versions(
        self,
        info: ContextInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[PolicyVersionNode]:
        page = logic.version_page(info.context.session, page_request(first, after, last, before))
        return Connection.of(page, [PolicyVersionNode.of(v) for v in page.rows])


@strawberry.type
class PolicyMutation:
    @guarded_mutation("Add a permission rule (security admins; audited).", HasRight("admin:policy"))
    def add_policy_rule(self, info: ContextInfo, input: PolicyRuleInput) -> PolicyPayload:
        return _change(info, lambda s, staff: logic.add_rule(s, staff, input.rule()))

    @guarded_mutation(
        "Remove a permission rule (security admins; audited).", HasRight("admin:policy")
    )
    def remove_policy_rule(self, info: ContextInfo, input: PolicyRuleInput) -> PolicyPayload:
        return _change(info, lambda s, staff: logic.remove_rule(s, staff, input.rule()))

    @guarded_mutation(
        "Give a staff member a role (security admins; audited).", HasRight("admin:policy")
    )
    def assign_role(self, info: ContextInfo, input: RoleAssignmentInput) -> PolicyPayload:
        return _change(
            info,
            lambda s, staff: logic.set_role(s, staff, input.employee_no, input.role, True),
        )

    @guarded_mutation("Take a role away (security admins; audited).", HasRight("admin:policy"))
    def unassign_role(self, info: ContextInfo, input: RoleAssignmentInput) -> PolicyPayload:
        return _change(
            info,
            lambda s, staff: logic.set_role(s, staff, input.employee_no, input.role, False),
        )


__all__ = ["PolicyMutation", "PolicyQuery"]
