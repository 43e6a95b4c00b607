"""Complaints (CMP-1 … CMP-6): intake, the operations the complaint diagram calls, and queries.

The diagram (``workflows/complaint.bpmn``) decides the order of things; the operations here do
the domain work of each service task: deadlines in natural days, the handler check, extensions,
warnings and escalations, messages to the customer, the decision, the follow-up, the review and
rectification. Every step lands in the complaint's timeline.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from core import clock
from core.errors import NotFoundError, Problems, UserInputError
from resolvers.customers import audit_change
from resolvers.shared import validation
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from resolvers.shared.staff import staff_by_employee_number
from resolvers.workflows import start_for
from store.base import business_month
from store.complaints import (
    Category,
    Channel,
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    Complexity,
    CustomerMessage,
    Rectification,
    SlaState,
)
from store.customers import Customer
from store.staff import Branch, Role, Staff
from store.workflows import ProcessTask
from workflows.operations import OperationCall, OperationSet

PROCESS_KEY = "complaint"
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


def natural_day_deadline(accepted_at: datetime, days: int) -> datetime:
    """The end of the ``days``-th natural day after acceptance (Beijing time), in UTC.

    The day of acceptance is not counted; weekends and holidays are (natural days).
    """
    if days > MAX_DAYS:
        raise ValueError(f"a complaint deadline may be at most {MAX_DAYS} days")
    return clock.end_of_business_day(clock.business_date(accepted_at) + timedelta(days=days))


# --- intake (CMP-1) -----------------------------------------------------------------------------


@dataclass
class ComplaintDraft:
    customer_id: int
    channel: Channel
    category: Category
    description: str
    idempotency_key: str
    requested_remedy: str | None = None
    amount_in_dispute: Decimal | None = None
    complained_staff: str | None = None
    complained_branch_id: int | None = None


def find_submission(session: Session, actor: Staff, key: str) -> Complaint | None:
    """The complaint ``actor`` already submitted with this idempotency key, if any."""
    return session.scalar(
        select(Complaint).where(
            Complaint.submitted_by_id == actor.id, Complaint.idempotency_key == key
        )
    )


def submit(
    session: Session, actor: Staff, draft: ComplaintDraft, visible: ColumnElement[bool]
) -> tuple[Complaint, bool]:
    """Register a complaint and start its process; a retried submission returns the first one.

    The customer must be one the caller sees (``visible``, the request's row condition): a
    customer they may not see gets the answer of a missing one, so intake tells no one who banks
    here, and no one records data about customers outside their rows (issue 8).
    Returns the complaint and whether it was created now.
    """
    key = validation.text(draft.idempotency_key, "idempotencyKey", max_length=100)
    existing = find_submission(session, actor, key)
    if existing is not None:
        return existing, False
    problems = Problems()
    customer = session.scalar(select(Customer).where(Customer.id == draft.customer_id, visible))
    if customer is None:
        problems.add("customerId", "NOT_FOUND", "no customer with this ID")
    description = _checked(problems, "description", draft.description, 4000)
    remedy = None
    if draft.requested_remedy is not None:
        remedy = _checked(problems, "requestedRemedy", draft.requested_remedy, 1000, False)
    amount = None
    if draft.amount_in_dispute is not None:
        try:
            amount = validation.money(draft.amount_in_dispute, "amountInDispute")
        except UserInputError as exc:
            problems.extend(exc)
    complained_staff = None
    if draft.complained_staff:
        complained_staff = staff_by_employee_number(session, draft.complained_staff)
        if complained_staff is None:
            problems.add("complainedStaff", "NOT_FOUND", "no staff member with this number")
    if draft.complained_branch_id is not None and (
        session.get(Branch, draft.complained_branch_id) is None
    ):
        problems.add("complainedBranch", "NOT_FOUND", "no branch with this ID")
    problems.raise_if_any()
    assert customer is not None and description is not None
    now = clock.now()
    complaint = Complaint(
        reference="",
        customer_id=customer.id,
        branch_id=customer.branch_id,
        channel=draft.channel,
        category=draft.category,
        description=description,
        requested_remedy=remedy,
        amount_in_dispute=amount,
        complained_staff_id=complained_staff.id if complained_staff else None,
        complained_branch_id=draft.complained_branch_id
        or (complained_staff.branch_id if complained_staff else None),
        idempotency_key=key,
        submitted_by_id=actor.id,
        accepted_at=now,
        status=ComplaintStatus.REGISTERED,
        complexity=Complexity.STANDARD,
        sla_state=SlaState.ON_TRACK,
        decision_due_at=natural_day_deadline(now, DECISION_DAYS[Complexity.STANDARD]),
        systemic=False,
        resolved_on_the_spot=False,
    )
    session.add(complaint)
    session.flush()
    complaint.reference = f"TS{clock.business_date(now):%Y%m%d}-{complaint.id:06d}"
    add_event(session, complaint.id, "REGISTERED", actor, {"channel": draft.channel.value})
    _acknowledge(session, complaint)

    start_for(
        session,
        complaint,
        PROCESS_KEY,
        {
            "complaint_id": complaint.id,
            "branch_id": complaint.branch_id,
            "relationship_manager_id": customer.relationship_manager_id,
        },
        actor,
    )
    audit_change(
        session, customer.id, "COMPLAINT", [("reference", None, complaint.reference)], "Complaint"
    )
    return complaint, True


def _checked(
    problems: Problems, field: str, value: str, max_length: int, required: bool = True
) -> str | None:
    try:
        return validation.text(value, field, max_length=max_length, required=required)
    except UserInputError as exc:
        problems.extend(exc)
        return None


def _acknowledge(session: Session, complaint: Complaint) -> None:
    due = clock.business_date(complaint.decision_due_at)
    tell(
        session,
        complaint,
        "ACKNOWLEDGEMENT",
        f"您的投诉已受理（编号 {complaint.reference}），我行将于 {due:%Y-%m-%d} 前作出处理决定。",
    )


# --- the timeline and messages ----------------------------------------------------------------


def add_event(
    session: Session,
    complaint_id: int,
    kind: str,
    actor: Staff | None,
    details: dict[str, Any] | None = None,
) -> None:
    """One timeline step; details are sealed (handlers write customers' details into them)."""
    session.add(
        ComplaintEvent(
            complaint_id=complaint_id,
            kind=kind,
            actor_id=actor.id if actor else None,
            at=clock.now(),
            details=json.dumps(details, ensure_ascii=False, default=str) if details else None,
        )
    )


def tell(
    session: Session,
    complaint: Complaint,
    kind: str,
    content: str,
    channel: str = "SMS",
    proof: str | None = None,
) -> None:
    """Tell the customer something about their complaint and keep the proof of delivery."""
    session.add(
        CustomerMessage(
            complaint_id=complaint.id,
            kind=kind,
            channel=channel,
            content=content,
            proof_of_delivery=proof or f"{channel} gateway receipt {complaint.reference}",
            sent_at=clock.now(),
        )
    )


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
    """A completed user task enters the timeline with who, when and the form's answers."""
    add_event(
        session,
        complaint_id,
        "TASK_COMPLETED",
        actor,
        {"task": task.name, "element": task.element_id, "answers": data},
    )


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
        call.session, complaint.id, "HANDLER_ASSIGNED", call.actor, {"handler": handler.employee_no}
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
        "RESOLVED_ON_THE_SPOT" if on_the_spot else "PLAN_MADE",
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


@OPERATIONS("extend_deadline", "Extend the decision deadline (30 or 60 days) and tell the customer")
def extend_deadline(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    days = int(call.params["days"])
    complexity = {30: Complexity.COMPLEX, 60: Complexity.ESPECIALLY_COMPLEX}.get(days)
    if complexity is None:
        raise ValueError("an extension is to 30 or 60 days")
    complaint.complexity = complexity
    complaint.decision_due_at = natural_day_deadline(complaint.accepted_at, days)
    if complaint.plan_deadline and complaint.plan_deadline > complaint.decision_due_at:
        complaint.plan_deadline = complaint.decision_due_at
    if complaint.sla_state is SlaState.AT_RISK:
        complaint.sla_state = SlaState.ON_TRACK
    due = clock.business_date(complaint.decision_due_at)
    add_event(call.session, complaint.id, "DEADLINE_EXTENDED", call.actor, {"days": days})
    tell(
        call.session,
        complaint,
        "EXTENSION",
        f"因案情复杂，您的投诉（编号 {complaint.reference}）处理期限延长至 {due:%Y-%m-%d}。",
    )
    return _deadlines(complaint)


@OPERATIONS("warn_supervisor", "Warn the supervisor that a deadline is near (once per deadline)")
def warn_supervisor(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    if complaint.decided_at is not None or complaint.sla_state is not SlaState.ON_TRACK:
        return {"warned": False}
    complaint.sla_state = SlaState.AT_RISK
    add_event(
        call.session,
        complaint.id,
        "DEADLINE_WARNING",
        None,
        {"decision_due_at": complaint.decision_due_at.isoformat()},
    )
    return {"warned": True}


@OPERATIONS("escalate_breach", "Escalate a missed decision or review deadline to the supervisor")
def escalate_breach(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    now = clock.now()
    if complaint.status is ComplaintStatus.UNDER_REVIEW and complaint.review_due_at:
        missed = now >= complaint.review_due_at and complaint.review_outcome is None
        kind = "REVIEW_DEADLINE_MISSED"
    else:
        missed = complaint.decided_at is None and now >= complaint.decision_due_at
        kind = "DEADLINE_MISSED"
    if missed:
        complaint.sla_state = SlaState.BREACHED
        add_event(call.session, complaint.id, kind, None)
    return {"escalated": missed}


@OPERATIONS("notify_progress", "Tell the customer how their open complaint is progressing")
def notify_progress(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    if complaint.decided_at is not None:
        return {"sent": False}
    due = clock.business_date(complaint.decision_due_at)
    tell(
        call.session,
        complaint,
        "PROGRESS",
        f"您的投诉（编号 {complaint.reference}）正在处理中，"
        f"我行将于 {due:%Y-%m-%d} 前作出处理决定。",
    )
    add_event(call.session, complaint.id, "PROGRESS_UPDATE_SENT", None)
    return {"sent": True}


@OPERATIONS("record_decision", "Record the decision and deliver the notice with proof of delivery")
def record_decision(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    data = call.data
    now = clock.now()
    complaint.decided_at = now
    complaint.outcome = str(data["outcome"])
    complaint.status = ComplaintStatus.DECIDED
    if now >= complaint.decision_due_at:  # the deadline instant is past the last day
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
        "DECISION_NOTICE",
        notice,
        channel=str(data["channel"]),
        proof=str(data["proof_of_delivery"]),
    )
    add_event(
        call.session, complaint.id, "DECISION_DELIVERED", call.actor, {"outcome": data["outcome"]}
    )
    return {"call_back_due_at": (now + timedelta(days=CALL_BACK_WITHIN_DAYS)).isoformat()}


@OPERATIONS("record_call_back", "Record the customer's satisfaction with the handling")
def record_call_back(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    complaint.satisfaction_score = int(call.data["satisfaction_score"])
    add_event(
        call.session,
        complaint.id,
        "CALLED_BACK",
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
    add_event(call.session, complaint.id, "REVIEW_REQUESTED", call.actor)
    return {"review_due_at": complaint.review_due_at.isoformat()}


@OPERATIONS("record_review", "Record the superior unit's review decision and tell the customer")
def record_review(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    complaint.review_outcome = str(call.data["review_outcome"])
    add_event(
        call.session, complaint.id, "REVIEWED", call.actor, {"outcome": complaint.review_outcome}
    )
    tell(
        call.session,
        complaint,
        "REVIEW_DECISION",
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
    add_event(call.session, complaint.id, "RECTIFICATION_RAISED", call.actor)
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
    add_event(call.session, complaint.id, "RECTIFICATION_CLOSED", call.actor)
    return {"closed": True}


@OPERATIONS("close_complaint", "Close the complaint")
def close_complaint(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    complaint.status = ComplaintStatus.CLOSED
    complaint.closed_at = clock.now()
    add_event(call.session, complaint.id, "CLOSED", call.actor)
    return {"closed": True}


# --- queries ------------------------------------------------------------------------------------


def visible_condition(staff: Staff, customer_visible: ColumnElement[bool]) -> ColumnElement[bool]:
    """Complaints the caller may see: of customers they may see, or handled by them."""
    return or_(
        Complaint.customer_id.in_(select(Customer.id).where(customer_visible)),
        Complaint.handler_id == staff.id,
    )


def get(session: Session, complaint_id: int, visible: ColumnElement[bool]) -> Complaint:
    complaint = session.scalar(select(Complaint).where(Complaint.id == complaint_id, visible))
    if complaint is None:
        raise NotFoundError("no complaint with this ID")
    return complaint


ORDERINGS = {
    "ACCEPTED_AT": Complaint.accepted_at,
    "DECISION_DUE_AT": Complaint.decision_due_at,
}


@dataclass
class ComplaintFilter:
    status: list[ComplaintStatus] | None = None
    sla_state: list[SlaState] | None = None
    category: list[Category] | None = None
    channel: list[Channel] | None = None
    customer_id: int | None = None
    branch_id: int | None = None
    overdue: bool | None = None
    accepted_from: datetime | None = None
    accepted_to: datetime | None = None


def conditions(where: ComplaintFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.status:
        found.append(Complaint.status.in_(where.status))
    if where.sla_state:
        found.append(Complaint.sla_state.in_(where.sla_state))
    if where.category:
        found.append(Complaint.category.in_(where.category))
    if where.channel:
        found.append(Complaint.channel.in_(where.channel))
    if where.customer_id is not None:
        found.append(Complaint.customer_id == where.customer_id)
    if where.branch_id is not None:
        found.append(Complaint.branch_id == where.branch_id)
    if where.overdue is not None:
        overdue = overdue_condition(clock.now())
        found.append(overdue if where.overdue else ~overdue)
    if where.accepted_from is not None:
        found.append(Complaint.accepted_at >= where.accepted_from)
    if where.accepted_to is not None:
        found.append(Complaint.accepted_at < where.accepted_to)
    return found


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Undecided at or past the decision deadline, or a review at or past its deadline.

    A deadline is the first instant after its last natural day (Beijing midnight), so a case
    is overdue from that instant on, as the timers that escalate it see it.
    """
    return or_(
        and_(Complaint.decided_at.is_(None), Complaint.decision_due_at <= now),
        and_(
            Complaint.status == ComplaintStatus.UNDER_REVIEW,
            Complaint.review_outcome.is_(None),
            Complaint.review_due_at <= now,
        ),
    )


def page(
    session: Session,
    visible: ColumnElement[bool],
    where: ComplaintFilter,
    order_by: str,
    descending: bool,
    request: PageRequest,
) -> Page:
    column = ORDERINGS[order_by]
    keys = [SortKey(column, descending, datetime), SortKey(Complaint.id, descending, int)]
    statement: Select[Any] = select(Complaint).where(visible, *conditions(where))
    return paginate(session, statement, keys, request, lambda c: [getattr(c, column.key), c.id])


def events(
    session: Session, complaint_ids: Sequence[int]
) -> dict[int, list[tuple[ComplaintEvent, str | None]]]:
    """Each complaint's timeline, oldest first, with the actor's employee number."""
    found: dict[int, list[tuple[ComplaintEvent, str | None]]] = {i: [] for i in complaint_ids}
    rows = session.execute(
        select(ComplaintEvent, Staff.employee_no)
        .outerjoin(Staff, Staff.id == ComplaintEvent.actor_id)
        .where(ComplaintEvent.complaint_id.in_(list(complaint_ids)))
        .order_by(ComplaintEvent.id)
    )
    for event, employee_no in rows:
        found[event.complaint_id].append((event, employee_no))
    return found


def messages(session: Session, complaint_ids: Sequence[int]) -> dict[int, list[CustomerMessage]]:
    found: dict[int, list[CustomerMessage]] = {i: [] for i in complaint_ids}
    for message in session.scalars(
        select(CustomerMessage)
        .where(CustomerMessage.complaint_id.in_(complaint_ids))
        .order_by(CustomerMessage.id)
    ):
        found[message.complaint_id].append(message)
    return found


def rectifications(session: Session, complaint_ids: Sequence[int]) -> dict[int, Rectification]:
    rows = session.scalars(
        select(Rectification).where(Rectification.complaint_id.in_(list(complaint_ids)))
    )
    return {row.complaint_id: row for row in rows}


STATISTIC_DIMENSIONS = {
    "CATEGORY": Complaint.category,
    "CHANNEL": Complaint.channel,
    "UNIT": Complaint.branch_id,
    "CAUSE": Complaint.cause,
}


@dataclass(frozen=True)
class StatisticRow:
    key: str
    count: int
    closed: int
    decided_on_time: int
    decided: int
    average_satisfaction: Decimal | None
    overdue_open: int


def statistics(
    session: Session,
    visible: ColumnElement[bool] | None,
    dimension: str,
    where: ComplaintFilter,
) -> list[StatisticRow]:
    """Counts, on-time decisions, satisfaction and overdue complaints per dimension (CMP-5)."""
    if dimension == "MONTH":
        key: Any = business_month(Complaint.accepted_at)
    else:
        key = STATISTIC_DIMENSIONS[dimension]
    now = clock.now()
    on_time = and_(
        Complaint.decided_at.is_not(None), Complaint.decided_at <= Complaint.decision_due_at
    )
    statement = (
        select(
            key.label("key"),
            func.count().label("count"),
            func.sum(case((Complaint.status == ComplaintStatus.CLOSED, 1), else_=0)),
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((Complaint.decided_at.is_not(None), 1), else_=0)),
            func.avg(Complaint.satisfaction_score),
            func.sum(
                case(
                    (and_(Complaint.status != ComplaintStatus.CLOSED, overdue_condition(now)), 1),
                    else_=0,
                )
            ),
        )
        .where(*conditions(where))
        .group_by(key)
        .order_by(key)
    )
    if visible is not None:
        statement = statement.where(visible)
    rows = []
    branch_codes = (
        {pk: code for pk, code in session.execute(select(Branch.id, Branch.code))}
        if dimension == "UNIT"
        else {}
    )
    for value, count, closed, timely, decided, satisfaction, overdue in session.execute(statement):
        if dimension == "MONTH":
            label = f"{int(value) // 100:04d}-{int(value) % 100:02d}"
        elif dimension == "UNIT":
            label = branch_codes.get(value, str(value))
        else:
            label = "UNKNOWN" if value is None else getattr(value, "value", str(value))
        rows.append(
            StatisticRow(
                key=label,
                count=int(count),
                closed=int(closed or 0),
                decided_on_time=int(timely or 0),
                decided=int(decided or 0),
                average_satisfaction=(
                    Decimal(str(satisfaction)).quantize(Decimal("0.01"))
                    if satisfaction is not None
                    else None
                ),
                overdue_open=int(overdue or 0),
            )
        )
    return rows
