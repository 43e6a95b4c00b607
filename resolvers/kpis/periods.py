"""KPI periods (KPI-1): a month, quarter or year by its label, or a range of Beijing dates; the
periods it is compared with and the time series drawn for it.

Labels: ``2026`` (year), ``2026-Q3`` (quarter), ``2026-10`` (month). A range is ``from`` …
``to``, both Beijing dates, inclusive, at most 366 days. A period that begins after today is
refused (``FUTURE_PERIOD``); the period in progress is reported up to now.

Comparisons: the previous period (the one before; for a range, the same number of days just
before it) and the same period last year (for a range, the same dates a year earlier; 29
February → 28 February). The series is the period and those before it: 13 months, 5 quarters
or 3 years — each holds its own comparison periods — and for a range the three windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.errors import Problems, UserInputError
from resolvers.shared.periods import FIRST_YEAR, LAST_YEAR, PeriodKind, midnight, period_of

LABEL = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")
MAX_RANGE_DAYS = 366
# Periods of the series before the reported one: back to the same period last year.
SERIES_BACK = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4, PeriodKind.YEAR: 2}
RANGE = "RANGE"


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in Beijing dates, with its label."""

    label: str
    start: date
    end: date  # the day after the last

    @property
    def starts_at(self) -> datetime:
        return midnight(self.start)

    @property
    def ends_at(self) -> datetime:
        return midnight(self.end)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class KpiPeriod:
    """The reported window, its comparisons and the series (oldest first, the window last)."""

    kind: str  # MONTH, QUARTER, YEAR or RANGE
    window: Window
    previous: Window
    last_year: Window
    series: tuple[Window, ...]

    @property
    def windows(self) -> list[Window]:
        """Every window to compute, without repeats."""
        return list(dict.fromkeys([*self.series, self.previous, self.last_year]))


def _labelled(kind: PeriodKind, day: date) -> Window:
    period = period_of(kind, day)
    if kind is PeriodKind.MONTH:
        label = f"{period.start:%Y-%m}"
    elif kind is PeriodKind.QUARTER:
        label = f"{period.start.year}-Q{(period.start.month - 1) // 3 + 1}"
    else:
        label = str(period.start.year)
    return Window(label, period.start, period.end)


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _range(start: date, end: date) -> Window:
    return Window(f"{start.isoformat()}/{(end - timedelta(days=1)).isoformat()}", start, end)


def parse(
    label: str | None, first: date | None, last: date | None, today: date, field: str = "period"
) -> KpiPeriod:
    """The KPI period of ``label`` or of ``first`` … ``last``; ``UserInputError`` naming
    ``field`` (and the part) when malformed, both or neither given, reversed, too long, or in
    the future."""
    problems = Problems((field,))
    if (label is None) == (first is None and last is None):
        problems.add((), "INVALID", "give either a label or from and to")
        problems.raise_if_any()
    if label is not None:
        match = LABEL.match(label.strip())
        if match is None:
            raise UserInputError.one(
                (field, "label"), "INVALID", "must be a year (2026), quarter (2026-Q3) or month"
            )
        year = int(match[1])
        if not FIRST_YEAR + 1 <= year <= LAST_YEAR:
            raise UserInputError.one((field, "label"), "INVALID", "year out of range")
        if match[2]:
            kind, day = PeriodKind.MONTH, date(year, int(match[2]), 1)
        elif match[3]:
            kind, day = PeriodKind.QUARTER, date(year, (int(match[3]) - 1) * 3 + 1, 1)
        else:
            kind, day = PeriodKind.YEAR, date(year, 1, 1)
        window = _labelled(kind, day)
        if window.start > today:
            raise UserInputError.one(
                (field, "label"), "FUTURE_PERIOD", "the period has not begun yet"
            )
        series = [window]
        for _ in range(SERIES_BACK[kind]):
            series.insert(0, _labelled(kind, series[0].start - timedelta(days=1)))
        previous = series[-2]
        last_year = _labelled(kind, _year_earlier(window.start))
        return KpiPeriod(kind.value, window, previous, last_year, tuple(series))
    if first is None or last is None:
        problems.add(("from" if first is None else "to",), "REQUIRED", "a range needs both ends")
        problems.raise_if_any()
    assert first is not None and last is not None
    if not (first.year >= FIRST_YEAR + 1 and last.year <= LAST_YEAR):
        problems.add(("from",), "INVALID", "year out of range")
    elif last < first:
        problems.add(("to",), "INVALID_RANGE", "must not come before from")
    elif (last - first).days + 1 > MAX_RANGE_DAYS:
        problems.add(("to",), "INVALID_RANGE", f"at most {MAX_RANGE_DAYS} days")
    elif last > today:
        problems.add(("to",), "FUTURE_PERIOD", "must not lie after today")
    problems.raise_if_any()
    end = last + timedelta(days=1)
    window = _range(first, end)
    length = end - first
    previous = _range(first - length, first)
    last_year = _range(_year_earlier(first), _year_earlier(last) + timedelta(days=1))
    ordered = tuple(sorted({window, previous, last_year}, key=lambda w: w.start))
    return KpiPeriod(RANGE, window, previous, last_year, ordered)


def lattice(windows: list[Window]) -> list[Window]:
    """Every month, quarter and year of the calendar years ``windows`` (labelled periods) lie
    in: the cells whose sums are other cells (a quarter is its months, a year its quarters and
    its months), which suppression must consider together (KPI-1)."""
    found: list[Window] = []
    for year in sorted({w.start.year for w in windows}):
        found.append(_labelled(PeriodKind.YEAR, date(year, 1, 1)))
        found += [_labelled(PeriodKind.QUARTER, date(year, q * 3 + 1, 1)) for q in range(4)]
        found += [_labelled(PeriodKind.MONTH, date(year, m, 1)) for m in range(1, 13)]
    return found


def nested_in(window: Window) -> list[str]:
    """The additive lines of the calendar a labelled window belongs to: a year is the total of
    its quarters and of its months, a quarter the total of its months (and one of its year's
    quarters), a month one of its quarter's and its year's months."""
    year = window.start.year
    quarter = f"{year}-Q{(window.start.month - 1) // 3 + 1}"
    if window.label == str(year):
        return [f"{year}:quarters", f"{year}:months"]
    if window.label == quarter:
        return [f"{year}:quarters", f"{quarter}:months"]
    return [f"{year}:months", f"{quarter}:months"]


def layers(windows: list[Window]) -> list[list[Window]]:
    """The windows in groups of mutually disjoint ones (one statement per group buckets each
    row into at most one window)."""
    groups: list[list[Window]] = []
    for window in sorted(windows, key=lambda w: w.start):
        for group in groups:
            if not any(window.overlaps(other) for other in group):
                group.append(window)
                break
        else:
            groups.append([window])
    return groups
