"""Process timers: which instances have a timer due, and firing them (CMP-6).

The worker (``resolvers.workflows``) asks for the due instances and fires each in its own unit of
work; a cycle timer moves one step per round, so timers due in one wake-up fire in rounds. A
wake-up refused as a whole (an expression over its budget, a timer value that is no date) opens
an incident and the worker leaves the instance until a process owner retries it.
"""

from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core import clock
from core.errors import UserInputError
from store.workflows import IncidentStatus, InstanceStatus, ProcessIncident, ProcessInstance
from workflows import engine, runtime
from workflows.errors import ProcessError

# Timers due in one wake-up are fired in rounds (a cycle timer moves one step per round).
MAX_TIMER_ROUNDS = 50


def fire_due_timers(session: Session, instance_id: int) -> bool:
    """Fire every timer of the instance that is due by now; False when nothing was due."""
    locked = runtime.lock(session, instance_id, None)
    instance, workflow = locked.instance, locked.workflow
    now = clock.now()
    if instance.status is not InstanceStatus.RUNNING or (
        instance.next_due_at is None or instance.next_due_at > now
    ):
        return False
    for _ in range(MAX_TIMER_ROUNDS):
        runtime.run_steps(locked.run, lambda: _fire(locked.run, workflow))
        due = runtime.next_due(workflow)
        if due is None or due > now:
            break
    runtime.save(session, instance, workflow)
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
            ~exists().where(
                ProcessIncident.instance_id == ProcessInstance.id,
                ProcessIncident.status == IncidentStatus.OPEN,
                ProcessIncident.wake_up.is_(True),
            ),
        )
        .order_by(ProcessInstance.next_due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return list(session.scalars(statement))


# What makes a wake-up fail the same way on every run (the diagram or its data, not the moment).
DETERMINISTIC = (ProcessError, UserInputError)


def note_failed_wake_up(
    session: Session, instance_id: int, error: ProcessError | UserInputError
) -> ProcessIncident:
    """Open (or count) the incident of a wake-up refused as a whole, at the element it names."""
    instance = session.get_one(ProcessInstance, instance_id)
    element = error.element_id if isinstance(error, ProcessError) else None
    element = element or next(iter(instance.active_elements), None) or instance.business_key
    if isinstance(error, ProcessError):
        text = "; ".join(f"{p.code}: {p.message}" for p in error.problems)
    else:
        text = "; ".join(f"{e.code}: {e.message}" for e in error.errors)
    version = runtime.version_data(session, instance.version_id)
    spec = engine.parse(version.bpmn_xml).spec.task_specs.get(element)
    name = getattr(spec, "bpmn_name", None)
    return runtime.record_incident(session, instance_id, element, name, text, wake_up=True)
