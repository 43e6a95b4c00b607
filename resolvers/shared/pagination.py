"""Keyset (cursor) pagination shared by every connection.

A cursor holds the sort-key values of a row plus its primary key, so a page is one indexed
range query whatever its depth, and rows inserted meanwhile do not shift pages. The values are
personal data under some orders (a name, a birth date), so a cursor is sealed with the field
cipher (AES-256-GCM, :mod:`store.crypto`), its list and order bound as associated data: it shows
nothing, and a cursor altered, forged, or taken from another list or order is refused as
``INVALID_CURSOR`` naming ``after``/``before``. ``first``/``last`` are capped at ``MAX_PAGE_SIZE``.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from core.errors import FieldError, UserInputError
from resolvers.shared import statements
from store import crypto

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# A sealed cursor exactly as issued (key id, canonical base64): the lenient base64 decoder would
# otherwise ignore characters added to it.
SEALED = re.compile(r"[\w-]+:(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


@dataclass(frozen=True)
class SortKey:
    """One ordering column: how to read it from a row and how it travels in a cursor."""

    column: Any
    descending: bool = False
    kind: type = int  # int, str, date or datetime

    def encode(self, value: Any) -> Any:
        return value.isoformat() if isinstance(value, date | datetime) else value

    def decode(self, raw: Any) -> Any:
        if raw is None:
            return None
        if self.kind is datetime:
            return datetime.fromisoformat(raw)
        if self.kind is date:
            return date.fromisoformat(raw)
        return self.kind(raw)


class Cursors(Sequence[str]):
    """The cursors of a page's rows, each sealed the first time it is read: an answer that
    selects only ``pageInfo { endCursor }`` seals one cursor, not one per row (and reads the
    sort values of that row alone: ``row_values(row)``)."""

    __slots__ = ("_context", "_keys", "_row_values", "_rows", "_sealed")

    def __init__(
        self,
        rows: Sequence[Any],
        row_values: Callable[[Any], Sequence[Any]],
        keys: Sequence[SortKey],
        context: str | None = None,
    ) -> None:
        self._rows = rows
        self._row_values = row_values
        self._keys = keys
        self._context = context or cursor_context(keys)
        self._sealed: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        position = range(len(self._rows))[index]  # negative indices, IndexError
        found = self._sealed.get(position)
        if found is None:
            values = self._row_values(self._rows[position])
            found = self._sealed[position] = encode_cursor(values, self._keys, self._context)
        return found


@dataclass
class Page:
    rows: list[Any]
    cursors: Sequence[str]
    has_next_page: bool
    has_previous_page: bool
    count_total: Callable[[], int] = field(repr=False, default=lambda: 0)


@dataclass(frozen=True)
class PageRequest:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def validated(self) -> PageRequest:
        problems: list[FieldError] = []
        for name, value in (("first", self.first), ("last", self.last)):
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                problems.append(
                    FieldError((name,), "INVALID_PAGE_SIZE", f"must be 0…{MAX_PAGE_SIZE}")
                )
        if self.first is not None and self.last is not None:
            problems.append(FieldError(("last",), "INVALID", "give either first or last, not both"))
        if problems:
            raise UserInputError(problems)
        return self


def cursor_context(keys: Sequence[SortKey]) -> str:
    """Associated data of a list's cursors: its sort columns and directions."""
    return "cursor:" + ",".join(f"{key.column}{'-' if key.descending else '+'}" for key in keys)


def encode_cursor(
    values: Sequence[Any], keys: Sequence[SortKey], context: str | None = None
) -> str:
    """A row's cursor; ``context``: ``cursor_context(keys)`` when the caller made it once for
    a page (naming the columns compiles them, which costs more than sealing)."""
    plain = orjson.dumps([k.encode(v) for k, v in zip(keys, values, strict=True)]).decode()
    return crypto.cipher().encrypt(plain, context or cursor_context(keys))


def decode_cursor(cursor: str, keys: Sequence[SortKey], argument: str) -> list[Any]:
    try:
        if not SEALED.fullmatch(cursor):
            raise ValueError("not a sealed cursor")
        raw = orjson.loads(crypto.cipher().decrypt(cursor, cursor_context(keys)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError("wrong shape")
        return [key.decode(value) for key, value in zip(keys, raw, strict=True)]
    except (ValueError, TypeError, orjson.JSONDecodeError, crypto.DecryptionError) as exc:
        raise UserInputError(
            [FieldError((argument,), "INVALID_CURSOR", "is not a cursor of this list and order")]
        ) from exc


def _beyond(keys: Sequence[SortKey], values: Sequence[Any], backwards: bool) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys`` (or before, when ``backwards``)."""
    clauses = []
    for i, key in enumerate(keys):
        descending = key.descending != backwards
        step = key.column < values[i] if descending else key.column > values[i]
        equal = [keys[j].column == values[j] for j in range(i)]
        clauses.append(and_(*equal, step))
    return or_(*clauses)


# statement → whether it selects one ORM entity (reading ``column_descriptions`` is costly,
# and statements built once are paged many times).
_one_entity: weakref.WeakKeyDictionary[Select[Any], bool] = weakref.WeakKeyDictionary()


def _selects_one_entity(statement: Select[Any]) -> bool:
    found = _one_entity.get(statement)
    if found is None:
        described = statement.column_descriptions
        found = _one_entity[statement] = len(described) == 1 and bool(described[0]["entity"])
    return found


def _page_query(
    statement: Select[Any],
    keys: Sequence[SortKey],
    request: PageRequest,
    size: int,
    backwards: bool,
    options: Sequence[Any],
) -> Select[Any]:
    """The statement of one page: past the cursors, ordered, one row more than the page."""
    filtered = statement
    if request.after is not None:
        filtered = filtered.where(_beyond(keys, decode_cursor(request.after, keys, "after"), False))
    if request.before is not None:
        filtered = filtered.where(
            _beyond(keys, decode_cursor(request.before, keys, "before"), True)
        )
    ordering = [(k.column.desc() if k.descending != backwards else k.column.asc()) for k in keys]
    return filtered.options(*options).order_by(*ordering).limit(size + 1)


def paginate(
    session: Session,
    statement: Select[Any],
    keys: Sequence[SortKey],
    request: PageRequest,
    row_values: Callable[[Any], Sequence[Any]],
    options: Sequence[Any] = (),
    count_statement: Select[Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> Page:
    """Run one keyset page of ``statement`` ordered by ``keys`` (the last key must be unique).

    ``statement`` selects one ORM entity (rows are entities) or plain columns (rows are
    ``Row`` tuples); ``count_statement`` is a cheaper statement with the same rows, if any;
    ``parameters``: values of ``statement``'s bound parameters (of the count's too).
    """
    request = request.validated()
    backwards = request.last is not None or (request.before is not None and request.first is None)
    size = request.last if backwards else request.first
    size = DEFAULT_PAGE_SIZE if size is None else size
    # A first page of a statement built once (``resolvers.shared.statements``) is itself built
    # once: no cursor values in it, and SQLAlchemy keys a statement object once.
    if request.after is None and request.before is None and not options:
        page_query = statements.derived(
            statement,
            ("first page", tuple(keys), size, backwards),
            lambda: _page_query(statement, keys, request, size, backwards, options),
        )
    else:
        page_query = _page_query(statement, keys, request, size, backwards, options)
    if _selects_one_entity(statement):
        rows = list(session.scalars(page_query, parameters).unique())
    else:
        # Plain rows need no ORM bookkeeping: run them on the session's connection directly.
        rows = list(session.connection().execute(page_query, parameters).all())
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    cursors = Cursors(rows, row_values, keys)

    def count_total() -> int:
        source = statement if count_statement is None else count_statement
        counted = select(func.count()).select_from(source.order_by(None).subquery())
        return int(session.scalar(counted, parameters) or 0)

    return Page(
        rows=rows,
        cursors=cursors,
        has_next_page=more if not backwards else request.before is not None,
        has_previous_page=more if backwards else request.after is not None,
        count_total=count_total,
    )
