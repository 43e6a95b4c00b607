"""Suppression of small cells in published aggregates (SEG-6, KPI-1, CMP-5): one rule for
every table the API publishes to callers who may not see the customers behind it.

A cell describing fewer customers than the minimum is withheld, and so are as few other cells
as it takes for no withheld cell to be the only one of its line, and for the withheld cells of
a line to describe at least the minimum together: a published total minus the shown cells of a
line must never give a withheld cell back, nor a small sum of withheld cells (complementary
suppression). A line
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
    total: Callable[[Hashable], Any] | None = None,
) -> set[K]:
    """The cells to withhold: those under ``minimum`` (with ``keep_zero``, cells of no customer
    at all describe nobody and stay shown) and ``also`` (withheld for another reason), then,
    until no line's withheld cells can be told — one alone, or several of fewer customers
    together than the minimum — the smallest shown cell of such a line.

    A cell's lines are its row (``row(key)``) and column (``column(key)``), or whatever
    ``lines(key)`` names. ``fixed`` cells (key → withheld) were decided before — a parent's
    total in its own table: they count in their lines but are never chosen. The result
    depends on ``counts``'s order only through ties, broken by the keys' ``repr``; callers that
    must agree across queries pass the cells in one order. ``total(line)``: the member that is
    the line's sum (a year among its months), if any."""
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

    def exposed(line: Hashable, keys: list[K]) -> str | None:
        """How the line's withheld cells can be told: ``alone`` (one withheld cell: the total
        minus the shown ones), ``small`` (several whose sum — the total minus the shown cells —
        describes fewer customers than the minimum), or None. A withheld total (``fixed``, or
        the member ``total(line)`` names) keeps that sum unknown."""
        withheld = [key for key in keys if key in hidden]
        if decided[line] + len(withheld) == 1:
            return "alone"
        if decided[line] or not withheld:
            return None
        whole = total(line) if total is not None else None
        if whole is not None and whole in hidden:
            return None
        parts = sum(counts[key] for key in withheld if key != whole)
        return "small" if parts < minimum else None

    changed = True
    while changed:
        changed = False
        for line, keys in members.items():
            how = exposed(line, keys)
            if how is None:
                continue
            shown = [key for key in keys if key not in hidden]
            if how == "small":
                # Only a cell of some customers makes the sum any bigger.
                shown = [key for key in shown if counts[key] > 0]
            if shown:
                # A cell of nobody hides nothing: the smallest of some customers first.
                hidden.add(min(shown, key=lambda k: (counts[k] == 0, counts[k], repr(k))))
                changed = True
    return hidden
