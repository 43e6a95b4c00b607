"""Care (REL-4) as GraphQL: a customer's care occasions — birthdays, festivals, call-backs —
with the offer given and where the greeting is on its way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.complaints.enums import CustomerMessageChannel, OutboxStatusEnum
from schema.segments.enums import ValueTierEnum
from schema.shared.base import ContextInfo
from store.care import CareOccasion
from store.complaints import CustomerMessageChannel as Channel
from store.outbox import OutboxMessage
from store.segments import ValueTier

# How many of a customer's care occasions the field answers (the newest).
RECENT = 50


@strawberry.type(
    name="CareOccasion",
    description="One care of a customer on one occasion (REL-4): a care task of the "
    "relationship manager and, for greetings, the message queued in the outbox. 客户关怀。",
)
class CareOccasionType:
    occasion: str = strawberry.field(
        description="BIRTHDAY, CALL_BACK, or a festival's code of care.toml (SPRING_FESTIVAL, "
        "MID_AUTUMN, NATIONAL_DAY …). 关怀事由。"
    )
    occasion_on: dt.date = strawberry.field(description="The Beijing date. 关怀日期。")
    tier: ValueTierEnum  # type: ignore[valid-type]
    offer: str | None = strawberry.field(
        description="The tier's birthday offer or gift given (null: none, or the customer "
        "opted out of marketing). 生日礼遇。"
    )
    channel: CustomerMessageChannel | None = strawberry.field(  # type: ignore[valid-type]
        description="How the greeting goes (null: no message — a call-back, or the customer "
        "prefers a call or a visit)."
    )
    delivery_status: OutboxStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Where the greeting is on its way (null: no message)."
    )
    send_at: dt.datetime | None = strawberry.field(
        description="When the greeting is (or was last) due to be sent: the customer's "
        "preferred time of that day."
    )


def care_of(session: Session, customer_ids: Sequence[int]) -> dict[int, list[CareOccasionType]]:
    """The newest care occasions of these customers, one statement."""
    found: dict[int, list[CareOccasionType]] = {pk: [] for pk in customer_ids}
    rows = session.execute(
        select(
            CareOccasion.customer_id,
            CareOccasion.occasion,
            CareOccasion.occasion_on,
            CareOccasion.tier,
            CareOccasion.offer,
            CareOccasion.channel,
            OutboxMessage.status,
            OutboxMessage.next_attempt_at,
        )
        .outerjoin(OutboxMessage, OutboxMessage.id == CareOccasion.message_id)
        .where(CareOccasion.customer_id.in_(list(customer_ids)))
        .order_by(CareOccasion.customer_id, CareOccasion.occasion_on.desc(), CareOccasion.id)
    )
    for row in rows:
        items = found[row.customer_id]
        if len(items) < RECENT:
            items.append(
                CareOccasionType(
                    occasion=row.occasion,
                    occasion_on=row.occasion_on,
                    tier=ValueTier(row.tier),
                    offer=row.offer,
                    channel=Channel(row.channel) if row.channel else None,
                    delivery_status=row.status,
                    send_at=row.next_attempt_at,
                )
            )
    return found


def customer_care(info: ContextInfo, customer_id: int) -> list[CareOccasionType]:
    """``Customer.care``: every customer of the answer's at once."""
    return info.context.batched("customer_care", customer_id, care_of) or []
