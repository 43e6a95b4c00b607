"""Fast bulk writes for seeding: rows straight through the driver, keys handed out ahead."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, text

from store.base import for_row, sealed_columns


def bulk_insert(connection: Connection, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows straight through the driver's ``executemany``.

    The column types' own bind processors still convert every value (encryption, money, UTC),
    but SQLAlchemy's per-row statement compilation is skipped: seeding is about 2x faster.
    Sealed values are bound to their row's ``id`` (every bulk row carries its key).
    """
    if not rows:
        return
    dialect = connection.dialect
    table = model.__table__
    names = list(rows[0])
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([marker] * len(names))})"
    )
    converters = [(i, convert) for i, convert in enumerate(processors) if convert is not None]
    sealed = [i for i, name in enumerate(names) if name in sealed_columns(table)]
    values = []
    for row in rows:
        item = [row[name] for name in names]
        for i in sealed:
            item[i] = for_row(item[i], row["id"])
        for i, convert in converters:
            item[i] = convert(item[i])
        values.append(tuple(item))
    if dialect.name == "postgresql":
        # COPY is several times faster than INSERT on PostgreSQL.
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for record in values:
                copy.write_row(record)
        return
    connection.exec_driver_sql(statement, values)


class IdAllocator:
    """Hands out primary keys for bulk inserts; PostgreSQL sequences are moved past them after."""

    TABLES = (
        "customers",
        "information_sources",
        "financial_snapshots",
        "accounts",
        "transactions",
        "risk_assessments",
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.connect() as connection:
            self.current = {
                table: int(connection.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")))
                for table in self.TABLES
            }

    def next(self, table: str) -> int:
        self.current[table] += 1
        return self.current[table]

    def sync_sequences(self) -> None:
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.begin() as connection:
            for table in self.TABLES:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )
                )
