"""What the customer is told of a decision, and who reviews it (CMP-3, CMP-4).

The decision notice is written here, not by the handler, so it always holds the facts, basis,
reasons and outcome in Chinese and the customer's further remedies. The review belongs to the
superior unit of the handling branch, and its window counts from the notice's delivery.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from resolvers.complaints import labels
from resolvers.complaints.deadlines import REVIEW_REQUEST_DAYS
from store.staff import Branch, Role, Staff

# Beyond the bank's own review, what the customer may always do (told in every decision).
FURTHER_REMEDIES = (
    "您也可以向依法设立的调解组织申请调解，依据仲裁协议申请仲裁，或者依法向人民法院提起诉讼。"
)


def decision_notice(
    reference: str, *, facts: str, basis: str, reasons: str, outcome: str, note: str, reviewer: str
) -> str:
    """The decision notice (CMP-3): facts, basis, reasons, outcome — and always the customer's
    further remedies, written here rather than left to the handler."""
    lines = [
        f"投诉处理决定书（编号 {reference}）",
        f"一、核实情况：{facts}",
        f"二、处理依据：{basis}",
        f"三、处理理由：{reasons}",
        f"四、处理结果：{outcome}。",
    ]
    if note:
        lines.append(f"五、补充说明：{note}")
    lines.append(
        f"救济途径：如您对本处理决定有异议，可以自收到本决定之日起{REVIEW_REQUEST_DAYS}日内"
        f"向{reviewer}申请复核；{FURTHER_REMEDIES}"
    )
    return "\n".join(lines)


def of_unit(actor: Staff | None, branch_id: int | None) -> bool:
    """Whether ``actor`` acts for the unit: head office (``None``), or a branch's supervisor."""
    if actor is None:
        return False
    if branch_id is None:
        return Role.HEAD_OFFICE in actor.roles
    return actor.branch_id == branch_id and Role.BRANCH_SUPERVISOR in actor.roles


def superior_unit(session: Session, branch_id: int) -> tuple[int | None, str]:
    """Who reviews a decision of ``branch_id`` (CMP-4): its parent branch (id, name); head
    office (None, "总行") for a branch without one, or whose parent is head office itself."""
    branch = session.get(Branch, branch_id)
    parent = session.get(Branch, branch.parent_id) if branch and branch.parent_id else None
    if parent is None or _is_head_office(session, parent.id):
        return None, labels.HEAD_OFFICE
    return parent.id, parent.name


def _is_head_office(session: Session, branch_id: int) -> bool:
    """Head office is the branch whose staff hold the head-office role."""
    roles = session.scalars(select(Staff.roles).where(Staff.branch_id == branch_id))
    return any(Role.HEAD_OFFICE in held for held in roles)
