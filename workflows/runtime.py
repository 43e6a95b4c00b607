"""Running process instances: start, complete a user task, fire due timers, migrate.

Every call works inside the caller's transaction: load the instance (row-locked), act, save the
state, the task rows and whatever rows the service operations wrote — all committed together
or not at all. A crash between steps therefore loses nothing: the last committed state resumes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import jsonschema
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core import clock
from store.base import RowBound
from store.staff import Role, Staff
from store.workflows import InstanceStatus, ProcessInstance, ProcessTask, ProcessVersion, TaskStatus
from workflows import engine, sandbox
from workflows.errors import ProcessError, StaleInstanceError

log = logging.getLogger("kehu.workflows")

# Roles that act for the whole bank: their tasks are not tied to the complaint's branch.
BANK_WIDE_ROLES = frozenset(
    {Role.HEAD_OFFICE, Role.SECURITY_ADMIN, Role.RISK_OFFICER, Role.AUDITOR, Role.PROCESS_OWNER}
)
# Timers due in one wake-up are fired in rounds (a cycle timer moves one step per round).
MAX_TIMER_ROUNDS = 50


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
    _steps(run, lambda: run.engine_steps(workflow))
    _save(session, instance, workflow, first=True)
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
    actor: Staff,
    locked_row: ProcessInstance | None = None,
) -> ProcessInstance:
    """Validate ``data`` against the task's form, complete the task and run the engine on."""
    if task_row.status is not TaskStatus.OPEN:
        raise ProcessError("TASK_NOT_OPEN", f"the task is already {task_row.status.value.lower()}")
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

    _steps(locked.run, advance)
    now = clock.now()
    task_row.status = TaskStatus.COMPLETED
    task_row.completed_at = now
    task_row.completed_by_id = actor.id
    session.flush()
    _save(session, locked.instance, locked.workflow)
    return locked.instance


def fire_due_timers(session: Session, instance_id: int) -> bool:
    """Fire every timer of the instance that is due by now; False when nothing was due."""
    locked = lock(session, instance_id, None)
    instance, workflow = locked.instance, locked.workflow
    now = clock.now()
    if instance.status is not InstanceStatus.RUNNING or (
        instance.next_due_at is None or instance.next_due_at > now
    ):
        return False
    for _ in range(MAX_TIMER_ROUNDS):
        _steps(locked.run, lambda: _fire(locked.run, workflow))
        due = next_due(workflow)
        if due is None or due > now:
            break
    _save(session, instance, workflow)
    return True


def _fire(run: engine.Run, workflow: BpmnWorkflow) -> None:
    workflow.refresh_timers()
    run.engine_steps(workflow)


def due_instance_ids(session: Session, now: datetime, limit: int, skip: set[int]) -> list[int]:
    """Instances with a timer due by ``now``, locked and skipped if another worker has them."""
    statement = (
        select(ProcessInstance.id)
        .where(
            ProcessInstance.status == InstanceStatus.RUNNING,
            ProcessInstance.next_due_at <= now,
            ProcessInstance.id.not_in(skip) if skip else ProcessInstance.id.is_not(None),
        )
        .order_by(ProcessInstance.next_due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return list(session.scalars(statement))


def migrate(session: Session, instance_id: int, target: ProcessVersion) -> ProcessInstance:
    """Move one instance to ``target`` when the diff says it is safe; refuse otherwise."""
    locked = lock(session, instance_id, None)
    if locked.version.process_key != target.process_key:
        raise ProcessError("WRONG_PROCESS", "the target version belongs to another process")
    if locked.instance.status is not InstanceStatus.RUNNING:
        raise ProcessError("INSTANCE_FINISHED", "a finished instance cannot be migrated")
    parsed = engine.parse(target.bpmn_xml)  # the target row: read once, migrations are rare
    top, subprocesses = diff_workflow(
        engine.SERIALIZER.registry, locked.workflow, parsed.spec, parsed.subprocess_specs
    )
    removed = sorted({t.task_spec.bpmn_id or t.task_spec.name for t in top.removed})
    unsafe = [
        t.task_spec.bpmn_id or t.task_spec.name
        for t in top.changed
        if t.state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED)
    ]
    if removed or unsafe or any(diff is None or diff.removed for diff in subprocesses.values()):
        elements = ", ".join(removed + unsafe) or "a subprocess"
        raise ProcessError(
            "MIGRATION_UNSAFE",
            "the instance has reached elements that the new version removes or changes: "
            + elements,
        )
    migrate_workflow(top, locked.workflow, parsed.spec)
    locked.instance.version_id = target.id
    _save(session, locked.instance, locked.workflow)
    return locked.instance


def form_problems(schema: dict[str, Any], data: dict[str, Any]) -> list[ProcessError]:
    """Every way ``data`` fails the form's JSON schema, each naming the field.

    The field comes from the error's structured parts (``path``, ``validator_value``,
    ``instance``, ``schema``), never from its message: a property name may hold any character.
    """
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[ProcessError] = []
    missing_seen: set[tuple[str, ...]] = set()
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path]):
        path = tuple(str(p) for p in error.path)
        if error.validator == "required":
            # jsonschema reports each missing property with its own error, all alike but for
            # the message: name each missing property once.
            fields = [
                (*path, name) for name in _missing(error) if (*path, name) not in missing_seen
            ]
            missing_seen.update(fields)
        elif error.validator == "additionalProperties":
            fields = [(*path, name) for name in _additional(error)]
        else:
            fields = [path]
        problems.extend(
            ProcessError("FORM_INVALID", _form_message(error), field=("data", *field))
            for field in fields
        )
    return problems


def _missing(error: jsonschema.ValidationError) -> list[str]:
    """The required properties ``error`` (a ``required`` failure) found missing."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [str(name) for name in error.validator_value if name not in instance]


def _additional(error: jsonschema.ValidationError) -> list[str]:
    """The properties an ``additionalProperties`` failure refused (as jsonschema decides)."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    declared = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, dict) else {}
    return [
        str(name)
        for name in instance
        if name not in declared and not any(re.search(p, str(name)) for p in patterns)
    ]


def _form_message(error: jsonschema.ValidationError) -> str:
    # jsonschema's own message quotes the value that failed, which may be personal data.
    rule, value = str(error.validator), error.validator_value
    messages: dict[str, Callable[[], str]] = {
        "required": lambda: "is required",
        "additionalProperties": lambda: "is not a field of this form",
        "type": lambda: f"must be of type {value}",
        "enum": lambda: "must be one of " + ", ".join(map(str, value)),
        "minLength": lambda: f"must have at least {value} characters",
        "maxLength": lambda: f"must have at most {value} characters",
        "minimum": lambda: f"must be at least {value}",
        "maximum": lambda: f"must be at most {value}",
        "minItems": lambda: f"needs at least {value} entries",
        "format": lambda: f"must be a valid {value}",
        "pattern": lambda: "has the wrong format",
    }
    return messages[rule]() if rule in messages else f"fails the form rule {rule}"


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


def _steps(run: engine.Run, action: Callable[[], Any]) -> None:
    """Run engine steps; an operation's own error is raised as itself, not as the engine's."""
    try:
        with engine.EngineClock.measure():
            action()
    except (SpiffWorkflowException, sandbox.SandboxError) as exc:
        if run.error is not None and not isinstance(run.error, SpiffWorkflowException):
            raise run.error from None
        element = getattr(getattr(exc, "task", None), "task_spec", None)
        raise step_error(exc, getattr(element, "bpmn_id", None)) from None


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


def _save(
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
    finished = workflow.is_completed()
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
    waiting = TaskState.READY | TaskState.WAITING | TaskState.STARTED
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
            ProcessTask.instance_id == instance.id, ProcessTask.status == TaskStatus.OPEN
        )
    ).all()
    for row in open_rows:
        if row.spiff_task_id not in ready:
            row.status = TaskStatus.CANCELLED
            row.completed_at = now
    known = {row.spiff_task_id for row in open_rows}
    for spiff_id, task in ready.items():
        if spiff_id not in known:
            session.add(_task_row(instance, task, now))
    session.flush()


def _task_row(instance: ProcessInstance, task: SpiffTask, now: datetime) -> ProcessTask:
    spec = task.task_spec
    properties = (spec.extensions or {}).get("properties", {})
    role = lane_role(spec.lane)
    try:
        due_at = _evaluate_optional(properties.get("dueDate"), task.data)
        assignee = _evaluate_optional(properties.get("assignee"), task.data)
        assignee_id = int(assignee) if assignee is not None else None
        due = datetime.fromisoformat(due_at) if isinstance(due_at, str) else None
    except Exception as exc:  # the diagram's expression, or a value of the wrong kind
        raise step_error(exc, spec.bpmn_id) from None
    branch = task.data.get("branch_id")
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
