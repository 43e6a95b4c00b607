"""Complaint deadlines: how long each step may take, the clocks that run, and "overdue" (CMP-6).

The rules live here, not in the diagram: a process owner can change the flow, not the clock.
Every complaint has a decision deadline in force (15/30/60 natural days, a row per deadline,
an extension ending the old row as EXTENDED) that runs whatever stage the complaint is in, and
every user task of its process gets a due time computed here (:func:`task_due`): the decision
deadline for the steps towards the decision, a clock of its own (a deadline row) for the others.
The timers worker (:mod:`.sweep`) warns before and escalates after each row's due time, once.

A deadline is the first instant after its last natural day (Beijing midnight), so a complaint is
overdue from that instant on — the instant itself included. The field ``overdue``, the
presented ``slaState``, the filters, the statistics and the escalation all ask
:func:`is_overdue` or its SQL twin :func:`overdue_condition`, written side by side.

Every deadline is computed through :func:`natural_day_deadline`; a pause of the clock (an
external appraisal, testing, mediation) moves the decision deadline by its natural days
(:func:`decision_deadline`, :func:`shifted_by_pauses`) and the running clocks with
:func:`postpone`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, literal, or_, select
from sqlalchemy.orm import Session

from core import clock
from store.complaints import (
    Complaint,
    ComplaintDeadline,
    ComplaintEventKind,
    ComplaintStatus,
    Complexity,
    CustomerMessage,
    CustomerMessageKind,
    DeadlineEnd,
    DeadlineStage,
    Rectification,
    SlaState,
)
from store.outbox import OutboxMessage
from store.workflows import ProcessInstance, ProcessTask, TaskStatus
from workflows import runtime

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
RECTIFY_WITHIN_DAYS = 30
SUPERVISE_WITHIN_DAYS = 1

# The stage of each user task, by its form (the forms are the contract between the code and
# the diagram). DECISION: the task runs against the decision deadline in force (one clock, so a
# breach escalates once however many steps it spans); None: no clock of its own (supervising).
# Tasks the code opens itself, once per breach (:mod:`.sweep`): earlier diagrams drew their
# own after a boundary timer, which gave two supervise tasks for one breach; theirs pass.
SUPERSEDED_FORMS = frozenset({"supervise_overdue"})
STAGE_OF_FORM: dict[str, DeadlineStage | None] = {
    "assign_handler": DeadlineStage.ASSIGNMENT,
    "investigate": DeadlineStage.DECISION,
    "approve_extension": DeadlineStage.DECISION,
    "decision_notice": DeadlineStage.DECISION,
    "call_back": DeadlineStage.CALL_BACK,
    "review_request": DeadlineStage.REVIEW_REQUEST,
    "review": DeadlineStage.REVIEW_DECISION,
    "rectify": DeadlineStage.RECTIFICATION,
    "supervise_overdue": None,
}


def natural_day_deadline(start: datetime, days: int) -> datetime:
    """The end of the ``days``-th natural day after ``start`` (Beijing time), in UTC.

    The day of ``start`` is not counted; weekends and holidays are (natural days).
    """
    if days > MAX_DAYS:
        raise ValueError(f"a complaint deadline may be at most {MAX_DAYS} days")
    return clock.end_of_business_day(clock.business_date(start) + timedelta(days=days))


def last_day(deadline: datetime) -> date:
    """The last natural day a deadline allows (the deadline instant is the midnight after it)."""
    return clock.business_date(deadline) - timedelta(days=1)


def warning_time(start: datetime, due: datetime) -> datetime:
    """When the supervisor is warned: 3 days before, or halfway through a shorter stage."""
    return max(due - timedelta(days=WARNING_DAYS_BEFORE), start + (due - start) / 2)


# --- the rows ---------------------------------------------------------------------------------


def start_clock(session: Session, complaint: Complaint) -> None:
    """A new complaint's decision deadline and its first progress update start running."""
    now = clock.now()
    _add(session, complaint, DeadlineStage.DECISION, complaint.accepted_at, now)
    first_update = complaint.accepted_at + timedelta(days=PROGRESS_EVERY_DAYS)
    session.add(
        ComplaintDeadline(
            complaint_id=complaint.id,
            stage=DeadlineStage.PROGRESS,
            set_at=now,
            warn_at=first_update,
            due_at=first_update,
        )
    )


def _add(
    session: Session,
    complaint: Complaint,
    stage: DeadlineStage,
    start: datetime,
    now: datetime,
    due: datetime | None = None,
    task_id: int | None = None,
) -> ComplaintDeadline:
    due = complaint.decision_due_at if due is None else due
    row = ComplaintDeadline(
        complaint_id=complaint.id,
        stage=stage,
        task_id=task_id,
        set_at=now,
        warn_at=warning_time(start, due),
        due_at=due,
    )
    session.add(row)
    return row


def watch(
    session: Session,
    complaint: Complaint,
    stage: DeadlineStage,
    task_id: int,
    start: datetime,
    due: datetime,
) -> None:
    """Put a clock on a task the code opened (its rows are not the diagram's)."""
    _add(session, complaint, stage, start, start, due, task_id)
    complaint.stage_due_at = min(d for d in (complaint.stage_due_at, due) if d is not None)


def running(session: Session, complaint_id: int, stage: DeadlineStage) -> ComplaintDeadline | None:
    """The running row of a stage without a task (the decision deadline, the progress update)."""
    return session.scalar(
        select(ComplaintDeadline)
        .where(
            ComplaintDeadline.complaint_id == complaint_id,
            ComplaintDeadline.stage == stage,
            ComplaintDeadline.task_id.is_(None),
            ComplaintDeadline.ended_at.is_(None),
        )
        .order_by(ComplaintDeadline.id.desc())
        .limit(1)
    )


def extension_in_time(complaint: Complaint, now: datetime) -> bool:
    """An extension must be decided (and the customer told) before the running deadline passes:
    at the deadline instant it is late."""
    return complaint.decided_at is None and now < complaint.decision_due_at


def extend(session: Session, complaint: Complaint, days: int, complexity: Complexity) -> None:
    """Move the decision deadline to ``days`` after acceptance (in time: see
    :func:`extension_in_time`); the old deadline row ends as EXTENDED, its history kept."""
    now = clock.now()
    old = running(session, complaint.id, DeadlineStage.DECISION)
    if old is not None:
        old.ended_at, old.end = now, DeadlineEnd.EXTENDED
    complaint.complexity = complexity
    complaint.decision_due_at = decision_deadline(
        complaint.accepted_at, days, counted_paused_days(complaint)
    )
    _add(session, complaint, DeadlineStage.DECISION, complaint.accepted_at, now)
    if complaint.sla_state is SlaState.AT_RISK:
        complaint.sla_state = SlaState.ON_TRACK
    _follow_decision_deadline(session, complaint)


def postpone(
    session: Session, complaint: Complaint, by: timedelta, since: datetime | None = None
) -> None:
    """Move every running clock of the complaint ``by`` later — for a pause of the clock (an
    external appraisal, testing or mediation, whose time does not count). A breach already
    escalated stays where it was: a pause never undoes a missed deadline.

    ``since``: the pause that ends started then — only the clocks that ran before it were
    moved on when it started, so only they move back (a clock set during the pause, such as a
    rectification raised meanwhile, keeps its own due time; the decision deadline always counts
    the pause). A warning already given for a due time that moved away comes again before the
    new one.

    A due time that had passed when the pause started stays (第十九条 stops only a clock that
    still runs; 第十五条's breach is kept): the sweep escalates it once, whether or not it ran
    before the pause."""
    now = clock.now()
    started = since or now
    rows = session.scalars(
        select(ComplaintDeadline).where(
            ComplaintDeadline.complaint_id == complaint.id,
            ComplaintDeadline.ended_at.is_(None),
            ComplaintDeadline.escalated_at.is_(None),
            ComplaintDeadline.due_at > started,
        )
    ).all()
    for row in rows:
        if since is not None and row.set_at > since and row.stage is not DeadlineStage.DECISION:
            continue
        row.warn_at += by
        row.due_at += by
        if row.warned_at is not None and row.warn_at > now:
            row.warned_at = None
        if row.stage is DeadlineStage.DECISION and row.task_id is None:
            complaint.decision_due_at = row.due_at
        elif row.task_id is not None and (task := session.get(ProcessTask, row.task_id)):
            task.due_at = row.due_at
    _follow_decision_deadline(session, complaint)
    if complaint.instance_id is not None:
        instance = session.get(ProcessInstance, complaint.instance_id)
        if instance is not None:
            sync_task_clocks(session, complaint.id, instance)


def decision_made(session: Session, complaint: Complaint, now: datetime) -> None:
    """The decision stops the decision clock (met or missed) and the progress updates."""
    for stage in (DeadlineStage.DECISION, DeadlineStage.PROGRESS):
        row = running(session, complaint.id, stage)
        if row is None:
            continue
        row.ended_at = now
        if stage is DeadlineStage.PROGRESS:
            row.end = DeadlineEnd.ENDED
        else:
            row.end = DeadlineEnd.MISSED if decided_late(now, row.due_at) else DeadlineEnd.MET


def end_all(session: Session, complaint_id: int, now: datetime) -> None:
    """The complaint ended before its end event (withdrawn, merged): every running clock stops
    as ENDED — none was met or missed, and the sweep has nothing left to warn or escalate."""
    rows = session.scalars(
        select(ComplaintDeadline).where(
            ComplaintDeadline.complaint_id == complaint_id, ComplaintDeadline.ended_at.is_(None)
        )
    )
    for row in rows:
        row.ended_at, row.end = now, DeadlineEnd.ENDED


def keep_rectification_clock(session: Session, complaint: Complaint, now: datetime) -> None:
    """A complaint that ended early (withdrawn, merged) still owes its open rectification: the
    item keeps a clock of its own, without a task (the process and its task are gone), which
    the sweep warns and escalates to head office like any other, until the item is closed."""
    item = session.scalar(
        select(Rectification).where(
            Rectification.complaint_id == complaint.id, Rectification.closed_at.is_(None)
        )
    )
    if item is None:
        return
    due = rectification_due(session, complaint.id, now)
    # The same deadline, warned or escalated already while the task ran: not again.
    before = session.scalar(
        select(ComplaintDeadline)
        .where(
            ComplaintDeadline.complaint_id == complaint.id,
            ComplaintDeadline.stage == DeadlineStage.RECTIFICATION,
            ComplaintDeadline.due_at == due,
        )
        .order_by(ComplaintDeadline.id.desc())
        .limit(1)
    )
    row = _add(session, complaint, DeadlineStage.RECTIFICATION, item.raised_at, now, due)
    if before is not None:
        row.warned_at, row.escalated_at = before.warned_at, before.escalated_at


def _follow_decision_deadline(session: Session, complaint: Complaint) -> None:
    """Open tasks that run against the decision deadline show the one in force."""
    if complaint.instance_id is None:
        return
    for task in _open_tasks(session, complaint.instance_id):
        if STAGE_OF_FORM.get(task.form_name, DeadlineStage.OTHER_TASK) is DeadlineStage.DECISION:
            task.due_at = complaint.decision_due_at


def _open_tasks(session: Session, instance_id: int) -> list[ProcessTask]:
    return list(
        session.scalars(
            select(ProcessTask).where(
                ProcessTask.instance_id == instance_id, ProcessTask.status == TaskStatus.OPEN
            )
        )
    )


def task_due(session: Session, complaint: Complaint, task: ProcessTask) -> datetime:
    """When a user task of the complaint is due, by its stage (the diagram's dueDate is ignored)."""
    now = clock.now()
    stage = STAGE_OF_FORM.get(task.form_name, DeadlineStage.OTHER_TASK)
    decided = complaint.decided_at or now
    if stage is DeadlineStage.ASSIGNMENT:
        due = natural_day_deadline(complaint.accepted_at, ASSIGN_WITHIN_DAYS)
        return min(due, complaint.decision_due_at)
    if stage is DeadlineStage.CALL_BACK:
        return natural_day_deadline(decided, CALL_BACK_WITHIN_DAYS)
    if stage is DeadlineStage.REVIEW_REQUEST:
        # Before the notice arrives the window has not started: the earliest it can end.
        window = review_window_end(session, complaint.id)
        return window or natural_day_deadline(decided, REVIEW_REQUEST_DAYS)
    if stage is DeadlineStage.REVIEW_DECISION:
        return complaint.review_due_at or natural_day_deadline(now, REVIEW_DECISION_DAYS)
    if stage is DeadlineStage.RECTIFICATION:
        return rectification_due(session, complaint.id, now)
    if stage is None or stage is DeadlineStage.SUPERVISION:
        return natural_day_deadline(now, SUPERVISE_WITHIN_DAYS)
    if stage is DeadlineStage.DECISION or complaint.decided_at is None:
        return complaint.decision_due_at
    return natural_day_deadline(now, CALL_BACK_WITHIN_DAYS)  # a step the code does not know


def rectification_due(session: Session, complaint_id: int, now: datetime) -> datetime:
    """The rectification's deadline: the one the investigation gave with its owner (required
    for a systemic issue); an item raised before owners and deadlines were recorded has
    :data:`RECTIFY_WITHIN_DAYS` from when it was raised."""
    item = session.execute(
        select(Rectification.due_at, Rectification.raised_at).where(
            Rectification.complaint_id == complaint_id
        )
    ).first()
    if item is not None and item.due_at is not None:
        return item.due_at
    return natural_day_deadline(item.raised_at if item else now, RECTIFY_WITHIN_DAYS)


def notice_delivered_at(session: Session, complaint_id: int) -> datetime | None:
    """When the latest decision notice reached the customer (None: not yet): the review
    window counts from it (CMP-4).

    A notice told before the outbox existed counted as delivered when it was recorded.
    """
    found = session.execute(
        select(CustomerMessage.outbox_id, CustomerMessage.sent_at, OutboxMessage.delivered_at)
        .outerjoin(OutboxMessage, OutboxMessage.id == CustomerMessage.outbox_id)
        .where(
            CustomerMessage.complaint_id == complaint_id,
            CustomerMessage.kind == CustomerMessageKind.DECISION_NOTICE.value,
        )
        .order_by(CustomerMessage.id.desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    outbox_id, told_at, delivered_at = found
    return told_at if outbox_id is None else delivered_at


def review_window_end(session: Session, complaint_id: int) -> datetime | None:
    """The instant the customer's review window closes: 30 natural days from the delivery of
    the decision notice, at Beijing midnight (None: the notice has not reached them yet). The
    call-back's answer, the review request's due time and its refusal all read it here."""
    received = notice_delivered_at(session, complaint_id)
    return None if received is None else natural_day_deadline(received, REVIEW_REQUEST_DAYS)


def sync_task_clocks(session: Session, complaint_id: int, instance: ProcessInstance) -> None:
    """After the instance's tasks changed: new tasks get their due time and, outside the
    decision's steps, a deadline row; rows of tasks that are no longer open stop running."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        return
    now = clock.now()
    tasks = {task.id: task for task in _open_tasks(session, instance.id)}
    rows = session.scalars(
        select(ComplaintDeadline).where(
            ComplaintDeadline.complaint_id == complaint_id,
            ComplaintDeadline.task_id.is_not(None),
            ComplaintDeadline.ended_at.is_(None),
        )
    ).all()
    clocked = set()
    window = None
    for row in rows:
        if row.task_id in tasks:
            clocked.add(row.task_id)
            if row.stage is DeadlineStage.REVIEW_REQUEST:
                # The window counts from the notice's delivery, which may come after the task
                # opened (a letter, an e-mail retried): its clock follows once it is known.
                window = window or review_window_end(session, complaint_id)
                if window is not None and window != row.due_at:
                    row.due_at, row.warn_at = window, warning_time(row.set_at, window)
            # The clock's due time is the task's, whatever the diagram says: a migration that
            # re-reads the task from a new version keeps its due time and its escalation.
            tasks[row.task_id].due_at = row.due_at
        else:
            row.ended_at = now
            row.end = _end_of(session.get(ProcessTask, row.task_id), row.due_at)
    for task in tasks.values():
        if task.id in clocked or runtime.is_detached(task):
            continue
        due = task_due(session, complaint, task)
        task.due_at = due
        stage = STAGE_OF_FORM.get(task.form_name, DeadlineStage.OTHER_TASK)
        if stage is not None and stage is not DeadlineStage.DECISION:
            rows = [*rows, _add(session, complaint, stage, task.created_at, now, due, task.id)]
    still = [r for r in rows if r.ended_at is None and r.task_id in tasks]
    # The review window is the customer's time, not a step the bank can be late with: its end
    # closes the window (the sweep), it makes nothing overdue.
    owed = [r for r in still if r.stage is not DeadlineStage.REVIEW_REQUEST]
    complaint.stage_due_at = min(r.due_at for r in owed) if owed else None
    if complaint.sla_state is SlaState.AT_RISK and not any(r.warned_at for r in still):
        decision = running(session, complaint.id, DeadlineStage.DECISION)
        if decision is None or decision.warned_at is None:
            complaint.sla_state = SlaState.ON_TRACK  # the step warned about was done in time
    session.flush()


def _end_of(task: ProcessTask | None, due: datetime) -> DeadlineEnd:
    """Done before the due instant: MET; at or after it: MISSED; taken away (a window that
    closed, a migration): ENDED."""
    if task is None or task.status is not TaskStatus.COMPLETED or task.completed_at is None:
        return DeadlineEnd.ENDED
    return DeadlineEnd.MET if task.completed_at < due else DeadlineEnd.MISSED


# --- overdue: one rule ------------------------------------------------------------------------


def paused_natural_days(paused: timedelta) -> int:
    """Natural days the clock stood still, for ``paused``: the time of all of a complaint's
    pauses together, rounded once to whole days (12 hours or more count a day, less none) and
    at most :data:`MAX_PAUSED_DAYS`. Counted on the sum, not per pause and not by the dates a
    pause touches: a pause from 23:59:59 to 00:00:01 counts nothing, and repeating short pauses
    gains no day a single pause of the same length would not (第十九条)."""
    days, rest = divmod(max(paused, timedelta(0)), timedelta(days=1))
    return min(days + (rest >= timedelta(hours=12)), MAX_PAUSED_DAYS)


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


def counted_paused_days(complaint: Complaint) -> int:
    """The paused days the decision deadline in force counts: while a pause is open, as many
    as it may still last (the deadline it reaches if the pause runs that long)."""
    return MAX_PAUSED_DAYS if complaint.paused_until is not None else complaint.paused_days


class Deadlines(Protocol):
    """What the overdue rule reads: a complaint row, or a presented complaint."""

    status: Any
    decided_at: datetime | None
    decision_due_at: datetime
    review_outcome: str | None
    review_due_at: datetime | None
    stage_due_at: datetime | None


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
    if complaint.stage_due_at is not None and complaint.stage_due_at <= now:
        return ComplaintEventKind.DEADLINE_MISSED
    return None


def is_overdue(complaint: Deadlines, now: datetime) -> bool:
    """Undecided at or past the decision deadline, a review at or past its deadline, or a
    stage (assignment, call-back, review, rectification, ...) at or past its due time."""
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
        and_(Complaint.stage_due_at.is_not(None), Complaint.stage_due_at <= now),
    )


def decided_late(decided_at: datetime, decision_due_at: datetime) -> bool:
    """A decision delivered at the deadline instant or later missed it."""
    return decided_at >= decision_due_at


def decided_on_time_condition() -> ColumnElement[bool]:
    """SQL: decided, and before the deadline instant (the negation of :func:`decided_late`).

    The deadline compared is the one in force when the decision was due: a late extension never
    moves it (:func:`extension_in_time`)."""
    return and_(Complaint.decided_at.is_not(None), Complaint.decided_at < Complaint.decision_due_at)


def sla_state(complaint: Deadlines, stored: SlaState, now: datetime) -> SlaState:
    """The deadline health shown: BREACHED as soon as the complaint is overdue, even before
    the timer that escalates it has run; otherwise what the timers recorded."""
    return SlaState.BREACHED if is_overdue(complaint, now) else stored


def sla_state_expression(now: datetime) -> Any:
    """:func:`sla_state` as an SQL expression (for filters)."""
    return case(
        (overdue_condition(now), literal(SlaState.BREACHED, Complaint.sla_state.type)),
        else_=Complaint.sla_state,
    )
