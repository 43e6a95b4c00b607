"""Re-encrypt personal values with the active key and re-hash them with the active hash key."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, Table, bindparam, func, select, update

from store import crypto
from store.audit import AuditEntry
from store.customers import Customer, CustomerChange
from store.sharing import Consent

# table → (sealed columns, {sealed column: its keyed-hash column})
SEALED: list[tuple[Table, list[str], dict[str, str]]] = [
    (
        Customer.__table__,  # type: ignore[list-item]
        ["id_number", "phone", "email", "address"],
        {"id_number": "id_number_hash", "phone": "phone_hash", "email": "email_hash"},
    ),
    (CustomerChange.__table__, ["old_value", "new_value"], {}),  # type: ignore[list-item]
    (AuditEntry.__table__, ["detail"], {}),  # type: ignore[list-item]
    (
        Consent.__table__,  # type: ignore[list-item]
        ["recipient_contact_name", "recipient_contact_phone", "recipient_contact_email"],
        {},
    ),
]
BATCH = 1000


def rows_to_rotate(engine: Engine) -> int:
    with engine.connect() as connection:
        return sum(
            int(connection.scalar(select(func.count()).select_from(table)) or 0)
            for table, _, _ in SEALED
        )


def rotate_keys(engine: Engine, progress: Callable[[int], None] | None = None) -> int:
    """Rewrite every sealed value and keyed hash under the active keys; returns rows rewritten.

    Each batch is its own transaction, so a stopped rotation can simply be run again; reads keep
    working meanwhile because every configured key still decrypts and every hash key is searched.
    """
    cipher = crypto.cipher()
    rewritten = 0
    for table, sealed, hashed in SEALED:
        last_id = 0
        while True:
            with engine.begin() as connection:
                rows = connection.execute(
                    select(table.c.id, *(table.c[name] for name in sealed))
                    .where(table.c.id > last_id)
                    .order_by(table.c.id)
                    .limit(BATCH)
                ).all()
                if not rows:
                    break
                values = []
                for row in rows:
                    item = {"row_id": row.id}
                    for name in sealed:
                        plain = getattr(row, name)
                        item[name] = plain
                        if name in hashed:
                            item[hashed[name]] = (
                                None if plain is None else cipher.blind_index(plain)
                            )
                    values.append(item)
                statement = (
                    update(table)
                    .where(table.c.id == bindparam("row_id"))
                    .values({name: bindparam(name) for name in values[0] if name != "row_id"})
                )
                connection.execute(statement, values)
                last_id = rows[-1].id
                rewritten += len(rows)
                if progress is not None:
                    progress(len(rows))
    return rewritten
