"""Shared GraphQL building blocks: Node, connections, filters, bilingual enums, errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from core.errors import FieldError, UserInputError
from core.ids import global_id
from resolvers.shared.pagination import Page, PageRequest
from schema.shared.context import Context
from schema.shared.execution import context_only

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

ContextInfo = Info[Context, None]


def node_id(type_name: str, pk: int) -> strawberry.ID:
    """The global ID of an object (Relay)."""
    return strawberry.ID(global_id(type_name, pk))


@strawberry.interface(description="An object with a global ID (Relay). 具有全局 ID 的对象。")
class Node:
    id: strawberry.ID = strawberry.field(description="Global, opaque ID.")


# How ``node(id:)`` finds an object of one type: by primary key, with the row scopes of that
# type's list (invisible and missing both give None). Each domain lists its types' loaders in a
# ``NODE_LOADERS`` dict; ``schema.schema`` merges them.
NodeLoader = Callable[[ContextInfo, int], Node | None]


def selects(info: ContextInfo, *path: str) -> bool:
    """Whether the resolving field's selection reaches ``path`` (GraphQL field names, through
    fragments; a field under ``@skip``/``@include`` counts as selected)."""
    level: list[Any] = list(info.selected_fields)
    for name in path:
        found: list[Any] = []
        pending = [s for field in level for s in field.selections]
        while pending:
            selection = pending.pop()
            if isinstance(selection, SelectedField):
                if selection.name == name:
                    found.append(selection)
            else:  # a fragment: its selections belong to the same level
                pending.extend(selection.selections)
        if not found:
            return False
        level = found
    return True


def page_request(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    """The page a list field's ``first``/``after``/``last``/``before`` arguments ask for."""
    return PageRequest(first=first, after=after, last=last, before=before)


@strawberry.type(description="Where a page stands in its list.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@context_only
def _edge_cursor(root: Edge[Any], info: ContextInfo) -> str:
    """Sealed when the answer selects it (``Cursors``)."""
    return root._cursors[root._index]


@strawberry.type(description="One item of a list, with the cursor to continue from it.")
class Edge(Generic[T]):
    _cursors: strawberry.Private[Sequence[str]]
    _index: strawberry.Private[int]
    cursor: str = strawberry.field(resolver=_edge_cursor)
    node: T


@strawberry.type(description="A page of a list: keyset cursors, at most 100 items per page.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], int]]

    @strawberry.field(description="Items in the whole filtered list (counted only when asked).")
    def total_count(self) -> int:
        return self._count()

    @classmethod
    def of(cls, page: Page, nodes: Sequence[Any]) -> Connection[Any]:
        cursors = page.cursors
        if len(cursors) != len(nodes):
            raise ValueError("a page needs one cursor per node")
        return cls(
            edges=[Edge(_cursors=cursors, _index=i, node=n) for i, n in enumerate(nodes)],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            _count=page.count_total,
        )


def bilingual_enum(
    python_enum: type[E], description: str, labels: dict[str, str], name: str | None = None
) -> type[E]:
    """Register ``python_enum`` as a GraphQL enum whose values carry English + 中文 descriptions
    (``name``: its GraphQL name when not the class's)."""
    missing = {m.name for m in python_enum} - set(labels)
    if missing:
        raise ValueError(f"{python_enum.__name__}: no description for {sorted(missing)}")
    # A private helper class (``_CustomerErrorCode``) still gets its public GraphQL name.
    name = name or python_enum.__name__.lstrip("_")
    registered = strawberry.enum(python_enum, name=name, description=description)
    for value in registered.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = labels[value.name]
    return registered


@strawberry.enum(description="Sort direction. 排序方向。")
class SortDirection(Enum):
    ASC = strawberry.enum_value("ASC", description="Ascending 升序")
    DESC = strawberry.enum_value("DESC", description="Descending 降序")


@strawberry.input(description="Text comparisons.")
class StringFilter:
    eq: str | None = None
    in_: list[str] | None = strawberry.field(name="in", default=None)
    contains: str | None = None
    starts_with: str | None = None


@strawberry.input(description="Exact match on a protected value (searched by keyed hash).")
class ExactFilter:
    eq: str


@strawberry.input(description="Date comparisons (inclusive).")
class DateFilter:
    eq: dt.date | None = None
    gte: dt.date | None = None
    lte: dt.date | None = None


@strawberry.input(description="Time comparisons (inclusive), UTC.")
class DateTimeFilter:
    gte: dt.datetime | None = None
    lte: dt.datetime | None = None


@strawberry.input(description="Match by global ID.")
class IDFilter:
    eq: strawberry.ID | None = None
    in_: list[strawberry.ID] | None = strawberry.field(name="in", default=None)


def user_errors(
    exc: UserInputError,
    error_type: Callable[..., T],
    code: Callable[[str], Any] = str,
    extra: Callable[[FieldError], dict[str, Any]] = lambda _: {},
) -> list[T]:
    """A refused input's field errors as a domain's ``UserError`` type (``code`` maps codes,
    ``extra`` gives the domain's structured fields of one error)."""
    return [
        error_type(field=list(e.field), code=code(e.code), message=e.message, **extra(e))
        for e in exc.errors
    ]


@strawberry.input(description="Match a yes/no value.")
class BooleanFilter:
    eq: bool
