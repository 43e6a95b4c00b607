"""The complaint clocks' sweep, run by the timers worker (CMP-6): warn, escalate, keep the
customer informed.

For every running deadline row (:mod:`.deadlines`) whose warning time or due time has come, the
sweep warns the supervisors (timeline, ``slaState: AT_RISK``, a notification) or escalates the
breach (``BREACHED``, DEADLINE_MISSED in the timeline, a *supervise the overdue complaint* task,
a notification) — each once per row, so a breach that spans several steps escalates once. After
downtime it catches up with one step per row: an escalation without the stale warning, one
progress update instead of every missed one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, or_, select
from sqlalchemy.orm import Session

from core import clock
from resolvers.complaints import notices
from resolvers.complaints.cases import end_open_pause
from resolvers.complaints.commands import add_event, tell
from resolvers.complaints.deadlines import (
    ENDED_UNDECIDED,
    PROGRESS_EVERY_DAYS,
    SUPERVISE_WITHIN_DAYS,
    last_day,
    natural_day_deadline,
    review_window_end,
    sync_task_clocks,
    warning_time,
    watch,
)
from resolvers.shared import unit_of_work
from resolvers.workflows import run_batches
from store.complaints import (
    Complaint,
    ComplaintDeadline,
    ComplaintEventKind,
    CustomerMessageKind,
    DeadlineEnd,
    DeadlineStage,
    SlaState,
)
from store.customers import Customer, Notification, NotificationKind
from store.staff import Role, Staff
from store.workflows import ProcessInstance, ProcessTask, TaskStatus
from workflows import runtime

# Stages head office works on are supervised there; the others by the branch's supervisors.
HEAD_OFFICE_STAGES = frozenset(
    {DeadlineStage.REVIEW_DECISION, DeadlineStage.RECTIFICATION, DeadlineStage.SUPERVISION}
)
STAGE_NAMES = {
    DeadlineStage.DECISION: "处理决定 decision",
    DeadlineStage.ASSIGNMENT: "指派处理人 assignment",
    DeadlineStage.CALL_BACK: "回访 call-back",
    DeadlineStage.REVIEW_REQUEST: "复核申请 review request",
    DeadlineStage.REVIEW_DECISION: "复核决定 review decision",
    DeadlineStage.RECTIFICATION: "整改 rectification",
    DeadlineStage.OTHER_TASK: "办理步骤 step",
    DeadlineStage.SUPERVISION: "督办 supervision",
}
SUPERVISE_ELEMENT = "Task_SuperviseOverdue"
SUPERVISE_NAME = "Supervise the overdue complaint 督办超期投诉"


def _due_condition(now: datetime) -> Any:
    """A running row whose warning or due time has come, and that has not escalated yet."""
    return (
        ComplaintDeadline.ended_at.is_(None),
        ComplaintDeadline.escalated_at.is_(None),
        or_(
            ComplaintDeadline.due_at <= now,
            (ComplaintDeadline.warned_at.is_(None) & (ComplaintDeadline.warn_at <= now)),
        ),
    )


def _owed_after_end() -> Any:
    """The one clock a complaint that ended early keeps: its open rectification's (no task)."""
    return (ComplaintDeadline.stage == DeadlineStage.RECTIFICATION) & (
        ComplaintDeadline.task_id.is_(None)
    )


def due_complaint_ids(session: Session, now: datetime, limit: int, skip: set[int]) -> list[int]:
    """Complaints with a clock that needs the sweep at ``now``, their process instances locked
    up front and skipped while someone else has them (PostgreSQL): the sweep never waits for an
    instance while it holds the locks of the complaints swept before in its transaction."""
    due = select(ComplaintDeadline.complaint_id).where(*_due_condition(now))
    owed = select(ComplaintDeadline.complaint_id).where(*_due_condition(now), _owed_after_end())
    statement = (
        select(Complaint.id)
        .join(ProcessInstance, ProcessInstance.id == Complaint.instance_id)
        .where(
            or_(
                and_(
                    or_(Complaint.id.in_(due), _pause_ran_out(now)),
                    Complaint.status.not_in(ENDED_UNDECIDED),
                ),
                Complaint.id.in_(owed),
            )
        )
        .order_by(Complaint.id)
        .limit(limit)
    )
    if skip:
        statement = statement.where(Complaint.id.not_in(skip))
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True, of=ProcessInstance)
    return list(session.scalars(statement))


def _pause_ran_out(now: datetime) -> ColumnElement[bool]:
    """An open pause that has used all the days it may count (``latestEndAt``)."""
    return and_(Complaint.paused_until.is_not(None), Complaint.paused_until <= now)


def sweep(session: Session, complaint_id: int, now: datetime) -> bool:
    """Warn, escalate or update the customer for one complaint; False when nothing was due."""
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        return False
    # The API's lock order: the process instance first, then its task and domain rows.
    instance = runtime.lock_row(session, complaint.instance_id) if complaint.instance_id else None
    session.refresh(complaint, with_for_update=True)
    # A closed complaint is swept too: the rectification it raised runs on after the
    # customer's part is closed, and its clock warns and escalates like any other. One that
    # ended early (withdrawn, merged) keeps only its rectification's clock: nothing else
    # follows, even when it ended while the sweep waited for it (CMP-7).
    ended_early = complaint.status in ENDED_UNDECIDED
    changed = False
    if not ended_early and complaint.paused_until is not None and complaint.paused_until <= now:
        # A pause that ran out resumes the clock as resumeComplaintClock would, once, before
        # the clocks it moves back are swept (CMP-7, 第十九条).
        end_open_pause(session, complaint, None, now, tell_customer=True)
        changed = True
    rows = session.scalars(
        select(ComplaintDeadline)
        .where(
            ComplaintDeadline.complaint_id == complaint_id,
            *_due_condition(now),
            *((_owed_after_end(),) if ended_early else ()),
        )
        .order_by(ComplaintDeadline.id)
        .with_for_update()
    ).all()
    for row in rows:
        if row.task_id is not None and not _task_open(session, row.task_id):
            row.ended_at, row.end = now, DeadlineEnd.ENDED
        elif row.stage is DeadlineStage.PROGRESS:
            _progress(session, complaint, row, now)
        elif row.stage is DeadlineStage.REVIEW_REQUEST and row.due_at <= now:
            _close_review_window(session, complaint, row, instance, now)
        elif row.due_at <= now:
            # Its process ended: no supervise task can open on it, head office is notified.
            _escalate(session, complaint, row, None if ended_early else instance, now)
        else:
            _warn(session, complaint, row, now)
        changed = True
    return changed


def _task_open(session: Session, task_id: int) -> bool:
    return session.scalar(select(ProcessTask.status).where(ProcessTask.id == task_id)) == (
        TaskStatus.OPEN
    )


def _warn(session: Session, complaint: Complaint, row: ComplaintDeadline, now: datetime) -> None:
    row.warned_at = now
    if complaint.sla_state is SlaState.ON_TRACK and complaint.status not in ENDED_UNDECIDED:
        complaint.sla_state = SlaState.AT_RISK
    details = {"stage": row.stage.value, "due_at": row.due_at.isoformat()}
    add_event(session, complaint.id, ComplaintEventKind.DEADLINE_WARNING, None, details)
    _notify(session, complaint, row, f"将于 {last_day(row.due_at):%Y-%m-%d} 届满 (deadline near)")


def _escalate(
    session: Session,
    complaint: Complaint,
    row: ComplaintDeadline,
    instance: Any,
    now: datetime,
) -> None:
    row.escalated_at = now
    if complaint.status not in ENDED_UNDECIDED:  # an ended complaint shows no deadline state
        complaint.sla_state = SlaState.BREACHED
    kind = (
        ComplaintEventKind.REVIEW_DEADLINE_MISSED
        if row.stage is DeadlineStage.REVIEW_DECISION
        else ComplaintEventKind.DEADLINE_MISSED
    )
    details = {"stage": row.stage.value, "due_at": row.due_at.isoformat()}
    add_event(session, complaint.id, kind, None, details)
    role = _supervisor_role(row.stage)
    if instance is not None:
        due = natural_day_deadline(now, SUPERVISE_WITHIN_DAYS)
        # Recusal: a branch whose only supervisor is the person complained about is
        # supervised by head office.
        task = runtime.open_detached_task(
            session,
            instance,
            element_id=SUPERVISE_ELEMENT,
            name=SUPERVISE_NAME,
            role=role,
            branch_id=complaint.branch_id,
            form_name="supervise_overdue",
            due_at=due,
            fallback_role=Role.HEAD_OFFICE,
        )
        role = Role(task.candidate_role)
        if role is Role.BRANCH_SUPERVISOR:  # a branch's supervision left undone goes up, once
            watch(session, complaint, DeadlineStage.SUPERVISION, task.id, now, due)
    missed = f"已于 {last_day(row.due_at):%Y-%m-%d} 届满 (deadline missed)"
    _notify(session, complaint, row, missed, role)


def _close_review_window(
    session: Session,
    complaint: Complaint,
    row: ComplaintDeadline,
    instance: ProcessInstance | None,
    now: datetime,
) -> None:
    """The review window is the customer's, not a deadline of the bank's: nothing escalates. At
    its end (30 natural days from the notice's delivery, Beijing midnight) the code closes it
    — the request task ends unanswered, whatever timer the diagram has (第二十一条); a notice
    that reached the customer later than the clock assumed keeps it open until its own end."""
    end = review_window_end(session, complaint.id)
    task = session.get(ProcessTask, row.task_id) if row.task_id is not None else None
    if end is None or now < end:
        row.due_at = end or natural_day_deadline(now, 1)
        row.warn_at = warning_time(now, row.due_at)
        if task is not None:
            task.due_at = row.due_at
        if instance is not None:
            sync_task_clocks(session, complaint.id, instance)
        return
    row.ended_at, row.end = now, DeadlineEnd.ENDED
    if task is None or instance is None:
        return
    answers = {"review_requested": False}
    details = {"task": task.name, "element": task.element_id, "answers": answers}
    add_event(session, complaint.id, ComplaintEventKind.TASK_COMPLETED, None, details)
    runtime.complete_task(session, task, answers, None, instance)


def _supervisor_role(stage: DeadlineStage) -> Role:
    return Role.HEAD_OFFICE if stage in HEAD_OFFICE_STAGES else Role.BRANCH_SUPERVISOR


def _notify(
    session: Session,
    complaint: Complaint,
    row: ComplaintDeadline,
    what: str,
    role: Role | None = None,
) -> None:
    """The supervisors of the stage (``role``: those the supervise task went to) hear of it in
    their notifications, without asking — never the person the complaint is about."""
    role = role or _supervisor_role(row.stage)
    staff = select(Staff).where(Staff.active.is_(True))
    if complaint.complained_staff_id is not None:
        staff = staff.where(Staff.id != complaint.complained_staff_id)
    if role is Role.BRANCH_SUPERVISOR:
        staff = staff.where(Staff.branch_id == complaint.branch_id)
    recipients = [s.id for s in session.scalars(staff) if role in s.roles]
    customer_version = session.scalar(
        select(Customer.version).where(Customer.id == complaint.customer_id)
    )
    if not recipients or customer_version is None:
        return
    field = "Complaint.decisionDueAt" if row.stage is DeadlineStage.DECISION else "Task.dueAt"
    summary = f"投诉 {complaint.reference} {STAGE_NAMES[row.stage]}期限{what}"
    session.execute(
        insert(Notification),
        [
            {
                "recipient_id": recipient,
                "customer_id": complaint.customer_id,
                "customer_version": customer_version,
                # Filed under the complaint, not the customer's basic information: who follows
                # complaints gets it, a filter on BASIC does not (CMP-6).
                "information_kind": NotificationKind.COMPLAINT,
                "fields": [field],
                "summary": summary,
                "created_at": clock.now(),
                "read_at": None,
            }
            for recipient in sorted(recipients)
        ],
    )


def _progress(
    session: Session, complaint: Complaint, row: ComplaintDeadline, now: datetime
) -> None:
    """One progress update, worded for where the complaint stands; the next one 5 days on
    (after downtime: one catch-up message, not one per missed update)."""
    if complaint.decided_at is not None:
        row.ended_at, row.end = now, DeadlineEnd.ENDED
        return
    step = timedelta(days=PROGRESS_EVERY_DAYS)
    while row.due_at <= now:
        row.due_at += step
    row.warn_at = row.due_at
    last = last_day(complaint.decision_due_at)
    if now < complaint.decision_due_at:
        text = (
            f"您的投诉（编号 {complaint.reference}）正在处理中，"
            f"我行将最迟于 {last:%Y-%m-%d} 作出处理决定。"
        )
    else:
        text = f"您的投诉（编号 {complaint.reference}）仍在处理中。" + notices.overdue_apology(
            complaint.decision_due_at
        )
    tell(session, complaint, CustomerMessageKind.PROGRESS, text)
    add_event(session, complaint.id, ComplaintEventKind.PROGRESS_UPDATE_SENT, None)


# --- the worker's run ---------------------------------------------------------------------------


class _NothingDue(Exception):
    """Nothing was due after all: the step is undone, and writes no entry."""


def sweep_step(session: Session, complaint_id: int, now: datetime) -> bool:
    """One complaint's sweep as a unit of work of the timers worker (a savepoint)."""

    def act(s: Session) -> bool:
        if not sweep(s, complaint_id, now):
            raise _NothingDue
        return True

    try:
        return unit_of_work.run(
            session, unit_of_work.WORKER, unit_of_work.TIMERS, "timer:deadlines", act, nested=True
        )
    except _NothingDue:
        return False


def run_due(
    session_scope: Callable[[], Any], now: datetime, limit: int = 10_000, batch: int = 10
) -> tuple[int, int]:
    """Sweep up to ``limit`` complaints whose clocks are due, ``batch`` per transaction; a
    failing complaint is logged and retried on the next run. Returns (swept, failed)."""
    return run_batches(
        session_scope,
        now,
        limit,
        batch,
        due_complaint_ids,
        lambda session, complaint_id: sweep_step(session, complaint_id, now),
        "complaint",
    )
