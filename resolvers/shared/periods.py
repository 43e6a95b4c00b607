"""Report periods in Beijing dates: ISO weeks, months, quarters, years (REL-2 cadence, KPI-1).

A period is ``[start, end)`` in Beijing dates; as instants, from the start date's Beijing
midnight (:func:`midnight`) to the end date's.
"""

from __future__ import annotations

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
