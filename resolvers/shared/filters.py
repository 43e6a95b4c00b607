"""Turn a GraphQL ``where:`` input into SQL conditions, the same way for every list.

A list declares its filterable fields as :class:`FilterField` (column + kind); the input object
carries one operator object per field (``eq``, ``in_``, ``gte``, ``lte``, ``contains``,
``starts_with``) and ``and_`` / ``or_`` lists of itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, true

from core.errors import UserInputError
from core.ids import pk_of
from resolvers.shared.validation import text_problem
from store import crypto

MAX_FILTER_DEPTH = 5
MAX_IN_VALUES = 100


@dataclass(frozen=True)
class FilterField:
    column: Any
    kind: str = "value"  # value | text | id | exact
    id_type: str | None = None  # for kind="id": the GraphQL type of the IDs
    normalise: Callable[[str, tuple[str, ...]], str] | None = None  # for kind="exact"
    # For a column of a related table (one row to many): turns each condition on that column
    # into a condition on the listed rows, e.g. ``Entry.id.in_(select(link.entry_id).where(c))``.
    through: Callable[[Any], Any] | None = None
    # kind="nested": the input is a ``where`` of its own over these fields (``segment: {tier:
    # {eq: HIGH}}``), compiled by the same rules; ``column`` is unused.
    fields: Mapping[str, FilterField] | None = None


def _instant(value: datetime, path: tuple[str, ...]) -> datetime:
    """A date-time input as the UTC instant it names; without an offset it names none."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise UserInputError.one(path, "INVALID", "give a UTC offset, e.g. Z or +08:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before the first UTC instant
        raise UserInputError.one(path, "INVALID", "outside the supported time range") from None


def _text(value: str, path: tuple[str, ...]) -> str:
    """A text operand a database can hold (:func:`validation.text_problem`: no NUL, no lone
    surrogate). The request's input check refuses these first; a filter built in code is kept
    to the same rule."""
    problem = text_problem(value)
    if problem is not None:
        raise UserInputError.one(path, "INVALID", problem)
    return value


def _graphql_name(name: str) -> str:
    """The input field's name as the client wrote it (``accepted_at`` → ``acceptedAt``)."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _operators(spec: FilterField, ops: Any, path: tuple[str, ...]) -> list[Any]:
    clauses = _column_operators(spec, ops, path)
    return clauses if spec.through is None else [spec.through(c) for c in clauses]


def _column_operators(spec: FilterField, ops: Any, path: tuple[str, ...]) -> list[Any]:
    if spec.kind == "nested" and spec.fields is not None:
        return [compile_where(ops, spec.fields, path)]
    column = spec.column
    clauses: list[Any] = []
    if spec.kind == "exact":
        value = ops.eq
        if spec.normalise is not None:
            value = spec.normalise(value, (*path, "eq"))
        clauses.append(column.in_(crypto.cipher().blind_indexes(value)))
        return clauses

    def convert(value: Any, where: tuple[str, ...]) -> Any:
        if isinstance(value, datetime):
            return _instant(value, where)
        if isinstance(value, str) and spec.kind != "id":
            return _text(value, where)
        return pk_of(value, spec.id_type or "", where) if spec.kind == "id" else value

    if getattr(ops, "eq", None) is not None:
        clauses.append(column == convert(ops.eq, (*path, "eq")))
    values = getattr(ops, "in_", None)
    if values is not None:
        if len(values) > MAX_IN_VALUES:
            raise UserInputError.one((*path, "in"), "TOO_MANY", f"at most {MAX_IN_VALUES} values")
        clauses.append(column.in_([convert(v, (*path, "in")) for v in values]))
    if getattr(ops, "gte", None) is not None:
        clauses.append(column >= convert(ops.gte, (*path, "gte")))
    if getattr(ops, "lte", None) is not None:
        clauses.append(column <= convert(ops.lte, (*path, "lte")))
    if getattr(ops, "contains", None) is not None:
        value = _text(ops.contains, (*path, "contains"))
        clauses.append(column.contains(_escape_like(value), escape="\\"))
    if getattr(ops, "starts_with", None) is not None:
        value = _text(ops.starts_with, (*path, "startsWith"))
        clauses.append(column.startswith(_escape_like(value), escape="\\"))
    return clauses


def compile_where(
    where: Any,
    fields: Mapping[str, FilterField],
    path: tuple[str, ...] = ("where",),
    depth: int = 0,
) -> Any:
    """One SQL condition for a ``where`` input (``true()`` when it filters nothing)."""
    if where is None:
        return true()
    if depth > MAX_FILTER_DEPTH:
        raise UserInputError.one(path, "TOO_DEEP", f"nest and/or at most {MAX_FILTER_DEPTH} deep")
    clauses: list[Any] = []
    for name, spec in fields.items():
        ops = getattr(where, name, None)
        if ops is not None:
            clauses.extend(_operators(spec, ops, (*path, _graphql_name(name))))
    for i, sub in enumerate(getattr(where, "and_", None) or []):
        clauses.append(compile_where(sub, fields, (*path, "and", str(i)), depth + 1))
    alternatives = getattr(where, "or_", None)
    if alternatives:
        clauses.append(
            or_(
                *(
                    compile_where(sub, fields, (*path, "or", str(i)), depth + 1)
                    for i, sub in enumerate(alternatives)
                )
            )
        )
    return and_(true(), *clauses)
