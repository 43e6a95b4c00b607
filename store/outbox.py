"""The outbox of messages to customers (CMP-3): what is to be sent, and what the channel answered.

A message is written in the same unit of work as the step that decides to send it; a sweep of
the worker hands it to the sender of its channel later. Its proof of delivery is what the
channel answered (an SMTP reply, a gateway receipt) or what a member of staff recorded — never
a text the code makes up. The recipient, the body, the answer and the last error may all hold
personal data, so they are sealed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, UTCDateTime


class OutboxStatus(StrEnum):
    # Waiting for its channel (no sender configured yet, or a retry is due later).
    QUEUED = "QUEUED"
    # The channel took it and will answer about delivery later (a gateway's receipt).
    SENT = "SENT"
    # The channel's final answer was yes, or staff recorded how it was delivered.
    DELIVERED = "DELIVERED"
    # Refused by the channel, out of retries, or no address for the channel.
    FAILED = "FAILED"
    # Never sent: the complaint it was about ended first (withdrawn, merged).
    CANCELLED = "CANCELLED"


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_customer", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(Encrypted("outbox_messages.recipient"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Encrypted("outbox_messages.body"))
    status: Mapped[OutboxStatus] = mapped_column(Enum(OutboxStatus, native_enum=False, length=16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Encrypted("outbox_messages.last_error"))
    proof: Mapped[str | None] = mapped_column(Encrypted("outbox_messages.proof"))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when staff recorded the delivery (a handed-over notice, a registered letter).
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
