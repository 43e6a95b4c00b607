"""Re-seal personal values under the active key, bound to their row; re-hash with the active key.

Every sealed column of every table is covered (found from the models, not listed by hand).
Rows whose values are already row-bound under the active key, with keyed hashes under the active
hash key, are skipped, so a stopped rotation resumes where it stopped. A value that does not
open (tampered with, or moved from another row or column) is left as it is and reported by its
place, never by its content; ``check`` only reads and reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Table,
    and_,
    bindparam,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy import type_coerce as raw

from store import crypto
from store.base import Base, RowBound, row_key, sealed_columns

BATCH = 500
# Prefixes of the parameters holding the stored text read and the row's key (no column name
# starts with them).
PRIOR = "prior__"
KEY = "key__"


@dataclass
class RotationReport:
    checked: int = 0  # rows read
    rewritten: int = 0  # rows re-sealed (rotate) or still to re-seal (check)
    unreadable: list[str] = field(default_factory=list)  # "customers.phone of row 7 …"


def sealed_tables() -> list[tuple[Table, list[str]]]:
    """Every table with sealed columns, and those columns."""
    import store.models  # noqa: F401  (every model registered on the metadata)

    return [
        (table, columns)
        for table in Base.metadata.sorted_tables
        if (columns := sealed_columns(table))
    ]


def rows_to_rotate(engine: Engine) -> int:
    with engine.connect() as connection:
        return sum(
            int(connection.scalar(select(func.count()).select_from(table)) or 0)
            for table, _ in sealed_tables()
        )


def rotate_keys(
    engine: Engine,
    progress: Callable[[int], None] | None = None,
    *,
    write: bool = True,
) -> RotationReport:
    """Re-seal (``write``) or only check every sealed value, one committed batch at a time.

    A row the service changes meanwhile is left alone (the update matches the value read):
    the service sealed it afresh, with the active key and bound to its row.
    """
    report = RotationReport()
    for table, sealed in sealed_tables():
        key = _key(table, sealed)
        last: list[Any] | None = None
        while True:
            with engine.begin() as connection:
                rows = _batch(connection, table, sealed, key, last)
                if not rows:
                    break
                changes = [_rotated(table, sealed, key, row, report) for row in rows]
                pending = [change for change in changes if change]
                report.rewritten += (
                    len(pending) if not write else _write(connection, table, key, pending)
                )
                report.checked += len(rows)
                last = [rows[-1]._mapping[part] for part in key]
                if progress is not None:
                    progress(len(rows))
    return report


def _hash_column(table: Table, name: str) -> str | None:
    return f"{name}_hash" if f"{name}_hash" in table.c else None


def _key(table: Table, sealed: list[str]) -> tuple[str, ...]:
    """The columns the table's sealed values are bound to (its id, or a composite key)."""
    key: tuple[str, ...] = table.c[sealed[0]].type.key  # type: ignore[attr-defined]
    return key


def _batch(
    connection: Connection,
    table: Table,
    sealed: list[str],
    key: tuple[str, ...],
    after: list[Any] | None,
) -> list[Any]:
    # The stored text itself (type_coerce skips the column type's decryption).
    hashes = [h for name in sealed if (h := _hash_column(table, name)) is not None]
    parts = [table.c[part] for part in key]
    query = (
        select(
            *parts,
            *(raw(table.c[name], String).label(name) for name in sealed),
            *(table.c[h] for h in hashes),
        )
        .order_by(*parts)
        .limit(BATCH)
    )
    if after is not None:
        query = query.where(tuple_(*parts) > tuple_(*after))
    return list(connection.execute(query).all())


def _rotated(
    table: Table, sealed: list[str], key: tuple[str, ...], row: Any, report: RotationReport
) -> dict[str, Any]:
    """The new values of one row's sealed columns (and their hashes); empty when current."""
    cipher = crypto.cipher()
    change: dict[str, Any] = {}
    bound = row_key(row._mapping, key)
    for name in sealed:
        token = getattr(row, name)
        if token is None:
            continue
        try:
            plain = cipher.open(token, table.name, name, bound)
        except crypto.DecryptionError as exc:
            report.unreadable.append(str(exc))
            continue
        hash_column = _hash_column(table, name)
        stale_hash = hash_column is not None and not str(getattr(row, hash_column)).startswith(
            cipher.active_hash_key_id + ":"
        )
        if cipher.is_current(token) and not stale_hash:
            continue
        change[name] = RowBound(plain, bound)
        change[PRIOR + name] = token
        if hash_column is not None:
            change[hash_column] = cipher.blind_index(plain)
    if change:
        change.update({KEY + part: row._mapping[part] for part in key})
    return change


def _write(
    connection: Connection, table: Table, key: tuple[str, ...], changes: list[dict[str, Any]]
) -> int:
    """Apply the changes, grouped by the columns they write (one executemany per group)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        groups[tuple(sorted(change))].append(change)
    written = 0
    for keys, values in groups.items():
        columns = [name for name in keys if not name.startswith((PRIOR, KEY))]
        olds = [name.removeprefix(PRIOR) for name in keys if name.startswith(PRIOR)]
        statement = (
            update(table)
            .where(
                and_(
                    *(table.c[part] == bindparam(KEY + part) for part in key),
                    *(raw(table.c[name], String) == bindparam(PRIOR + name) for name in olds),
                )
            )
            .values({name: bindparam(name) for name in columns})
        )
        result = connection.execute(statement, values)
        written += max(result.rowcount, 0)
    return written
