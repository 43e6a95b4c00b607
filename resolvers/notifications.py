"""Change notifications (INFO-6): the outbox written with every change, read as pages or by
subscriptions, marked read by their recipient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from authz.grants import grant_holders
from core import clock
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.customers import Customer, CustomerWatcher, InformationKind, Notification
from store.staff import Staff


def notify_change(
    session: Session, actor: Staff, customer: Customer, kind: InformationKind, fields: list[str]
) -> None:
    """Outbox rows for the relationship manager, the watchers and the departments holding a
    share grant of the customer (INFO-6) — never for the actor themself."""
    recipients = set(
        session.scalars(
            select(CustomerWatcher.staff_id).where(CustomerWatcher.customer_id == customer.id)
        )
    )
    if customer.relationship_manager_id is not None:
        recipients.add(customer.relationship_manager_id)
    recipients |= grant_holders(session, customer.id, customer.branch_id)
    recipients.discard(actor.id)
    if not recipients:
        return
    summary = f"{kind.value.lower()} information changed: {', '.join(fields)}"
    now = clock.now()
    session.execute(
        insert(Notification),
        [
            {
                "recipient_id": staff_id,
                "customer_id": customer.id,
                "customer_version": customer.version,
                "information_kind": kind,
                "fields": fields,
                "summary": summary,
                "created_at": now,
                "read_at": None,
            }
            for staff_id in sorted(recipients)
        ],
    )


def mark_notifications_read(session: Session, actor: Staff, ids: Iterable[int]) -> int:
    """Mark the actor's own notifications read; returns how many changed."""
    rows = session.scalars(
        select(Notification).where(
            Notification.id.in_(list(ids)),
            Notification.recipient_id == actor.id,
            Notification.read_at.is_(None),
        )
    ).all()
    for row in rows:
        row.read_at = clock.now()
    return len(rows)


def notification_page(
    session: Session, recipient: Staff, condition: Any, request: PageRequest
) -> Page:
    """The recipient's own notifications matching ``condition``, newest first."""
    keys = [SortKey(Notification.id, True, int)]
    statement = select(Notification).where(Notification.recipient_id == recipient.id, condition)
    return paginate(session, statement, keys, request, lambda n: [n.id])


def notifications_after(session: Session, recipient_id: int, after_id: int) -> list[Notification]:
    """New notifications for a subscription (oldest first)."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.recipient_id == recipient_id, Notification.id > after_id)
            .order_by(Notification.id)
            .limit(100)
        )
    )


def latest_notification_id(session: Session, recipient_id: int) -> int:
    return int(
        session.scalar(
            select(func.max(Notification.id)).where(Notification.recipient_id == recipient_id)
        )
        or 0
    )


def own_notification(
    session: Session, recipient_id: int, notification_id: int
) -> Notification | None:
    """A notification of ``recipient_id`` by primary key; another recipient's is None."""
    return session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.recipient_id == recipient_id
        )
    )
