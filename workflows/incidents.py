"""Incidents: automatic steps that failed at run time, and retrying them (PLAT-2).

When an operation or an expression of an automatic step fails, the action that reached it goes
on (the task is completed, the timer has fired) and the instance waits at the failed element
(``workflows.runtime.run_steps`` opens the incident). A process owner sees the element and the
error, fixes the cause (the data, an operation, or a new version the instance is migrated to) and
retries: the failed step runs again, and the incident is resolved when it succeeds. A timers'
wake-up refused as a whole (nothing moved) is an incident too; its retry fires the due timers.
"""

from __future__ import annotations

from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from core import clock
from store.staff import Staff
from store.workflows import IncidentStatus, InstanceStatus, ProcessIncident
from workflows import runtime, timers
from workflows.errors import ProcessError


def retry(session: Session, incident_id: int, actor: Staff) -> ProcessIncident:
    """Run the incident's failed step again; resolved when it no longer fails."""
    found = session.get(ProcessIncident, incident_id)
    if found is None:
        raise ProcessError("NOT_FOUND", "no such incident")
    if found.wake_up:
        return _retry_wake_up(session, found, actor)
    locked = runtime.lock(session, found.instance_id, actor)
    incident = session.get_one(ProcessIncident, incident_id, populate_existing=True)
    if incident.status is IncidentStatus.RESOLVED:
        raise ProcessError("INCIDENT_RESOLVED", "the incident is already resolved")
    _refuse_ended(locked.instance.status)
    for task in runtime.failed_tasks(locked.workflow):
        if runtime.element_of(task.task_spec) == incident.element_id:
            task._set_state(TaskState.READY)  # the library's own way back from ERROR
    runtime.run_steps(locked.run, lambda: locked.run.engine_steps(locked.workflow))
    runtime.save(session, locked.instance, locked.workflow)
    still_failing = any(
        runtime.element_of(task.task_spec) == incident.element_id
        for task in runtime.failed_tasks(locked.workflow)
    )
    if not still_failing:
        _resolve(incident, actor)
    session.flush()
    return incident


def _retry_wake_up(session: Session, incident: ProcessIncident, actor: Staff) -> ProcessIncident:
    """Fire the instance's due timers again: resolved when the wake-up goes through; refused
    again, one more attempt (nothing of the failed wake-up is kept)."""
    instance = runtime.lock_row(session, incident.instance_id)
    session.refresh(incident)
    if incident.status is IncidentStatus.RESOLVED:
        raise ProcessError("INCIDENT_RESOLVED", "the incident is already resolved")
    _refuse_ended(instance.status)
    savepoint = session.begin_nested()
    try:
        timers.fire_due_timers(session, incident.instance_id)
    except timers.DETERMINISTIC as exc:
        savepoint.rollback()
        timers.note_failed_wake_up(session, incident.instance_id, exc)
        return incident
    savepoint.commit()
    _resolve(incident, actor)
    session.flush()
    return incident


def _refuse_ended(status: InstanceStatus) -> None:
    """An instance ended early (a withdrawn or merged complaint) runs no step again: a retry
    would write after the end (a plan made for a withdrawn complaint)."""
    if status is not InstanceStatus.RUNNING:
        raise ProcessError("INSTANCE_FINISHED", "the instance has ended: its steps no longer run")


def _resolve(incident: ProcessIncident, actor: Staff) -> None:
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = clock.now()
    incident.resolved_by_id = actor.id
