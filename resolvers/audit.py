"""Writing, verifying and reading the audit log (SHARE-4).

``append`` chains entries onto ``audit_head`` in the caller's transaction: the head is updated
first (``UPDATE … RETURNING``), which takes the row lock on PostgreSQL and the write lock on
SQLite, so concurrent writers queue up and the chain has no forks or gaps. The hash covers the
entry's content with the decrypted detail, so re-encrypting during key rotation keeps it valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, String, insert, select, type_coerce, update

from kehu import clock
from resolvers.pagination import Page, PageRequest, SortKey, paginate
from store import crypto
from store.audit import GENESIS_HASH, AuditCustomer, AuditEntry, AuditHead
from store.base import for_row
from store.crypto import DecryptionError

CHAINED = (
    "id",
    "at",
    "actor_id",
    "actor",
    "roles",
    "purpose",
    "action",
    "operation",
    "customer_ids",
    "fields",
    "detail",
)
VERIFY_BATCH = 2000


def _content(entry: dict[str, Any]) -> bytes:
    values = {key: entry[key] for key in CHAINED}
    if entry.get("via"):
        # Only hashed when present, so entries written before grants existed still verify.
        values["via"] = entry["via"]
    at: datetime = values["at"]
    values["at"] = at.isoformat(timespec="microseconds")
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + _content(entry)).hexdigest()


def append(connection: Connection, entries: Sequence[dict[str, Any]]) -> None:
    """Chain and insert entries (dicts of the ``CHAINED`` fields except ``id``)."""
    if not entries:
        return
    head = connection.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_id=AuditHead.last_id + len(entries))
        .returning(AuditHead.last_id, AuditHead.last_hash)
    ).one()
    next_id = head.last_id - len(entries) + 1
    previous = head.last_hash
    rows = []
    for offset, entry in enumerate(entries):
        row = {**entry, "id": next_id + offset, "prev_hash": previous}
        row["hash"] = previous = chain_hash(previous, row)
        row["detail"] = for_row(row.get("detail"), row["id"])  # sealed with the entry's id
        rows.append(row)
    connection.execute(insert(AuditEntry), rows)
    concerned = [
        {"entry_id": row["id"], "customer_id": customer_id}
        for row in rows
        for customer_id in sorted(set(row["customer_ids"]))
    ]
    if concerned:
        connection.execute(insert(AuditCustomer), concerned)
    connection.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=previous))


def open_detail(token: str | None, entry_id: int) -> str | None:
    return None if token is None else crypto.cipher().open(token, "audit_log", "detail", entry_id)


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    problem: str | None = None


def verify(connection: Connection) -> Verification:
    """Recompute the chain; the first changed, missing or reordered entry is reported."""
    head = connection.execute(select(AuditHead.last_id, AuditHead.last_hash)).one()
    previous, expected_id, checked = GENESIS_HASH, 1, 0
    table = AuditEntry.__table__
    # The sealed detail as stored, opened entry by entry: one moved detail names its entry.
    stored = [c for c in table.c if c.name != "detail"] + [
        type_coerce(table.c.detail, String).label("detail")
    ]
    while True:
        rows = connection.execute(
            select(*stored)
            .where(table.c.id >= expected_id)
            .order_by(table.c.id)
            .limit(VERIFY_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            entry = dict(row._mapping)
            if entry["id"] != expected_id:
                return Verification(False, checked, f"entry {expected_id} is missing")
            if entry["prev_hash"] != previous:
                return Verification(False, checked, f"entry {expected_id} is out of order")
            try:
                entry["detail"] = open_detail(entry["detail"], entry["id"])
            except DecryptionError:
                return Verification(False, checked, f"entry {expected_id} was changed")
            if chain_hash(previous, entry) != entry["hash"]:
                return Verification(False, checked, f"entry {expected_id} was changed")
            previous = entry["hash"]
            expected_id += 1
            checked += 1
    if checked != head.last_id or previous != head.last_hash:
        return Verification(
            False, checked, f"the log ends at entry {checked} but the head says {head.last_id}"
        )
    return Verification(True, checked)


def new_entry(
    *,
    actor_id: int | None,
    actor: str,
    roles: Sequence[str],
    purpose: str | None,
    action: str,
    operation: str,
    customer_ids: Sequence[int],
    fields: dict[str, str],
    detail: Any = None,
    via: Sequence[str] = (),
) -> dict[str, Any]:
    """An entry ready for ``append`` (time from kehu.clock; detail serialised as JSON)."""
    return {
        "at": clock.now(),
        "actor_id": actor_id,
        "actor": actor,
        "roles": sorted(roles),
        "purpose": purpose,
        "action": action,
        "operation": operation[:100],
        "customer_ids": sorted(set(customer_ids)),
        "fields": fields,
        "detail": None if detail is None else orjson.dumps(detail, default=str).decode(),
        "via": sorted(set(via)),
    }


def customer_condition(customer_id: int) -> ColumnElement[bool]:
    """Entries that concern one customer."""
    return AuditEntry.id.in_(
        select(AuditCustomer.entry_id).where(AuditCustomer.customer_id == customer_id)
    )


def entry_page(
    session: Any, conditions: Sequence[ColumnElement[bool]], request: PageRequest
) -> Page:
    """Audit entries, newest first."""
    keys = [SortKey(AuditEntry.id, True, int)]
    statement = select(AuditEntry).where(*conditions)
    return paginate(session, statement, keys, request, lambda e: [e.id])
