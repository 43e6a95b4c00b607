"""The operations the complaint diagram calls (CMP-2 … CMP-6), and its task listener.

The diagram (``workflows/complaint.bpmn``) decides the order of things; the operations here do
the domain work of each service task: deadlines in natural days, the handler check, extensions,
messages to the customer, the decision, the follow-up, the review and rectification. Every step
lands in the complaint's timeline. The rules hold whatever the diagram passes; warnings,
escalations and progress updates are the timers worker's (:mod:`.sweep`), not the diagram's.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers.complaints.commands import add_event, tell
from resolvers.complaints.deadlines import (
    ASSIGN_WITHIN_DAYS,
    CALL_BACK_WITHIN_DAYS,
    DECISION_DAYS,
    MAX_DAYS,
    PROGRESS_EVERY_DAYS,
    REVIEW_DECISION_DAYS,
    REVIEW_REQUEST_DAYS,
    WARNING_DAYS_BEFORE,
    decided_late,
    decision_made,
    extend,
    extension_in_time,
    last_day,
    natural_day_deadline,
)
from resolvers.shared.staff import staff_by_employee_number
from store.complaints import (
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
    Complexity,
    CustomerMessageChannel,
    CustomerMessageKind,
    Rectification,
    SlaState,
)
from store.staff import Role, Staff
from store.workflows import ProcessTask
from workflows.operations import OperationCall, OperationSet

# The extensions the rules know: complex (30 days), especially complex (60 days at most).
EXTENSION_DAYS = (DECISION_DAYS[Complexity.COMPLEX], MAX_DAYS)


def _complaint(call: OperationCall) -> Complaint:
    complaint = call.session.scalar(
        select(Complaint).where(Complaint.instance_id == call.instance.id).with_for_update()
    )
    if complaint is None:
        raise LookupError("no complaint belongs to this process instance")
    return complaint


def _deadlines(complaint: Complaint) -> dict[str, Any]:
    due = complaint.decision_due_at
    remaining = max(1, (due - complaint.accepted_at).days // PROGRESS_EVERY_DAYS)
    return {
        "assign_by": (complaint.accepted_at + timedelta(days=ASSIGN_WITHIN_DAYS)).isoformat(),
        "decision_due_at": due.isoformat(),
        "warning_at": (due - timedelta(days=WARNING_DAYS_BEFORE)).isoformat(),
        "progress_cycle": f"R{remaining}/P{PROGRESS_EVERY_DAYS}D",
    }


def _field(name: str) -> tuple[str, str]:
    return ("data", name)


def _note_task(
    session: Session, complaint_id: int, task: ProcessTask, actor: Staff, data: dict[str, Any]
) -> None:
    """A completed user task enters the timeline with who, when and the form's answers; an
    approval of a further extension counts only from a senior role (head office)."""
    add_event(
        session,
        complaint_id,
        ComplaintEventKind.TASK_COMPLETED,
        actor,
        {"task": task.name, "element": task.element_id, "answers": data},
    )
    if (
        task.form_name == "approve_extension"
        and data.get("extension_approved") is True
        and Role.HEAD_OFFICE in actor.roles
    ):
        add_event(session, complaint_id, ComplaintEventKind.EXTENSION_APPROVED, actor)


# Completed tasks of complaint instances go into the complaint's timeline (kehu.wiring).
TASK_LISTENERS = {"complaint": _note_task}


# --- operations of the complaint diagram -------------------------------------------------------


# The service operations its diagrams may call (installed by kehu.wiring).
OPERATIONS = OperationSet()


@OPERATIONS(
    "compute_deadlines", "Decision deadline (15 natural days), warning time, progress cycle"
)
def compute_deadlines(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    complaint.decision_due_at = natural_day_deadline(
        complaint.accepted_at, DECISION_DAYS[complaint.complexity]
    )
    return _deadlines(complaint)


@OPERATIONS("assign_handler", "Assign a handler who is not the person or unit complained about")
def assign_handler(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    handler = staff_by_employee_number(call.session, call.params.get("handler") or "")
    if handler is None or not handler.active or Role.COMPLAINT_HANDLER not in handler.roles:
        raise UserInputError.one(
            _field("handler"), "INVALID_HANDLER", "must be an active complaint handler"
        )
    if handler.id == complaint.complained_staff_id:
        raise UserInputError.one(
            _field("handler"), "HANDLER_CONFLICT", "is the person the complaint is about"
        )
    if complaint.complained_branch_id is not None and (
        handler.branch_id == complaint.complained_branch_id
    ):
        raise UserInputError.one(
            _field("handler"), "HANDLER_CONFLICT", "belongs to the unit the complaint is about"
        )
    complaint.handler_id = handler.id
    complaint.status = ComplaintStatus.INVESTIGATING
    add_event(
        call.session,
        complaint.id,
        ComplaintEventKind.HANDLER_ASSIGNED,
        call.actor,
        {"handler": handler.employee_no},
    )
    return {"handler_id": handler.id}


@OPERATIONS("record_investigation", "Record findings, cause, complexity and the resolution plan")
def record_investigation(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    data = call.data
    problems = Problems()
    complexity = Complexity(data["complexity"])
    on_the_spot = bool(data["on_the_spot"])
    if on_the_spot and complexity is not Complexity.STANDARD:
        problems.add(_field("complexity"), "INCONSISTENT", "an on-the-spot resolution is standard")
    if complexity is not Complexity.STANDARD and not str(data.get("extension_reason", "")).strip():
        problems.add(_field("extension_reason"), "REQUIRED", "say why more time is needed")
    owner = None
    deadline = None
    if not on_the_spot:
        for name in ("plan", "plan_owner", "plan_deadline"):
            if not str(data.get(name, "")).strip():
                problems.add(_field(name), "REQUIRED", "a resolution plan needs it")
        if data.get("plan_owner"):
            owner = staff_by_employee_number(call.session, data["plan_owner"])
            if owner is None or not owner.active:
                problems.add(_field("plan_owner"), "NOT_FOUND", "no active staff member")
        if data.get("plan_deadline"):
            deadline = _plan_deadline(complaint, str(data["plan_deadline"]), complexity, problems)
    problems.raise_if_any()
    complaint.cause = str(data["cause"])
    complaint.systemic = bool(data["systemic"])
    complaint.resolved_on_the_spot = on_the_spot
    complaint.plan_owner_id = owner.id if owner else None
    complaint.plan_deadline = deadline
    add_event(
        call.session,
        complaint.id,
        ComplaintEventKind.RESOLVED_ON_THE_SPOT if on_the_spot else ComplaintEventKind.PLAN_MADE,
        call.actor,
        {"complexity": complexity.value, "cause": complaint.cause},
    )
    return {"complexity": complexity.value}


def _plan_deadline(
    complaint: Complaint, value: str, complexity: Complexity, problems: Problems
) -> datetime | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        problems.add(_field("plan_deadline"), "INVALID", "must be a date (YYYY-MM-DD)")
        return None
    deadline = clock.end_of_business_day(day)
    limit = natural_day_deadline(complaint.accepted_at, DECISION_DAYS[complexity])
    if deadline > natural_day_deadline(complaint.accepted_at, MAX_DAYS):
        problems.add(
            _field("plan_deadline"), "DEADLINE_TOO_LATE", f"is beyond the {MAX_DAYS}-day limit"
        )
    elif deadline > limit:
        problems.add(
            _field("plan_deadline"),
            "DEADLINE_TOO_LATE",
            f"is beyond the {DECISION_DAYS[complexity]}-day limit for a {complexity.value} case",
        )
    elif day < clock.today():
        problems.add(_field("plan_deadline"), "DATE_IN_PAST", "must not be in the past")
    return deadline


@OPERATIONS(
    "extend_deadline",
    "Extend the decision deadline to 30 days, or 60 with head office's approval, in time",
)
def extend_deadline(call: OperationCall) -> dict[str, Any]:
    """The rules hold whatever the diagram passes: 30 or 60 days only, 60 only once a senior
    role approved it for this complaint, and only before the running deadline passes — a late
    extension is recorded as refused and the deadline (and its breach) stay."""
    complaint = _complaint(call)
    days = _extension_days(call.params.get("days"))
    if days == MAX_DAYS and not _extension_approved(call.session, complaint):
        raise UserInputError.one(
            _field("days"),
            "EXTENSION_NOT_APPROVED",
            f"a {MAX_DAYS}-day deadline needs head office's recorded approval",
        )
    now = clock.now()
    if natural_day_deadline(complaint.accepted_at, days) <= complaint.decision_due_at:
        return _deadlines(complaint)  # never shortens, never extends twice to the same day
    if not extension_in_time(complaint, now):
        add_event(
            call.session,
            complaint.id,
            ComplaintEventKind.EXTENSION_REFUSED,
            call.actor,
            {"days": days, "reason": "the running deadline had passed"},
        )
        return _deadlines(complaint)
    complexity = Complexity.ESPECIALLY_COMPLEX if days == MAX_DAYS else Complexity.COMPLEX
    extend(call.session, complaint, days, complexity)
    if complaint.plan_deadline and complaint.plan_deadline > complaint.decision_due_at:
        complaint.plan_deadline = complaint.decision_due_at
    add_event(
        call.session, complaint.id, ComplaintEventKind.DEADLINE_EXTENDED, call.actor, {"days": days}
    )
    last = last_day(complaint.decision_due_at)
    tell(
        call.session,
        complaint,
        CustomerMessageKind.EXTENSION,
        f"因案情复杂，您的投诉（编号 {complaint.reference}）处理期限延长至 {last:%Y-%m-%d}"
        "（含当日）。",
    )
    return _deadlines(complaint)


def _extension_days(value: Any) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = 0
    if days not in EXTENSION_DAYS:
        raise UserInputError.one(
            _field("days"), "INVALID_EXTENSION", "an extension is to 30 or 60 days"
        )
    return days


def _extension_approved(session: Session, complaint: Complaint) -> bool:
    """Head office approved a further extension of this complaint (recorded by the task listener
    when a head office member completes the approval with a yes)."""
    return (
        session.scalar(
            select(ComplaintEvent.id)
            .where(
                ComplaintEvent.complaint_id == complaint.id,
                ComplaintEvent.kind == ComplaintEventKind.EXTENSION_APPROVED.value,
            )
            .limit(1)
        )
        is not None
    )


@OPERATIONS("warn_supervisor", "Kept for earlier diagrams: the timers worker warns (no-op)")
def warn_supervisor(call: OperationCall) -> dict[str, Any]:
    # The clocks are the code's now (resolvers.complaints.sweep): a diagram's timer adds nothing.
    return {"warned": False}


@OPERATIONS("escalate_breach", "Kept for earlier diagrams: the timers worker escalates (no-op)")
def escalate_breach(call: OperationCall) -> dict[str, Any]:
    return {"escalated": False}


@OPERATIONS("notify_progress", "Kept for earlier diagrams: the timers worker informs (no-op)")
def notify_progress(call: OperationCall) -> dict[str, Any]:
    return {"sent": False}


@OPERATIONS("record_decision", "Record the decision and deliver the notice with proof of delivery")
def record_decision(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    data = call.data
    channel = _channel(str(data["channel"]))
    now = clock.now()
    complaint.decided_at = now
    complaint.outcome = str(data["outcome"])
    complaint.status = ComplaintStatus.DECIDED
    decision_made(call.session, complaint, now)
    if decided_late(now, complaint.decision_due_at):
        complaint.sla_state = SlaState.BREACHED
    elif complaint.sla_state is SlaState.AT_RISK:
        complaint.sla_state = SlaState.ON_TRACK
    notice = (
        f"投诉处理决定（编号 {complaint.reference}）\n核实情况：{data['verified_facts']}\n"
        f"依据：{data['basis']}\n处理结果：{data['outcome']}\n救济途径：{data['remedies']}"
    )
    tell(
        call.session,
        complaint,
        CustomerMessageKind.DECISION_NOTICE,
        notice,
        channel=channel,
        proof=str(data["proof_of_delivery"]),
    )
    add_event(
        call.session,
        complaint.id,
        ComplaintEventKind.DECISION_DELIVERED,
        call.actor,
        {"outcome": data["outcome"]},
    )
    return {"call_back_due_at": (now + timedelta(days=CALL_BACK_WITHIN_DAYS)).isoformat()}


def _channel(value: str) -> CustomerMessageChannel:
    """The delivery channel a decision form names (a redeployed form may offer others)."""
    try:
        return CustomerMessageChannel(value)
    except ValueError:
        known = ", ".join(CustomerMessageChannel)
        raise UserInputError.one(_field("channel"), "INVALID", f"must be one of {known}") from None


@OPERATIONS("record_call_back", "Record the customer's satisfaction with the handling")
def record_call_back(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    complaint.satisfaction_score = int(call.data["satisfaction_score"])
    add_event(
        call.session,
        complaint.id,
        ComplaintEventKind.CALLED_BACK,
        call.actor,
        {"satisfaction_score": complaint.satisfaction_score, "satisfied": call.data["satisfied"]},
    )
    # 30 natural days from receiving the decision (CMP-4), ending at Beijing midnight.
    received = complaint.decided_at or clock.now()
    until = natural_day_deadline(received, REVIEW_REQUEST_DAYS)
    return {"review_request_until": until.isoformat()}


@OPERATIONS("open_review", "Open a review by the superior unit, to be decided within 30 days")
def open_review(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    now = clock.now()
    complaint.review_requested_at = now
    complaint.review_due_at = natural_day_deadline(now, REVIEW_DECISION_DAYS)
    complaint.status = ComplaintStatus.UNDER_REVIEW
    add_event(call.session, complaint.id, ComplaintEventKind.REVIEW_REQUESTED, call.actor)
    return {"review_due_at": complaint.review_due_at.isoformat()}


@OPERATIONS("record_review", "Record the superior unit's review decision and tell the customer")
def record_review(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    complaint.review_outcome = str(call.data["review_outcome"])
    add_event(
        call.session,
        complaint.id,
        ComplaintEventKind.REVIEWED,
        call.actor,
        {"outcome": complaint.review_outcome},
    )
    tell(
        call.session,
        complaint,
        CustomerMessageKind.REVIEW_DECISION,
        f"您的复核申请（投诉编号 {complaint.reference}）已办结：{complaint.review_outcome}。",
    )
    return {"review_outcome": complaint.review_outcome}


@OPERATIONS("raise_rectification", "Escalate a systemic or common issue to head office")
def raise_rectification(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    item = Rectification(
        complaint_id=complaint.id,
        issue=f"{complaint.category.value}: {complaint.cause or 'OTHER'}",
        raised_at=clock.now(),
    )
    call.session.add(item)
    call.session.flush()
    add_event(call.session, complaint.id, ComplaintEventKind.RECTIFICATION_RAISED, call.actor)
    return {"rectification_id": item.id}


@OPERATIONS("close_rectification", "Close the rectification item with the actions taken")
def close_rectification(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    item = call.session.scalar(
        select(Rectification).where(Rectification.complaint_id == complaint.id)
    )
    if item is None:
        raise LookupError("no rectification item to close")
    item.actions = json.dumps(list(call.data.get("actions", [])), ensure_ascii=False)
    item.closed_at = clock.now()
    item.closed_by_id = call.actor.id if call.actor else None
    add_event(call.session, complaint.id, ComplaintEventKind.RECTIFICATION_CLOSED, call.actor)
    return {"closed": True}


@OPERATIONS("close_complaint", "Close the complaint")
def close_complaint(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    complaint.status = ComplaintStatus.CLOSED
    complaint.closed_at = clock.now()
    add_event(call.session, complaint.id, ComplaintEventKind.CLOSED, call.actor)
    return {"closed": True}
