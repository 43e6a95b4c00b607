"""Declarative base and the column types every domain shares."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    TypeDecorator,
    cast,
    event,
    func,
    inspect,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapper, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from core import clock
from store import crypto
from store.db import take_write_lock

CENT = Decimal("0.01")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not UTC:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class business_month(FunctionElement[int]):
    """``YYYYMM`` of a UTC timestamp column in the bank's calendar (Beijing), as an integer.

    Report months are business months: a complaint accepted at 00:30 Beijing on 1 March is a
    March complaint although it is still February in UTC.
    """

    type = Integer()
    inherit_cache = True
    name = "business_month"


@compiles(business_month)
def _business_month(element: business_month, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = element.clauses
    local = func.timezone(clock.BUSINESS_TIME.key, moment)  # PostgreSQL: timestamptz → local
    # Literal constants: GROUP BY must repeat the select's expression, not fresh parameters.
    return compiler.process(
        cast(func.to_char(local, "YYYYMM"), Integer), **{**kw, "literal_binds": True}
    )


@compiles(business_month, "sqlite")
def _business_month_sqlite(element: business_month, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = element.clauses
    # SQLite knows no time zones; Beijing has kept UTC+8 without daylight saving since 1991.
    return compiler.process(
        cast(func.strftime("%Y%m", moment, "+8 hours"), Integer), **{**kw, "literal_binds": True}
    )


class int_div(FunctionElement[int]):
    """``a ÷ b`` rounded towards zero, exactly, for non-negative integers and money amounts.

    PostgreSQL's ``div`` divides numerics exactly; SQLite's ``/`` on integers (money is kept in
    fen there, see ``Money``) is integer division already. ``CAST`` would round on PostgreSQL.
    """

    type = Integer()
    inherit_cache = True
    name = "int_div"


@compiles(int_div)
def _int_div(element: int_div, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = element.clauses
    return f"div({compiler.process(a, **kw)}, {compiler.process(b, **kw)})"


@compiles(int_div, "sqlite")
def _int_div_sqlite(element: int_div, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = element.clauses
    return f"(({compiler.process(a, **kw)}) / ({compiler.process(b, **kw)}))"


class Money(TypeDecorator[Decimal]):
    """CNY amounts: exact decimals with 2 places, ``Numeric(18, 2)``.

    SQLite has no decimal type (it would round through a float), so there the value is kept as
    an integer number of fen (cents); comparisons, ``SUM`` and ordering stay exact, and results
    come back as ``Decimal`` on both backends because SQLAlchemy applies this type to them.
    """

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(CENT)
        return int(value * 100) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            # Exact and cheap: fen → yuan by moving the exponent (1234 → Decimal("12.34")).
            return Decimal(int(value)).scaleb(-2)
        return (
            value
            if isinstance(value, Decimal) and value.as_tuple().exponent == -2
            else (Decimal(value).quantize(CENT))
        )


class RowBound(str):
    """A personal value on its way to a sealed column, with the primary key of its row."""

    row_id: crypto.RowKey

    def __new__(cls, value: str, row_id: crypto.RowKey) -> RowBound:
        bound = super().__new__(cls, value)
        bound.row_id = row_id
        return bound


def for_row(value: str | None, row_id: crypto.RowKey) -> RowBound | None:
    """``value`` bound to row ``row_id``, for statements that write a sealed column directly."""
    return None if value is None else RowBound(value, row_id)


class UnboundValueError(TypeError):
    """A sealed column was written without the primary key of its row."""


class Encrypted(TypeDecorator[str]):
    """A personal value sealed with the process cipher, bound to its table, column and row.

    ``context`` is ``"<table>.<column>"``; ``key`` names the primary key's columns (a table
    without an ``id`` binds to its composite key, ``"<part>/<part>"``). Reading selects
    ``<id>:<sealed value>`` (see
    ``column_expression``) so the value is opened against the row it was read from, on every
    statement, ORM or not. Writing needs the row's key: the ORM events below bind values of
    new and changed objects (assigning the key of a new row first); statements that write a
    sealed column directly pass ``for_row(value, id)``. A plain string is refused.
    """

    impl = String
    cache_ok = True

    def __init__(self, context: str, key: tuple[str, ...] = ("id",)) -> None:
        super().__init__()
        self.context = context
        self.key = key
        self.table, _, self.column = context.partition(".")

    def column_expression(self, colexpr: Any) -> Any:
        return type_coerce(self.tagged(colexpr), _RowTagged(self.table, self.column))

    def tagged(self, colexpr: Any) -> Any:
        """``<key>:<sealed value>`` of ``colexpr`` (this column, read from its table), as text."""
        source = getattr(colexpr, "table", None)
        parts = [None if source is None else source.c.get(name) for name in self.key]
        if any(part is None for part in parts):
            raise UnboundValueError(f"{self.context} is read only from its table, with its key")
        tagged: Any = cast(parts[0], String)
        for part in parts[1:]:
            tagged = tagged.concat(literal_column("'/'")).concat(cast(part, String))
        return tagged.concat(literal_column("':'")).concat(colexpr)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, RowBound):
            raise UnboundValueError(f"{self.context} is written only with its row's id (for_row)")
        return crypto.cipher().seal(value, self.table, self.column, value.row_id)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        # Reached only when a statement bypassed ``column_expression`` (e.g. RETURNING).
        if value is None:
            return None
        raise UnboundValueError(f"{self.context} was read without its row's id")


class _RowTagged(TypeDecorator[str]):
    """What ``Encrypted.column_expression`` selects: ``<id>:<sealed value>``, opened on read."""

    impl = String
    cache_ok = True

    def __init__(self, table: str, column: str) -> None:
        super().__init__()
        self.table, self.column = table, column

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return open_tagged(self.table, self.column, value)


def open_tagged(table: str, column: str, tagged: str | None) -> str | None:
    """The plaintext of a ``<key>:<sealed value>`` read from ``table.column`` (None stays None)."""
    if tagged is None:
        return None
    row_id, _, token = tagged.partition(":")
    return crypto.cipher().open(token, table, column, row_id)


def sealed_later(column: Any, label: str) -> Any:
    """Select the sealed ``column`` unopened, as ``label``: its row-tagged text
    (``<key>:<sealed value>``), opened with :func:`open_tagged` only when its value is served
    and the policy reveals it (a withheld or unselected field is never decrypted). Plain text
    for the driver: reading it costs nothing per row."""
    encrypted = column.type
    assert isinstance(encrypted, Encrypted), column
    return type_coerce(encrypted.tagged(column), String).label(label)


def sealed_columns(table: Table) -> list[str]:
    """The names of ``table``'s sealed columns."""
    return [column.name for column in table.c if isinstance(column.type, Encrypted)]


# mapper → (its sealed attributes, the columns of the key their values are bound to)
_sealed_attributes: dict[Mapper[Any], tuple[list[str], tuple[str, ...]]] = {}


def _sealed_keys(mapper: Mapper[Any]) -> tuple[list[str], tuple[str, ...]]:
    found = _sealed_attributes.get(mapper)
    if found is None:
        types = {
            prop.key: column.type
            for prop in mapper.column_attrs
            for column in prop.columns
            if isinstance(column.type, Encrypted)
        }
        key = next(iter(types.values())).key if types else ("id",)
        found = _sealed_attributes[mapper] = (list(types), key)
    return found


def row_key(values: Any, key: tuple[str, ...]) -> crypto.RowKey:
    """The key a row's sealed values are bound to: its id, or ``"<part>/<part>"``."""
    if key == ("id",):
        return int(values["id"])
    return "/".join(str(int(values[name])) for name in key)


def _bind_row(target: Any, names: list[str], key: tuple[str, ...]) -> None:
    # Straight into the instance dict: the values are equal strings, history stays as it was.
    # A value copied from another row's attribute carries that row's key: bound again here.
    values = target.__dict__
    bound_to = row_key({name: getattr(target, name) for name in key}, key)
    for name in names:
        value = values.get(name)
        if isinstance(value, str) and getattr(value, "row_id", None) != bound_to:
            values[name] = RowBound(value, bound_to)


@event.listens_for(Session, "before_flush")
def _number_new_sealed_rows(session: Session, context: Any, instances: Any) -> None:
    """Give every new row with sealed values its key before the flush: one statement per table.

    Sealing binds a value to its row's key, so the key must be known before the INSERT.
    """
    waiting: dict[Table, list[Any]] = {}
    for target in session.new:
        mapper = inspect(target).mapper
        names, key = _sealed_keys(mapper)
        if names and key == ("id",) and target.id is None:
            waiting.setdefault(mapper.local_table, []).append(target)  # type: ignore[arg-type]
    if not waiting:
        return
    connection = session.connection()
    for table, targets in waiting.items():
        for target, number in zip(
            targets, allocate_ids(connection, table, len(targets)), strict=True
        ):
            target.id = number


@event.listens_for(Base, "before_insert", propagate=True)
def _seal_new_row(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    names, key = _sealed_keys(mapper)
    if names:
        if key == ("id",) and target.id is None:  # added during the flush itself
            target.id = allocate_ids(connection, mapper.local_table, 1)[0]  # type: ignore[arg-type]
        _bind_row(target, names, key)


@event.listens_for(Base, "before_update", propagate=True)
def _seal_changed_row(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    names, key = _sealed_keys(mapper)
    if names:
        _bind_row(target, names, key)


def allocate_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` primary keys for new rows of ``table``, known before their INSERT (to seal with).

    PostgreSQL draws them from the column's sequence, in one statement. SQLite has one writer at
    a time and numbers rows max + 1 itself, as that writer: the write lock is held before the
    max is read (``take_write_lock``; units of work take it first), so no other connection
    commits a row between the read and the INSERT (a snapshot read first would fail the INSERT
    with ``SQLITE_BUSY_SNAPSHOT``; a read outside the transaction could number a key twice).
    The last key handed out on this connection is remembered, so rows numbered earlier in the
    same transaction but not inserted yet never share a key.
    """
    if connection.dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        drawn = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        return [int(n) for n in connection.scalars(drawn)]
    if not getattr(connection.connection.dbapi_connection, "in_transaction", True):
        # Outside a transaction (pysqlite begins one at the first write; a unit of work is the
        # writer already): the max would be read apart from the INSERT. Become the writer first.
        take_write_lock(connection)
    remembered = connection.info.setdefault("kehu_last_ids", {})
    largest = connection.scalar(select(func.max(table.c.id))) or 0
    first = max(int(largest), remembered.get(table.name, 0)) + 1
    remembered[table.name] = first + count - 1
    return list(range(first, first + count))
