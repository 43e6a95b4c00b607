"""Complaint deadlines: how long each step may take, and the one definition of "overdue".

A deadline is the first instant after its last natural day (Beijing midnight), so a complaint is
overdue from that instant on — the instant itself included — as the timers that escalate it see
it. The field ``overdue``, the presented ``slaState``, the ``overdue``/``slaState`` filters, the
statistics and the escalation all ask :func:`is_overdue` or its SQL twin
:func:`overdue_condition`; the two are written side by side so they cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, literal, or_

from core import clock
from store.complaints import Complaint, ComplaintEventKind, ComplaintStatus, Complexity, SlaState

# A withdrawn or merged complaint owes no decision: it misses no deadline (CMP-7).
ENDED_UNDECIDED = (ComplaintStatus.WITHDRAWN, ComplaintStatus.MERGED)
# Deadlines are natural days counted in Beijing time from the day after acceptance.
DECISION_DAYS = {
    Complexity.STANDARD: 15,
    Complexity.COMPLEX: 30,
    Complexity.ESPECIALLY_COMPLEX: 60,
}
MAX_DAYS = 60
ASSIGN_WITHIN_DAYS = 1
WARNING_DAYS_BEFORE = 3
PROGRESS_EVERY_DAYS = 5
CALL_BACK_WITHIN_DAYS = 7
REVIEW_REQUEST_DAYS = 30
REVIEW_DECISION_DAYS = 30
# External appraisal, testing or mediation time is not counted (CBIRC 2020 No. 3, art. 26);
# the rules set no limit, the bank does: at most this many natural days in all per complaint,
# so no complaint leaves its clock for good.
MAX_PAUSED_DAYS = 60


def natural_day_deadline(accepted_at: datetime, days: int) -> datetime:
    """The end of the ``days``-th natural day after acceptance (Beijing time), in UTC.

    The day of acceptance is not counted; weekends and holidays are (natural days).
    """
    if days > MAX_DAYS:
        raise ValueError(f"a complaint deadline may be at most {MAX_DAYS} days")
    return clock.end_of_business_day(clock.business_date(accepted_at) + timedelta(days=days))


def paused_natural_days(started_at: datetime, ended_at: datetime) -> int:
    """Natural days a pause took: from the Beijing date it started to the date it ended (the
    day it ends counts again; a pause that starts and ends on one day moves nothing)."""
    return max(0, (clock.business_date(ended_at) - clock.business_date(started_at)).days)


def pause_latest_end(started_at: datetime, allowance_days: int) -> datetime:
    """The Beijing midnight at which a pause started at ``started_at`` has used
    ``allowance_days`` natural days: it counts no further."""
    return clock.end_of_business_day(
        clock.business_date(started_at) + timedelta(days=allowance_days - 1)
    )


def shifted_by_pauses(deadline: datetime, paused_days: int) -> datetime:
    """``deadline`` moved on by the natural days its clock stood still — the one place a pause
    changes a deadline (at most :data:`MAX_PAUSED_DAYS`). Whole days keep a deadline at its
    Beijing midnight."""
    return deadline + timedelta(days=min(max(paused_days, 0), MAX_PAUSED_DAYS))


def decision_deadline(accepted_at: datetime, days: int, paused_days: int) -> datetime:
    """The decision deadline: ``days`` natural days after acceptance, plus the paused days."""
    return shifted_by_pauses(natural_day_deadline(accepted_at, days), paused_days)


class Deadlines(Protocol):
    """What the overdue rule reads: a complaint row, or a presented complaint."""

    status: Any
    decided_at: datetime | None
    decision_due_at: datetime
    review_outcome: str | None
    review_due_at: datetime | None


def missed(complaint: Deadlines, now: datetime) -> ComplaintEventKind | None:
    """Which deadline ``complaint`` has missed at ``now`` (None: none is missed)."""
    if complaint.status in ENDED_UNDECIDED:
        return None
    if (
        complaint.status == ComplaintStatus.UNDER_REVIEW
        and complaint.review_outcome is None
        and complaint.review_due_at is not None
        and complaint.review_due_at <= now
    ):
        return ComplaintEventKind.REVIEW_DEADLINE_MISSED
    if complaint.decided_at is None and complaint.decision_due_at <= now:
        return ComplaintEventKind.DEADLINE_MISSED
    return None


def is_overdue(complaint: Deadlines, now: datetime) -> bool:
    """Undecided at or past the decision deadline, or a review at or past its deadline."""
    return missed(complaint, now) is not None


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """:func:`is_overdue` as an SQL condition on complaints."""
    running = Complaint.status.not_in(ENDED_UNDECIDED)
    return and_(running, _missed_condition(now))


def _missed_condition(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            Complaint.status == ComplaintStatus.UNDER_REVIEW,
            Complaint.review_outcome.is_(None),
            Complaint.review_due_at.is_not(None),
            Complaint.review_due_at <= now,
        ),
        and_(Complaint.decided_at.is_(None), Complaint.decision_due_at <= now),
    )


def decided_late(decided_at: datetime, decision_due_at: datetime) -> bool:
    """A decision delivered at the deadline instant or later missed it."""
    return decided_at >= decision_due_at


def decided_on_time_condition() -> ColumnElement[bool]:
    """SQL: decided, and before the deadline instant (the negation of :func:`decided_late`)."""
    return and_(Complaint.decided_at.is_not(None), Complaint.decided_at < Complaint.decision_due_at)


def sla_state(complaint: Deadlines, stored: SlaState, now: datetime) -> SlaState:
    """The deadline health shown: BREACHED as soon as the complaint is overdue, even before
    the timer that escalates it has run; otherwise what the process recorded."""
    return SlaState.BREACHED if is_overdue(complaint, now) else stored


def sla_state_expression(now: datetime) -> Any:
    """:func:`sla_state` as an SQL expression (for filters)."""
    return case(
        (overdue_condition(now), literal(SlaState.BREACHED, Complaint.sla_state.type)),
        else_=Complaint.sla_state,
    )
