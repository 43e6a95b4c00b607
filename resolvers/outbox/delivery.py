"""The outbox sweep: hands due messages to their channel's sender, with retries and backoff.

Each message is sent in a unit of work of its own, under a row lock (``FOR UPDATE SKIP LOCKED``
on PostgreSQL), so two workers never send the same message. A temporary failure is retried
after 1, 2, 4, 8 and 16 minutes; after the sixth attempt, or a permanent refusal, the message
is FAILED and the failure listeners (the complaint's timeline) hear of it. A gateway that
reports delivery later (``receipt``) is asked about its SENT messages on every sweep. A message
is sent at least once: should the commit after a successful send fail, it is sent again next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from resolvers.outbox.senders import DeliveryError, Outgoing, Sender
from store.db import take_write_lock
from store.outbox import OutboxMessage, OutboxStatus

log = logging.getLogger("kehu.outbox")

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)

# Called in the failing unit of work when a message ends FAILED (installed by kehu.wiring).
FailureListener = Callable[[Session, OutboxMessage], None]
_failure_listeners: list[FailureListener] = []


def install_failure_listeners(*listeners: FailureListener) -> None:
    """Replace the failure listeners (idempotent, like the other wiring)."""
    _failure_listeners[:] = listeners


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 1, 2, 4, 8, 16 minutes."""
    return FIRST_RETRY * 2 ** (attempts - 1)


@dataclass(frozen=True)
class SweepResult:
    delivered: int
    retrying: int
    failed: int


def deliver_due(
    unit_of_work: Callable[[], AbstractContextManager[Session]],
    now: datetime,
    senders: Mapping[str, Sender],
    limit: int = 1000,
) -> SweepResult:
    """Send every QUEUED message due by ``now`` whose channel has a sender."""
    delivered = retrying = failed = 0
    tried: set[int] = set()
    while senders and delivered + retrying + failed < limit:
        with unit_of_work() as session:
            take_write_lock(session)
            message = _next_due(session, now, senders, tried)
            if message is None:
                break
            tried.add(message.id)
            outcome = _attempt(session, message, senders[message.channel], now)
        if outcome is OutboxStatus.QUEUED:
            retrying += 1
        elif outcome is OutboxStatus.FAILED:
            failed += 1
        else:
            delivered += 1
    receipts, refused = _collect_receipts(unit_of_work, now, senders, limit)
    return SweepResult(delivered + receipts, retrying, failed + refused)


def _collect_receipts(
    unit_of_work: Callable[[], AbstractContextManager[Session]],
    now: datetime,
    senders: Mapping[str, Sender],
    limit: int,
) -> tuple[int, int]:
    """Ask the gateways that report delivery later (``receipt``) about their SENT messages."""
    polling = [channel for channel, sender in senders.items() if hasattr(sender, "receipt")]
    if not polling:
        return 0, 0
    with unit_of_work() as session:
        ids = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == OutboxStatus.SENT,
                    OutboxMessage.channel.in_(polling),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )
    delivered = failed = 0
    for message_id in ids:
        with unit_of_work() as session:
            take_write_lock(session)
            statement = select(OutboxMessage).where(
                OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENT
            )
            if session.get_bind().dialect.name == "postgresql":
                statement = statement.with_for_update(skip_locked=True)
            message = session.scalar(statement)
            if message is None:
                continue
            gateway: Any = senders[message.channel]
            try:
                answer = gateway.receipt(_outgoing(message), message.proof or "")
            except DeliveryError as exc:
                _fail(session, message, str(exc))
                failed += 1
                continue
            if answer is not None and answer.delivered:
                message.status = OutboxStatus.DELIVERED
                message.proof = answer.proof
                message.delivered_at = now
                delivered += 1
    return delivered, failed


def _outgoing(message: OutboxMessage) -> Outgoing:
    return Outgoing(
        id=message.id,
        channel=message.channel,
        recipient=message.recipient or "",
        subject=message.subject,
        body=message.body,
    )


def _fail(session: Session, message: OutboxMessage, error: str) -> None:
    message.status = OutboxStatus.FAILED
    message.next_attempt_at = None
    message.last_error = error
    log.warning("outbox message %s failed: %s", message.id, error)
    for listener in _failure_listeners:
        listener(session, message)


def _next_due(
    session: Session, now: datetime, senders: Mapping[str, Sender], tried: set[int]
) -> OutboxMessage | None:
    statement = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.QUEUED,
            OutboxMessage.channel.in_(list(senders)),
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            OutboxMessage.id.not_in(tried) if tried else OutboxMessage.id.is_not(None),
        )
        .order_by(OutboxMessage.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return session.scalar(statement)


def _attempt(
    session: Session, message: OutboxMessage, sender: Sender, now: datetime
) -> OutboxStatus:
    message.attempts += 1
    message.last_attempt_at = now
    try:
        answer = sender.send(_outgoing(message))
    except DeliveryError as exc:
        message.last_error = str(exc)
        if exc.permanent or message.attempts >= MAX_ATTEMPTS:
            _fail(session, message, str(exc))
        else:
            message.next_attempt_at = now + backoff(message.attempts)
        return message.status
    message.proof = answer.proof
    message.last_error = None
    message.next_attempt_at = None
    if answer.delivered:
        message.status = OutboxStatus.DELIVERED
        message.delivered_at = now
    else:
        message.status = OutboxStatus.SENT
    return message.status
