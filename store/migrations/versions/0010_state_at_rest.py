"""Seal workflow state and the free text still stored in clear.

``process_instances.state`` (form answers), ``complaint_messages.proof_of_delivery``,
``rectifications.actions`` and ``share_requests.reason`` / ``decision_note`` become sealed text,
bound to their row; their existing values are sealed here. Values sealed before rows were bound
(every other sealed column) stay readable and are rewritten by ``kehu rotate-keys``.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from store import crypto
from store.base import row_key

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → (column, its type before, nullable)
NEWLY_SEALED: dict[str, list[tuple[str, Any, bool]]] = {
    "process_instances": [("state", sa.Text(), False)],
    "complaint_messages": [("proof_of_delivery", sa.String(length=300), True)],
    "rectifications": [("actions", sa.JSON(), True)],
    "share_requests": [
        ("reason", sa.String(length=300), False),
        ("decision_note", sa.String(length=300), True),
    ],
}
BATCH = 500


Columns = dict[str, list[tuple[str, Any, bool]]]


def _retype(table: str, to_sealed: bool, newly_sealed: Columns = NEWLY_SEALED) -> None:
    with op.batch_alter_table(table) as batch:
        for column, before, nullable in newly_sealed[table]:
            new_type = sa.Text() if to_sealed else before
            using = f"{column}::text" if to_sealed else f"{column}::json"
            extra: dict[str, Any] = (
                {"postgresql_using": using}
                if isinstance(before, sa.JSON) or isinstance(new_type, sa.JSON)
                else {}
            )
            batch.alter_column(
                column,
                existing_type=before if to_sealed else sa.Text(),
                type_=new_type,
                existing_nullable=nullable,
                **extra,
            )


def _convert(
    table: str,
    seal: bool,
    newly_sealed: Columns = NEWLY_SEALED,
    key: tuple[str, ...] = ("id",),
) -> None:
    """Seal (or, going down, open) every value of the table's newly sealed columns in place.

    Values are bound to the row's ``key`` (its id, or the columns of a composite primary key).
    """
    connection = op.get_bind()
    names = [column for column, _, _ in newly_sealed[table]]
    rows_table = sa.table(
        table, *(sa.column(part) for part in key), *(sa.column(name, sa.Text()) for name in names)
    )
    parts = [rows_table.c[part] for part in key]
    last: list[Any] | None = None
    while True:
        query = sa.select(rows_table).order_by(*parts).limit(BATCH)
        if last is not None:
            query = query.where(sa.tuple_(*parts) > sa.tuple_(*last))
        rows = connection.execute(query).all()
        if not rows:
            return
        cipher = crypto.cipher()  # needed only when there is something to convert
        for row in rows:
            bound = row_key(row._mapping, key)
            values = {}
            for name in names:
                value = getattr(row, name)
                if value is None:
                    continue
                values[name] = (
                    cipher.seal(value, table, name, bound)
                    if seal
                    else cipher.open(value, table, name, bound)
                )
            if values:
                connection.execute(
                    sa.update(rows_table)
                    .where(*(part == row._mapping[part.name] for part in parts))
                    .values(**values)
                )
        last = [row._mapping[part] for part in key]


def upgrade() -> None:
    for table in NEWLY_SEALED:
        _retype(table, to_sealed=True)
        _convert(table, seal=True)


def downgrade() -> None:
    for table in NEWLY_SEALED:
        _convert(table, seal=False)
        _retype(table, to_sealed=False)
