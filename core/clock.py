"""The one clock of Kehu.

Every timestamp and deadline is read from here, always timezone-aware UTC. Where a calendar
date is meant rather than an instant — "not in the future" checks, due dates, validity dates,
ages — it is the business date, the date in Beijing (``Asia/Shanghai``): :func:`today` and
:func:`business_date`. Between 00:00 and 08:00 Beijing time the UTC date is still yesterday, so
``now().date()`` is never the answer. Tests and operators
move time with :func:`travel_to` (for example ``kehu worker --once --now``); nothing else in the
code base calls ``datetime.now``. This module imports nothing from the project, so every floor
(store, authz, workflows, resolvers, schema) may use it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The bank's calendar: business dates, complaint deadlines, report months (no DST since 1991).
BUSINESS_TIME = ZoneInfo("Asia/Shanghai")

_override = threading.local()
_global_override: datetime | None = None


def now() -> datetime:
    """The current time in UTC (or the time set by :func:`travel_to`)."""
    local = getattr(_override, "value", None)
    if local is not None:
        return local
    if _global_override is not None:
        return _global_override
    return datetime.now(UTC)


def today() -> date:
    """Today's business date: the date in Beijing now (or at the time set by ``travel_to``)."""
    return business_date(now())


def business_date(moment: datetime) -> date:
    """The Beijing calendar date of an instant (a naive ``moment`` is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BUSINESS_TIME).date()


def end_of_business_day(day: date) -> datetime:
    """The instant ``day`` ends in Beijing (the following midnight there), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), BUSINESS_TIME).astimezone(UTC)


@contextlib.contextmanager
def travel_to(moment: datetime, *, all_threads: bool = False) -> Iterator[None]:
    """Pretend it is ``moment`` inside the block (for this thread, or for every thread)."""
    global _global_override
    if moment.tzinfo is None:
        raise ValueError("travel_to needs a timezone-aware datetime")
    moment = moment.astimezone(UTC)
    if all_threads:
        previous_global = _global_override
        _global_override = moment
        try:
            yield
        finally:
            _global_override = previous_global
    else:
        previous = getattr(_override, "value", None)
        _override.value = moment
        try:
            yield
        finally:
            _override.value = previous
