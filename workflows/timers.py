"""Process timers: which instances have a timer due, and firing them (CMP-6).

The worker (``resolvers.workflows``) asks for the due instances and fires each in its own unit of
work; a cycle timer moves one step per round, so timers due in one wake-up fire in rounds.
"""

from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from store.workflows import InstanceStatus, ProcessInstance
from workflows import engine, runtime

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
        )
        .order_by(ProcessInstance.next_due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return list(session.scalars(statement))
