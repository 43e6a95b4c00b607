"""Queueing a message to a customer, and recording a delivery staff made themselves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from store.customers import ContactMethod, Customer, Preferences
from store.outbox import OutboxMessage, OutboxStatus
from store.staff import Staff

# Channels whose message staff deliver themselves (a call, a handed-over notice): their proof
# is what the member of staff records, never a sender's answer.
STAFF_CHANNELS = frozenset({"PHONE", "IN_PERSON"})


def recipient_of(customer: Customer, channel: str) -> str | None:
    """The customer's address on ``channel`` (None: the customer has none there)."""
    if channel == "EMAIL":
        return customer.email
    if channel in {"SMS", "WECHAT", "PHONE"}:
        return customer.phone
    if channel == "LETTER":
        return customer.address
    if channel in {"MOBILE_APP", "IN_PERSON"}:
        # The app's inbox and the counter find the customer by their record.
        return f"customer:{customer.id}"
    return None


# The channel of a message to a customer by their preferred contact method: a call or a visit
# is made by their manager, who records the delivery (staff channels). None recorded: SMS, the
# bank's default (as for care greetings).
PREFERRED_CHANNELS = {
    ContactMethod.SMS: "SMS",
    ContactMethod.EMAIL: "EMAIL",
    ContactMethod.WECHAT: "WECHAT",
    ContactMethod.PHONE: "PHONE",
    ContactMethod.VISIT: "IN_PERSON",
    None: "SMS",
}


def queue_preferred(
    session: Session,
    customer: Customer,
    preferences: Preferences | None,
    subject: str,
    body: str,
) -> OutboxMessage:
    """Queue a message over the customer's preferred contact method (see ``queue``)."""
    method = preferences.contact_method if preferences else None
    return queue(session, customer, PREFERRED_CHANNELS[method], subject, body)


def queue(
    session: Session, customer: Customer, channel: str, subject: str, body: str
) -> OutboxMessage:
    """Put a message in the outbox; the worker's sweep sends it when its channel has a sender.

    Without an address on the channel the message is FAILED at once, so the failure shows
    instead of a message that waits forever.
    """
    now = clock.now()
    recipient = recipient_of(customer, channel)
    message = OutboxMessage(
        customer_id=customer.id,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        status=OutboxStatus.QUEUED if recipient else OutboxStatus.FAILED,
        attempts=0,
        next_attempt_at=now if recipient else None,
        last_error=None if recipient else "no address of the customer on this channel",
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


# The channels with a gateway plugged in (kehu.wiring.GATEWAYS, installed by wire(): the live
# mapping, so a gateway listed later counts too). E-mail has its sender when SMTP is set.
_gateways: list[Mapping[str, object]] = [{}]


def install_gateways(gateways: Mapping[str, object]) -> None:
    _gateways[0] = gateways


def automatic_channels(smtp_configured: bool) -> frozenset[str]:
    """The channels an automatic sender delivers on (its answer is the proof)."""
    return frozenset(_gateways[0]) | ({"EMAIL"} if smtp_configured else frozenset())


def owned_by_sender(message: OutboxMessage, automatic: frozenset[str]) -> bool:
    """Whether an automatic sender still owns the message — it waits for it, is retrying it or
    waits for its receipt — so that staff may not record a delivery of their own: only the
    channel's answer proves it. A message that failed for good is no sender's any more (staff
    may deliver it another way and record that); one on a channel without a sender waits for
    a person's record (a letter, an SMS without a gateway)."""
    if message.status is OutboxStatus.SENT:
        return True
    return message.status is OutboxStatus.QUEUED and (
        message.channel in automatic or message.attempts > 0
    )


def record_delivery(message: OutboxMessage, proof: str, actor: Staff | None) -> None:
    """Staff delivered the message themselves: their record is the proof."""
    message.status = OutboxStatus.DELIVERED
    message.proof = proof
    message.recorded_by_id = actor.id if actor else None
    message.delivered_at = clock.now()
    message.next_attempt_at = None


def cancel_queued(session: Session, ids: Iterable[int | None]) -> None:
    """Messages still waiting for their channel are not sent after all (what they said no
    longer holds): CANCELLED, so the sweep passes them by and nothing pretends they arrived."""
    waiting = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == OutboxStatus.QUEUED)
        .with_for_update()
    )
    for message in waiting:
        message.status = OutboxStatus.CANCELLED
        message.next_attempt_at = None
