"""Writing, verifying and reading the audit log (SHARE-4), and its signed checkpoints.

``append`` chains entries onto ``audit_head`` in the caller's transaction: the head is updated
first (``UPDATE … RETURNING``), which takes the row lock on PostgreSQL and the write lock on
SQLite, so concurrent writers queue up and the chain has no forks or gaps. The hash is keyed
(``store.audit_chain``) and covers the entry's content with the decrypted detail, so
re-encrypting during key rotation keeps it valid.

A checkpoint is a small signed file (entry count, last id, head hash, time) written outside the
database; ``verify`` compares the chain with every checkpoint since the latest restore, so a
log cut short and its head rewound is reported although the remaining chain is intact.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    func,
    insert,
    select,
    type_coerce,
    update,
)

from core import clock
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store import audit_chain, crypto
from store.audit import GENESIS_HASH, AuditCustomer, AuditEntry, AuditHead
from store.base import for_row
from store.crypto import DecryptionError

VERIFY_BATCH = 2000
# The key under which ``_entries`` adds an entry's rows of audit_customers (not hashed).
INDEXED = "_audit_customers"
CHECKPOINT = "checkpoint"
# Written after a forced restore: the checkpoints before it describe the log that was replaced.
RESTORE = "restore"


def append(connection: Connection, entries: Sequence[dict[str, Any]]) -> None:
    """Chain and insert entries (dicts made by ``new_entry``)."""
    if not entries:
        return
    keys = audit_chain.keys()
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
        row["key_id"] = keys.active_key_id
        row["hash"] = previous = keys.entry_hash(previous, row)
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
class Checkpoint:
    """A signed statement that the log had ``entries`` entries ending in ``head`` at ``at``."""

    kind: str
    entries: int
    head: str
    at: datetime
    key_id: str

    def payload(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "entries": self.entries,
            "last_id": self.entries,  # ids run 1, 2, 3 … without gaps
            "head": self.head,
            "at": self.at.isoformat(timespec="microseconds"),
            "key_id": self.key_id,
        }


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    problem: str | None = None
    # The hash of entry ``checked`` (the verified head).
    head: str = GENESIS_HASH
    # The latest checkpoint the chain was compared with, if any.
    checkpoint: Checkpoint | None = None


def _entries(connection: Connection, first_id: int, last_id: int) -> Iterator[dict[str, Any]]:
    table = AuditEntry.__table__
    # The sealed detail as stored, opened entry by entry: one moved detail names its entry.
    stored = [c for c in table.c if c.name != "detail"] + [
        type_coerce(table.c.detail, String).label("detail")
    ]
    next_id = first_id
    while True:
        rows = connection.execute(
            select(*stored)
            .where(table.c.id >= next_id, table.c.id <= last_id)
            .order_by(table.c.id)
            .limit(VERIFY_BATCH)
        ).all()
        if not rows:
            return
        # The customers index of these entries, checked against each entry's chained list.
        concerned: dict[int, list[int]] = {}
        for entry_id, customer_id in connection.execute(
            select(AuditCustomer.entry_id, AuditCustomer.customer_id)
            .where(AuditCustomer.entry_id >= rows[0].id, AuditCustomer.entry_id <= rows[-1].id)
            .order_by(AuditCustomer.entry_id, AuditCustomer.customer_id)
        ):
            concerned.setdefault(entry_id, []).append(customer_id)
        for row in rows:
            yield {**row._mapping, INDEXED: concerned.get(row.id, [])}
        next_id = rows[-1].id + 1


def _walk(
    connection: Connection, start: Checkpoint | None, until: int, pinned: dict[int, Checkpoint]
) -> tuple[int, str, str | None]:
    """Recompute the chain from ``start`` up to entry ``until``.

    Returns the number of entries intact, the hash of the last of them, and the first problem.
    """
    previous, expected_id = GENESIS_HASH, 1
    if start is not None and start.entries:
        row = connection.execute(
            select(AuditEntry.hash).where(AuditEntry.id == start.entries)
        ).first()
        if row is None:
            return 0, previous, _rewound(until, start)
        if row.hash != start.head:
            return 0, previous, f"entry {start.entries} differs from {described(start)}"
        previous, expected_id = start.head, start.entries + 1
    return _check(_entries(connection, expected_id, until), previous, expected_id, pinned)


def _check(
    entries: Iterable[dict[str, Any]],
    previous: str,
    expected_id: int,
    pinned: dict[int, Checkpoint],
) -> tuple[int, str, str | None]:
    """Check ``entries`` (ascending, detail as stored) as the chain's continuation after
    ``previous``; returns the entries intact, the hash of the last of them, the first problem."""
    keys = audit_chain.keys()
    try:
        for entry in entries:
            problem = None
            if entry["id"] != expected_id:
                problem = f"entry {expected_id} is missing"
            elif entry["prev_hash"] != previous:
                problem = f"entry {expected_id} is out of order"
            else:
                try:
                    entry["detail"] = open_detail(entry["detail"], entry["id"])
                except DecryptionError:
                    problem = f"entry {expected_id} was changed"
            if problem is None and keys.entry_hash(previous, entry) != entry["hash"]:
                problem = f"entry {expected_id} was changed"
            elif problem is None and entry.get(INDEXED, entry["customer_ids"]) != sorted(
                set(entry["customer_ids"])
            ):
                problem = f"the customers of entry {expected_id} (audit_customers) were changed"
            elif (
                problem is None
                and expected_id in pinned
                and pinned[expected_id].head != entry["hash"]
            ):
                problem = f"entry {expected_id} differs from {described(pinned[expected_id])}"
            if problem:
                return expected_id - 1, previous, problem
            previous = entry["hash"]
            expected_id += 1
    except audit_chain.AuditKeyError as exc:
        return expected_id - 1, previous, f"entry {expected_id}: {exc}"
    except DecryptionError:
        return expected_id - 1, previous, f"entry {expected_id} or a later one was changed"
    return expected_id - 1, previous, None


def described(checkpoint: Checkpoint) -> str:
    return f"the {checkpoint.kind} of {checkpoint.at.isoformat(timespec='seconds')}"


def _rewound(entries: int, checkpoint: Checkpoint) -> str:
    return (
        f"rewound: the log ends at entry {entries} but {described(checkpoint)} "
        f"recorded {checkpoint.entries} entries"
    )


def verify(
    connection: Connection,
    checkpoints: Sequence[Checkpoint] = (),
    start: Checkpoint | None = None,
) -> Verification:
    """Recompute the chain and compare it with the head and the checkpoints.

    Reports the first changed, missing or reordered entry, an entry that differs from a
    checkpoint, and a log that ends before the latest checkpoint (rewound). With ``start`` (a
    checkpoint already verified) only the entries after it are recomputed.
    """
    latest = max(checkpoints, key=lambda c: c.entries, default=None)
    pinned = {c.entries: c for c in checkpoints if c.entries}
    # The head first: entries appended meanwhile (the service keeps running) are not looked at,
    # and every entry up to it was committed with it.
    head = connection.execute(select(AuditHead.last_id, AuditHead.last_hash)).one()
    checked, previous, problem = _walk(connection, start, max(head.last_id, 0), pinned)
    if problem:
        return Verification(False, checked, problem, previous, latest)
    if latest is not None and checked < latest.entries:
        return Verification(False, checked, _rewound(checked, latest), previous, latest)
    # Entries past the head: the last entry first, then the head (a commit in between only
    # moves the head on), so entries appended meanwhile are never taken for strays.
    last_id = max(
        connection.scalar(select(func.max(AuditEntry.id))) or 0,
        connection.scalar(select(func.max(AuditCustomer.entry_id))) or 0,
    )
    head_now = connection.scalar(select(AuditHead.last_id)) or 0
    if checked != head.last_id or previous != head.last_hash or last_id > head_now:
        ends = last_id if last_id > head_now else checked
        return Verification(
            False,
            checked,
            f"the log ends at entry {ends} but the head says {head.last_id}",
            previous,
            latest,
        )
    return Verification(True, checked, None, previous, latest)


def verify_entries(
    entries: Iterable[dict[str, Any]], checkpoints: Sequence[Checkpoint] = ()
) -> Verification:
    """``verify`` of entries read elsewhere (a backup file), from the first: the chain, every
    checkpoint it reaches, and no end before the latest checkpoint."""
    latest = max(checkpoints, key=lambda c: c.entries, default=None)
    pinned = {c.entries: c for c in checkpoints if c.entries}
    checked, previous, problem = _check(entries, GENESIS_HASH, 1, pinned)
    if problem is None and latest is not None and checked < latest.entries:
        problem = _rewound(checked, latest)
    return Verification(problem is None, checked, problem, previous, latest)


def read_checkpoints(directory: Path) -> tuple[list[Checkpoint], list[str]]:
    """The validly signed checkpoints since the latest restore, and the files that are not."""
    keys = audit_chain.keys()
    found: list[Checkpoint] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            data = orjson.loads(path.read_bytes())
            checkpoint = Checkpoint(
                kind=data["kind"],
                entries=int(data["entries"]),
                head=str(data["head"]),
                at=datetime.fromisoformat(data["at"]),
                key_id=str(data["key_id"]),
            )
            valid = checkpoint.kind in {CHECKPOINT, RESTORE} and keys.signature_holds(
                checkpoint.key_id, checkpoint.payload(), str(data["signature"])
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            valid = False
        except audit_chain.AuditKeyError:
            problems.append(f"checkpoint {path.name} is signed with a key that is not configured")
            continue
        if not valid:
            problems.append(f"checkpoint {path.name} is not validly signed")
            continue
        found.append(checkpoint)
    restores = [c.at for c in found if c.kind == RESTORE]
    since = max(restores, default=None)
    return [c for c in found if since is None or c.at >= since], problems


def write_checkpoint(
    directory: Path, entries: int, head: str, kind: str = CHECKPOINT
) -> Checkpoint:
    """Sign a verified head into a new file of ``directory`` (atomically)."""
    keys = audit_chain.keys()
    checkpoint = Checkpoint(kind, entries, head, clock.now(), keys.active_key_id)
    payload = checkpoint.payload()
    payload["signature"] = keys.sign(checkpoint.key_id, payload)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{checkpoint.at:%Y%m%dT%H%M%S%f}Z-{kind}-{checkpoint.entries}.json"
    partial = directory / f".{name}.partial"
    partial.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    os.replace(partial, directory / name)
    return checkpoint


def checkpoint(
    connection: Connection, directory: Path, only_if_moved: bool = False
) -> Verification:
    """Verify the entries since the latest checkpoint, then sign the head into a new one.

    Nothing is written when the chain does not verify: a checkpoint never vouches for a log
    that was tampered with. With ``only_if_moved`` an unchanged head writes no new file.
    """
    checkpoints, problems = read_checkpoints(directory)
    if problems:
        return Verification(False, 0, problems[0])
    latest = max(checkpoints, key=lambda c: c.entries, default=None)
    result = verify(connection, checkpoints, start=latest)
    if not result.ok or (only_if_moved and latest and latest.entries == result.checked):
        return result
    written = write_checkpoint(directory, result.checked, result.head)
    return Verification(True, result.checked, None, result.head, written)


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
    """An entry ready for ``append`` (time from core.clock; detail serialised as JSON)."""
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


def concerning(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """Entries concerning a customer that ``clause`` (on ``AuditCustomer.customer_id``) picks."""
    return AuditEntry.id.in_(select(AuditCustomer.entry_id).where(clause))


def entry_page(session: Any, where: ColumnElement[bool], request: PageRequest) -> Page:
    """Audit entries matching ``where``, newest first."""
    keys = [SortKey(AuditEntry.id, True, int)]
    statement = select(AuditEntry).where(where)
    return paginate(session, statement, keys, request, lambda e: [e.id])
