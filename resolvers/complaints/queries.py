"""Reading complaints: one complaint, and pages of them filtered by ``where:`` (CMP-6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from resolvers.complaints.deadlines import overdue_condition, sla_state_expression
from resolvers.shared.filters import FilterField, compile_where
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.complaints import Complaint, CustomerMessage
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
    }


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
