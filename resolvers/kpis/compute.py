"""KPI computation (KPI-1): indicators for a period and scope, with comparisons, the series and
the drill-down — the internal API every KPI reader (the ``kpis`` query, ``complaintStatistics``'s
measures, scorecards) goes through.

``compute(session, period, scope, codes, ...)`` runs each needed family once per group of
disjoint windows (one statement each, grouped by the scope's children), then sums the grouped
rows into the scope's total and its children's cells (customers are partitioned by the child
keys, so sums are exact). With ``minimum`` (callers who see aggregates only) cells describing
fewer customers are suppressed, with complementary suppression across each row of siblings; a
scope's own total follows its cell in its parent's row (computed in the same statement), so a
total published here cannot give back a sibling withheld there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core.errors import UserInputError
from resolvers.kpis import families
from resolvers.kpis.indicators import BY_CODE, INDICATORS, LOST_REASONS, Indicator, ValueKind
from resolvers.kpis.periods import KpiPeriod, Window, layers
from resolvers.kpis.scope import CHILD, Attribution, Level, Scope, parent
from resolvers.shared.suppression import suppressed
from store.kpis import Team
from store.staff import Branch, Staff

EMPTY_DENOMINATOR = "EMPTY_DENOMINATOR"
SUPPRESSED = "SUPPRESSED"
PLACES = {
    ValueKind.RATIO: Decimal("0.0001"),
    ValueKind.PER_THOUSAND: Decimal("0.01"),
    ValueKind.AVERAGE: Decimal("0.01"),
    ValueKind.AMOUNT: Decimal("0.01"),
    ValueKind.COUNT: Decimal("1"),
}
# Families whose measures are money (CNY amounts).
MONEY = {"flows.deposit", "flows.loan", "flows.fee"}

GroupKey = tuple[Any, ...]


@dataclass(frozen=True)
class Figure:
    """One indicator's value in one window for one scope (all None when suppressed)."""

    window: Window
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    customers: int | None
    reason: str | None  # why value is null: EMPTY_DENOMINATOR or SUPPRESSED
    breakdown: tuple[tuple[str, int | None], ...] = ()


@dataclass(frozen=True)
class Change:
    absolute: Decimal | None
    relative: Decimal | None  # absolute ÷ |the other value|; None when that is 0 or unknown

    @classmethod
    def between(cls, current: Figure, other: Figure) -> Change:
        if current.value is None or other.value is None:
            return cls(None, None)
        absolute = current.value - other.value
        relative = (
            None
            if other.value == 0
            else (absolute / abs(other.value)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        )
        return cls(absolute, relative)


@dataclass(frozen=True)
class Value:
    """An indicator for one scope: the period, its comparisons and the series."""

    indicator: Indicator
    current: Figure
    previous: Figure
    last_year: Figure
    series: tuple[Figure, ...]

    @property
    def change_previous(self) -> Change:
        return Change.between(self.current, self.previous)

    @property
    def change_last_year(self) -> Change:
        return Change.between(self.current, self.last_year)


@dataclass(frozen=True)
class Unit:
    """The bank, a branch, a team (key None under a branch: no team) or a staff member."""

    level: Level
    key: int | None
    label: str
    values: dict[str, Value]


@dataclass(frozen=True)
class Report:
    period: KpiPeriod
    scope: Scope
    minimum: int | None  # None: nothing suppressed
    as_of: datetime
    total: Unit
    children: tuple[Unit, ...]


def indicators_of(codes: Sequence[str] | None, field: str = "indicators") -> list[Indicator]:
    """The indicators named (every one when None); ``UNKNOWN_INDICATOR`` naming the entry."""
    if codes is None:
        return list(INDICATORS)
    found = []
    for i, code in enumerate(codes):
        indicator = BY_CODE.get(code)
        if indicator is None:
            raise UserInputError.one((field, str(i)), "UNKNOWN_INDICATOR", "no such indicator")
        if indicator not in found:
            found.append(indicator)
    return found


@dataclass
class _Data:
    """Grouped rows per family: (group key, window label) → measures."""

    rows: dict[str, dict[tuple[GroupKey, str], dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    # (family, window, id of a key set) → the family's measures summed over the set: each
    # figure reads two or three measures of a set other figures read too.
    # The set is kept beside its sums, so its id cannot be reused while the memo lives.
    _sums: dict[tuple[str, str, int], tuple[set[GroupKey], dict[str, Any]]] = field(
        default_factory=dict
    )

    def add(self, family: str, key: GroupKey, window: str, measures: dict[str, Any]) -> None:
        found = self.rows[family].setdefault((key, window), {})
        for name, value in measures.items():
            found[name] = found.get(name, 0) + (value or 0)

    def keys(self) -> set[GroupKey]:
        return {key for rows in self.rows.values() for key, _ in rows}

    def sum(self, measure: str, window: str, keys: set[GroupKey]) -> Any:
        """``measure`` ("family.name") summed over the rows of ``keys`` in ``window`` (the key
        sets are the ones ``compute`` keeps for the whole computation)."""
        family, _, name = measure.partition(".")
        memo = (family, window, id(keys))
        found = self._sums.get(memo)
        if found is None:
            rows = self.rows.get(family, {})
            summed: dict[str, Any] = {}
            for key in keys:
                for measure_name, value in rows.get((key, window), {}).items():
                    summed[measure_name] = summed.get(measure_name, 0) + value
            found = self._sums[memo] = (keys, summed)
        return found[1].get(name, 0)


def _run(session: Session, frame: families.Frame, needed: set[str], data: _Data) -> None:
    labels = [w.label for w in frame.windows]
    width = len(frame.keys)
    for name in sorted(needed):
        if families.SHARED.get(name) in needed:
            continue  # answered by the other family's statement
        statement = families.FAMILIES[name](frame)
        if statement is None:
            continue
        answered = [name, *(f for f, by in families.SHARED.items() if by == name and f in needed)]
        for row in families.execute(session, name, statement):
            key = tuple(row[f"g{i}"] for i in range(width))
            if name in families.WIDE:
                for i, label in enumerate(labels):
                    data.add(name, key, label, {"customers": row[f"b{i}"]})
            elif name in families.SPLIT:
                split = families.SPLIT[name]
                measures = {
                    "customers": row["customers"],
                    f"{split}:{row[split]}": row["customers"],
                }
                data.add(name, key, labels[row["w"]], measures)
            else:
                measures = {k: v for k, v in row.items() if k != "w" and not k.startswith("g")}
                for family in answered:
                    data.add(family, key, labels[row["w"]], measures)


def compute(
    session: Session,
    period: KpiPeriod,
    scope: Scope,
    indicators: Sequence[Indicator],
    *,
    now: datetime,
    today: date,
    visible: ColumnElement[bool],
    minimum: int | None = None,
    drill_down: bool = False,
) -> Report:
    """The indicators for ``scope`` over ``period`` (see the module docstring)."""
    needed = set().union(*(i.families for i in indicators)) if indicators else set()
    child = CHILD.get(scope.level) if drill_down else None
    with_parent = minimum is not None and scope.level is not Level.BANK
    computed = parent(scope) if with_parent else scope
    keys = ((scope.level,) if with_parent else ()) + ((child,) if child else ())
    at = min(period.window.ends_at, now)
    data = _Data()
    for layer in layers(period.windows):
        frame = families.Frame(computed, keys, tuple(layer), visible, Attribution(at), now, today)
        _run(session, frame, needed, data)
    every = data.keys()
    if with_parent:
        mine = {k for k in every if k[0] == scope.key}
        siblings: dict[Any, set[GroupKey]] = defaultdict(set)
        for k in every:
            siblings[k[0]].add(k)
        siblings.setdefault(scope.key, set())
    else:
        mine = set(every)
        siblings = {scope.key: mine}
    children: dict[Any, set[GroupKey]] = defaultdict(set)
    if child is not None:
        for k in mine:
            children[k[-1]].add(k)
    labels = _labels(session, child, [k for k in children if k is not None])
    windows = list(dict.fromkeys([*period.series, period.previous, period.last_year]))
    total_values: dict[str, Value] = {}
    child_values: dict[Any, dict[str, Value]] = {k: {} for k in children}
    for indicator in indicators:
        figures: dict[str, Figure] = {}
        child_figures: dict[Any, dict[str, Figure]] = {k: {} for k in children}
        for window in windows:
            made = _figures(indicator, window, data, siblings, scope.key, children, minimum)
            figures[window.label] = made[0]
            for k, figure in made[1].items():
                child_figures[k][window.label] = figure
        total_values[indicator.code] = _value(indicator, period, figures)
        for k in children:
            child_values[k][indicator.code] = _value(indicator, period, child_figures[k])
    assert child is not None or not children
    units = tuple(
        Unit(child, k, labels.get(k, "未分组") if k is not None else "未分组", child_values[k])  # type: ignore[arg-type]
        for k in sorted(children, key=lambda k: (k is None, labels.get(k, ""), k or 0))
    )
    total = Unit(scope.level, scope.key, scope.label, total_values)
    return Report(period, scope, minimum, now, total, units)


def _value(indicator: Indicator, period: KpiPeriod, figures: dict[str, Figure]) -> Value:
    return Value(
        indicator,
        figures[period.window.label],
        figures[period.previous.label],
        figures[period.last_year.label],
        tuple(figures[w.label] for w in period.series),
    )


def _figures(
    indicator: Indicator,
    window: Window,
    data: _Data,
    siblings: dict[Any, set[GroupKey]],
    own: Any,
    children: dict[Any, set[GroupKey]],
    minimum: int | None,
) -> tuple[Figure, dict[Any, Figure]]:
    """The scope's figure and its children's for one window, suppression applied."""
    label = window.label

    def customers(keys: set[GroupKey]) -> int:
        found = int(data.sum(indicator.customers, label, keys))
        if indicator.population is None or minimum is None:
            return found
        # A ratio over a denominator of few customers describes each of them, even with no
        # one in the numerator (0 complaints of 3 customers): count the cell as that small.
        base = int(data.sum(indicator.population, label, keys))
        return found if base >= minimum or base == 0 else min(max(found, 1), base)

    hidden_children: set[Any] = set()
    own_hidden = False
    if minimum is not None:
        row = {s: customers(keys) for s, keys in siblings.items()}
        hidden_row = suppressed(row, minimum, row=lambda _: 0, column=lambda k: k, keep_zero=True)
        own_hidden = own in hidden_row
        counts = {k: customers(keys) for k, keys in children.items()}
        hidden_children = suppressed(
            counts, minimum, row=lambda _: 0, column=lambda k: k, keep_zero=True
        )
        if own_hidden and counts and not hidden_children:
            # The children of a withheld total must not add up to it.
            smallest = min(counts, key=lambda k: (counts[k] == 0, counts[k], repr(k)))
            hidden_children = suppressed(
                counts,
                minimum,
                row=lambda _: 0,
                column=lambda k: k,
                keep_zero=True,
                also=[smallest],
            )
    own_keys = siblings.get(own, set())
    total = _figure(indicator, window, data, own_keys, own_hidden, minimum)
    made = {
        k: _figure(indicator, window, data, keys, k in hidden_children, minimum)
        for k, keys in children.items()
    }
    if indicator.breakdown is not None:
        total, made = _breakdowns(indicator, window, data, own_keys, total, children, made, minimum)
    return total, made


def _number(indicator: Indicator, measure: str, value: Any) -> Decimal:
    if measure in MONEY:
        # SQLite sums the fen the Money type stores there; PostgreSQL returns exact numerics.
        return Decimal(value).quantize(Decimal("0.01"))
    return Decimal(value)


def _figure(
    indicator: Indicator,
    window: Window,
    data: _Data,
    keys: set[GroupKey],
    hidden: bool,
    minimum: int | None,
) -> Figure:
    if hidden:
        return Figure(window, None, None, None, None, SUPPRESSED)
    label = window.label
    numerator = _number(indicator, indicator.numerator, data.sum(indicator.numerator, label, keys))
    customers = int(data.sum(indicator.customers, label, keys))
    if indicator.denominator is None:
        value = numerator.quantize(PLACES[indicator.kind], ROUND_HALF_UP)
        return Figure(window, value, numerator, None, customers, None)
    denominator = Decimal(data.sum(indicator.denominator, label, keys))
    if denominator == 0:
        return Figure(window, None, numerator, denominator, customers, EMPTY_DENOMINATOR)
    ratio = numerator / denominator
    if indicator.kind is ValueKind.PER_THOUSAND:
        ratio *= 1000
    value = ratio.quantize(PLACES[indicator.kind], ROUND_HALF_UP)
    return Figure(window, value, numerator, denominator, customers, None)


def _breakdowns(
    indicator: Indicator,
    window: Window,
    data: _Data,
    own_keys: set[GroupKey],
    total: Figure,
    children: dict[Any, set[GroupKey]],
    made: dict[Any, Figure],
    minimum: int | None,
) -> tuple[Figure, dict[Any, Figure]]:
    """Split a count by its reasons; with ``minimum``, reasons are cells too (the scope's
    reasons a row, the children's a table of child × reason)."""
    family = indicator.breakdown
    label = window.label

    def count(keys: set[GroupKey], reason: str) -> int:
        return int(data.sum(f"{family}.reason:{reason}", label, keys))

    own = {r: count(own_keys, r) for r in LOST_REASONS}
    table = {(k, r): count(keys, r) for k, keys in children.items() for r in LOST_REASONS}
    own_hidden: set[str] = set()
    table_hidden: set[tuple[Any, str]] = set()
    if minimum is not None:
        own_hidden = suppressed(
            own,
            minimum,
            row=lambda _: 0,
            column=lambda r: r,
            keep_zero=True,
            also=list(LOST_REASONS) if total.reason == SUPPRESSED else [],
        )
        table_hidden = suppressed(
            table,
            minimum,
            row=lambda k: k[0],
            column=lambda k: k[1],
            keep_zero=True,
            also=[(k, r) for k in children if made[k].reason == SUPPRESSED for r in LOST_REASONS],
        )

    def split(values: dict[str, int], hidden: Iterable[Any], key: Any) -> tuple[Any, ...]:
        gone = set(hidden)
        return tuple(
            (r, None if (r if key is _OWN else (key, r)) in gone else values[r])
            for r in LOST_REASONS
        )

    total = _with(total, split(own, own_hidden, _OWN))
    made = {
        k: _with(f, split({r: table[(k, r)] for r in LOST_REASONS}, table_hidden, k))
        for k, f in made.items()
    }
    return total, made


_OWN = object()


def _with(figure: Figure, breakdown: tuple[tuple[str, int | None], ...]) -> Figure:
    return Figure(
        figure.window,
        figure.value,
        figure.numerator,
        figure.denominator,
        figure.customers,
        figure.reason,
        breakdown,
    )


def _labels(session: Session, level: Level | None, keys: list[int]) -> dict[Any, str]:
    """Names of the children (one statement)."""
    if level is None or not keys:
        return {}
    model: Any = {Level.BRANCH: Branch, Level.TEAM: Team, Level.STAFF: Staff}[level]
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(keys))).all())
