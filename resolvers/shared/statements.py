"""Statements built once per shape and values, for lists whose statement costs more to build
than to run (a manager's contact worklist: SQLAlchemy constructs and names its subqueries'
columns each time, about a millisecond, for a query that runs in about one).

A cached statement takes what changes from request to request (the time) as bound parameters
given when it runs; what it is built from (the caller's row conditions, a list's filters) is
part of the key, by SQLAlchemy's own cache key of each condition and its bound values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select

T = TypeVar("T")
MAX_ENTRIES = 512

_built: dict[Hashable, Any] = {}
# id(a statement built here) → (it, {key: a statement derived from it, e.g. its first page})
_derived: dict[int, tuple[Select[Any], dict[Hashable, Any]]] = {}
_lock = threading.Lock()


def built_once(
    name: Hashable, conditions: Sequence[ColumnElement[Any]], build: Callable[[], T]
) -> T:
    """``build()`` once per ``name`` and conditions (shape and values); a condition SQLAlchemy
    cannot key (or with values that are not hashable) is built every time."""
    keys = [condition_key(c) for c in conditions]
    if any(k is None for k in keys):
        return build()
    key = (name, *keys)
    found = _built.get(key)
    if found is None:
        found = build()
        with _lock:
            if len(_built) >= MAX_ENTRIES:
                _built.clear()
                _derived.clear()
            _built[key] = found
            for part in found if isinstance(found, tuple) else (found,):
                if isinstance(part, Select):
                    _derived[id(part)] = (part, {})
    return found  # type: ignore[no-any-return]


def derived(statement: Select[Any], key: Hashable, make: Callable[[], T]) -> T:
    """``make()`` once per ``key`` for a statement :func:`built_once` made (e.g. its first page
    of a size; kept as long as the statement is), every time for any other statement."""
    entry = _derived.get(id(statement))
    if entry is None or entry[0] is not statement:
        return make()
    found = entry[1].get(key)
    if found is None:
        found = entry[1][key] = make()
    return found  # type: ignore[no-any-return]


def condition_key(condition: ColumnElement[Any]) -> Hashable | None:
    """What identifies a condition with its values (None: not cacheable)."""
    cache_key = condition._generate_cache_key()
    if cache_key is None:
        return None
    values = tuple(
        tuple(v) if isinstance(v, list) else v
        for v in (p.effective_value for p in cache_key.bindparams)
    )
    try:
        hash(values)
    except TypeError:
        return None
    return cache_key.key, values
