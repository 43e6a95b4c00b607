"""Process versions, instances and user tasks as GraphQL nodes, and their batched loading."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON

from core import clock
from core.errors import NotFoundError
from resolvers import workflows as logic
from schema.shared.base import ContextInfo, Node, node_id
from schema.staff import RoleEnum, StaffNode, staff_field
from schema.workflows.enums import (
    IncidentStatusEnum,
    InstanceStatusEnum,
    ProcessErrorCode,
    TaskStatusEnum,
)
from store.staff import Role
from store.workflows import ProcessIncident, ProcessInstance, ProcessTask, ProcessVersion

if TYPE_CHECKING:
    from schema.complaints.enums import ComplaintErrorCode


@strawberry.type(description="A refused process action: the field (or BPMN element) and why.")
class ProcessUserError:
    field: list[str] | None = strawberry.field(
        description="Input path (`data.handler` for a form field) or `bpmn.<element id>`."
    )
    code: ProcessErrorCode  # type: ignore[valid-type]
    message: str
    complaint_code: (
        Annotated[ComplaintErrorCode, strawberry.lazy("schema.complaints.enums")]  # type: ignore[valid-type]
        | None
    ) = strawberry.field(
        default=None,
        description="When a complaint's rule refused a task's answers (`code` DOMAIN_RULE): which.",
    )


@strawberry.type(name="ProcessVersion", description="One deploy of a diagram (PLAT-2). 流程版本。")
class ProcessVersionNode(Node):
    process_key: str = strawberry.field(description="The BPMN process id, e.g. `complaint`.")
    number: int = strawberry.field(description="1, 2, 3 … per process.")
    sha256: str = strawberry.field(description="Hash of the diagram and its forms.")
    deployed_at: dt.datetime
    bpmn_xml: str = strawberry.field(description="The diagram, for bpmn-js or a modeler.")
    forms: JSON = strawberry.field(description="Form name → JSON schema.")

    @classmethod
    def of(cls, version: ProcessVersion | logic.VersionData) -> ProcessVersionNode:
        return cls(
            id=node_id("ProcessVersion", version.id),
            process_key=version.process_key,
            number=version.number,
            sha256=version.sha256,
            deployed_at=version.deployed_at,
            bpmn_xml=version.bpmn_xml,
            forms=cast(JSON, version.forms),
        )


@strawberry.type(
    name="ProcessInstance",
    description="A running or finished process: its version and where it stands. 流程实例。",
)
class ProcessInstanceNode(Node):
    _version_id: strawberry.Private[int]
    _pk: strawberry.Private[int]
    business_key: str
    status: InstanceStatusEnum  # type: ignore[valid-type]
    active_element_ids: list[str] = strawberry.field(
        description="BPMN element ids waiting now (highlight them on the diagram)."
    )
    completed_element_ids: list[str]
    next_due_at: dt.datetime | None = strawberry.field(description="The next timer, if any.")
    started_at: dt.datetime
    completed_at: dt.datetime | None
    state_size: int = strawberry.field(description="Bytes of stored engine state.")

    @classmethod
    def of(cls, instance: ProcessInstance) -> ProcessInstanceNode:
        return cls(
            id=node_id("ProcessInstance", instance.id),
            _version_id=instance.version_id,
            _pk=instance.id,
            business_key=instance.business_key,
            status=instance.status,
            active_element_ids=list(instance.active_elements),
            completed_element_ids=list(instance.completed_elements),
            next_due_at=instance.next_due_at,
            started_at=instance.started_at,
            completed_at=instance.completed_at,
            state_size=len(instance.state.encode()),
        )

    @strawberry.field(description="Its open user tasks (what to do next, and by whom).")
    def open_tasks(self, info: ContextInfo) -> list[TaskNode]:
        pk = self._pk
        return present_tasks(info, logic.open_tasks(info.context.session, [pk])[pk])

    @strawberry.field(description="The diagram version this instance runs on.")
    def version(self, info: ContextInfo) -> ProcessVersionNode:
        return ProcessVersionNode.of(logic.version_data(info.context.session, self._version_id))


@strawberry.type(name="Task", description="A user task of a process (inbox item). 待办任务。")
class TaskNode(Node):
    _pk: strawberry.Private[int]
    _instance_id: strawberry.Private[int]
    _assignee_id: strawberry.Private[int | None]
    _version_id: strawberry.Private[int | None]
    name: str
    element_id: str = strawberry.field(description="The BPMN element id of the task.")
    candidate_role: RoleEnum = strawberry.field(  # type: ignore[valid-type]
        description="The role of the task's lane."
    )
    branch: strawberry.ID | None = strawberry.field(description="Null: any branch.")
    form_name: str
    due_at: dt.datetime | None
    status: TaskStatusEnum  # type: ignore[valid-type]
    created_at: dt.datetime
    completed_at: dt.datetime | None

    @classmethod
    def of(cls, task: ProcessTask, version_id: int | None = None) -> TaskNode:
        return cls(
            id=node_id("Task", task.id),
            _pk=task.id,
            _instance_id=task.instance_id,
            _assignee_id=task.assignee_id,
            _version_id=version_id,
            name=task.name,
            element_id=task.element_id,
            candidate_role=Role(task.candidate_role),
            branch=node_id("Branch", task.branch_id) if task.branch_id else None,
            form_name=task.form_name,
            due_at=task.due_at,
            status=task.status,
            created_at=task.created_at,
            completed_at=task.completed_at,
        )

    @strawberry.field(description="Past its due date and still open.")
    def overdue(self) -> bool:
        return logic.is_task_overdue(self.status, self.due_at, clock.now())

    @strawberry.field(description="Who has the task (null: any candidate may claim it).")
    def assignee(self, info: ContextInfo) -> StaffNode | None:
        return batched_staff(info, self._assignee_id, "Task", "assignee")

    @strawberry.field(description="The JSON schema of the form to fill in (render it as a form).")
    def form_schema(self, info: ContextInfo) -> JSON:
        version_id = self._version_id or self._instance(info).version_id
        version = logic.version_data(info.context.session, version_id)
        return cast(JSON, version.forms.get(self.form_name, {}))

    @strawberry.field(description="The process instance the task belongs to.")
    def process_instance(self, info: ContextInfo) -> ProcessInstanceNode:
        return ProcessInstanceNode.of(self._instance(info))

    def _instance(self, info: ContextInfo) -> ProcessInstance:
        found = batched_instance(info, self._instance_id)
        if found is None:
            raise NotFoundError("no process instance with this ID")
        return found


def present_tasks(info: ContextInfo, rows: Sequence[ProcessTask]) -> list[TaskNode]:
    """Task nodes whose instances and assignees load together, one statement each."""
    ctx = info.context
    ctx.pending("task_instances").extend(r.instance_id for r in rows)
    ctx.pending("staff").extend(r.assignee_id for r in rows if r.assignee_id is not None)
    return [TaskNode.of(r) for r in rows]


def batched_instance(info: ContextInfo, instance_id: int) -> ProcessInstance | None:
    ctx = info.context
    return ctx.batched(
        "task_instances", instance_id, logic.instances_by_id, keys=ctx.pending("task_instances")
    )


def batched_staff(
    info: ContextInfo, staff_id: int | None, type_name: str, field: str
) -> StaffNode | None:
    """A staff member referenced by a list item (the Staff field ``type_name.field``), loaded
    with the others (``pending("staff")``); withheld from a third party (``staff_field``)."""
    ctx = info.context

    def load() -> StaffNode | None:
        assert staff_id is not None
        row = ctx.batched("staff", staff_id, logic.staff_by_id, keys=ctx.pending("staff"))
        return StaffNode.of(row) if row is not None else None

    return staff_field(ctx, type_name, field, staff_id, load)


@strawberry.type(
    description="A parameter a service task gives its operation, and the values allowed "
    "(deploy refuses others when the diagram fixes the value; a computed one is checked when "
    "the step runs)."
)
class ServiceOperationParameter:
    name: str
    type: str = strawberry.field(description="`bool`, `int`, `str` or `any`.")
    required: bool
    choices: list[str] | None = strawberry.field(
        description="The only values allowed (null: any of its type), as text."
    )
    minimum: int | None
    maximum: int | None


@strawberry.type(description="A named operation a service task may call.")
class ServiceOperation:
    name: str
    description: str
    parameters: list[ServiceOperationParameter] = strawberry.field(
        default_factory=list, description="What a service task may give it."
    )


@strawberry.type(
    name="ProcessIncident",
    description="An automatic step that failed at run time: the instance waits at the element "
    "until a process owner retries it (PLAT-2). 流程异常。",
)
class ProcessIncidentNode(Node):
    _instance_id: strawberry.Private[int]
    element_id: str = strawberry.field(description="The BPMN element that failed.")
    element_name: str = strawberry.field(description="Its name in the diagram.")
    error: str = strawberry.field(
        description="What failed: an operation's message; of an expression, the kind of error."
    )
    status: IncidentStatusEnum  # type: ignore[valid-type]
    attempts: int = strawberry.field(description="How many times the step failed.")
    opened_at: dt.datetime
    last_failed_at: dt.datetime
    resolved_at: dt.datetime | None

    @classmethod
    def of(cls, incident: ProcessIncident) -> ProcessIncidentNode:
        return cls(
            id=node_id("ProcessIncident", incident.id),
            _instance_id=incident.instance_id,
            element_id=incident.element_id,
            element_name=incident.element_name,
            error=incident.error,
            status=incident.status,
            attempts=incident.attempts,
            opened_at=incident.opened_at,
            last_failed_at=incident.last_failed_at,
            resolved_at=incident.resolved_at,
        )

    @strawberry.field(description="The instance that waits at the element.")
    def instance(self, info: ContextInfo) -> ProcessInstanceNode:
        found = batched_instance(info, self._instance_id)
        if found is None:
            raise NotFoundError("no process instance with this ID")
        return ProcessInstanceNode.of(found)
