"""What the customer is told of a decision, and who reviews it (CMP-3, CMP-4).

The decision notice is written here, not by the handler, so it always holds the facts, basis,
reasons and outcome in Chinese and the customer's further remedies. The review belongs to the
superior unit of the handling branch, and its window counts from the notice's delivery.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from resolvers.complaints import labels
from resolvers.complaints.deadlines import REVIEW_REQUEST_DAYS, last_day
from store.staff import Branch, Role, Staff

# Beyond the bank's own review, what the customer may always do (told in every decision).
FURTHER_REMEDIES = (
    "您也可以向依法设立的调解组织申请调解，依据仲裁协议申请仲裁，或者依法向人民法院提起诉讼。"
)


def overdue_apology(due: datetime) -> str:
    """What the customer is told of a decision deadline that has passed undecided: the last
    day it allowed and an apology — never "we will decide by" a day in the past."""
    return (
        f"处理期限已于 {last_day(due):%Y-%m-%d} 届满，我行深表歉意，已督办加快处理，"
        "将尽快告知处理决定。"
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


def superior_branch(session: Session, branch_id: int) -> int | None:
    """The unit above a branch: its parent, else head office (None: the branch is head office).

    One rule for every "superior unit" of the complaint rules: who reviews a decision, who
    handles a complaint about the branch itself.
    """
    branch = session.get(Branch, branch_id)
    if branch is not None and branch.parent_id is not None:
        return branch.parent_id
    head_office = head_office_id(session)
    return head_office if head_office != branch_id else None


def superior_unit(session: Session, branch_id: int) -> tuple[int | None, str]:
    """Who reviews a decision of ``branch_id`` (CMP-4): the superior branch (id, name); head
    office (None, "总行") when that is head office, whose review is head office's role lane."""
    superior = superior_branch(session, branch_id)
    if superior is None or superior == head_office_id(session):
        return None, labels.HEAD_OFFICE
    branch = session.get_one(Branch, superior)
    return branch.id, branch.name


def head_office_id(session: Session) -> int | None:
    """Head office is the branch whose staff hold the head-office role.

    Roles are a list per staff row (no portable SQL filter), so the staff are read once per
    session: routing a task and naming the reviewer ask for it several times in one request.
    """
    if "head_office_id" not in session.info:
        holders = session.execute(select(Staff.branch_id, Staff.roles).order_by(Staff.branch_id))
        session.info["head_office_id"] = next(
            (branch for branch, roles in holders if Role.HEAD_OFFICE in roles), None
        )
    found: int | None = session.info["head_office_id"]
    return found
