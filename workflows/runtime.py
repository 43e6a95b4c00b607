"""Running process instances: start one, complete a user task, and save the state.

Timers (``workflows.timers``) and migration to another version (``workflows.migration``) act
through the same locking, engine steps and save.

Every call works inside the caller's transaction: load the instance (row-locked), act, save the
state, the task rows and whatever rows the service operations wrote — all committed together
or not at all. A crash between steps therefore loses nothing: the last committed state resumes.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid4

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core import clock
from core.errors import UserInputError
from store.base import RowBound
from store.staff import Role, Staff
from store.workflows import (
    IncidentStatus,
    InstanceStatus,
    ProcessIncident,
    ProcessInstance,
    ProcessTask,
    ProcessVersion,
    TaskStatus,
)
from workflows import engine, sandbox
from workflows.errors import ProcessError, StaleInstanceError
from workflows.form_validation import blank_texts, form_problems

log = logging.getLogger("kehu.workflows")

# Roles that act for the whole bank: their tasks are not tied to the complaint's branch.
BANK_WIDE_ROLES = frozenset(
    {Role.HEAD_OFFICE, Role.SECURITY_ADMIN, Role.RISK_OFFICER, Role.AUDITOR, Role.PROCESS_OWNER}
)


class TaskGuard(Protocol):
    """A domain's rule on who may hold and do the user tasks of its instances (e.g. recusal).

    The runtime asks it about every assignee a diagram names; the task commands (claim,
    reassign, complete) and the inbox ask it about people — so a changed diagram cannot route
    a task past the rule, and no path to a task forgets it.
    """

    # The error code of a refusal (one of the domain's codes).
    code: str

    def refusal(
        self,
        session: Session,
        instance: ProcessInstance,
        task: ProcessTask,
        staff: Staff,
        supervising: bool = False,
    ) -> str | None:
        """Why ``staff`` may not hold or do ``task`` — or, ``supervising``, reassign it (None:
        they may)."""

    def substitute(
        self, session: Session, instance: ProcessInstance, task: ProcessTask, refused: int
    ) -> int | None:
        """Who gets a new ``task`` whose assignee ``refused`` may not hold it (None: its lane)."""

    def hidden(self, staff: Staff) -> ColumnElement[bool]:
        """SQL over task rows: the tasks ``staff`` may not hold (left out of their inbox)."""

    def route(self, session: Session, instance: ProcessInstance, task: ProcessTask) -> None:
        """Move a new ``task`` to the unit that may do it (its ``branch_id``), when nobody of
        the unit the diagram gives it to may (a complaint about that unit)."""

    def handed_over(
        self,
        session: Session,
        instance: ProcessInstance,
        task: ProcessTask,
        staff: Staff,
        actor: Staff,
    ) -> Callable[[dict[str, Any]], None] | None:
        """``staff`` now holds ``task`` (claimed, or reassigned by ``actor``): the domain follows,
        and returns the change of the process data naming who holds the tasks to come (None:
        no change)."""


# Keyed by the business-key prefix of the instances they guard ("complaint"; kehu.wiring).
_guards: dict[str, TaskGuard] = {}


def install_task_guards(guards: dict[str, TaskGuard]) -> None:
    _guards.update(guards)


def task_guards() -> list[TaskGuard]:
    return list(_guards.values())


def guard_of(instance: ProcessInstance) -> TaskGuard | None:
    """The guard of the domain ``instance`` belongs to, if that domain installed one."""
    return _guards.get(instance.business_key.partition(":")[0])


# Tasks the code opens beside the diagram (e.g. supervising an overdue complaint): their rows carry
# this prefix instead of a SpiffWorkflow task id, the engine never sees them, and the diagram
# cannot drop them. Their forms are the ones shipped with the code.
DETACHED = "code-"
SHIPPED_FORMS = Path(__file__).parent / "forms"

# Called after an instance's task rows changed (opened, completed, cancelled), per business-key
# prefix, with the id of the instance's domain row: lets a domain keep its clocks (due times).
TasksChanged = Callable[[Session, int, ProcessInstance], None]
_on_tasks_changed: dict[str, TasksChanged] = {}


def install_task_clocks(hooks: dict[str, TasksChanged]) -> None:
    """Let domains set the due times of their instances' tasks, whatever the diagram says."""
    _on_tasks_changed.update(hooks)


def tasks_changed(session: Session, instance: ProcessInstance) -> None:
    prefix, _, record_id = instance.business_key.partition(":")
    hook = _on_tasks_changed.get(prefix)
    if hook is not None and record_id.isdigit():
        hook(session, int(record_id), instance)


def is_detached(task: ProcessTask) -> bool:
    return task.spiff_task_id.startswith(DETACHED)


def open_detached_task(
    session: Session,
    instance: ProcessInstance,
    *,
    element_id: str,
    name: str,
    role: str,
    branch_id: int | None,
    form_name: str,
    due_at: datetime | None,
    fallback_role: str | None = None,
) -> ProcessTask:
    """A user task opened by the code, not by the diagram (completed like any other).

    The domain's guard holds it like any task (inbox, claim, reassign, complete); when it keeps
    every active holder of ``role`` in the lane from the task (a branch's only supervisor is the
    person complained about), the task opens for ``fallback_role`` instead, so someone can do it.
    """
    if fallback_role is not None and not lane_has_someone(
        session, instance, role, branch_id, form_name
    ):
        role = fallback_role
    row = ProcessTask(
        instance_id=instance.id,
        spiff_task_id=DETACHED + uuid4().hex[: 36 - len(DETACHED)],
        element_id=element_id,
        name=name,
        candidate_role=role,
        branch_id=None if role in BANK_WIDE_ROLES else branch_id,
        assignee_id=None,
        form_name=form_name,
        due_at=due_at,
        status=TaskStatus.OPEN,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def lane_has_someone(
    session: Session, instance: ProcessInstance, role: str, branch_id: int | None, form_name: str
) -> bool:
    """Whether an active holder of ``role`` in the lane may hold a task of ``form_name`` under
    the domain's guard (no guard: anyone of the role)."""
    guard = guard_of(instance)
    probe = ProcessTask(
        instance_id=instance.id,
        candidate_role=role,
        branch_id=None if role in BANK_WIDE_ROLES else branch_id,
        form_name=form_name,
    )
    staff = select(Staff).where(Staff.active.is_(True))
    if probe.branch_id is not None:
        staff = staff.where(Staff.branch_id == probe.branch_id)
    for person in session.scalars(staff):
        if role in person.roles and (
            guard is None or guard.refusal(session, instance, probe, person) is None
        ):
            return True
    return False


def find_latest_version(session: Session, process_key: str) -> ProcessVersion | None:
    """The highest-numbered deployed version of ``process_key``, if any."""
    return session.scalar(
        select(ProcessVersion)
        .where(ProcessVersion.process_key == process_key)
        .order_by(ProcessVersion.number.desc())
        .limit(1)
    )


def latest_version(session: Session, process_key: str) -> ProcessVersion:
    version = find_latest_version(session, process_key)
    if version is None:
        raise ProcessError("PROCESS_NOT_DEPLOYED", f"process {process_key!r} is not deployed")
    return version


def start(
    session: Session,
    process_key: str,
    business_key: str,
    data: dict[str, Any],
    actor: Staff | None,
    on_created: Callable[[ProcessInstance], None] | None = None,
) -> ProcessInstance:
    """Start the latest version of ``process_key`` with ``data`` on its start event.

    ``on_created`` runs once the instance row has its id and before the first engine steps, so
    domain rows can point at the instance that their service tasks will update.
    """
    version = latest_version(session, process_key)
    now = clock.now()
    instance = ProcessInstance(
        version_id=version.id,
        business_key=business_key,
        status=InstanceStatus.RUNNING,
        state="",
        revision=0,
        next_due_at=None,
        active_elements=[],
        completed_elements=[],
        started_at=now,
        updated_at=now,
    )
    session.add(instance)
    session.flush()
    if on_created is not None:
        on_created(instance)
    run = engine.Run(session, instance, actor)
    workflow = engine.new_workflow(engine.parse(version.bpmn_xml), run)
    start_task = workflow.get_tasks(state=TaskState.READY)[0]
    start_task.data.update(data)
    run_steps(run, lambda: run.engine_steps(workflow))
    save(session, instance, workflow, first=True)
    return instance


@dataclass(frozen=True)
class VersionData:
    """What running an instance needs of its process version (a deployed version never changes)."""

    id: int
    process_key: str
    number: int
    sha256: str
    deployed_at: datetime
    bpmn_xml: str
    forms: dict[str, Any]


# Deployed versions are immutable rows whose ids are never reused in a database, so each process
# reads a version's 60 KB of XML once, not on every task completion.
_versions: dict[tuple[str, int], VersionData] = {}


def version_data(session: Session, version_id: int) -> VersionData:
    key = (str(session.get_bind().engine.url), version_id)
    found = _versions.get(key)
    if found is None:
        row = session.get_one(ProcessVersion, version_id)
        found = VersionData(
            row.id,
            row.process_key,
            row.number,
            row.sha256,
            row.deployed_at,
            row.bpmn_xml,
            dict(row.forms),
        )
        _versions[key] = found
    return found


@dataclass(frozen=True)
class Locked:
    instance: ProcessInstance
    version: VersionData
    workflow: BpmnWorkflow
    run: engine.Run


def lock_row(session: Session, instance_id: int) -> ProcessInstance:
    """The instance row, locked (PostgreSQL) and as it is now.

    Everyone locks an instance before its task rows and domain rows (worker and API alike), so
    two units of work on one instance queue instead of deadlocking.
    """
    return _locked(session, ProcessInstance.id == instance_id)


def lock_row_of_task(session: Session, task_id: int) -> ProcessInstance:
    """The locked instance row of a user task (one statement)."""
    owner = select(ProcessTask.instance_id).where(ProcessTask.id == task_id).scalar_subquery()
    return _locked(session, ProcessInstance.id == owner)


def _locked(session: Session, condition: Any) -> ProcessInstance:
    # populate_existing: the row as it is now, even if this session loaded it before the lock.
    instance = session.scalar(
        select(ProcessInstance)
        .where(condition)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if instance is None:
        raise ProcessError("NOT_FOUND", "no such process instance or task")
    return instance


def lock(
    session: Session,
    instance_id: int,
    actor: Staff | None,
    locked_row: ProcessInstance | None = None,
) -> Locked:
    """Load an instance under a row lock (PostgreSQL), ready to act on.

    ``locked_row``: the instance row this unit of work has already locked.
    """
    instance = locked_row if locked_row is not None else lock_row(session, instance_id)
    version = version_data(session, instance.version_id)
    run = engine.Run(session, instance, actor)
    return Locked(instance, version, engine.load(instance.state, version.bpmn_xml, run), run)


def complete_task(
    session: Session,
    task_row: ProcessTask,
    data: dict[str, Any],
    actor: Staff | None,
    locked_row: ProcessInstance | None = None,
) -> ProcessInstance:
    """Validate ``data`` against the task's form, complete the task and run the engine on
    (``actor`` None: the code completes it, e.g. a window that closed)."""
    if task_row.status is not TaskStatus.OPEN:
        raise ProcessError("TASK_NOT_OPEN", f"the task is already {task_row.status.value.lower()}")
    if is_detached(task_row):
        return _complete_detached(session, task_row, data, actor, locked_row)
    locked = lock(session, task_row.instance_id, actor, locked_row)
    schema = locked.version.forms.get(task_row.form_name)
    if schema is None:
        raise ProcessError("FORM_MISSING", f"form {task_row.form_name!r} is not deployed")
    problems = form_problems(schema, data)
    if problems:
        raise ProcessError.many(problems)
    task = _spiff_task(locked.workflow, task_row.spiff_task_id)
    task.data.update(data)

    def advance() -> None:
        task.run()
        locked.run.engine_steps(locked.workflow)

    run_steps(locked.run, advance)
    now = clock.now()
    task_row.status = TaskStatus.COMPLETED
    task_row.completed_at = now
    task_row.completed_by_id = actor.id if actor is not None else None
    session.flush()
    save(session, locked.instance, locked.workflow)
    return locked.instance


def change_waiting_data(
    session: Session,
    locked_row: ProcessInstance,
    actor: Staff | None,
    change: Callable[[dict[str, Any]], None],
) -> None:
    """Apply ``change`` to the data of every task still to run of a locked instance: the tasks
    to come inherit it (e.g. the assignee of the next task), what has run stays as it ran."""
    locked = lock(session, locked_row.id, actor, locked_row)
    for task in _all_tasks(locked.workflow):
        if task.state & TaskState.NOT_FINISHED_MASK:
            change(task.data)
    save(session, locked.instance, locked.workflow)


def end(session: Session, locked_row: ProcessInstance, actor: Staff | None) -> ProcessInstance:
    """End a running instance before its end event (a withdrawn or merged complaint): every
    waiting task and timer is cancelled, so no task, timer or message follows."""
    if locked_row.status is not InstanceStatus.RUNNING:
        return locked_row
    locked = lock(session, locked_row.id, actor, locked_row)
    locked.workflow.cancel()
    # A step that failed (an open incident) is not waiting for a retry any more: left in
    # ERROR the instance would stay RUNNING and a retry would write after the end.
    for task in failed_tasks(locked.workflow):
        task._set_state(TaskState.CANCELLED)
    save(session, locked.instance, locked.workflow)
    # ... and its incidents leave the open list, recorded as ENDED (by whom and when), not as
    # resolved: nothing was fixed, there is nothing left to retry (PLAT-2).
    session.execute(
        update(ProcessIncident)
        .where(
            ProcessIncident.instance_id == locked.instance.id,
            ProcessIncident.status == IncidentStatus.OPEN,
        )
        .values(
            status=IncidentStatus.ENDED,
            resolved_at=clock.now(),
            resolved_by_id=actor.id if actor is not None else None,
        )
        .execution_options(synchronize_session="fetch")
    )
    return locked.instance


def _complete_detached(
    session: Session,
    task_row: ProcessTask,
    data: dict[str, Any],
    actor: Staff | None,
    locked_row: ProcessInstance | None,
) -> ProcessInstance:
    """Complete a task the code opened: its shipped form checks the data; the engine is idle."""
    instance = locked_row if locked_row is not None else lock_row(session, task_row.instance_id)
    schema = _shipped_form(task_row.form_name)
    if schema is None:
        raise ProcessError("FORM_MISSING", f"form {task_row.form_name!r} is not shipped")
    problems = form_problems(schema, data) or blank_texts(schema, data)
    if problems:
        raise ProcessError.many(problems)
    task_row.status = TaskStatus.COMPLETED
    task_row.completed_at = clock.now()
    task_row.completed_by_id = actor.id if actor is not None else None
    session.flush()
    tasks_changed(session, instance)
    return instance


@functools.cache
def _shipped_form(name: str) -> dict[str, Any] | None:
    path = SHIPPED_FORMS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def next_due(workflow: BpmnWorkflow) -> datetime | None:
    """The earliest time a waiting timer of ``workflow`` is due."""
    times = []
    for event in workflow.waiting_events():
        value = event.value
        if isinstance(value, str):
            try:
                times.append(datetime.fromisoformat(value))
            except ValueError:
                continue
    return min(times) if times else None


def _spiff_task(workflow: BpmnWorkflow, spiff_task_id: str) -> SpiffTask:
    task = workflow.get_task_from_id(UUID(spiff_task_id))
    if task is None or task.state != TaskState.READY:
        raise ProcessError("TASK_NOT_OPEN", "the task is no longer waiting for input")
    return task


# Errors that refuse the whole action (nothing moves): the domain refusing the input, a budget
# exceeded, another writer first, the database. Any other failure of an automatic step is an
# incident: the step waits at its element, the rest of the diagram goes on.
REFUSING: tuple[type[BaseException], ...] = (
    UserInputError,
    ProcessError,
    StaleInstanceError,
    SQLAlchemyError,
)
# Failed elements one action may leave behind before it is refused instead (a cascade).
MAX_INCIDENTS_PER_STEP = 20


def run_steps(run: engine.Run, action: Callable[[], Any]) -> None:
    """Run engine steps; an automatic step that fails opens an incident (see ``REFUSING``).

    A failure that leaves no failed automatic task behind (the task being completed, a timer's
    value, an expression over its budget) refuses the action with a typed error naming the
    element; an operation's own refusal is raised as itself, not as the engine's error.
    """
    workflow = run.workflow
    failed_before = _failed_task_ids(workflow)
    for _ in range(MAX_INCIDENTS_PER_STEP):
        run.error, run.operation = None, None
        try:
            with engine.EngineClock.measure():
                action()
            return
        except REFUSING:
            raise
        except Exception as exc:  # SpiffWorkflow wraps what a task raised in its own errors
            if isinstance(run.error, REFUSING):
                raise run.error from None
            element = getattr(getattr(exc, "task", None), "task_spec", None)
            failed = [
                task
                for task in failed_tasks(workflow)
                if task.id not in failed_before and not task.task_spec.manual
            ]
            if (
                not failed
                or _budget_exceeded(exc)
                or any(
                    t.task_spec.manual and t.id not in failed_before for t in failed_tasks(workflow)
                )
            ):
                raise step_error(exc, getattr(element, "bpmn_id", None)) from None
            for task in failed:
                open_incident(run, task, _incident_error(run, exc))
                failed_before.add(task.id)
            assert workflow is not None
            action = functools.partial(run.engine_steps, workflow)  # the rest goes on
    raise ProcessError("PROCESS_STEP_FAILED", "too many steps of the diagram failed at once")


def element_of(spec: Any) -> str:
    """The BPMN element of a task spec (SpiffWorkflow's own parts, such as
    ``Task_Investigate.BoundaryEventJoin``, belong to the element they are named after)."""
    return str(spec.bpmn_id or spec.name.split(".", 1)[0])


def failed_tasks(workflow: BpmnWorkflow | None) -> list[SpiffTask]:
    """The tasks of ``workflow`` whose step failed (they wait for a retry)."""
    if workflow is None:
        return []
    return [t for t in _all_tasks(workflow) if t.state == TaskState.ERROR]


def _failed_task_ids(workflow: BpmnWorkflow | None) -> set[UUID]:
    return {task.id for task in failed_tasks(workflow)}


def _budget_exceeded(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, sandbox.ExpressionLimit):
        cause = cause.__cause__ or cause.__context__
    return cause is not None


def _incident_error(run: engine.Run, exc: BaseException) -> str:
    """What a process owner is told: an operation's own message; of an expression, only the kind
    of error (its message may quote process variables)."""
    if run.error is not None and run.operation is not None:
        text = f"operation {run.operation}: {type(run.error).__name__}: {run.error}"
    else:
        cause: BaseException = exc
        while isinstance(cause, SpiffWorkflowException):
            inner = getattr(cause, "exception", None) or cause.__cause__ or cause.__context__
            if not isinstance(inner, BaseException):
                break
            cause = inner
        text = f"an expression of the element failed: {type(cause).__name__}"
    return text[:500]


def open_incident(run: engine.Run, task: SpiffTask, error: str) -> ProcessIncident:
    """Record that ``task`` failed (it waits, in ERROR, for a retry)."""
    element = element_of(task.task_spec)
    return record_incident(run.session, run.instance.id, element, task.task_spec.bpmn_name, error)


def record_incident(
    session: Session,
    instance_id: int,
    element: str,
    name: str | None,
    error: str,
    *,
    wake_up: bool = False,
) -> ProcessIncident:
    """A new incident at ``element``, or one more attempt of the open one there."""
    now = clock.now()
    log.warning("instance %s: step failed at %s; incident opened", instance_id, element)
    incident = session.scalar(
        select(ProcessIncident).where(
            ProcessIncident.instance_id == instance_id,
            ProcessIncident.element_id == element,
            ProcessIncident.status == IncidentStatus.OPEN,
        )
    )
    if incident is None:
        incident = ProcessIncident(
            instance_id=instance_id,
            element_id=element,
            element_name=(name or element)[:200],
            error=error[:500],
            status=IncidentStatus.OPEN,
            wake_up=wake_up,
            attempts=1,
            opened_at=now,
            last_failed_at=now,
        )
        session.add(incident)
    else:
        incident.attempts += 1
        incident.error = error[:500]
        incident.last_failed_at = now
    session.flush()
    return incident


def step_error(exc: BaseException, element_id: str | None) -> ProcessError:
    """The typed error of a failed step: ``EXPRESSION_LIMIT`` when an expression ran out of budget.

    SpiffWorkflow wraps the sandbox's errors in its own, so the cause is looked for in the chain.
    Only the element and the limit are told (an expression's error may quote process variables).
    """
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, sandbox.ExpressionLimit):
        cause = cause.__cause__ or cause.__context__
    log.warning("process step failed at %s: %s", element_id, type(cause or exc).__name__)
    if cause is not None:
        return ProcessError(
            "EXPRESSION_LIMIT",
            f"an expression at element {element_id} is {cause}",
            element_id=element_id,
        )
    return ProcessError(
        "PROCESS_STEP_FAILED", f"the diagram failed at element {element_id}", element_id=element_id
    )


def save(
    session: Session,
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    *,
    first: bool = False,
) -> None:
    """Persist state, progress, next due time and the user-task rows; refuse a stale save."""
    now = clock.now()
    state = engine.dump(workflow)
    tasks = _all_tasks(workflow)
    active, completed = _elements(tasks)
    # A failed step counts as finished for SpiffWorkflow; the instance waits there for a retry.
    finished = workflow.is_completed() and not any(t.state == TaskState.ERROR for t in tasks)
    values = {
        "state": RowBound(state, instance.id),
        "revision": instance.revision + 1,
        "status": InstanceStatus.COMPLETED if finished else InstanceStatus.RUNNING,
        "next_due_at": None if finished else next_due(workflow),
        "active_elements": active,
        "completed_elements": completed,
        "updated_at": now,
        "completed_at": now if finished else None,
        "version_id": instance.version_id,
    }
    if first:
        for key, value in values.items():
            setattr(instance, key, value)
        session.flush()
    else:
        result = session.execute(
            update(ProcessInstance)
            .where(ProcessInstance.id == instance.id, ProcessInstance.revision == instance.revision)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleInstanceError("another request changed this process instance; try again")
        # What was just written, as committed: no second UPDATE (and no second seal) at flush.
        for key, value in values.items():
            set_committed_value(instance, key, value)
    _sync_tasks(session, instance, tasks, now)


def _all_tasks(workflow: BpmnWorkflow) -> list[SpiffTask]:
    """Every task of the workflow and its subprocesses (flat, without walking the tree)."""
    tasks = list(workflow.tasks.values())
    for subprocess in workflow.subprocesses.values():
        tasks.extend(subprocess.tasks.values())
    return tasks


def _elements(tasks: list[SpiffTask]) -> tuple[list[str], list[str]]:
    active: dict[str, None] = {}
    completed: dict[str, None] = {}
    waiting = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    for task in tasks:
        element = task.task_spec.bpmn_id
        if element is None:
            continue
        if task.state & waiting:
            active[element] = None
        elif task.state == TaskState.COMPLETED:
            completed[element] = None
    return list(active), list(completed)


def _sync_tasks(
    session: Session,
    instance: ProcessInstance,
    tasks: list[SpiffTask],
    now: datetime,
) -> None:
    """Open a row for each new user task, cancel rows whose task went away (e.g. a timer).

    A task completed through the API is no longer READY, so READY tasks without an open row
    are exactly the new ones.
    """
    ready = {str(t.id): t for t in tasks if t.state == TaskState.READY and t.task_spec.manual}
    open_rows = session.scalars(
        select(ProcessTask).where(
            ProcessTask.instance_id == instance.id,
            ProcessTask.status == TaskStatus.OPEN,
            ProcessTask.spiff_task_id.not_like(DETACHED + "%"),
        )
    ).all()
    for row in open_rows:
        if row.spiff_task_id not in ready:
            row.status = TaskStatus.CANCELLED
            row.completed_at = now
    known = {row.spiff_task_id for row in open_rows}
    for spiff_id, task in ready.items():
        if spiff_id not in known:
            row = _task_row(instance, task, now)
            guard = guard_of(instance)
            if guard is not None:
                guard.route(session, instance, row)
            _guard_assignee(session, instance, row)
            session.add(row)
    session.flush()
    tasks_changed(session, instance)


def refresh_open_tasks(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    """Open task rows as the instance's (new) version defines their tasks: element, name, role,
    branch, form and due time; who has the task stays (after a migration)."""
    now = clock.now()
    rows = session.scalars(
        select(ProcessTask).where(
            ProcessTask.instance_id == instance.id, ProcessTask.status == TaskStatus.OPEN
        )
    )
    for row in rows:
        task = None if is_detached(row) else workflow.tasks.get(UUID(row.spiff_task_id))
        if task is None or task.state != TaskState.READY:
            continue  # cancelled (or replaced) by the next save
        fresh = _task_row(instance, task, now)
        row.element_id, row.name = fresh.element_id, fresh.name
        row.candidate_role, row.branch_id = fresh.candidate_role, fresh.branch_id
        row.form_name, row.due_at = fresh.form_name, fresh.due_at
        guard = guard_of(instance)
        if guard is not None:
            guard.route(session, instance, row)
    session.flush()


def _guard_assignee(session: Session, instance: ProcessInstance, row: ProcessTask) -> None:
    """An assignee the diagram names but the domain's guard refuses gets a substitute."""
    guard = guard_of(instance)
    if guard is None or row.assignee_id is None:
        return
    person = session.get(Staff, row.assignee_id)
    if person is not None and guard.refusal(session, instance, row, person) is None:
        return
    row.assignee_id = guard.substitute(session, instance, row, row.assignee_id)


def _task_row(instance: ProcessInstance, task: SpiffTask, now: datetime) -> ProcessTask:
    spec = task.task_spec
    properties = (spec.extensions or {}).get("properties", {})
    role = lane_role(spec.lane)
    branch = task.data.get("branch_id")
    try:
        due_at = _evaluate_optional(properties.get("dueDate"), task.data)
        assignee = _evaluate_optional(properties.get("assignee"), task.data)
        assignee_id = int(assignee) if assignee is not None else None
        due = datetime.fromisoformat(due_at) if isinstance(due_at, str) else None
        # A task routed away from its lane (the review goes to the superior unit): the role
        # and the branch whose staff may take it, when the expressions give one.
        routed_role = _evaluate_optional(properties.get("candidateRole"), task.data)
        if routed_role is not None:
            role = Role(str(routed_role)).value
        if properties.get("branch"):
            routed_branch = _evaluate_optional(properties.get("branch"), task.data)
            branch = int(routed_branch) if routed_branch is not None else branch
    except Exception as exc:  # the diagram's expression, or a value of the wrong kind
        raise step_error(exc, spec.bpmn_id) from None
    return ProcessTask(
        instance_id=instance.id,
        spiff_task_id=str(task.id),
        element_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id,
        candidate_role=role,
        branch_id=None if role in BANK_WIDE_ROLES else branch,
        assignee_id=assignee_id,
        form_name=properties.get("form", ""),
        due_at=due,
        status=TaskStatus.OPEN,
        created_at=now,
    )


def lane_role(lane: str | None) -> str:
    """The role of a lane: the first word of its name ("COMPLAINT_HANDLER 投诉处理员")."""
    return (lane or "").split(" ", 1)[0]


def _evaluate_optional(expression: str | None, data: dict[str, Any]) -> Any:
    if not expression:
        return None
    return sandbox.evaluate(expression, data)
