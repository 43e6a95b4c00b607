"""Staff and branches as GraphQL types, and ``me``.

Every Staff-typed field is presented through :func:`staff_field` or :func:`required_staff_field`:
a third party sees no staff member but its own principal (no names, employee numbers, roles or
branches of the bank's people). A nullable field answers ``null`` with a ``FIELD_FORBIDDEN``
error per path, like a withheld personal field; a non-null one (``Verification.verifiedBy``)
cannot be null, so it is refused with that error and GraphQL nulls its nearest nullable parent.
No placeholder staff member is invented (``Staff`` has only non-null fields, down to a branch).
"""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import GraphQLError

from schema.shared.base import ContextInfo, Node, NodeLoader, bilingual_enum, node_id
from schema.shared.context import Context
from schema.shared.rights import Authenticated
from schema.shared.rights import field as guarded_field
from store.staff import Branch, Role, Staff

RoleEnum = bilingual_enum(
    Role,
    "A staff role. 员工角色。",
    {
        "RELATIONSHIP_MANAGER": "Relationship manager 客户经理",
        "BRANCH_SUPERVISOR": "Branch supervisor 网点主管",
        "COMPLAINT_HANDLER": "Complaint handler 投诉处理员",
        "RISK_OFFICER": "Risk officer 风险管理人员",
        "MARKETING_ANALYST": "Marketing analyst 营销分析员",
        "AUDITOR": "Auditor 审计人员",
        "SECURITY_ADMIN": "Security administrator 安全管理员",
        "PROCESS_OWNER": "Process owner 流程负责人",
        "HEAD_OFFICE": "Head office 总行",
        "THIRD_PARTY": "Third-party organisation (consented data only) 第三方机构",
    },
)


@strawberry.type(name="Branch", description="A branch of the bank. 分支机构。")
class BranchNode(Node):
    _pk: strawberry.Private[int]
    code: str
    name: str
    city: str

    @classmethod
    def of(cls, row: Branch) -> BranchNode:
        return cls.of_parts(row.id, row.code, row.name, row.city)

    @classmethod
    def of_parts(cls, pk: int, code: str, name: str, city: str) -> BranchNode:
        return cls(id=node_id("Branch", pk), _pk=pk, code=code, name=name, city=city)


@strawberry.type(name="Staff", description="A member of staff. 员工。")
class StaffNode(Node):
    _pk: strawberry.Private[int]
    employee_no: str
    name: str
    roles: list[RoleEnum]  # type: ignore[valid-type]
    branch: BranchNode
    active: bool

    @classmethod
    def of(cls, row: Staff) -> StaffNode:
        return cls.of_parts(
            row.id, row.employee_no, row.name, row.roles, row.active, BranchNode.of(row.branch)
        )

    @classmethod
    def of_parts(
        cls,
        pk: int,
        employee_no: str,
        name: str,
        roles: list[str],
        active: bool,
        branch: BranchNode,
    ) -> StaffNode:
        return cls(
            id=node_id("Staff", pk),
            _pk=pk,
            employee_no=employee_no,
            name=name,
            roles=[Role(r) for r in roles],
            branch=branch,
            active=active,
        )


def staff_withheld(ctx: Context, pk: int) -> bool:
    """Whether staff member ``pk`` is hidden from the caller: a third party sees only itself."""
    return ctx.actor.third_party_id is not None and pk != ctx.actor.id


def staff_field(
    ctx: Context,
    type_name: str,
    field: str,
    pk: int | None,
    make: Callable[[], StaffNode | None],
) -> StaffNode | None:
    """A nullable Staff field ``type_name.field`` naming staff member ``pk`` (None: nobody):
    ``make()``, or null with ``FIELD_FORBIDDEN`` (reported by schema.access.AccessReport on
    every selected path of the field) when the caller may not see that staff member."""
    if pk is None:
        return None
    if staff_withheld(ctx, pk):
        ctx.access.withhold(type_name, field)
        return None
    return make()


def staff_number_field(
    ctx: Context, type_name: str, field: str, employee_no: str | None
) -> str | None:
    """A field naming a staff member by employee number (``ComplaintEventNode.actor``), withheld
    from a third party like a Staff field (null + FIELD_FORBIDDEN) unless it names itself."""
    if employee_no is None:
        return None
    if ctx.actor.third_party_id is not None and employee_no != ctx.actor.employee_no:
        ctx.access.withhold(type_name, field)
        return None
    return employee_no


def required_staff_field(
    ctx: Context, type_name: str, field: str, pk: int, make: Callable[[], StaffNode]
) -> StaffNode:
    """A non-null Staff field: ``make()``, or a ``FIELD_FORBIDDEN`` error for a caller who may
    not see staff member ``pk`` (resolve it in the field's own resolver, so the error carries
    its path and only a selection of the field is refused)."""
    if staff_withheld(ctx, pk):
        raise GraphQLError(
            f"You may not read {type_name}.{field}; a third party sees no other staff member.",
            extensions={"code": "FIELD_FORBIDDEN", "type": type_name, "field": field},
        )
    return make()


@strawberry.type
class StaffQuery:
    @guarded_field("The signed-in staff member. 当前登录员工。", Authenticated())
    def me(self, info: ContextInfo) -> StaffNode:
        return StaffNode.of(info.context.actor)


def _load_staff(info: ContextInfo, pk: int) -> StaffNode | None:
    ctx = info.context
    if staff_withheld(ctx, pk):
        return None  # a third party sees no staff directory, only its own principal
    staff = ctx.session.get(Staff, pk)
    return StaffNode.of(staff) if staff else None


def _load_branch(info: ContextInfo, pk: int) -> BranchNode | None:
    branch = info.context.session.get(Branch, pk)
    return BranchNode.of(branch) if branch else None


NODE_LOADERS: dict[str, NodeLoader] = {"Staff": _load_staff, "Branch": _load_branch}
