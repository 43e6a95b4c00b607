"""The contact cadence (REL-2): how often each value tier is to be contacted, in Beijing dates.

HIGH: at least one contact per ISO week (Monday to Sunday); MEDIUM: per calendar month; LOW:
per calendar quarter. A customer not classified yet counts as LOW (nobody falls through the
cadence). The tier is the one shown now (a supervisor's override in force, else the computed
one): a customer whose tier changes in the middle of a period is held to the new tier's period
that contains today, and any contact in that period counts — a customer lifted to HIGH on a
Wednesday who was contacted on Monday is not due this week; one never contacted since is.

A period is ``[start, end)`` in Beijing dates; as instants, from the start date's Beijing
midnight (:func:`midnight`) to the end date's.
"""

from __future__ import annotations

from datetime import date, timedelta

from resolvers.shared.periods import (
    FIRST_YEAR,
    LAST_YEAR,
    Period,
    PeriodKind,
    midnight,
    period_of,
    report_period,
)
from store.segments import ValueTier

__all__ = [
    "CADENCE",
    "FIRST_YEAR",
    "LAST_YEAR",
    "UNCLASSIFIED",
    "Period",
    "PeriodKind",
    "current_period",
    "midnight",
    "period_of",
    "periods_ending_in",
    "report_period",
]


# How often a tier is to be contacted (REL-2).
CADENCE = {
    ValueTier.HIGH: PeriodKind.WEEK,
    ValueTier.MEDIUM: PeriodKind.MONTH,
    ValueTier.LOW: PeriodKind.QUARTER,
}
# The tier of a customer never classified.
UNCLASSIFIED = ValueTier.LOW


def current_period(tier: ValueTier | str | None, today: date) -> Period:
    """The cadence period of ``tier`` (None: not classified) containing ``today``."""
    chosen = UNCLASSIFIED if tier is None else ValueTier(tier)
    return period_of(CADENCE[chosen], today)


def periods_ending_in(kind: PeriodKind, report: Period) -> list[Period]:
    """The periods of ``kind`` whose last day lies in ``report`` (an ISO week belongs to the
    month, quarter and year of its Sunday)."""
    found = []
    period = period_of(kind, report.start)
    while period.end - timedelta(days=1) < report.end:
        if period.end - timedelta(days=1) >= report.start:
            found.append(period)
        period = period.next()
    return found
