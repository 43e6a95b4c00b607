"""Reading complaints: one complaint, and pages of them filtered by ``where:`` (CMP-6)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, or_, select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from resolvers.complaints.deadlines import overdue_condition, sla_state_expression
from resolvers.shared.filters import FilterField, compile_where
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.complaints import Complaint, ComplaintAlert, CustomerMessage
from store.outbox import OutboxMessage, OutboxStatus

ORDERINGS = {
    "ACCEPTED_AT": Complaint.accepted_at,
    "DECISION_DUE_AT": Complaint.decision_due_at,
}


def filter_fields(now: datetime) -> dict[str, FilterField]:
    """The filterable fields of complaints; ``overdue`` and ``sla_state`` as seen at ``now``."""
    return {
        "status": FilterField(Complaint.status),
        "sla_state": FilterField(sla_state_expression(now)),
        "category": FilterField(Complaint.category),
        "channel": FilterField(Complaint.channel),
        "customer": FilterField(Complaint.customer_id, "id", id_type="Customer"),
        "branch": FilterField(Complaint.branch_id, "id", id_type="Branch"),
        "overdue": FilterField(case((overdue_condition(now), True), else_=False)),
        "delivery_failed": FilterField(case((delivery_failed_condition(), True), else_=False)),
        "accepted_at": FilterField(Complaint.accepted_at),
        "decision_due_at": FilterField(Complaint.decision_due_at),
        "major": FilterField(Complaint.major),
        "regulator_referred": FilterField(
            case((Complaint.regulator_reference.is_not(None), True), else_=False)
        ),
    }


def regulatory_condition() -> ColumnElement[bool]:
    """What the regulatory report lists (CMP-7): major complaints and regulators' referrals."""
    return or_(Complaint.major.is_(True), Complaint.regulator_reference.is_not(None))


ALERT_FILTERS = {
    "acknowledged": FilterField(
        case((ComplaintAlert.acknowledged_at.is_not(None), True), else_=False)
    ),
}


def alert_page(session: Session, where: Any, request: PageRequest) -> Page:
    """Head office's alerts (major complaints), oldest first (``where``: acknowledged or not)."""
    statement: Select[Any] = select(ComplaintAlert).where(compile_where(where, ALERT_FILTERS))
    keys = [SortKey(ComplaintAlert.id, False, int)]
    return paginate(session, statement, keys, request, lambda a: [a.id])


def complaints_by_id(
    session: Session, ids: Sequence[int], visible: ColumnElement[bool]
) -> dict[int, Complaint]:
    """The complaints of ``ids`` the caller sees (``visible``), in one statement."""
    rows = session.scalars(select(Complaint).where(Complaint.id.in_(list(ids)), visible))
    return {row.id: row for row in rows}


def delivery_failed_condition() -> ColumnElement[bool]:
    """A message of the complaint is FAILED in the outbox."""
    return (
        select(CustomerMessage.id)
        .join(OutboxMessage, OutboxMessage.id == CustomerMessage.outbox_id)
        .where(
            CustomerMessage.complaint_id == Complaint.id,
            OutboxMessage.status == OutboxStatus.FAILED,
        )
        .exists()
    )


def condition(where: Any, now: datetime) -> ColumnElement[bool]:
    """The SQL condition of a complaints ``where:`` input."""
    return compile_where(where, filter_fields(now))  # type: ignore[no-any-return]


def get(session: Session, complaint_id: int, visible: ColumnElement[bool]) -> Complaint:
    complaint = session.scalar(select(Complaint).where(Complaint.id == complaint_id, visible))
    if complaint is None:
        raise NotFoundError("no complaint with this ID")
    return complaint


def find(session: Session, complaint_id: int, visible: ColumnElement[bool]) -> Complaint | None:
    """The complaint when the caller sees it (None when missing or invisible alike)."""
    return session.scalar(select(Complaint).where(Complaint.id == complaint_id, visible))


def page(
    session: Session,
    visible: ColumnElement[bool],
    where: ColumnElement[bool],
    order_by: str,
    descending: bool,
    request: PageRequest,
) -> Page:
    column = ORDERINGS[order_by]
    keys = [SortKey(column, descending, datetime), SortKey(Complaint.id, descending, int)]
    statement: Select[Any] = select(Complaint).where(visible, where)
    return paginate(session, statement, keys, request, lambda c: [getattr(c, column.key), c.id])
