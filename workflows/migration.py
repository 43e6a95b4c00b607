"""Moving a running instance to another version of its process, when that is safe."""

from __future__ import annotations

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from store.workflows import InstanceStatus, ProcessInstance, ProcessVersion
from workflows import engine, runtime
from workflows.errors import ProcessError


def migrate(session: Session, instance_id: int, target: ProcessVersion) -> ProcessInstance:
    """Move one instance to ``target`` when the diff says it is safe; refuse otherwise."""
    locked = runtime.lock(session, instance_id, None)
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
    runtime.save(session, locked.instance, locked.workflow)
    return locked.instance
