"""The operations the complaint diagram calls (CMP-2 … CMP-6), and its task listener.

The diagram (``workflows/complaint.bpmn``) decides the order of things; the operations here do
the domain work of each service task: deadlines in natural days, the handler check, extensions,
messages to the customer, the decision, the follow-up, the review and rectification. Every step
lands in the complaint's timeline. The rules hold whatever the diagram passes; warnings,
escalations and progress updates are the timers worker's (:mod:`.sweep`), not the diagram's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers.complaints import labels, notices
from resolvers.complaints.cases import close_item, end_open_pause
from resolvers.complaints.commands import (
    PROCESS_KEY,
    START_VARIABLES,
    add_event,
    complained_about,
    tell,
)
from resolvers.complaints.deadlines import (
    ASSIGN_WITHIN_DAYS,
    CALL_BACK_WITHIN_DAYS,
    DECISION_DAYS,
    MAX_DAYS,
    PROGRESS_EVERY_DAYS,
    REVIEW_DECISION_DAYS,
    REVIEW_REQUEST_DAYS,
    WARNING_DAYS_BEFORE,
    counted_paused_days,
    decided_late,
    decision_deadline,
    decision_made,
    extend,
    extension_in_time,
    last_day,
    natural_day_deadline,
    review_window_end,
)
from resolvers.outbox import commands as outbox
from resolvers.shared import validation
from resolvers.shared.staff import staff_by_employee_number
from resolvers.surveys import commands as surveys
from store.complaints import (
    ALERT_NO_ELIGIBLE_HOLDER,
    Complaint,
    ComplaintAlert,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
    Complexity,
    CustomerMessageChannel,
    CustomerMessageKind,
    Rectification,
    SlaState,
)
from store.customers import Customer
from store.staff import Branch, Role, Staff
from store.surveys import SurveyOccasion
from store.workflows import ProcessInstance, ProcessTask
from workflows import runtime
from workflows.operations import OperationCall, OperationSet, Parameter, ProcessRules

# The extensions the rules know: complex (30 days), especially complex (60 days at most).
EXTENSION_DAYS = (DECISION_DAYS[Complexity.COMPLEX], MAX_DAYS)
# Who may own a resolution plan or a rectification: the roles the policy lets register and
# work complaints (authz/policy.csv: admin:complaint_intake, complaint:withdraw) — not an
# auditor, a security administrator or a process owner, who check the work, not do it.
OWNER_ROLES = frozenset(
    role.value
    for role in (
        Role.COMPLAINT_HANDLER,
        Role.BRANCH_SUPERVISOR,
        Role.RELATIONSHIP_MANAGER,
        Role.HEAD_OFFICE,
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


# --- recusal (CMP-2, CMP-4; 办法第十七条 回避制度) ------------------------------------------------


def recusal(complaint: Complaint, staff: Staff, role: str) -> str | None:
    """Why ``staff`` must stay out of a task of ``role`` on ``complaint`` (None: they need not).

    The one rule of every path: the person complained about holds, claims, is given and
    completes no task of the complaint (assignment, investigation, decision, call-back, review,
    supervision); the handler's tasks go to no one of the unit complained about either.
    :func:`_recused_tasks` is the same rule in SQL.
    """
    if complained_about(complaint, staff):
        return "is the person the complaint is about"
    if (
        role == Role.COMPLAINT_HANDLER
        and complaint.complained_branch_id is not None
        and staff.branch_id == complaint.complained_branch_id
    ):
        return "belongs to the unit the complaint is about"
    return None


def _recused_tasks(staff: Staff) -> ColumnElement[bool]:
    """SQL over task rows: the complaint tasks :func:`recusal` keeps from ``staff``."""

    def instances(condition: ColumnElement[bool]) -> Any:
        # NOT IN over a NULL would hide every task: only complaints with an instance.
        return select(Complaint.instance_id).where(Complaint.instance_id.is_not(None), condition)

    return or_(
        ProcessTask.instance_id.in_(instances(Complaint.complained_staff_id == staff.id)),
        and_(
            ProcessTask.candidate_role == Role.COMPLAINT_HANDLER.value,
            ProcessTask.instance_id.in_(
                instances(Complaint.complained_branch_id == staff.branch_id)
            ),
        ),
    )


class Recusal:
    """The complaint process's task guard (``workflows.runtime.TaskGuard``): :func:`recusal`
    on every path to a task, and a substitute for an assignee the rule refuses."""

    code = "HANDLER_CONFLICT"

    def refusal(
        self,
        session: Session,
        instance: ProcessInstance,
        task: ProcessTask,
        staff: Staff,
        supervising: bool = False,
    ) -> str | None:
        complaint = _of_instance(session, instance)
        if complaint is None:
            return None
        # Supervisors of the unit complained about assign its handler, as in the first
        # assignment; only the person complained about is kept out of that.
        reason = recusal(complaint, staff, "" if supervising else task.candidate_role)
        return f"the person {reason} (recusal)" if reason else None

    def substitute(
        self, session: Session, instance: ProcessInstance, task: ProcessTask, refused: int
    ) -> int | None:
        """Another holder of the task's role in its branch, else the branch's supervisor (the
        call-back when the customer's own manager is complained about); None leaves the task
        to its lane's other candidates. The timeline says where the task went."""
        complaint = _of_instance(session, instance)
        if complaint is None:
            return None
        colleagues = (
            session.scalars(
                select(Staff)
                .where(Staff.branch_id == task.branch_id, Staff.active.is_(True))
                .order_by(Staff.employee_no)
            ).all()
            if task.branch_id is not None  # a bank-wide task stays with its lane
            else []
        )
        for role in (task.candidate_role, Role.BRANCH_SUPERVISOR.value):
            for person in colleagues:
                if role in person.roles and recusal(complaint, person, task.candidate_role) is None:
                    _note_rerouted(session, complaint, task, person)
                    return person.id
        _note_rerouted(session, complaint, task, None)
        return None

    def hidden(self, staff: Staff) -> ColumnElement[bool]:
        return _recused_tasks(staff)

    def route(self, session: Session, instance: ProcessInstance, task: ProcessTask) -> None:
        """The handler's tasks of a complaint about the customer's own branch go to the
        superior unit: everyone of the branch is recused from them, so nobody there could
        take them (nor be given them). Any other unassigned task that no one of its unit may
        take goes up as well (:func:`_route_up`)."""
        complaint = _of_instance(session, instance)
        if complaint is None:
            return
        if (
            task.candidate_role == Role.COMPLAINT_HANDLER
            and task.branch_id is not None
            and task.branch_id == complaint.complained_branch_id
        ):
            task.branch_id = notices.superior_branch(session, task.branch_id) or task.branch_id
        if task.assignee_id is None and task.candidate_role in ROUTED_UP_ROLES:
            _route_up(session, instance, complaint, task)

    def handed_over(
        self,
        session: Session,
        instance: ProcessInstance,
        task: ProcessTask,
        staff: Staff,
        actor: Staff,
    ) -> Callable[[dict[str, Any]], None] | None:
        """Whoever holds a handler's task is the complaint's handler (one place says who):
        the complaint, its timeline and the process data naming the decision's assignee."""
        if task.candidate_role != Role.COMPLAINT_HANDLER:
            return None
        complaint = _of_instance(session, instance)
        if complaint is None or complaint.handler_id == staff.id:
            return None
        previous = session.get(Staff, complaint.handler_id) if complaint.handler_id else None
        complaint.handler_id = staff.id
        add_event(
            session,
            complaint.id,
            ComplaintEventKind.HANDLER_ASSIGNED,
            actor,
            {
                "handler": staff.employee_no,
                "previous": previous.employee_no if previous else None,
                "task": task.element_id,
            },
        )

        def follow(data: dict[str, Any]) -> None:
            # A new dict: the tasks that ran may share the old one, and keep it as it was.
            assignment = data.get("assignment")
            if isinstance(assignment, dict):
                data["assignment"] = {**assignment, "handler_id": staff.id}

        return follow


# How far a task may go up (branch → parent … → head office); a deeper tree is not a bank's.
MAX_UNITS_UP = 8
# The roles of authority a task goes up for when recusal leaves nobody: a supervisor's task, head
# office's. The handler's tasks have their own superior-unit rule (above); a manager's task
# named for the person complained about goes to a colleague (:meth:`Recusal.substitute`).
ROUTED_UP_ROLES = frozenset({Role.BRANCH_SUPERVISOR.value, Role.HEAD_OFFICE.value})


def _route_up(
    session: Session, instance: ProcessInstance, complaint: Complaint, task: ProcessTask
) -> None:
    """Single holders (办法第十七条 with nobody left): when no active holder of the task's role
    in its unit may take it — the branch's only supervisor is the person complained about, the
    only head-office member is — the work is not left with nobody: it goes to the next superior
    unit (the parent branch, then head office, where the head office role takes a
    supervisor's task), and the timeline says so (TASK_REROUTED with the unit). When nobody in
    the bank may take it, head office is alerted (``NO_ELIGIBLE_HOLDER``) and the task waits in
    its lane, still kept from the person complained about."""
    before = (task.candidate_role, task.branch_id)
    for _ in range(MAX_UNITS_UP):
        if runtime.lane_has_someone(
            session, instance, task.candidate_role, task.branch_id, task.form_name
        ):
            break
        if task.branch_id is not None and (
            superior := notices.superior_branch(session, task.branch_id)
        ):
            task.branch_id = superior
        elif task.candidate_role != Role.HEAD_OFFICE:
            task.candidate_role, task.branch_id = Role.HEAD_OFFICE.value, None
        else:
            task.candidate_role, task.branch_id = before
            _raise_alert(session, complaint, ALERT_NO_ELIGIBLE_HOLDER)
            add_event(
                session,
                complaint.id,
                ComplaintEventKind.TASK_REROUTED,
                None,
                {"task": task.name, "element": task.element_id, "to": None, "unit": None},
            )
            return
    if (task.candidate_role, task.branch_id) != before:
        unit = (
            labels.HEAD_OFFICE
            if task.branch_id is None
            else session.get_one(Branch, task.branch_id).name
        )
        details = {"task": task.name, "element": task.element_id, "to": None, "unit": unit}
        add_event(session, complaint.id, ComplaintEventKind.TASK_REROUTED, None, details)


def _raise_alert(session: Session, complaint: Complaint, kind: str) -> None:
    """An open alert of ``kind`` for the complaint (one while it is open)."""
    found = session.scalar(
        select(ComplaintAlert.id).where(
            ComplaintAlert.complaint_id == complaint.id,
            ComplaintAlert.kind == kind,
            ComplaintAlert.acknowledged_at.is_(None),
        )
    )
    if found is None:
        session.add(ComplaintAlert(complaint_id=complaint.id, kind=kind, raised_at=clock.now()))


def _of_instance(session: Session, instance: ProcessInstance) -> Complaint | None:
    return session.scalar(select(Complaint).where(Complaint.instance_id == instance.id))


def _note_rerouted(
    session: Session, complaint: Complaint, task: ProcessTask, to: Staff | None
) -> None:
    add_event(
        session,
        complaint.id,
        ComplaintEventKind.TASK_REROUTED,
        None,
        {"task": task.name, "element": task.element_id, "to": to.employee_no if to else None},
    )


# Who may hold the tasks of complaint instances (kehu.wiring).
TASK_GUARDS = {"complaint": Recusal()}


# --- operations of the complaint diagram -------------------------------------------------------


# The stages every version of the complaint process must reach, in this order, each through the
# operation that records it (CMP-2 … CMP-4): a process owner may change the flow, not drop the
# rules. Deploy refuses a diagram in which one is missing or cannot be reached after the previous
# (or the stage it names).
REQUIRED_STAGES = (
    ("assignment", "assign_handler"),
    ("investigation", "record_investigation"),
    ("decision notice", "record_decision"),
    ("call-back", "record_call_back"),
    # The customer may ask for a review from the notice's delivery on, before or after the
    # call-back (第二十一条): the review follows the decision notice, beside the call-back.
    ("review", "record_review", "decision notice"),
)
# The service operations its diagrams may call (installed by kehu.wiring).
OPERATIONS = OperationSet(ProcessRules(PROCESS_KEY, START_VARIABLES, REQUIRED_STAGES))


@OPERATIONS(
    "compute_deadlines", "Decision deadline (15 natural days), warning time, progress cycle"
)
def compute_deadlines(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    complaint.decision_due_at = decision_deadline(
        complaint.accepted_at, DECISION_DAYS[complaint.complexity], complaint.paused_days
    )
    return _deadlines(complaint)


@OPERATIONS(
    "assign_handler",
    "Assign a handler who is not the person or unit complained about",
    [Parameter("handler", str)],
)
def assign_handler(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    handler = staff_by_employee_number(call.session, call.params.get("handler") or "")
    if handler is None or not handler.active or Role.COMPLAINT_HANDLER not in handler.roles:
        raise UserInputError.one(
            _field("handler"), "INVALID_HANDLER", "must be an active complaint handler"
        )
    conflict = recusal(complaint, handler, Role.COMPLAINT_HANDLER)
    if conflict is not None:
        raise UserInputError.one(_field("handler"), "HANDLER_CONFLICT", conflict)
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
    # What was found is the record the decision notice rests on: spaces or invisible
    # characters alone are no findings, reason or plan.
    _required(data, "findings", problems)
    for n, item in enumerate(data.get("evidence") or []):
        if validation.blank(str(item)):
            problems.add(("data", "evidence", str(n)), "REQUIRED", "must not be blank")
    if complexity is not Complexity.STANDARD and validation.blank(
        str(data.get("extension_reason", ""))
    ):
        problems.add(_field("extension_reason"), "REQUIRED", "say why more time is needed")
    owner = None
    deadline = None
    if not on_the_spot:
        for name in ("plan", "plan_owner", "plan_deadline"):
            if validation.blank(str(data.get(name, ""))):
                problems.add(_field(name), "REQUIRED", "a resolution plan needs it")
        if data.get("plan_owner"):
            # Carrying out the resolution is handling the complaint (recusal).
            owner = _owner(call.session, complaint, str(data["plan_owner"]), "plan_owner", problems)
        if data.get("plan_deadline"):
            deadline = _plan_deadline(complaint, str(data["plan_deadline"]), complexity, problems)
    if data.get("systemic"):
        _rectification_owner_and_deadline(call.session, complaint, data, problems)
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


def _rectification_owner_and_deadline(
    session: Session, complaint: Complaint, data: dict[str, Any], problems: Problems
) -> tuple[Staff | None, datetime | None]:
    """Who answers for a systemic issue's rectification, and by when (CMP-5, CMP-7)."""
    owner = None
    due = None
    number = str(data.get("rectification_owner", "")).strip()
    if not number:
        problems.add(_field("rectification_owner"), "REQUIRED", "a rectification needs an owner")
    else:
        # Answering for the rectification is handling the complaint (recusal), as the plan.
        owner = _owner(session, complaint, number, "rectification_owner", problems)
    value = str(data.get("rectification_deadline", "")).strip()
    if not value:
        problems.add(
            _field("rectification_deadline"), "REQUIRED", "a rectification needs a deadline"
        )
    else:
        day = _form_date(value, "rectification_deadline", problems)
        if day is not None:
            if day < clock.today():
                problems.add(
                    _field("rectification_deadline"), "DATE_IN_PAST", "must not be in the past"
                )
            elif day > _a_year_after(clock.today()):
                # A deadline no one lives to see is no deadline: its timer would never fire.
                problems.add(
                    _field("rectification_deadline"),
                    "DEADLINE_TOO_LATE",
                    "must be at most one year from today",
                )
            else:
                due = clock.end_of_business_day(day)
    return owner, due


def _a_year_after(day: date) -> date:
    """The same date a year later (29 February: 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def _owner(
    session: Session, complaint: Complaint, number: str, name: str, problems: Problems
) -> Staff | None:
    """The staff member a plan or a rectification is given to: active, in a role that works
    complaints (:data:`OWNER_ROLES`), and not recused; None (the problem added) otherwise."""
    owner = staff_by_employee_number(session, number.strip())
    if owner is None or not owner.active:
        problems.add(_field(name), "NOT_FOUND", "no active staff member")
    elif not OWNER_ROLES.intersection(owner.roles):
        problems.add(_field(name), "INVALID_HANDLER", "must be staff who work on complaints")
    elif conflict := recusal(complaint, owner, ""):
        problems.add(_field(name), "HANDLER_CONFLICT", conflict)
    else:
        return owner
    return None


def _form_date(value: str, name: str, problems: Problems) -> date | None:
    """A form's date (YYYY-MM-DD) whose end is an instant: 9999-12-31 never ends (no datetime
    holds the midnight after it), so it is refused naming the field instead of failing the
    step and leaving the complaint without a task."""
    try:
        day = date.fromisoformat(value)
        clock.end_of_business_day(day)
    except (ValueError, OverflowError):
        problems.add(_field(name), "INVALID", "must be a date (YYYY-MM-DD)")
        return None
    return day


def _plan_deadline(
    complaint: Complaint, value: str, complexity: Complexity, problems: Problems
) -> datetime | None:
    day = _form_date(value, "plan_deadline", problems)
    if day is None:
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
    [Parameter("days", int, choices=(30, 60))],
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
    # Compared on the same paused days: an extension during a pause is not lost to the
    # deadline the pause may reach.
    if decision_deadline(complaint.accepted_at, days, counted_paused_days(complaint)) <= (
        complaint.decision_due_at
    ):
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
    if complaint.paused_until is not None:
        # The last day is known once the clock runs again (the customer is told then).
        until = f"受理之日起 {days} 日，中止计时期间不计入；恢复处理时我行将告知您最后期限"
    else:
        until = f" {last_day(complaint.decision_due_at):%Y-%m-%d}（含当日）"
    tell(
        call.session,
        complaint,
        CustomerMessageKind.EXTENSION,
        f"因案情复杂，您的投诉（编号 {complaint.reference}）处理期限延长至{until}。",
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


@OPERATIONS("record_decision", "Record the decision and send the notice (the outbox delivers it)")
def record_decision(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    if complaint.cause is None:
        # A flow that reaches the decision around the investigation (a shortcut a process owner
        # drew) decides nothing: an incident for the process owner; nothing is sent.
        raise LookupError("the complaint has no recorded investigation: the flow skipped it")
    data = call.data
    problems = Problems()
    facts, basis, reasons = (
        _required(data, name, problems) for name in ("verified_facts", "basis", "reasons")
    )
    outcome = str(data.get("outcome", ""))
    if outcome not in labels.OUTCOMES:
        problems.add(_field("outcome"), "INVALID", "is not one of the known outcomes")
    channel = _channel(str(data["channel"]))
    proof = str(data.get("proof_of_delivery") or "").strip()
    if validation.blank(proof):
        proof = ""
    if channel.value in outbox.STAFF_CHANNELS and not proof:
        problems.add(_field("proof_of_delivery"), "REQUIRED", "record how the notice was delivered")
    elif channel.value not in outbox.STAFF_CHANNELS and proof:
        problems.add(
            _field("proof_of_delivery"),
            "PROOF_FROM_CHANNEL",
            "on this channel the channel's answer is the proof",
        )
    customer = call.session.get_one(Customer, complaint.customer_id)
    if outbox.recipient_of(customer, channel.value) is None:
        problems.add(_field("channel"), "NO_ADDRESS", "the customer has no address there")
    problems.raise_if_any()
    now = clock.now()
    end_open_pause(call.session, complaint, call.actor, now)
    complaint.decided_at = now
    complaint.outcome = outcome
    complaint.status = ComplaintStatus.DECIDED
    decision_made(call.session, complaint, now)
    if decided_late(now, complaint.decision_due_at):
        complaint.sla_state = SlaState.BREACHED
    elif complaint.sla_state is SlaState.AT_RISK:
        complaint.sla_state = SlaState.ON_TRACK
    notice = notices.decision_notice(
        complaint.reference,
        facts=facts,
        basis=basis,
        reasons=reasons,
        outcome=labels.OUTCOMES[outcome],
        note=str(data.get("remedies") or "").strip(),
        reviewer=notices.superior_unit(call.session, complaint.branch_id)[1],
    )
    tell(
        call.session,
        complaint,
        CustomerMessageKind.DECISION_NOTICE,
        notice,
        channel=channel,
        proof=proof or None,
        actor=call.actor,
    )
    add_event(
        call.session,
        complaint.id,
        ComplaintEventKind.DECISION_DELIVERED,
        call.actor,
        {"outcome": outcome, "channel": channel.value},
    )
    return {
        "call_back_due_at": (now + timedelta(days=CALL_BACK_WITHIN_DAYS)).isoformat(),
        # The earliest the review window can end (it counts from the notice's delivery; the
        # code keeps the real end, see review_window_end).
        "review_request_until": natural_day_deadline(now, REVIEW_REQUEST_DAYS).isoformat(),
    }


def _required(data: dict[str, Any], name: str, problems: Problems) -> str:
    """A notice field's text, trimmed; blank (spaces or invisible characters only) is
    REQUIRED."""
    value = str(data.get(name) or "").strip()
    if validation.blank(value):
        problems.add(_field(name), "REQUIRED", "must not be blank")
    return value


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
    # 30 natural days from the customer's receipt of the decision (CMP-4), ending at Beijing
    # midnight: a notice still on its way has no window yet, and no call-back either.
    until = review_window_end(call.session, complaint.id)
    if until is None:
        raise UserInputError.one(
            _field("satisfied"),
            "NOTICE_NOT_DELIVERED",
            "the decision notice has not reached the customer yet",
        )
    complaint.satisfaction_score = int(call.data["satisfaction_score"])
    add_event(
        call.session,
        complaint.id,
        ComplaintEventKind.CALLED_BACK,
        call.actor,
        {"satisfaction_score": complaint.satisfaction_score, "satisfied": call.data["satisfied"]},
    )
    return {"review_request_until": until.isoformat()}


@OPERATIONS("open_review", "Open a review by the superior unit, to be decided within 30 days")
def open_review(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    now = clock.now()
    # The request must come within 30 natural days of receiving the decision (CMP-4), whatever
    # the diagram's timers say: from the window's end instant on, it is refused.
    until = review_window_end(call.session, complaint.id)
    if until is None or now >= until:
        raise UserInputError.one(
            _field("review_requested"),
            "REVIEW_WINDOW_CLOSED",
            f"a review is requested within {REVIEW_REQUEST_DAYS} days of receiving the decision",
        )
    reviewer_branch, reviewer = notices.superior_unit(call.session, complaint.branch_id)
    complaint.review_requested_at = now
    complaint.review_due_at = natural_day_deadline(now, REVIEW_DECISION_DAYS)
    complaint.status = ComplaintStatus.UNDER_REVIEW
    add_event(
        call.session,
        complaint.id,
        ComplaintEventKind.REVIEW_REQUESTED,
        call.actor,
        {"reviewer": reviewer},
    )
    return {
        "review_due_at": complaint.review_due_at.isoformat(),
        "reviewer_branch_id": reviewer_branch,
    }


@OPERATIONS("record_review", "Record the superior unit's review decision and tell the customer")
def record_review(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    # The superior unit decides the review (CMP-4), whoever the diagram routes the task to.
    reviewer_branch, _name = notices.superior_unit(call.session, complaint.branch_id)
    if not notices.of_unit(call.actor, reviewer_branch):
        raise UserInputError.one(
            _field("review_outcome"), "NOT_SUPERIOR_UNIT", "is decided by the superior unit"
        )
    problems = Problems()
    outcome = str(call.data.get("review_outcome", ""))
    if outcome not in labels.REVIEW_OUTCOMES:
        problems.add(_field("review_outcome"), "INVALID", "is not one of the known outcomes")
    explanation = _required(call.data, "explanation", problems)
    problems.raise_if_any()
    complaint.review_outcome = outcome
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
        f"您的复核申请（投诉编号 {complaint.reference}）已办结。"
        f"复核结论：{labels.REVIEW_OUTCOMES[outcome]}。复核说明：{explanation}\n"
        f"{notices.FURTHER_REMEDIES}",
    )
    return {"review_outcome": complaint.review_outcome}


@OPERATIONS("raise_rectification", "Escalate a systemic or common issue to head office")
def raise_rectification(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    problems = Problems()
    owner, due = _rectification_owner_and_deadline(call.session, complaint, call.data, problems)
    problems.raise_if_any()
    assert owner is not None and due is not None
    item = Rectification(
        complaint_id=complaint.id,
        issue=f"{complaint.category.value}: {complaint.cause or 'OTHER'}",
        raised_at=clock.now(),
        owner_id=owner.id,
        due_at=due,
    )
    call.session.add(item)
    call.session.flush()
    add_event(
        call.session,
        complaint.id,
        ComplaintEventKind.RECTIFICATION_RAISED,
        call.actor,
        {"owner": owner.employee_no, "due_at": due.isoformat()},
    )
    # The rectification task goes to its owner, due at its deadline (the diagram's dueDate).
    return {"rectification_id": item.id, "owner_id": owner.id, "due_at": due.isoformat()}


@OPERATIONS("close_rectification", "Close the rectification item with the actions taken")
def close_rectification(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    item = call.session.scalar(
        select(Rectification).where(Rectification.complaint_id == complaint.id)
    )
    if item is None:
        raise LookupError("no rectification item to close")
    close_item(call.session, complaint, item, call.actor, call.data, _field)
    return {"closed": True}


@OPERATIONS("close_complaint", "Close the complaint once its decision was delivered")
def close_complaint(call: OperationCall) -> dict[str, Any]:
    complaint = _complaint(call)
    if complaint.decided_at is None or complaint.satisfaction_score is None:
        # A diagram that reaches the end without the decision or the call-back (a shortcut a
        # process owner drew) closes nothing: an incident for the process owner; the complaint
        # and its clocks run on.
        raise LookupError("the complaint is not decided and called back: the flow skipped it")
    complaint.status = ComplaintStatus.CLOSED
    complaint.closed_at = clock.now()
    add_event(call.session, complaint.id, ComplaintEventKind.CLOSED, call.actor)
    # REL-5: a closed complaint asks the customer how it was handled, in the same transaction.
    # A withdrawn complaint asks nothing (the customer ended it: no handling to judge) and a
    # merged one neither (the complaint it was merged into asks once, when it closes).
    surveys.request_survey(
        call.session, call.actor, complaint.customer_id, SurveyOccasion.COMPLAINT, complaint.id
    )
    return {"closed": True}
