"""Moving a running instance to another version of its process, when that is safe.

Safe is what SpiffWorkflow's diff and ``migrate_workflow`` make of it: tasks waiting or ready are
reset onto the new version's elements (a changed element is fine), a failed step runs the new
version's element on retry, and completed history stays as it was. Refused: the instance waits
at, or is inside, an element the new version removes, or inside a started element that changed.
Refusals name the BPMN elements as the diagram does (name and id), never the library's own parts.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from store.workflows import InstanceStatus, ProcessInstance, ProcessVersion
from workflows import engine, runtime
from workflows.errors import ProcessError

# Where an instance stands: a removed element in one of these states cannot be carried over.
_STANDING = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.ERROR
# What migrate_workflow resets (and so re-predicts from the new version).
_RESET = TaskState.READY | TaskState.WAITING


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
    unsafe = [t for t in top.removed if _stands_on(t)]
    unsafe += [t for t in top.changed if t.state & TaskState.STARTED]
    for sp_id, diff in subprocesses.items():
        inner = locked.workflow.subprocesses[sp_id]
        if diff is None:
            unsafe += [t for t in inner.tasks.values() if _stands_on(t)]
        else:
            unsafe += [t for t in diff.removed if _stands_on(t)]
            unsafe += [t for t in diff.changed if t.state & TaskState.STARTED]
    if unsafe:
        names = _element_names(locked.workflow)
        elements = dict.fromkeys(runtime.element_of(t.task_spec) for t in unsafe)
        raise ProcessError(
            "MIGRATION_UNSAFE",
            "the instance stands at elements the new version removes or changes: "
            + ", ".join(_shown(element, names) for element in elements),
            element_id=next(iter(elements)),
        )
    migrate_workflow(top, locked.workflow, parsed.spec)
    if _follow_new_flows(locked.workflow):
        runtime.run_steps(locked.run, lambda: locked.run.engine_steps(locked.workflow))
    locked.instance.version_id = target.id
    runtime.refresh_open_tasks(session, locked.instance, locked.workflow)
    runtime.save(session, locked.instance, locked.workflow)
    return locked.instance


def _follow_new_flows(workflow: Any) -> bool:
    """Tasks waiting after a finished element whose outgoing flows the new version changed (a
    gateway put between them, a branch added beside them) are predicted again from that
    element: its new successors wait instead — what ran stays, nothing runs twice. True when
    some did (the engine then moves them on to where the new version waits)."""
    changed = False
    for task in list(workflow.get_tasks(state=_RESET | TaskState.FUTURE, skip_subprocesses=True)):
        parent = task.parent
        if (
            task.id not in workflow.tasks
            or parent is None
            or not parent.has_state(TaskState.COMPLETED)
            or task.task_spec in parent.task_spec.outputs
        ):
            continue
        parent._drop_children(force=True)
        for spec in parent.task_spec.outputs:
            parent._add_child(spec, TaskState.FUTURE)
        for child in parent.children:
            # What follows it, as for any task to come.
            child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
            child.task_spec._update(child)
        changed = True
    return changed


def _stands_on(task: SpiffTask) -> bool:
    """Whether the instance stands on ``task``: it waits there, runs it or failed there, or it is
    a future task that no reset of a waiting or ready task before it replaces."""
    if task.state & _STANDING:
        return True
    if not task.state & TaskState.FUTURE:
        return False  # history, or a mere prediction
    parent = task.parent
    while parent is not None and parent.state & (TaskState.FUTURE | TaskState.PREDICTED_MASK):
        parent = parent.parent
    return parent is None or not parent.state & _RESET


def _element_names(workflow: Any) -> dict[str, str]:
    specs = list(workflow.spec.task_specs.values())
    for subprocess in workflow.subprocesses.values():
        specs += list(subprocess.spec.task_specs.values())
    return {spec.bpmn_id: spec.bpmn_name for spec in specs if spec.bpmn_id and spec.bpmn_name}


def _shown(element: str, names: dict[str, str]) -> str:
    return f"{names[element]} ({element})" if element in names else element
