"""Care reads (REL-4): the care tasks of many customers — a manager's or a branch's — as a
list, one statement per page.

Row access is the customers list's: a care task is seen exactly when its customer is.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.care import CareOccasion
from store.customers import Customer
from store.outbox import OutboxMessage

# Oldest day first (a manager works through the days in order), then in the order created.
TASK_KEYS = [SortKey(CareOccasion.occasion_on, False, date), SortKey(CareOccasion.id, False, int)]


def care_with_delivery() -> Any:
    """Care rows with their greeting's delivery (status and send time; null: no message)."""
    return select(
        CareOccasion.id,
        CareOccasion.customer_id,
        CareOccasion.occasion,
        CareOccasion.occasion_on,
        CareOccasion.tier,
        CareOccasion.offer,
        CareOccasion.channel,
        CareOccasion.relationship_manager_id,
        OutboxMessage.status,
        OutboxMessage.next_attempt_at,
    ).outerjoin(OutboxMessage, OutboxMessage.id == CareOccasion.message_id)


def care_task_page(
    session: Session,
    visible: ColumnElement[bool],
    condition: ColumnElement[bool],
    request: PageRequest,
) -> Page:
    """One page of the care tasks of the customers the caller sees, with their greeting's
    delivery (one statement, whatever the page size)."""
    statement = (
        care_with_delivery()
        .join(Customer, Customer.id == CareOccasion.customer_id)
        .where(visible, condition)
    )
    return paginate(session, statement, TASK_KEYS, request, lambda r: [r.occasion_on, r.id])
