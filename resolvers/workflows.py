"""Process deployment, user tasks and instances, as the API offers them (PLAT-2, CMP tasks).

Who may do what: a task's candidates hold its lane's role (and work in its branch, for branch
roles); an assigned task belongs to its assignee alone. Supervisors reassign tasks of their
branch; process owners deploy and migrate. Each command runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, not_, or_, select
from sqlalchemy.orm import Session, joinedload

from core import clock
from core.errors import (
    ConflictError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    UserInputError,
)
from resolvers.shared import unit_of_work
from resolvers.shared.filters import FilterField, compile_where
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from resolvers.shared.staff import staff_by_employee_number
from store.db import take_write_lock
from store.staff import Role, Staff
from store.workflows import (
    ProcessIncident,
    ProcessInstance,
    ProcessTask,
    ProcessVersion,
    TaskStatus,
)
from workflows import deployment, incidents, migration, operations, runtime, timers
from workflows.errors import ProcessError, StaleInstanceError

# Called when a user task is completed, before the engine moves on, with the id of the domain
# row of the instance (from its business key "<prefix>:<id>"): (session, id, task, actor, data).
TaskListener = Callable[[Session, int, ProcessTask, Staff, dict[str, Any]], None]
_listeners: dict[str, TaskListener] = {}


def install_task_listeners(listeners: dict[str, TaskListener]) -> None:
    """Let domains note completions of their instances' tasks (e.g. in a complaint's timeline),
    keyed by the business-key prefix of their instances ("complaint")."""
    _listeners.update(listeners)


def as_user_error(error: ProcessError) -> UserInputError:
    """A refused process action as field errors (form fields, or the BPMN element's id)."""
    return UserInputError(
        [
            FieldError(
                problem.field or (("bpmn", problem.element_id) if problem.element_id else ()),
                problem.code,
                problem.message,
            )
            for problem in error.problems
        ]
    )


def _translated(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except ProcessError as exc:
        if exc.code == "NOT_FOUND":
            raise NotFoundError(exc.message) from None
        raise as_user_error(exc) from None
    except StaleInstanceError as exc:
        raise ConflictError(str(exc)) from None


def start_for(
    session: Session, record: Any, process_key: str, data: dict[str, Any], actor: Staff
) -> ProcessInstance:
    """Start ``process_key`` for a domain row (business key ``<process key>:<row id>``).

    The row points at its instance before the first step runs, so the service operations of
    that step find it; a process that is not deployed is a typed input error.
    """

    def link(instance: ProcessInstance) -> None:
        record.instance_id = instance.id
        session.flush()

    started: ProcessInstance = _translated(
        lambda: runtime.start(
            session, process_key, f"{process_key}:{record.id}", data, actor, on_created=link
        )
    )
    return started


def lock_instance(session: Session, instance_id: int) -> ProcessInstance:
    """The instance row, locked before its domain rows (the order every writer keeps)."""
    take_write_lock(session)
    return runtime.lock_row(session, instance_id)


def end_instance(session: Session, instance: ProcessInstance, actor: Staff) -> None:
    """End a locked running instance early: its open tasks are cancelled, its timers gone."""
    _translated(lambda: runtime.end(session, instance, actor))


# --- deploy and migrate (process owners) --------------------------------------------------------


def deploy(
    session: Session, actor: Staff, bpmn_xml: str, forms: dict[str, Any] | None
) -> ProcessVersion:
    """Validate and store a diagram (with its forms; the bundled forms when none are given)."""
    chosen = deployment.read_forms() if forms is None else forms
    version, _created = _translated(lambda: deployment.deploy(session, bpmn_xml, chosen, actor))
    return version  # type: ignore[no-any-return]


def migrate_instance(session: Session, instance_id: int, version_id: int) -> ProcessInstance:
    target = session.get(ProcessVersion, version_id)
    if target is None:
        raise UserInputError.one(("version",), "NOT_FOUND", "no process version with this ID")
    return _translated(lambda: migration.migrate(session, instance_id, target))  # type: ignore[no-any-return]


def retry_incident(session: Session, actor: Staff, incident_id: int) -> ProcessIncident:
    """Run an incident's failed step again (process owners); queued behind the timers worker."""
    take_write_lock(session)
    return _translated(lambda: incidents.retry(session, incident_id, actor))  # type: ignore[no-any-return]


INCIDENT_FILTERS = {
    "status": FilterField(ProcessIncident.status),
    "element_id": FilterField(ProcessIncident.element_id, "text"),
}


def incident_page(session: Session, where: Any, request: PageRequest) -> Page:
    """Incidents, newest first (``where``: a ``ProcessIncidentWhere``)."""
    statement: Select[Any] = select(ProcessIncident).where(compile_where(where, INCIDENT_FILTERS))
    keys = [SortKey(ProcessIncident.id, True, int)]
    return paginate(session, statement, keys, request, lambda i: [i.id])


VERSION_FILTERS = {"process_key": FilterField(ProcessVersion.process_key, "text")}


def version_page(session: Session, where: Any, request: PageRequest) -> Page:
    """Deployed versions by process and number (``where``: a ``ProcessVersionWhere``)."""
    statement: Select[Any] = select(ProcessVersion).where(compile_where(where, VERSION_FILTERS))
    keys = [
        SortKey(ProcessVersion.process_key, False, str),
        SortKey(ProcessVersion.number, False, int),
        SortKey(ProcessVersion.id, False, int),
    ]
    return paginate(session, statement, keys, request, lambda v: [v.process_key, v.number, v.id])


# --- tasks ----------------------------------------------------------------------------------------


def candidate_condition(staff: Staff) -> ColumnElement[bool]:
    """Open tasks ``staff`` may take: assigned to them, or unassigned in their role and branch."""
    roles = [str(role) for role in staff.roles]
    if not roles:
        return false()
    unassigned = and_(
        ProcessTask.assignee_id.is_(None),
        ProcessTask.candidate_role.in_(roles),
        or_(ProcessTask.branch_id.is_(None), ProcessTask.branch_id == staff.branch_id),
    )
    return or_(ProcessTask.assignee_id == staff.id, unassigned)


def _may_take(task: ProcessTask, staff: Staff) -> bool:
    in_role = task.candidate_role in {str(role) for role in staff.roles}
    in_branch = task.branch_id is None or task.branch_id == staff.branch_id
    return in_role and in_branch


def _may_supervise(task: ProcessTask, staff: Staff) -> bool:
    if Role.HEAD_OFFICE in staff.roles:
        return True
    return Role.BRANCH_SUPERVISOR in staff.roles and task.branch_id == staff.branch_id


def get_task(session: Session, task_id: int, *, for_update: bool = False) -> ProcessTask:
    statement = select(ProcessTask).where(ProcessTask.id == task_id)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    task = session.scalar(statement)
    if task is None:
        raise NotFoundError("no task with this ID")
    return task


def visible_task(session: Session, staff: Staff, task_id: int) -> ProcessTask:
    """A task its candidates, assignee or supervisors may look at; NOT_FOUND for anyone else."""
    task = get_task(session, task_id)
    if task.assignee_id == staff.id or _may_take(task, staff) or _may_supervise(task, staff):
        return task
    raise NotFoundError("no task with this ID")


def is_task_overdue(status: TaskStatus, due_at: datetime | None, now: datetime) -> bool:
    """An open task at or past its due instant (the deadline instant itself is overdue);
    :func:`task_overdue_condition` is the same rule in SQL."""
    return status == TaskStatus.OPEN and due_at is not None and due_at <= now


def task_overdue_condition(now: datetime) -> ColumnElement[bool]:
    """SQL: an open task at or past its due instant (the ``Task.overdue`` field's rule)."""
    return and_(
        ProcessTask.status == TaskStatus.OPEN,
        ProcessTask.due_at.is_not(None),
        ProcessTask.due_at <= now,
    )


def task_filter_fields(now: datetime) -> dict[str, FilterField]:
    """The filterable fields of the inbox; ``overdue`` as seen at ``now``."""
    process_key = (
        select(ProcessVersion.process_key)
        .join(ProcessInstance, ProcessInstance.version_id == ProcessVersion.id)
        .where(ProcessInstance.id == ProcessTask.instance_id)
        .scalar_subquery()
    )
    return {
        "process": FilterField(process_key, "text"),
        "due_at": FilterField(ProcessTask.due_at),
        "overdue": FilterField(case((task_overdue_condition(now), True), else_=False)),
        "claimed": FilterField(case((ProcessTask.assignee_id.is_not(None), True), else_=False)),
    }


def task_page(session: Session, staff: Staff, request: PageRequest, where: Any = None) -> Page:
    """The caller's inbox: open tasks they may do, oldest first (``where``: a ``TaskWhere``);
    never a task a domain's guard keeps from them (recusal)."""
    statement: Select[Any] = select(ProcessTask).where(
        ProcessTask.status == TaskStatus.OPEN,
        candidate_condition(staff),
        *(not_(guard.hidden(staff)) for guard in runtime.task_guards()),
        compile_where(where, task_filter_fields(clock.now())),
    )
    keys = [SortKey(ProcessTask.id, False, int)]
    return paginate(session, statement, keys, request, lambda t: [t.id])


def guard_task(
    session: Session,
    task: ProcessTask,
    staff: Staff,
    field: str = "id",
    supervising: bool = False,
) -> None:
    """Refuse ``staff`` a task the domain's guard keeps from them (a complaint's recusal): the
    one check of every path to a task — claim, reassign (the supervisor and the new assignee),
    complete — as the runtime's for assignees a diagram names."""
    instance = session.get_one(ProcessInstance, task.instance_id)
    guard = runtime.guard_of(instance)
    if guard is None:
        return
    reason = guard.refusal(session, instance, task, staff, supervising)
    if reason is not None:
        raise UserInputError.one((field,), guard.code, reason)


def _locked_task(session: Session, task_id: int) -> tuple[ProcessInstance, ProcessTask]:
    """A task and its instance, locked for a command that may move the instance on."""
    # Queue behind a timer worker advancing the same instance rather than fail with CONFLICT.
    # Lock order as the worker's: the instance first, then its task rows and domain rows.
    take_write_lock(session)
    try:
        instance = runtime.lock_row_of_task(session, task_id)
    except ProcessError:
        raise NotFoundError("no task with this ID") from None
    return instance, get_task(session, task_id, for_update=True)


def _hand_over(
    session: Session, instance: ProcessInstance, task: ProcessTask, person: Staff, actor: Staff
) -> None:
    """``person`` holds ``task`` now; the domain (a complaint's handler) and the process data
    that names who does the tasks to come follow, in the same unit of work."""
    task.assignee_id = person.id
    guard = runtime.guard_of(instance)
    change = guard.handed_over(session, instance, task, person, actor) if guard else None
    if change is not None:
        _translated(lambda: runtime.change_waiting_data(session, instance, actor, change))


def claim_task(session: Session, actor: Staff, task_id: int) -> ProcessTask:
    instance, task = _locked_task(session, task_id)
    if task.status is not TaskStatus.OPEN:
        raise UserInputError.one(("id",), "TASK_NOT_OPEN", "the task is no longer open")
    # Recusal first: the person complained about is told why, not that the task is elsewhere.
    guard_task(session, task, actor)
    if not _may_take(task, actor):
        raise ForbiddenError("only a candidate of this task may claim it")
    if task.assignee_id not in (None, actor.id):
        raise UserInputError.one(("id",), "ALREADY_ASSIGNED", "someone else has this task")
    if task.assignee_id is None:
        _hand_over(session, instance, task, actor, actor)
    return task


def reassign_task(session: Session, actor: Staff, task_id: int, employee_no: str) -> ProcessTask:
    instance, task = _locked_task(session, task_id)
    if not _may_supervise(task, actor):
        raise ForbiddenError("only a supervisor of the task's branch may reassign it")
    if task.status is not TaskStatus.OPEN:
        raise UserInputError.one(("id",), "TASK_NOT_OPEN", "the task is no longer open")
    # A supervisor the case is about does not pick who handles it either.
    guard_task(session, task, actor, supervising=True)
    person = staff_by_employee_number(session, employee_no)
    if person is None or not person.active:
        raise UserInputError.one(("assignee",), "NOT_FOUND", "no active staff member")
    guard_task(session, task, person, "assignee")
    if not _may_take(task, person):
        raise UserInputError.one(
            ("assignee",), "NOT_A_CANDIDATE", "must hold the task's role in the task's branch"
        )
    if task.assignee_id != person.id:
        _hand_over(session, instance, task, person, actor)
    return task


def complete_task(
    session: Session, actor: Staff, task_id: int, data: dict[str, Any]
) -> ProcessTask:
    """Complete a task with the form's data; only its assignee (or a candidate, if unassigned)."""
    instance, task = _locked_task(session, task_id)
    if task.status is not TaskStatus.OPEN:
        raise UserInputError.one(
            ("id",), "TASK_NOT_OPEN", f"the task is already {task.status.value.lower()}"
        )
    if task.assignee_id is not None and task.assignee_id != actor.id:
        raise ForbiddenError("this task is assigned to someone else")
    if task.assignee_id is None and not _may_take(task, actor):
        raise ForbiddenError("only a candidate of this task may complete it")
    guard_task(session, task, actor)
    if task.assignee_id is None:  # doing an unassigned task takes it, as a claim would
        _hand_over(session, instance, task, actor, actor)
    prefix, _, record_id = instance.business_key.partition(":")
    if prefix in _listeners:
        _listeners[prefix](session, int(record_id), task, actor, data)
    _translated(lambda: runtime.complete_task(session, task, data, actor, instance))
    return task


def complete_for(
    session: Session,
    actor: Staff,
    instance: ProcessInstance,
    task: ProcessTask,
    data: dict[str, Any],
) -> None:
    """Complete an open task of a locked instance with an answer ``actor`` records for someone
    else (a customer's review request recorded by any of its staff, whatever lane the diagram
    gives the task): the domain's guard still applies and its listener notes who did it."""
    guard_task(session, task, actor)
    prefix, _, record_id = instance.business_key.partition(":")
    if prefix in _listeners:
        _listeners[prefix](session, int(record_id), task, actor, data)
    _translated(lambda: runtime.complete_task(session, task, data, actor, instance))


def migrate_to_latest(session: Session, instance: ProcessInstance) -> None:
    """Move a locked instance to its process's latest version (when that is safe)."""
    key = instance.business_key.partition(":")[0]
    _translated(
        lambda: migration.migrate(session, instance.id, runtime.latest_version(session, key))
    )


def visible_instance(session: Session, staff: Staff, instance_id: int) -> ProcessInstance | None:
    """An instance for someone who may look at one of its tasks (as :func:`visible_task`)."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        return None
    tasks = session.scalars(select(ProcessTask).where(ProcessTask.instance_id == instance_id))
    for task in tasks:
        if task.assignee_id == staff.id or _may_take(task, staff) or _may_supervise(task, staff):
            return instance
    return None


def open_tasks(session: Session, instance_ids: Sequence[int]) -> dict[int, list[ProcessTask]]:
    found: dict[int, list[ProcessTask]] = {i: [] for i in instance_ids}
    for task in session.scalars(
        select(ProcessTask)
        .where(ProcessTask.instance_id.in_(instance_ids), ProcessTask.status == TaskStatus.OPEN)
        .order_by(ProcessTask.id)
    ):
        found[task.instance_id].append(task)
    return found


# Process versions never change once deployed; the runtime reads each once per process.
VersionData = runtime.VersionData
version_data = runtime.version_data


def known_operations() -> list[tuple[str, str]]:
    """The operations service tasks may call, with their descriptions (for process owners)."""
    return list(operations.known().items())


def operation_parameters(name: str) -> tuple[operations.Parameter, ...]:
    """The parameters operation ``name`` declares (for process owners)."""
    return operations.parameters(name)


def instances_by_id(session: Session, ids: Sequence[int]) -> dict[int, ProcessInstance]:
    if len(ids) == 1:  # e.g. the task a mutation just completed: usually already in the session
        row = session.get(ProcessInstance, ids[0])
        return {row.id: row} if row is not None else {}
    rows = session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(list(ids))))
    return {row.id: row for row in rows}


def staff_by_id(session: Session, ids: Sequence[int]) -> dict[int, Staff]:
    """Staff with their branches, in one statement (for lists of tasks and complaints)."""
    rows = session.scalars(
        select(Staff).where(Staff.id.in_(list(ids))).options(joinedload(Staff.branch))
    )
    return {row.id: row for row in rows.unique()}


def timer_step(session: Session, instance_id: int) -> bool:
    """Fire an instance's due timers as a unit of work of the timers worker (a savepoint).

    Its CHANGE entry names the service operations the timers ran (``timer:warn_supervisor``);
    nothing is written when nothing was due.
    """
    called = session.info[operations.CALLED] = []

    def fire(s: Session) -> bool:
        if not timers.fire_due_timers(s, instance_id):
            raise _NothingDue
        return True

    try:
        return unit_of_work.run(
            session,
            unit_of_work.WORKER,
            unit_of_work.TIMERS,
            lambda: "timer:" + "+".join(dict.fromkeys(called)) if called else "timer",
            fire,
            nested=True,
        )
    except _NothingDue:
        return False
    finally:
        session.info.pop(operations.CALLED, None)


class _NothingDue(Exception):
    """No timer was due after all: the step is undone, and writes no entry."""


def _note_refused_wake_up(
    session: Session, instance_id: int, error: ProcessError | UserInputError
) -> None:
    """A wake-up the diagram refused fails the same way on every run: an incident instead."""
    try:
        with session.begin_nested():
            timers.note_failed_wake_up(session, instance_id, error)
    except Exception:
        runtime.log.exception("instance %s: timers refused; no incident recorded", instance_id)


def run_due(
    session_scope: Callable[[], Any], now: datetime, limit: int = 10_000, batch: int = 10
) -> tuple[int, int]:
    """Fire the due timers of up to ``limit`` instances, ``batch`` instances per transaction.

    Each instance is advanced in a unit of work of its own (``timer_step``, a savepoint): a
    failing instance is left at its last committed state without undoing the others; it is
    retried on the next run, unless the diagram refused the wake-up (an incident then waits for
    a process owner's retry).
    Returns (instances advanced, instances that failed).
    """
    return run_batches(
        session_scope,
        now,
        limit,
        batch,
        timers.due_instance_ids,
        timer_step,
        "instance",
        refused=_note_refused_wake_up,
    )


def run_batches(
    session_scope: Callable[[], Any],
    now: datetime,
    limit: int,
    batch: int,
    due_ids: Callable[[Session, datetime, int, set[int]], list[int]],
    step: Callable[[Session, int], bool],
    what: str,
    refused: Callable[[Session, int, ProcessError | UserInputError], None] | None = None,
) -> tuple[int, int]:
    """The worker's loop: ``step`` each row ``due_ids`` finds due at ``now``, up to ``limit``,
    ``batch`` per transaction, with the clock at ``now``.

    Each step is a unit of work of its own (a savepoint): a failing row is logged, left at its
    last committed state and retried on the next run, without undoing the others — unless the
    failure is one a retry repeats (``timers.DETERMINISTIC``) and ``refused`` records it (an
    incident then waits for a process owner's retry).
    Returns (rows stepped, rows that failed).
    """
    advanced = failed = 0
    tried: set[int] = set()
    with clock.travel_to(now):
        while advanced + failed < limit:
            with session_scope() as session:
                take_write_lock(session)
                ids = due_ids(session, now, min(batch, limit - advanced - failed), tried)
                if not ids:
                    break
                for row_id in ids:
                    tried.add(row_id)
                    try:
                        if step(session, row_id):
                            advanced += 1
                    except timers.DETERMINISTIC as exc:
                        failed += 1
                        if refused is None:
                            runtime.log.exception("%s %s: refused; will retry", what, row_id)
                        else:
                            refused(session, row_id, exc)
                    except Exception:
                        runtime.log.exception("%s %s: timers failed; will retry", what, row_id)
                        failed += 1
    return advanced, failed
