"""Staff and branches as GraphQL types, and ``me``."""

from __future__ import annotations

import strawberry

from schema.shared.base import ContextInfo, Node, NodeLoader, bilingual_enum, node_id
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


@strawberry.type
class StaffQuery:
    @guarded_field("The signed-in staff member. 当前登录员工。", Authenticated())
    def me(self, info: ContextInfo) -> StaffNode:
        return StaffNode.of(info.context.actor)


def _load_staff(info: ContextInfo, pk: int) -> StaffNode | None:
    ctx = info.context
    if ctx.actor.third_party_id is not None and pk != ctx.actor.id:
        return None  # a third party sees no staff directory, only its own principal
    staff = ctx.session.get(Staff, pk)
    return StaffNode.of(staff) if staff else None


def _load_branch(info: ContextInfo, pk: int) -> BranchNode | None:
    branch = info.context.session.get(Branch, pk)
    return BranchNode.of(branch) if branch else None


NODE_LOADERS: dict[str, NodeLoader] = {"Staff": _load_staff, "Branch": _load_branch}
