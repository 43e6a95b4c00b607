"""The append-only audit log (SHARE-4) and the head of its hash chain.

Each entry's ``hash`` is an HMAC over the previous entry's hash and the entry's canonical
content (``store.audit_chain``), so changing, deleting or reordering a row breaks the chain
(``kehu audit verify``). ``audit_head`` holds the last id and hash; updating it first serialises
writers on every backend. Removing entries at the end and rewinding the head is caught by the
signed checkpoints outside the database. Both entry tables are append-only: triggers refuse
UPDATE (but of a re-encrypted ``detail``), DELETE and TRUNCATE (migration 0007).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, UTCDateTime

GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_actor", "actor_id", "id"),
        Index("ix_audit_log_at", "at"),
    )

    # Assigned from audit_head, not by the database: ids are the chain's order, without gaps.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None]
    actor: Mapped[str] = mapped_column(String(32))  # employee number
    roles: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(16))  # READ | CHANGE
    operation: Mapped[str] = mapped_column(String(100))
    customer_ids: Mapped[list[int]] = mapped_column(JSON)
    # {"Customer.idNumber": "MASKED", …}: every personal field revealed, with its effect.
    fields: Mapped[dict[str, str]] = mapped_column(JSON)
    # Share grants (and, later, consents) the entry's access went through, e.g. ["grant:12"].
    via: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Before/after of a change, sealed like the live personal values.
    detail: Mapped[str | None] = mapped_column(Encrypted("audit_log.detail"))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The audit key (KEHU_AUDIT_KEYS) the hash was made with.
    key_id: Mapped[str] = mapped_column(String(16))


class AuditCustomer(Base):
    """Which customers an entry concerns, so auditors can search by customer on any backend."""

    __tablename__ = "audit_customers"
    __table_args__ = (Index("ix_audit_customers_customer", "customer_id", "entry_id"),)

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))
