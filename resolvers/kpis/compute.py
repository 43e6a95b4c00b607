"""KPI computation (KPI-1): indicators for a period and scope, with comparisons, the series and
the drill-down — the internal API every KPI reader (the ``kpis`` query, ``complaintStatistics``'s
measures, scorecards) goes through.

``compute(session, period, scope, codes, ...)`` runs each needed family once per group of
disjoint windows (one statement each, grouped by the scope's children), then sums the grouped
rows into the scope's total and its children's cells (customers are partitioned by the child
keys, so sums are exact; the families attributed to staff, where a customer may lie under
several keys, count their customers once per level of the keys instead).

With ``minimum`` (callers who see aggregates only) cells describing fewer customers are
suppressed, with complementary suppression along every line a cell lies in: its row of
siblings with their parent, and its calendar (a quarter and its months, a year and its quarters
or months). Suppression is decided top down — the bank, the branches, the teams of the scope's
branch, the staff of the scope's team — over the whole calendar years the period touches, from
two statements per family and layer (the bank by branch; the scope's branch by team and staff),
so that every question that can show a cell decides it alike: no answer minus another gives a
withheld cell back. Such callers ask for calendar periods only (a range is refused) and teams
are taken as they are now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from core.errors import UserInputError
from resolvers.kpis import families
from resolvers.kpis.indicators import BY_CODE, INDICATORS, LOST_REASONS, Indicator, ValueKind
from resolvers.kpis.periods import RANGE, KpiPeriod, Window, lattice, layers, nested_in
from resolvers.kpis.scope import CHILD, Attribution, Level, Scope, membership_at
from resolvers.shared.suppression import suppressed
from store.kpis import Team, TeamMembership
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


def _published(indicator: Indicator) -> set[str]:
    """The measures a figure of ``indicator`` shows (numerator, denominator, customers)."""
    return {indicator.numerator, indicator.customers} | (
        {indicator.denominator} if indicator.denominator else set()
    )


def _sharing_groups() -> dict[str, tuple[Indicator, ...]]:
    """Indicators that show a measure in common, transitively (COMPLAINT_COUNT and
    COMPLAINT_RATE show the complaints; SATISFACTION_SCORE and REFERRAL_RATE the responders):
    each withholds what any of them withholds, or one would show the cell another chose to
    withhold beside a small one."""
    groups: list[list[Indicator]] = []
    for indicator in INDICATORS:
        joined = [g for g in groups if any(_published(i) & _published(indicator) for i in g)]
        merged = [indicator] + [i for g in joined for i in g]
        groups = [g for g in groups if g not in joined] + [merged]
    return {i.code: tuple(sorted(g, key=lambda i: i.code)) for g in groups for i in g}


SHARING = _sharing_groups()


def _sharing(indicators: Sequence[Indicator]) -> list[Indicator]:
    """``indicators`` and every indicator sharing a shown measure with one of them."""
    return list(dict.fromkeys(other for i in indicators for other in SHARING[i.code]))


def _union(
    decided: Sequence[tuple[set[Cell], set[ReasonCell]]],
) -> tuple[set[Cell], set[ReasonCell]]:
    """Withheld cells of several indicators together (a union keeps every line at 0 or at
    least 2 withheld cells when each part does)."""
    return set().union(*(d[0] for d in decided)), set().union(*(d[1] for d in decided))


@dataclass(frozen=True)
class _Node:
    """A unit of the computation: its data keys (the rows it sums) and its parent's id."""

    level: Level
    key: Any
    keys: set[GroupKey]
    parent: tuple[Level, Any] | None
    depth: int  # how many of its rows' group keys fix it (``_customers_of``)

    @property
    def id(self) -> tuple[Level, Any]:
        return (self.level, self.key)


DEPTH = {Level.BANK: 0, Level.BRANCH: 1, Level.TEAM: 2, Level.STAFF: 3}


def attribution_instant(period: KpiPeriod, now: datetime, minimum: int | None) -> datetime:
    """When team memberships are read: the period's end (like for like) — for callers who see
    aggregates only, now, so that every cell they may see has one value whatever they ask
    (a team's July under a July and a September question would otherwise differ by whoever
    moved in between)."""
    return now if minimum is not None else min(period.window.ends_at, now)


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
    deciding = _sharing(indicators) if minimum is not None else list(indicators)
    needed = set().union(*(i.families for i in deciding)) if deciding else set()
    child = CHILD.get(scope.level) if drill_down else None
    attribution = Attribution(attribution_instant(period, now, minimum))
    data = _Data()

    def run(computed: Scope, keys: tuple[Level, ...], windows: list[Window]) -> None:
        for layer in layers(windows):
            frame = families.Frame(computed, keys, tuple(layer), visible, attribution, now, today)
            _run(session, frame, needed, data)

    if minimum is None:
        run(scope, (child,) if child else (), period.windows)
        own = _Node(scope.level, scope.key, data.keys(), None, 0)
        kids: dict[Any, set[GroupKey]] = defaultdict(set)
        for k in own.keys if child else ():
            kids[k[-1]].add(k)
        groups = [[own], [_Node(child, k, v, own.id, 1) for k, v in kids.items()] if child else []]
        windows = period.windows
    else:
        if period.kind == RANGE:
            raise UserInputError.one(
                ("period", "from"),
                "CALENDAR_PERIOD_REQUIRED",
                "aggregate-only callers ask for a month, quarter or year",
            )
        windows = lattice(period.windows)
        deepest = DEPTH[child or scope.level]
        run(Scope(Level.BANK), (Level.BRANCH,), windows)
        if deepest >= DEPTH[Level.TEAM]:
            branch = Scope(Level.BRANCH, scope.branch_id, scope.branch_id)
            deeper = (Level.TEAM,) + ((Level.STAFF,) if deepest == DEPTH[Level.STAFF] else ())
            run(branch, (Level.BRANCH, *deeper), windows)
        groups = _path(scope, deepest, data.keys(), _units(session, scope, deepest, attribution))
    at = DEPTH[scope.level] if minimum is not None else 0
    own_node = next(n for n in groups[at] if n.key == scope.key)
    child_nodes = groups[at + 1] if child else []
    labels = _labels(session, child, [n.key for n in child_nodes if n.key is not None])
    decided = {i.code: _suppression(i, windows, data, groups, minimum) for i in deciding}
    withheld = {
        i.code: _union([decided[o.code] for o in SHARING[i.code] if o.code in decided])
        for i in indicators
    }
    total_values: dict[str, Value] = {}
    child_values: dict[Any, dict[str, Value]] = {n.key: {} for n in child_nodes}
    for indicator in indicators:
        hidden, hidden_reasons = withheld[indicator.code]
        own_figures: dict[str, Figure] = {}
        figures: dict[Any, dict[str, Figure]] = {n.key: {} for n in child_nodes}
        for window in period.windows:
            own_figures[window.label] = _cell(
                indicator, window, data, own_node, hidden, hidden_reasons, minimum
            )
            for n in child_nodes:
                figures[n.key][window.label] = _cell(
                    indicator, window, data, n, hidden, hidden_reasons, minimum
                )
        total_values[indicator.code] = _value(indicator, period, own_figures)
        for n in child_nodes:
            child_values[n.key][indicator.code] = _value(indicator, period, figures[n.key])
    units = tuple(
        Unit(
            n.level,
            n.key,
            labels.get(n.key, "未分组") if n.key is not None else "未分组",
            child_values[n.key],
        )
        for n in sorted(
            child_nodes, key=lambda n: (n.key is None, labels.get(n.key, ""), n.key or 0)
        )
    )
    total = Unit(scope.level, scope.key, scope.label, total_values)
    return Report(period, scope, minimum, now, total, units)


def _units(
    session: Session, scope: Scope, deepest: int, attribution: Attribution
) -> dict[Level, set[Any]]:
    """Every unit of each group of the scope's line as the organisation has it (at most one
    statement per level): a group weighs the same units whatever was asked, not only those the
    asked years have rows for (a team with customers in 2016 only would otherwise join the
    2015 siblings in the answers whose series reach 2016)."""
    units: dict[Level, set[Any]] = {}
    if deepest >= 1:
        units[Level.BRANCH] = set(session.scalars(select(Branch.id)))
    if deepest >= 2:
        found = session.scalars(select(Team.id).where(Team.branch_id == scope.branch_id))
        units[Level.TEAM] = {*found, None}
    if deepest >= 3:
        team = scope.key if scope.level is Level.TEAM else scope.team_id
        membership = and_(TeamMembership.staff_id == Staff.id, membership_at(attribution.at))
        statement = (
            select(Staff.id)
            .outerjoin(TeamMembership, membership)
            .where(Staff.branch_id == scope.branch_id, Staff.third_party_id.is_(None))
        )
        member = TeamMembership.team_id
        statement = statement.where(member.is_(None) if team is None else member == team)
        units[Level.STAFF] = set(session.scalars(statement))
    return units


def _path(
    scope: Scope, deepest: int, keys: set[GroupKey], units: dict[Level, set[Any]]
) -> list[list[_Node]]:
    """The sibling groups from the bank down to ``deepest`` along the scope's line: the bank;
    the branches; the teams of the scope's branch (key None: no team); the staff of the scope's
    team — each group every unit of ``units`` and any other its rows name. Rows of the bank's
    statement are keyed (branch,), those of the branch's (branch, team[, staff])."""
    bank_rows = {k for k in keys if len(k) == 1}
    branch_rows = {k for k in keys if len(k) > 1}
    bank = _Node(Level.BANK, None, bank_rows, None, 0)
    groups = [[bank]]

    def group(level: Level, parent: _Node, rows: set[GroupKey], at: int) -> None:
        by_key: dict[Any, set[GroupKey]] = defaultdict(set)
        for k in rows:
            by_key[k[at]].add(k)
        for unit in units.get(level, ()):
            by_key.setdefault(unit, set())  # every unit, even without customers
        if DEPTH[scope.level] >= DEPTH[level]:
            by_key.setdefault(line[level], set())  # the scope's line, even without customers
        ordered = sorted(by_key, key=lambda k: (k is None, k or 0))
        groups.append([_Node(level, k, by_key[k], parent.id, at + 1) for k in ordered])

    team = scope.key if scope.level is Level.TEAM else scope.team_id
    line = {Level.BRANCH: scope.branch_id, Level.TEAM: team, Level.STAFF: scope.key}
    if deepest >= 1:
        group(Level.BRANCH, bank, bank_rows, 0)
    if deepest >= 2:
        group(Level.TEAM, next(n for n in groups[1] if n.key == scope.branch_id), branch_rows, 1)
    if deepest >= 3:
        rows = {k for k in branch_rows if k[1] == team}
        group(Level.STAFF, next(n for n in groups[2] if n.key == team), rows, 2)
    return groups


Cell = tuple[tuple[Level, Any], str]  # (unit id, window label)
ReasonCell = tuple[tuple[Level, Any], str, str]  # (unit id, reason, window label)


def _suppression(
    indicator: Indicator,
    windows: list[Window],
    data: _Data,
    groups: list[list[_Node]],
    minimum: int | None,
) -> tuple[set[Cell], set[ReasonCell]]:
    """The withheld cells of every group, top down: a group's lines are each window's row of
    siblings with their parent's cell (decided one level up), and each unit's calendar (a
    quarter with its months, a year with its quarters and its months). Every query asking for
    any of these cells computes the same groups over the same whole years, so a cell is shown
    or withheld alike whatever was asked."""
    if minimum is None:
        return set(), set()
    nested = {w.label: nested_in(w) for w in windows}
    hidden: set[Cell] = set()
    hidden_reasons: set[ReasonCell] = set()
    for group in groups:
        counts = {
            (n.id, w.label): _customers(indicator, data, w.label, n, minimum)
            for n in group
            for w in windows
        }
        parent = group[0].parent
        fixed: dict[Any, bool] = (
            {(parent, w.label): (parent, w.label) in hidden for w in windows} if parent else {}
        )

        def lines(cell: Cell, parent: Any = parent) -> list[Hashable]:
            unit, label = cell
            if unit == parent:
                return [("siblings", label)]
            return [("siblings", label)] + [("calendar", unit, n) for n in nested[label]]

        hidden |= suppressed(
            counts, minimum, keep_zero=True, lines=lines, fixed=fixed, total=_calendar_total
        )
        if indicator.breakdown is not None:
            hidden_reasons |= _reason_suppression(
                indicator, windows, data, group, hidden, hidden_reasons, minimum, nested
            )
    return hidden, hidden_reasons


def _reason_suppression(
    indicator: Indicator,
    windows: list[Window],
    data: _Data,
    group: list[_Node],
    hidden: set[Cell],
    hidden_reasons: set[ReasonCell],
    minimum: int,
    nested: dict[str, list[str]],
) -> set[ReasonCell]:
    """The withheld reasons of a group: a unit's reasons add up to its count (withheld with
    it), siblings' reason to their parent's, and a reason's calendar adds up as the count's."""
    parent = group[0].parent
    counts = {
        (n.id, r, w.label): _reason_count(indicator, data, w.label, n.keys, r)
        for n in group
        for r in LOST_REASONS
        for w in windows
    }
    fixed: dict[Any, bool] = {
        (n.id, w.label): (n.id, w.label) in hidden for n in group for w in windows
    }
    if parent is not None:
        fixed |= {
            (parent, r, w.label): (parent, r, w.label) in hidden_reasons
            for r in LOST_REASONS
            for w in windows
        }

    def lines(cell: Any) -> list[Hashable]:
        if len(cell) == 2:  # a unit's count: the total of its reasons
            return [("reasons", *cell)]
        unit, reason, label = cell
        if unit == parent:
            return [("siblings", reason, label)]
        return [("reasons", unit, label), ("siblings", reason, label)] + [
            ("calendar", unit, reason, n) for n in nested[label]
        ]

    also = [c for c in counts if (c[0], c[2]) in hidden]
    return suppressed(
        counts, minimum, keep_zero=True, also=also, lines=lines, fixed=fixed, total=_calendar_total
    )


def _calendar_total(line: Hashable) -> Any:
    """The cell that is a calendar line's sum — the year of ``2026:months``, the quarter of
    ``2026-Q3:months`` — or None (a row of siblings: its total is the parent, decided above)."""
    if not (isinstance(line, tuple) and line[0] == "calendar"):
        return None
    *cell, name = line[1:]
    return (*cell, name.partition(":")[0])


def _customers(indicator: Indicator, data: _Data, label: str, node: _Node, minimum: int) -> int:
    """The customers a cell describes, as suppression counts them."""
    found = int(data.sum(_customers_of(indicator, node.depth), label, node.keys))
    if indicator.population is None:
        return found
    # A ratio over a denominator of few customers describes each of them, even with no one in
    # the numerator (0 complaints of 3 customers): count the cell as that small.
    base = int(data.sum(indicator.population, label, node.keys))
    return found if base >= minimum or base == 0 else min(max(found, 1), base)


def _customers_of(indicator: Indicator, depth: int) -> str:
    """The measure counting the distinct customers of a unit fixed by ``depth`` group keys:
    the indicator's ``customers``, or for a family attributed to staff (a customer may lie
    under several keys) its count per level (``families.PER_LEVEL``)."""
    family, _, name = indicator.customers.partition(".")
    if families.PER_LEVEL.get(family) == name:
        return f"{indicator.customers}{depth}"
    return indicator.customers


def _reason_count(
    indicator: Indicator, data: _Data, label: str, keys: set[GroupKey], reason: str
) -> int:
    return int(data.sum(f"{indicator.breakdown}.reason:{reason}", label, keys))


def _cell(
    indicator: Indicator,
    window: Window,
    data: _Data,
    node: _Node,
    hidden: set[Cell],
    hidden_reasons: set[ReasonCell],
    minimum: int | None,
) -> Figure:
    """A unit's figure in a window, with its reasons when the indicator has them."""
    withheld = (node.id, window.label) in hidden
    figure = _figure(indicator, window, data, node.keys, withheld, node.depth)
    if indicator.breakdown is None:
        return figure
    return _with(
        figure,
        tuple(
            (
                r,
                None
                if (node.id, r, window.label) in hidden_reasons
                else _reason_count(indicator, data, window.label, node.keys, r),
            )
            for r in LOST_REASONS
        ),
    )


def _value(indicator: Indicator, period: KpiPeriod, figures: dict[str, Figure]) -> Value:
    return Value(
        indicator,
        figures[period.window.label],
        figures[period.previous.label],
        figures[period.last_year.label],
        tuple(figures[w.label] for w in period.series),
    )


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
    depth: int,
) -> Figure:
    if hidden:
        return Figure(window, None, None, None, None, SUPPRESSED)
    label = window.label
    numerator = _number(indicator, indicator.numerator, data.sum(indicator.numerator, label, keys))
    customers = int(data.sum(_customers_of(indicator, depth), label, keys))
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
