"""Report periods in Beijing dates: ISO weeks, months, quarters, years (REL-2 cadence, KPI-1).

A period is ``[start, end)`` in Beijing dates; as instants, from the start date's Beijing
midnight (:func:`midnight`) to the end date's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from core import clock
from core.errors import UserInputError


class PeriodKind(StrEnum):
    WEEK = "WEEK"  # ISO week, Monday to Sunday
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: date  # first day
    end: date  # the day after the last

    @property
    def starts_at(self) -> datetime:
        return midnight(self.start)

    @property
    def ends_at(self) -> datetime:
        return midnight(self.end)

    def previous(self) -> Period:
        return period_of(self.kind, self.start - timedelta(days=1))

    def next(self) -> Period:
        return period_of(self.kind, self.end)

    @property
    def label(self) -> str:
        """``2026-W49``, ``2026-12``, ``2026-Q4`` or ``2026``."""
        if self.kind is PeriodKind.WEEK:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind is PeriodKind.MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)


def midnight(day: date) -> datetime:
    """The instant ``day`` begins in Beijing, in UTC."""
    return datetime.combine(day, time(0), clock.BUSINESS_TIME).astimezone(UTC)


def _month_start(year: int, month: int) -> date:
    year += (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


# Report dates the calendar arithmetic covers (a period's end and its previous one included).
FIRST_YEAR, LAST_YEAR = 1901, 9998


def report_period(kind: PeriodKind, day: date, field: str) -> Period:
    """The report period of ``kind`` containing ``day``; a day outside the supported years is
    refused naming ``field``."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise UserInputError.one(
            (field,), "INVALID", f"must lie in the years {FIRST_YEAR}…{LAST_YEAR}"
        )
    return period_of(kind, day)


def period_of(kind: PeriodKind, day: date) -> Period:
    """The period of ``kind`` that contains the Beijing date ``day``."""
    if kind is PeriodKind.WEEK:
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=7))
    if kind is PeriodKind.MONTH:
        return Period(kind, day.replace(day=1), _month_start(day.year, day.month + 1))
    if kind is PeriodKind.QUARTER:
        first = (day.month - 1) // 3 * 3 + 1
        return Period(kind, date(day.year, first, 1), _month_start(day.year, first + 3))
    return Period(kind, date(day.year, 1, 1), date(day.year + 1, 1, 1))


# Aggregate-only callers (no customer rows, e.g. marketing analysts) ask for whole periods: two
# free windows a day apart could each pass suppression and differ by one customer (KPI-1).
CALENDAR_PERIOD_REQUIRED = "CALENDAR_PERIOD_REQUIRED"
WHOLE_PERIOD = "roles that see aggregates only ask for a whole month, quarter or year"
_WHOLE_KINDS = (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR)
_LAST_INSTANT = timedelta(microseconds=1)  # an inclusive end: the next midnight less this


def calendar_period(start: date, end: date) -> Period | None:
    """The Beijing calendar month, quarter or year that is exactly ``start`` … ``end`` (both
    inclusive), else None."""
    if not FIRST_YEAR <= start.year <= LAST_YEAR:
        return None
    for kind in _WHOLE_KINDS:
        period = period_of(kind, start)
        if period.start == start and period.end - timedelta(days=1) == end:
            return period
    return None


def _refuse(field: Sequence[str], how: str) -> UserInputError:
    return UserInputError.one(field, CALENDAR_PERIOD_REQUIRED, f"{WHOLE_PERIOD}: {how}")


def require_calendar_period(
    start: date, end: date, start_field: Sequence[str], end_field: Sequence[str]
) -> Period:
    """``start`` … ``end`` (Beijing dates, inclusive) as one whole calendar month, quarter or
    year, else refused (``CALENDAR_PERIOD_REQUIRED``) naming ``start_field`` when no such
    period begins on ``start``, ``end_field`` when none that does ends on ``end``."""
    period = calendar_period(start, end)
    if period is not None:
        return period
    if start.day != 1 or not FIRST_YEAR <= start.year <= LAST_YEAR:
        raise _refuse(start_field, "start on the first day of a month (Beijing dates)")
    raise _refuse(
        end_field,
        f"end on the last day of the month, quarter or year that begins on {start.isoformat()} "
        "(Beijing dates)",
    )


def require_calendar_instants(
    gte: datetime | None, lte: datetime | None, field: Sequence[str]
) -> Period:
    """The instants ``gte`` … ``lte`` (both inclusive, as a ``DateTimeFilter``) as one whole
    calendar month, quarter or year: ``gte`` the Beijing midnight it begins, ``lte`` its last
    instant (the Beijing midnight after it less one microsecond, the finest time stored) —
    else refused (``CALENDAR_PERIOD_REQUIRED``) naming ``field``'s ``gte`` or ``lte``."""
    first = _first_day(gte)
    if first is None:
        raise _refuse(
            (*field, "gte"),
            "gte the Beijing midnight a month begins, e.g. 2026-03-01T00:00:00+08:00",
        )
    last = _last_day(lte)
    period = None if last is None else calendar_period(first, last)
    if period is None:
        raise _refuse(
            (*field, "lte"),
            f"lte the last instant of the month, quarter or year that begins at gte (the next "
            f"Beijing midnight less a microsecond, e.g. "
            f"{period_of(PeriodKind.MONTH, first).end - timedelta(days=1)}T23:59:59.999999+08:00)",
        )
    return period


def _first_day(instant: datetime | None) -> date | None:
    """The Beijing date a month begins on when ``instant`` is its midnight, else None."""
    if instant is None or instant.utcoffset() is None:
        return None
    try:
        day = instant.astimezone(clock.BUSINESS_TIME).date()
    except OverflowError:
        return None
    if day.day != 1 or not FIRST_YEAR <= day.year <= LAST_YEAR or midnight(day) != instant:
        return None
    return day


def _last_day(instant: datetime | None) -> date | None:
    """The Beijing date of which ``instant`` is the last instant, else None."""
    if instant is None or instant.utcoffset() is None:
        return None
    try:
        after = (instant + _LAST_INSTANT).astimezone(clock.BUSINESS_TIME)
    except OverflowError:
        return None
    if after.time() != time(0) or not FIRST_YEAR <= after.year <= LAST_YEAR:
        return None
    return after.date() - timedelta(days=1)
