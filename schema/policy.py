"""Policy administration for security admins (PLAT-3): rules, role assignments, versions."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import select

from core.errors import UserInputError
from resolvers import policy as logic
from resolvers.shared.pagination import PageRequest
from schema.shared.base import ContextInfo, user_errors
from schema.shared.mutations import mutate
from schema.shared.rights import HasRight
from schema.shared.rights import field as guarded_field
from schema.shared.rights import mutation as guarded_mutation
from store.policy import PolicyRule, PolicyVersion


@strawberry.type(name="PolicyRule", description="A rule of the live access policy. 访问策略规则。")
class PolicyRuleNode:
    kind: str = strawberry.field(description="p (permission) or g2 (field group).")
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
                kind="g2",
                role=None,
                object=row.v0,
                action=None,
                effect=None,
                group=row.v1,
                line=rule.line(),
            )
        return cls(
            kind="p",
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


@strawberry.type(description="A refused policy change. 策略变更错误。")
class PolicyUserError:
    field: list[str] | None
    code: str = strawberry.field(
        description="UNKNOWN_ROLE, UNKNOWN_FIELD, UNKNOWN_SCOPE, UNKNOWN_PURPOSE, UNKNOWN_RIGHT, "
        "INVALID_ACTION, INVALID_EFFECT, DUPLICATE, NOT_FOUND, MALFORMED_RULE, INVALID, "
        "SELF_ASSIGNMENT, ROLE_NOT_ALLOWED, ROLE_NEVER_WRITES"
    )
    message: str


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
        return PolicyPayload(errors=user_errors(exc, PolicyUserError))
    if info.context.policy_watcher is not None:
        info.context.policy_watcher.check()
    return PolicyPayload(errors=[], version=version)


@strawberry.type
class PolicyQuery:
    @guarded_field("The live policy rules.", HasRight("admin:policy", "admin:audit"))
    def policy_rules(self, info: ContextInfo, role: str | None = None) -> list[PolicyRuleNode]:
        ctx = info.context
        statement = select(PolicyRule).order_by(PolicyRule.id)
        if role is not None:
            statement = statement.where(PolicyRule.ptype == "p", PolicyRule.v0 == role)
        return [PolicyRuleNode.of(row) for row in ctx.session.scalars(statement)]

    @guarded_field(
        "The newest `last` (0…100) versions of the live policy, newest first (who changed what).",
        HasRight("admin:policy", "admin:audit"),
    )
    def policy_versions(self, info: ContextInfo, last: int = 20) -> list[PolicyVersionNode]:
        size = PageRequest(last=last).validated().last  # 0…100, like every list's page size
        rows = info.context.session.scalars(
            select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(size)
        )
        return [
            PolicyVersionNode(version=r.version, changed_by=r.changed_by, summary=r.summary)
            for r in rows
        ]


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
