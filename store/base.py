"""Declarative base and the column types every domain shares."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    TypeDecorator,
    cast,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from kehu import clock
from store import crypto

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


class Encrypted(TypeDecorator[str]):
    """A personal value sealed with the process cipher; ``context`` names the column."""

    impl = String
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.cipher().encrypt(value, self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else crypto.cipher().decrypt(value, self.context)
