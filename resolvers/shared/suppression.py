"""Suppression of small cells in published aggregates (SEG-6, KPI-1, CMP-5): one rule for
every table the API publishes to callers who may not see the customers behind it.

A cell describing fewer customers than the minimum is withheld, and so are as few other cells
as it takes for no withheld cell to be the only one of its line: a published total minus the
shown cells of a line must never give a withheld cell back (complementary suppression). A line
is any set of cells one of which is the sum of the others (a row of siblings and their parent,
a quarter and its months).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


def suppressed(
    counts: Mapping[K, int],
    minimum: int,
    row: Any = None,
    column: Any = None,
    keep_zero: bool = False,
    also: Iterable[K] = (),
    *,
    lines: Callable[[Any], Iterable[Hashable]] | None = None,
    fixed: Mapping[Any, bool] | None = None,
) -> set[K]:
    """The cells to withhold: those under ``minimum`` (with ``keep_zero``, cells of no customer
    at all describe nobody and stay shown) and ``also`` (withheld for another reason), then,
    until none is alone in its line, the smallest shown cell beside a lone one.

    A cell's lines are its row (``row(key)``) and column (``column(key)``), or whatever
    ``lines(key)`` names. ``fixed`` cells (key → withheld) were decided before — a parent's
    total in its own table: they count in their lines but are never chosen. The result
    depends on ``counts``'s order only through ties, broken by the keys' ``repr``; callers that
    must agree across queries pass the cells in one order."""
    if lines is None:

        def lines(key: Any) -> Iterable[Hashable]:
            return (("row", row(key)), ("column", column(key)))

    hidden = {
        key for key, count in counts.items() if count < minimum and not (keep_zero and count == 0)
    } | set(also)
    members: dict[Hashable, list[K]] = defaultdict(list)
    for key in counts:
        for line in lines(key):
            members[line].append(key)
    decided: dict[Hashable, int] = defaultdict(int)
    for key, withheld in (fixed or {}).items():
        for line in lines(key):
            decided[line] += withheld
    changed = True
    while changed:
        changed = False
        for line, keys in members.items():
            if decided[line] + sum(key in hidden for key in keys) != 1:
                continue
            shown = [key for key in keys if key not in hidden]
            if shown:
                # A cell of nobody hides nothing: the smallest of some customers first.
                hidden.add(min(shown, key=lambda k: (counts[k] == 0, counts[k], repr(k))))
                changed = True
    return hidden
