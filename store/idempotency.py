"""Idempotency keys of creating mutations: a retry with the same key answers with the first
result instead of creating it again (one table for every mutation; ``submitComplaint`` keeps
the key on the complaint itself, as before)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import clock
from store.base import Base, UTCDateTime

# The refusal of a key reused for another request (every creating mutation says the same).
KEY_REUSED = "this idempotency key was used for a different request; use a new key"


class IdempotencyKey(Base):
    """One key of one caller for one mutation, and what the mutation created with it."""

    __tablename__ = "idempotency_keys"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    # The mutation's field name (``createCustomer``).
    operation: Mapped[str] = mapped_column(String(64), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    # A digest of the request's input: a key reused for a different request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # What was created (IDs), as the mutation needs it to answer again.
    result: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


def find(session: Session, staff_id: int, operation: str, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.staff_id == staff_id,
            IdempotencyKey.operation == operation,
            IdempotencyKey.idempotency_key == key,
        )
    )


def remember(
    session: Session, staff_id: int, operation: str, key: str, fingerprint: str, result: Any
) -> None:
    session.add(
        IdempotencyKey(
            staff_id=staff_id,
            operation=operation,
            idempotency_key=key,
            fingerprint=fingerprint,
            result=result,
        )
    )
    session.flush()
