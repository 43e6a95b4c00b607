"""What the regulator also expects of a complaint (CMP-7): withdrawal, merging repeated
complaints, pausing the clock for external appraisal, testing or mediation, and head office
acknowledging the alerts of major complaints.

These act on a complaint from outside its diagram, so they hold whatever a process owner
deploys: withdrawing or merging ends the complaint's process (no task, timer or message
follows), and a pause moves the decision deadline through
:func:`resolvers.complaints.deadlines.shifted_by_pauses` alone. Each runs in the caller's unit
of work and locks the process instance before the complaint, like every other writer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers import workflows
from resolvers.complaints import notices
from resolvers.complaints.commands import (
    add_event,
    escalate_major,
    refuse_complained_about,
    tell,
)
from resolvers.complaints.deadlines import (
    DECISION_DAYS,
    MAX_PAUSED_DAYS,
    REVIEW_REQUEST_DAYS,
    decision_deadline,
    end_all,
    keep_rectification_clock,
    last_day,
    pause_latest_end,
    paused_natural_days,
    postpone,
    review_window_end,
    running,
    shifted_by_pauses,
)
from resolvers.complaints.statistics import unit_of
from resolvers.outbox import commands as outbox
from resolvers.shared import validation
from store.complaints import (
    ENDED_STATUSES,
    Complaint,
    ComplaintAlert,
    ComplaintDeadline,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintPause,
    ComplaintStatus,
    CustomerMessage,
    CustomerMessageKind,
    DeadlineEnd,
    DeadlineStage,
    PauseReason,
    Rectification,
    SlaState,
)
from store.staff import Staff
from store.workflows import ProcessTask, TaskStatus

MAX_REASON = 1000
# How the customer's messages name what stopped the clock.
PAUSE_WORDS = {
    PauseReason.APPRAISAL: "外部机构鉴定、评估",
    PauseReason.TESTING: "外部机构检测",
    PauseReason.MEDIATION: "调解",
}
# Ended before their end event: their process is gone, whatever it still owed.
ENDED_EARLY = (ComplaintStatus.WITHDRAWN, ComplaintStatus.MERGED)
# The clock runs for the decision only: before it, a pause may start (CMP-7).
PAUSABLE = (ComplaintStatus.REGISTERED, ComplaintStatus.INVESTIGATING)


def _locked(
    session: Session,
    actor: Staff,
    complaint_id: int,
    visible: ColumnElement[bool],
    field: str,
    *,
    unit: bool = False,
) -> Complaint:
    """The complaint the caller sees, its instance and itself locked (NOT_FOUND naming the
    field for a missing or invisible one alike); the person complained about is refused (and,
    ``unit``, the staff of a unit complained about: see refuse_complained_about)."""
    found = session.execute(
        select(Complaint.id, Complaint.instance_id).where(Complaint.id == complaint_id, visible)
    ).first()
    complaint = None
    if found is not None:
        if found.instance_id is not None:
            workflows.lock_instance(session, found.instance_id)
        complaint = session.scalar(
            select(Complaint)
            .where(Complaint.id == complaint_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    if complaint is None:
        raise UserInputError.one((field,), "NOT_FOUND", "no complaint with this ID")
    refuse_complained_about(complaint, actor, field, unit=unit)
    return complaint


def _open(complaint: Complaint, field: str) -> None:
    if complaint.status in ENDED_STATUSES:
        raise UserInputError.one(
            (field,), "NOT_OPEN", f"the complaint is {complaint.status.value.lower()}"
        )


def _end(session: Session, complaint: Complaint, actor: Staff, status: ComplaintStatus) -> None:
    """End the complaint and its process; an open pause ends with it, its clocks stop and
    what still waited in the outbox is not sent (only what the ending itself says goes out)."""
    now = clock.now()
    end_open_pause(session, complaint, actor, now)
    _keep_missed_deadline(session, complaint, now)
    end_all(session, complaint.id, now)
    keep_rectification_clock(session, complaint, now)
    outbox.cancel_queued(
        session,
        session.scalars(
            select(CustomerMessage.outbox_id).where(
                CustomerMessage.complaint_id == complaint.id,
                CustomerMessage.outbox_id.is_not(None),
            )
        ),
    )
    if complaint.instance_id is not None:
        workflows.end_instance(
            session, workflows.lock_instance(session, complaint.instance_id), actor
        )
    complaint.status = status
    complaint.closed_at = now


def _keep_missed_deadline(session: Session, complaint: Complaint, now: datetime) -> None:
    """A deadline that passed before the complaint ended stays missed (a breach stays a
    breach) even when the timers worker has not escalated it yet: escalated here, once — the
    decision's, and any step's (an assignment, a review decision) that was running late."""
    rows = session.scalars(
        select(ComplaintDeadline)
        .where(
            ComplaintDeadline.complaint_id == complaint.id,
            ComplaintDeadline.ended_at.is_(None),
            ComplaintDeadline.escalated_at.is_(None),
            ComplaintDeadline.due_at <= now,
            ComplaintDeadline.stage.not_in((DeadlineStage.PROGRESS, DeadlineStage.RECTIFICATION)),
        )
        .order_by(ComplaintDeadline.id)
    ).all()
    for row in rows:
        if row.stage is DeadlineStage.DECISION and complaint.decided_at is not None:
            continue
        row.escalated_at = now
        complaint.sla_state = SlaState.BREACHED
        kind = (
            ComplaintEventKind.REVIEW_DEADLINE_MISSED
            if row.stage is DeadlineStage.REVIEW_DECISION
            else ComplaintEventKind.DEADLINE_MISSED
        )
        details = {"stage": row.stage.value, "due_at": row.due_at.isoformat()}
        add_event(session, complaint.id, kind, None, details)


def withdraw(
    session: Session, actor: Staff, complaint_id: int, reason: str, visible: ColumnElement[bool]
) -> Complaint:
    """The customer withdraws the complaint: recorded with the reason; the process ends."""
    why = validation.text(reason, "reason", max_length=MAX_REASON)
    complaint = _locked(session, actor, complaint_id, visible, "id", unit=True)
    _open(complaint, "id")
    _end(session, complaint, actor, ComplaintStatus.WITHDRAWN)
    complaint.withdrawn_at = complaint.closed_at
    complaint.withdrawal_reason = why
    add_event(session, complaint.id, ComplaintEventKind.WITHDRAWN, actor, {"reason": why})
    return complaint


def merge(
    session: Session,
    actor: Staff,
    into_id: int,
    duplicate_id: int,
    reason: str,
    visible: ColumnElement[bool],
) -> Complaint:
    """Merge a repeated complaint of the same customer about the same matter into the earlier
    one: the repeated one ends (its timeline, messages and alerts stay, pointing at the kept
    one), the kept one carries on with its own clock — never a later one."""
    why = validation.text(reason, "reason", max_length=MAX_REASON)
    if into_id == duplicate_id:
        raise UserInputError.one(("duplicate",), "INVALID", "must be another complaint")
    # Two instances: locked in id order, so two merges of one pair queue instead of deadlocking.
    order = sorted([(into_id, "into"), (duplicate_id, "duplicate")])
    rows = {field: _locked(session, actor, pk, visible, field, unit=True) for pk, field in order}
    into, duplicate = rows["into"], rows["duplicate"]
    _open(into, "into")
    _open(duplicate, "duplicate")
    if into.customer_id != duplicate.customer_id:
        raise UserInputError.one(
            ("duplicate",), "DIFFERENT_CUSTOMERS", "belongs to another customer"
        )
    if _matter(duplicate) != _matter(into):
        # Merging ends the repeated complaint unanswered: only a repeat of the same matter.
        raise UserInputError.one(
            ("duplicate",), "INCONSISTENT", "is about another matter (category or unit)"
        )
    if (duplicate.accepted_at, duplicate.id) < (into.accepted_at, into.id):
        # Keeping the later one would restart the clock the customer is owed.
        raise UserInputError.one(("into",), "NOT_EARLIER", "must be the complaint accepted first")
    _end(session, duplicate, actor, ComplaintStatus.MERGED)
    duplicate.merged_into_id = into.id
    into.persons_involved = max(into.persons_involved, duplicate.persons_involved)
    if duplicate.major and not into.major:
        # The kept complaint becomes major: head office hears of it on the complaint that is
        # handled, not only on the one that ended (CMP-7).
        escalate_major(session, into, ["MERGED_FROM"])
    into.major = into.major or duplicate.major
    into.regulator_reference = into.regulator_reference or duplicate.regulator_reference
    # The customer was promised a decision on the repeated complaint's number: they learn
    # which complaint answers it, and by when.
    tell(session, duplicate, CustomerMessageKind.MERGED, _merged_text(duplicate, into))
    add_event(
        session,
        duplicate.id,
        ComplaintEventKind.MERGED_INTO,
        actor,
        {"into": into.reference, "reason": why},
    )
    add_event(
        session,
        into.id,
        ComplaintEventKind.MERGED_FROM,
        actor,
        {"duplicate": duplicate.reference, "reason": why},
    )
    return into


def _merged_text(duplicate: Complaint, into: Complaint) -> str:
    merged = (
        f"您的投诉（编号 {duplicate.reference}）与您此前的投诉（编号 {into.reference}）"
        "为同一事项，已合并处理，"
    )
    if into.decided_at is not None:
        return merged + f"处理结果以投诉（编号 {into.reference}）的处理决定为准。"
    if into.paused_until is not None:
        return merged + "目前处于中止计时期间，恢复处理时我行将告知您最后期限。"
    return merged + f"我行将最迟于 {last_day(into.decision_due_at):%Y-%m-%d} 作出处理决定。"


def request_review(
    session: Session,
    actor: Staff,
    complaint_id: int,
    reason: str | None,
    visible: ColumnElement[bool],
) -> Complaint:
    """Record the customer's request for a review by the superior unit (CMP-4, 第二十一条):
    at any stage after the decision notice reached them — before the call-back, after it,
    satisfied or not — until 30 natural days from the delivery (Beijing midnight) have passed.
    The review then runs as the diagram's: the request task is answered on the customer's
    behalf, so the superior unit's review task, its 30-day clock and escalation follow."""
    why = validation.text(reason or "", "reason", max_length=MAX_REASON, required=False)
    complaint = _locked(session, actor, complaint_id, visible, "id")
    if complaint.status in ENDED_EARLY:
        raise UserInputError.one(
            ("id",), "NOT_OPEN", f"the complaint is {complaint.status.value.lower()}"
        )
    if complaint.review_requested_at is not None:
        raise UserInputError.one(("id",), "REVIEW_ALREADY_REQUESTED", "a review was requested")
    if complaint.decided_at is None:
        raise UserInputError.one(("id",), "NOT_DECIDED", "the complaint has no decision yet")
    until = review_window_end(session, complaint.id)
    if until is None:
        raise UserInputError.one(
            ("id",), "NOTICE_NOT_DELIVERED", "the decision notice has not reached the customer"
        )
    if clock.now() >= until:
        raise UserInputError.one(
            ("id",),
            "REVIEW_WINDOW_CLOSED",
            f"a review is requested within {REVIEW_REQUEST_DAYS} days of receiving the decision",
        )
    if complaint.status is not ComplaintStatus.DECIDED or complaint.instance_id is None:
        # Closed in the window: the customer declined a review when asked.
        raise UserInputError.one(("id",), "NOT_OPEN", "the customer declined a review")
    instance = workflows.lock_instance(session, complaint.instance_id)
    task = _review_request_task(session, instance.id)
    if task is None:
        # An instance of an older diagram asks only after the call-back: moved to the current
        # one, whose request waits beside the call-back from the decision on.
        workflows.migrate_to_latest(session, instance)
        task = _review_request_task(session, instance.id)
    if task is None:
        raise UserInputError.one(("id",), "NOT_OPEN", "the process asks for no review now")
    workflows.complete_for(
        session, actor, instance, task, {"review_requested": True, "reason": why}
    )
    session.refresh(complaint)
    return complaint


def _review_request_task(session: Session, instance_id: int) -> ProcessTask | None:
    return session.scalar(
        select(ProcessTask).where(
            ProcessTask.instance_id == instance_id,
            ProcessTask.form_name == "review_request",
            ProcessTask.status == TaskStatus.OPEN,
        )
    )


def _matter(complaint: Complaint) -> tuple[object, int]:
    """What a complaint is about, as far as the record tells: its category and the unit."""
    return complaint.category, complaint.complained_branch_id or complaint.branch_id


def pause(
    session: Session,
    actor: Staff,
    complaint_id: int,
    reason: PauseReason,
    note: str,
    visible: ColumnElement[bool],
) -> Complaint:
    """Stop the decision clock for an external appraisal, testing or mediation.

    Only an undecided complaint before its deadline pauses (a breach stays a breach), for at
    most the paused days it has left of :data:`MAX_PAUSED_DAYS`. While the pause is open the
    decision deadline is the one it reaches if the pause runs that long; resuming sets it to
    the days actually paused.
    """
    text = validation.text(note, "note", max_length=MAX_REASON)
    complaint = _locked(session, actor, complaint_id, visible, "id", unit=True)
    _open(complaint, "id")
    now = clock.now()
    if complaint.paused_until is not None and now < complaint.paused_until:
        raise UserInputError.one(("id",), "CLOCK_ALREADY_PAUSED", "the clock is already paused")
    end_open_pause(session, complaint, actor, now)  # one that ran out by itself
    if (
        complaint.status not in PAUSABLE
        or complaint.decided_at is not None
        or complaint.decision_due_at <= now
    ):
        raise UserInputError.one(
            ("id",), "PAUSE_NOT_ALLOWED", "only an undecided complaint before its deadline"
        )
    allowance = MAX_PAUSED_DAYS - complaint.paused_days
    if allowance <= 0:
        raise UserInputError.one(
            ("id",), "PAUSE_ALLOWANCE_USED", f"all {MAX_PAUSED_DAYS} paused days are used"
        )
    latest = pause_latest_end(now, allowance)
    session.add(
        ComplaintPause(
            complaint_id=complaint.id,
            reason=reason,
            note=text,
            started_at=now,
            started_by_id=actor.id,
            latest_end_at=latest,
        )
    )
    complaint.paused_until = latest
    _move_deadline(session, complaint, _deadline(complaint, complaint.paused_days + allowance))
    add_event(
        session,
        complaint.id,
        ComplaintEventKind.CLOCK_PAUSED,
        actor,
        {"reason": reason.value, "note": text, "latest_end_at": latest.isoformat()},
    )
    # The time is not counted, but the customer is told at once (CBIRC 2020 No. 3, art. 20).
    tell(
        session,
        complaint,
        CustomerMessageKind.CLOCK_PAUSED,
        f"您的投诉（编号 {complaint.reference}）需{PAUSE_WORDS[reason]}，"
        f"{PAUSE_WORDS[reason]}期间不计入处理期限；结束后我行将告知您新的处理期限。",
    )
    return complaint


def resume(
    session: Session, actor: Staff, complaint_id: int, visible: ColumnElement[bool]
) -> Complaint:
    """Start the decision clock again; the deadline moves by the natural days paused."""
    complaint = _locked(session, actor, complaint_id, visible, "id", unit=True)
    _open(complaint, "id")
    if complaint.paused_until is None:
        raise UserInputError.one(("id",), "CLOCK_NOT_PAUSED", "the clock is running")
    end_open_pause(session, complaint, actor, clock.now(), tell_customer=True)
    return complaint


def end_open_pause(
    session: Session,
    complaint: Complaint,
    actor: Staff | None,
    at: datetime,
    *,
    tell_customer: bool = False,
) -> None:
    """End the complaint's open pause at ``at`` (or when it ran out, if earlier), count its
    natural days and move the decision deadline by them. Nothing when none is open.

    ``tell_customer``: the customer learns the new last day (a decision, a withdrawal or a
    merge that ends the pause says what the customer needs to know instead)."""
    if complaint.paused_until is None:
        return
    found = session.scalar(
        select(ComplaintPause)
        .where(ComplaintPause.complaint_id == complaint.id, ComplaintPause.ended_at.is_(None))
        .order_by(ComplaintPause.id.desc())
        .limit(1)
    )
    complaint.paused_until = None
    if found is None:
        return
    ended = min(at, found.latest_end_at)
    found.ended_at = ended
    found.ended_by_id = actor.id if actor is not None and ended == at else None
    # The days the complaint's pauses count together, rounded once (paused_natural_days):
    # this pause adds what the total gained (never less than counted before).
    earlier = session.scalars(
        select(ComplaintPause).where(
            ComplaintPause.complaint_id == complaint.id,
            ComplaintPause.ended_at.is_not(None),
            ComplaintPause.id != found.id,
        )
    ).all()
    paused = sum(
        (p.ended_at - p.started_at for p in earlier if p.ended_at is not None),
        ended - found.started_at,
    )
    total = max(complaint.paused_days, paused_natural_days(paused))
    days = total - complaint.paused_days
    found.paused_days = days
    complaint.paused_days = total
    moved = _move_dates(session, complaint, found.started_at, days)
    if complaint.decided_at is None:
        due = _deadline(complaint, complaint.paused_days)
        _move_deadline(session, complaint, due, since=found.started_at)
    add_event(
        session,
        complaint.id,
        ComplaintEventKind.CLOCK_RESUMED,
        actor if ended == at else None,
        {
            "paused_days": days,
            "decision_due_at": complaint.decision_due_at.isoformat(),
            "also_moved": moved,
        },
    )
    if tell_customer and complaint.decided_at is None:
        # The deadline is the midnight after the last day: the customer is told the last day,
        # or, resumed after it (a pause that ran out long before), that it has passed.
        resumed = f"您的投诉（编号 {complaint.reference}）已恢复处理"
        last = last_day(complaint.decision_due_at)
        text = (
            f"{resumed}，我行将于 {last:%Y-%m-%d}（含）前作出处理决定。"
            if at < complaint.decision_due_at
            else f"{resumed}。{notices.overdue_apology(complaint.decision_due_at)}"
        )
        tell(session, complaint, CustomerMessageKind.CLOCK_RESUMED, text)


def _move_deadline(
    session: Session, complaint: Complaint, due: datetime, since: datetime | None = None
) -> None:
    """Set the decision deadline: the running clocks move with it (the decision deadline's row,
    the open tasks due at it, the other stages' clocks), a breach already escalated stays.
    ``since``: the start of the pause that ends (see :func:`postpone`)."""
    if due != complaint.decision_due_at:
        postpone(session, complaint, due - complaint.decision_due_at, since)
    complaint.decision_due_at = due


def _move_dates(
    session: Session, complaint: Complaint, started_at: datetime, days: int
) -> list[str]:
    """The dates a pause that started at ``started_at`` and lasted ``days`` natural days moves
    besides the clocks: the resolution plan's deadline and the open rectification item's, when
    they ran before it started (第十九条: the paused time does not count). Returns what moved."""
    if days <= 0:
        return []
    by = shifted_by_pauses(started_at, days) - started_at
    moved = []
    planned = session.scalar(
        select(func.min(ComplaintEvent.at)).where(
            ComplaintEvent.complaint_id == complaint.id,
            ComplaintEvent.kind == ComplaintEventKind.PLAN_MADE.value,
        )
    )
    if complaint.plan_deadline is not None and planned is not None and planned <= started_at:
        complaint.plan_deadline += by
        moved.append("planDeadline")
    item = session.scalar(
        select(Rectification).where(
            Rectification.complaint_id == complaint.id,
            Rectification.closed_at.is_(None),
            Rectification.raised_at <= started_at,
        )
    )
    if item is not None and item.due_at is not None:
        item.due_at += by
        moved.append("rectification.dueAt")
    return moved


def _deadline(complaint: Complaint, paused_days: int) -> datetime:
    return decision_deadline(
        complaint.accepted_at, DECISION_DAYS[complaint.complexity], paused_days
    )


def acknowledge_alert(session: Session, actor: Staff, alert_id: int) -> ComplaintAlert:
    """Head office takes up an alert (a major complaint): who and when are recorded."""
    alert = session.scalar(
        select(ComplaintAlert).where(ComplaintAlert.id == alert_id).with_for_update()
    )
    if alert is None:
        raise UserInputError.one(("id",), "NOT_FOUND", "no alert with this ID")
    if alert.acknowledged_at is not None:
        raise UserInputError.one(("id",), "NOT_OPEN", "the alert is already acknowledged")
    # Taking up the escalation of a complaint about oneself is acting on it (recusal).
    refuse_complained_about(session.get_one(Complaint, alert.complaint_id), actor, "id")
    alert.acknowledged_at = clock.now()
    alert.acknowledged_by_id = actor.id
    return alert


def close_item(
    session: Session,
    complaint: Complaint,
    item: Rectification,
    actor: Staff | None,
    answers: dict[str, Any],
    path: Callable[[str], tuple[str, ...]],
) -> None:
    """Close a rectification item with the actions taken, once it is checked that the issue did
    not recur (CMP-5): refused while a complaint of the same category, cause and unit came in
    after the day the actions were completed. ``path`` names an answer's field in errors."""
    actions = [str(action).strip() for action in answers.get("actions") or []]
    for n, action in enumerate(actions):
        if validation.blank(action):
            raise UserInputError.one((*path("actions"), str(n)), "REQUIRED", "must not be blank")
    check = str(answers.get("recurrence_check") or "").strip()
    if validation.blank(check):
        raise UserInputError.one(
            path("recurrence_check"), "REQUIRED", "say how it was checked that it did not recur"
        )
    try:
        completed = date.fromisoformat(str(answers.get("completed_on")))
    except ValueError:
        raise UserInputError.one(path("completed_on"), "INVALID", "must be a date") from None
    if completed > clock.today():
        raise UserInputError.one(path("completed_on"), "INVALID", "must not be in the future")
    if recurrences(session, complaint, clock.end_of_business_day(completed)):
        raise UserInputError.one(
            path("completed_on"),
            "RECURRED",
            "complaints of the same category, cause and unit came in after the actions",
        )
    item.recurrence_check = check
    item.actions = json.dumps(actions, ensure_ascii=False)
    item.closed_at = clock.now()
    item.closed_by_id = actor.id if actor else None
    owed = running(session, complaint.id, DeadlineStage.RECTIFICATION)
    if owed is not None:  # the clock of an item whose complaint ended early
        owed.ended_at = item.closed_at
        owed.end = DeadlineEnd.MET if item.closed_at < owed.due_at else DeadlineEnd.MISSED
    add_event(session, complaint.id, ComplaintEventKind.RECTIFICATION_CLOSED, actor)


def recurrences(session: Session, complaint: Complaint, since: datetime) -> int:
    """Complaints that show the issue again: same category and cause, about the same unit,
    accepted from ``since`` until now (merged repeats are one complaint; causes are known once
    investigated)."""
    found = session.scalar(
        select(func.count())
        .select_from(Complaint)
        .where(
            Complaint.id != complaint.id,
            Complaint.category == complaint.category,
            Complaint.cause == complaint.cause,
            unit_of() == (complaint.complained_branch_id or complaint.branch_id),
            Complaint.accepted_at >= since,
            Complaint.accepted_at <= clock.now(),
            Complaint.status != ComplaintStatus.MERGED,
        )
    )
    return int(found or 0)


def close_rectification(
    session: Session,
    actor: Staff,
    complaint_id: int,
    actions: list[str],
    completed_on: date,
    recurrence_check: str,
    visible: ColumnElement[bool],
) -> Complaint:
    """Close the open rectification item of a complaint whose process ended early (withdrawn or
    merged): the bank still owes the rectification, and its task went with the process. An item
    whose task still waits is closed through that task."""
    complaint = _locked(session, actor, complaint_id, visible, "complaintId")
    item = session.scalar(
        select(Rectification).where(Rectification.complaint_id == complaint.id).with_for_update()
    )
    if item is None or item.closed_at is not None:
        raise UserInputError.one(("complaintId",), "NOT_OPEN", "no open rectification item")
    if complaint.status not in ENDED_EARLY:
        raise UserInputError.one(
            ("complaintId",), "NOT_OPEN", "close it through its rectification task"
        )
    problems = Problems()
    cleaned = []
    if not actions:
        problems.add("actions", "REQUIRED", "name at least one action taken")
    for n, action in enumerate(actions):
        try:
            cleaned.append(validation.text(action, ("actions", str(n)), max_length=500))
        except UserInputError as exc:
            problems.extend(exc)
    problems.raise_if_any()
    answers = {
        "actions": cleaned,
        "completed_on": completed_on.isoformat(),
        "recurrence_check": validation.text(recurrence_check, "recurrenceCheck", max_length=2000),
    }
    close_item(session, complaint, item, actor, answers, _input_field)
    return complaint


def _input_field(name: str) -> tuple[str, ...]:
    """The input field of an answer (``completed_on`` → ``completedOn``)."""
    head, *rest = name.split("_")
    return (head + "".join(part.title() for part in rest),)
