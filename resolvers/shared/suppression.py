"""Suppression of small cells in published aggregates (SEG-6, KPI-1, CMP-5): one rule for
every table the API publishes to callers who may not see the customers behind it.

A cell describing fewer customers than the minimum is withheld, and so are as few other cells
as it takes for no withheld cell to be the only one of its row or column: a published total
minus the shown cells of a line must never give a withheld cell back (complementary
suppression).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


def suppressed(
    counts: Mapping[K, int],
    minimum: int,
    row: Any,
    column: Any,
    keep_zero: bool = False,
    also: Iterable[K] = (),
) -> set[K]:
    """The cells to withhold: those under ``minimum`` (with ``keep_zero``, cells of no customer
    at all describe nobody and stay shown) and ``also`` (withheld for another reason), then,
    until none is alone in its row (``row(key)``) or column (``column(key)``), the smallest
    shown cell beside a lone one."""
    hidden = {
        key for key, count in counts.items() if count < minimum and not (keep_zero and count == 0)
    } | set(also)
    lines: list[dict[Any, list[K]]] = [defaultdict(list), defaultdict(list)]
    for key in counts:
        lines[0][row(key)].append(key)
        lines[1][column(key)].append(key)
    changed = True
    while changed:
        changed = False
        for groups in lines:
            for keys in groups.values():
                if sum(key in hidden for key in keys) != 1:
                    continue
                shown = [key for key in keys if key not in hidden]
                if shown:
                    # A cell of nobody hides nothing: the smallest of some customers first.
                    hidden.add(min(shown, key=lambda k: (counts[k] == 0, counts[k], repr(k))))
                    changed = True
    return hidden
