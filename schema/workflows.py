"""Processes and user tasks as GraphQL (PLAT-2): deploy, versions, instances, the task inbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Annotated, Any, TypeVar, cast

import strawberry
from sqlalchemy.orm import Session
from strawberry.scalars import JSON

from core import clock
from core.errors import NotFoundError, UserInputError
from core.ids import pk_of
from resolvers import workflows as logic
from resolvers.shared.pagination import PageRequest
from schema.shared.base import Connection, ContextInfo, Node, bilingual_enum, node_id, user_errors
from schema.shared.mutations import mutate
from schema.shared.rights import Authenticated, HasRight
from schema.shared.rights import field as guarded_field
from schema.shared.rights import mutation as guarded_mutation
from schema.staff import StaffNode
from store.staff import Staff
from store.workflows import InstanceStatus, ProcessInstance, ProcessTask, ProcessVersion, TaskStatus

R = TypeVar("R")

InstanceStatusEnum = bilingual_enum(
    InstanceStatus,
    "Where a process instance stands. 流程实例状态。",
    {"RUNNING": "Running 运行中", "COMPLETED": "Completed 已完成"},
)
TaskStatusEnum = bilingual_enum(
    TaskStatus,
    "Where a user task stands. 任务状态。",
    {
        "OPEN": "Waiting for someone 待办",
        "COMPLETED": "Done 已完成",
        "CANCELLED": "Withdrawn by the process (e.g. a timer) 已撤销",
    },
)


class _ProcessErrorCode(Enum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_XML = "INVALID_XML"
    INVALID_BPMN = "INVALID_BPMN"
    MISSING_DIAGRAM = "MISSING_DIAGRAM"
    MISSING_LANES = "MISSING_LANES"
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    NOT_IN_LANE = "NOT_IN_LANE"
    FORM_MISSING = "FORM_MISSING"
    FORM_INVALID = "FORM_INVALID"
    UNKNOWN_OPERATION = "UNKNOWN_OPERATION"
    EXPRESSION_NOT_ALLOWED = "EXPRESSION_NOT_ALLOWED"
    PROCESS_NOT_DEPLOYED = "PROCESS_NOT_DEPLOYED"
    PROCESS_STEP_FAILED = "PROCESS_STEP_FAILED"
    EXPRESSION_LIMIT = "EXPRESSION_LIMIT"
    MIGRATION_UNSAFE = "MIGRATION_UNSAFE"
    WRONG_PROCESS = "WRONG_PROCESS"
    INSTANCE_FINISHED = "INSTANCE_FINISHED"
    TASK_NOT_OPEN = "TASK_NOT_OPEN"
    ALREADY_ASSIGNED = "ALREADY_ASSIGNED"
    NOT_A_CANDIDATE = "NOT_A_CANDIDATE"
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_HANDLER = "INVALID_HANDLER"
    HANDLER_CONFLICT = "HANDLER_CONFLICT"
    INCONSISTENT = "INCONSISTENT"
    DEADLINE_TOO_LATE = "DEADLINE_TOO_LATE"
    DATE_IN_PAST = "DATE_IN_PAST"


ProcessErrorCode = bilingual_enum(
    _ProcessErrorCode,
    "Why a process action was refused. 流程操作错误代码。",
    {
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "NOT_FOUND": "No such object 对象不存在",
        "INVALID_XML": "The file is not well-formed XML XML 格式错误",
        "INVALID_BPMN": "Not valid BPMN 2.0 不符合 BPMN 2.0",
        "MISSING_DIAGRAM": "An element has no layout (BPMNDI) 缺少图形布局",
        "MISSING_LANES": "The process has no lanes 缺少泳道",
        "UNKNOWN_ROLE": "A lane's name does not start with a role 泳道角色未知",
        "NOT_IN_LANE": "An element lies in no lane 元素不在泳道内",
        "FORM_MISSING": "A user task's form is missing 缺少表单",
        "FORM_INVALID": "A form or its answers are invalid 表单或填写内容无效",
        "UNKNOWN_OPERATION": "A service task names an unknown operation 服务操作未知",
        "EXPRESSION_NOT_ALLOWED": "A script or expression is not allowed 表达式不被允许",
        "PROCESS_NOT_DEPLOYED": "The process has no deployed version 流程未部署",
        "PROCESS_STEP_FAILED": "The diagram failed at an element 流程步骤失败",
        "EXPRESSION_LIMIT": "An expression of the diagram exceeded the sandbox's limits (steps, "
        "time or size); the instance stays where it was 表达式超出沙箱限制",
        "MIGRATION_UNSAFE": "The new version lacks where the instance stands 迁移不安全",
        "WRONG_PROCESS": "The version belongs to another process 版本不属于该流程",
        "INSTANCE_FINISHED": "The instance has finished 流程实例已结束",
        "TASK_NOT_OPEN": "The task is no longer open 任务已办结或撤销",
        "ALREADY_ASSIGNED": "Someone else has the task 任务已被他人认领",
        "NOT_A_CANDIDATE": "The person may not do this task 非任务候选人",
        "REQUIRED": "A required value is missing 缺少必填项",
        "INVALID": "The value is malformed 格式不正确",
        "INVALID_HANDLER": "Not an active complaint handler 处理人无效",
        "HANDLER_CONFLICT": "The handler is the person or unit complained about 处理人需回避",
        "INCONSISTENT": "Answers contradict each other 填写内容矛盾",
        "DEADLINE_TOO_LATE": "Beyond the allowed number of days 超出期限",
        "DATE_IN_PAST": "The date lies in the past 日期已过",
    },
)


@strawberry.type(description="A refused process action: the field (or BPMN element) and why.")
class ProcessUserError:
    field: list[str] | None = strawberry.field(
        description="Input path (`data.handler` for a form field) or `bpmn.<element id>`."
    )
    code: ProcessErrorCode  # type: ignore[valid-type]
    message: str


def process_errors(exc: UserInputError) -> list[ProcessUserError]:
    return user_errors(exc, ProcessUserError, ProcessErrorCode)


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
    candidate_role: str = strawberry.field(description="The role of the task's lane.")
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
            candidate_role=task.candidate_role,
            branch=node_id("Branch", task.branch_id) if task.branch_id else None,
            form_name=task.form_name,
            due_at=task.due_at,
            status=task.status,
            created_at=task.created_at,
            completed_at=task.completed_at,
        )

    @strawberry.field(description="Past its due date and still open.")
    def overdue(self) -> bool:
        # Due at the deadline instant itself (the first instant after the last natural day).
        due = self.due_at
        return self.status == TaskStatus.OPEN and due is not None and due <= clock.now()

    @strawberry.field(description="Who has the task (null: any candidate may claim it).")
    def assignee(self, info: ContextInfo) -> StaffNode | None:
        return batched_staff(info, self._assignee_id)

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


def batched_staff(info: ContextInfo, staff_id: int | None) -> StaffNode | None:
    """A staff member referenced by a list item, loaded with the others (``pending("staff")``)."""
    if staff_id is None:
        return None
    ctx = info.context
    row = ctx.batched("staff", staff_id, logic.staff_by_id, keys=ctx.pending("staff"))
    return StaffNode.of(row) if row is not None else None


def _page(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    return PageRequest(first=first, after=after, last=last, before=before)


@strawberry.type
class WorkflowQuery:
    @guarded_field(
        "Your inbox: open tasks assigned to you or waiting for your role and branch. 我的待办。",
        Authenticated(),
    )
    def my_tasks(
        self,
        info: ContextInfo,
        process: Annotated[
            str | None,
            strawberry.argument(description="Only tasks of this process key (e.g. `complaint`)."),
        ] = None,
        overdue: bool | None = None,
        assigned_to_me: Annotated[
            bool | None,
            strawberry.argument(description="true: only yours; false: only unclaimed ones."),
        ] = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[TaskNode]:
        ctx = info.context
        page = logic.task_page(
            ctx.session,
            ctx.actor,
            _page(first, after, last, before),
            process_key=process,
            overdue=overdue,
            assigned_to_me=assigned_to_me,
        )
        return Connection.of(page, present_tasks(info, page.rows))

    @guarded_field("One task (its candidates, assignee and supervisors).", Authenticated())
    def task(self, info: ContextInfo, id: strawberry.ID) -> TaskNode:
        ctx = info.context
        return TaskNode.of(logic.visible_task(ctx.session, ctx.actor, pk_of(id, "Task", "id")))

    @guarded_field(
        "Deployed process versions (process owners). 流程版本。", HasRight("admin:process")
    )
    def process_versions(
        self, info: ContextInfo, process: str | None = None
    ) -> list[ProcessVersionNode]:
        return [ProcessVersionNode.of(v) for v in logic.versions(info.context.session, process)]

    @guarded_field(
        "Operations service tasks may call, for process owners. 可用服务操作。",
        HasRight("admin:process"),
    )
    def service_operations(self, info: ContextInfo) -> list[ServiceOperation]:
        return [ServiceOperation(name=n, description=d) for n, d in logic.known_operations()]


@strawberry.type(description="A named operation a service task may call.")
class ServiceOperation:
    name: str
    description: str


@strawberry.input(description="A diagram to deploy, with its forms.")
class DeployProcessInput:
    bpmn_xml: str = strawberry.field(description="BPMN 2.0 XML with its BPMNDI section.")
    forms: JSON | None = strawberry.field(
        default=None,
        description="Form name → JSON schema; default: the forms shipped in workflows/forms.",
    )


@strawberry.type
class DeployProcessPayload:
    errors: list[ProcessUserError]
    version: ProcessVersionNode | None = None


@strawberry.input
class MigrateProcessInstanceInput:
    instance: strawberry.ID
    version: strawberry.ID


@strawberry.type
class ProcessInstancePayload:
    errors: list[ProcessUserError]
    instance: ProcessInstanceNode | None = None


@strawberry.input
class ClaimTaskInput:
    id: strawberry.ID


@strawberry.input
class ReassignTaskInput:
    id: strawberry.ID
    assignee: str = strawberry.field(description="Employee number of the new assignee.")


@strawberry.input
class CompleteTaskInput:
    id: strawberry.ID
    data: JSON = strawberry.field(description="The form's answers, as its `formSchema` says.")


@strawberry.type
class TaskPayload:
    errors: list[ProcessUserError]
    task: TaskNode | None = None


def _task_change(
    info: ContextInfo, command: Callable[[Session, Staff], ProcessTask]
) -> TaskPayload:
    try:
        task = mutate(info, lambda session: command(session, info.context.actor))
    except UserInputError as exc:
        return TaskPayload(errors=process_errors(exc))
    return TaskPayload(errors=[], task=TaskNode.of(task))


@strawberry.type
class WorkflowMutation:
    @guarded_mutation(
        "Deploy a new version of a process (process owners). Errors name the BPMN element. "
        "部署流程。",
        HasRight("admin:process"),
    )
    def deploy_process(self, info: ContextInfo, input: DeployProcessInput) -> DeployProcessPayload:
        forms = input.forms
        if forms is not None and not isinstance(forms, dict):
            return DeployProcessPayload(
                errors=[
                    ProcessUserError(
                        field=["forms"],
                        code=ProcessErrorCode.FORM_INVALID,  # type: ignore[attr-defined]
                        message="must be an object of form name → JSON schema",
                    )
                ]
            )
        try:
            version = mutate(
                info,
                lambda session: logic.deploy(session, info.context.actor, input.bpmn_xml, forms),
            )
        except UserInputError as exc:
            return DeployProcessPayload(errors=process_errors(exc))
        return DeployProcessPayload(errors=[], version=ProcessVersionNode.of(version))

    @guarded_mutation(
        "Move one running instance to another version of its process, when safe "
        "(process owners). 迁移流程实例。",
        HasRight("admin:process"),
    )
    def migrate_process_instance(
        self, info: ContextInfo, input: MigrateProcessInstanceInput
    ) -> ProcessInstancePayload:
        try:
            instance = mutate(
                info,
                lambda session: logic.migrate_instance(
                    session,
                    pk_of(input.instance, "ProcessInstance", "instance"),
                    pk_of(input.version, "ProcessVersion", "version"),
                ),
            )
        except UserInputError as exc:
            return ProcessInstancePayload(errors=process_errors(exc))
        return ProcessInstancePayload(errors=[], instance=ProcessInstanceNode.of(instance))

    @guarded_mutation("Take an unclaimed task of your role. 认领任务。", HasRight("task:work"))
    def claim_task(self, info: ContextInfo, input: ClaimTaskInput) -> TaskPayload:
        return _task_change(
            info,
            lambda session, actor: logic.claim_task(session, actor, pk_of(input.id, "Task", "id")),
        )

    @guarded_mutation(
        "Give a task to another candidate (supervisors). 改派任务。", HasRight("task:reassign")
    )
    def reassign_task(self, info: ContextInfo, input: ReassignTaskInput) -> TaskPayload:
        return _task_change(
            info,
            lambda session, actor: logic.reassign_task(
                session, actor, pk_of(input.id, "Task", "id"), input.assignee
            ),
        )

    @guarded_mutation(
        "Complete a task with its form's data; the process moves on. 办理任务。",
        HasRight("task:work"),
    )
    def complete_task(self, info: ContextInfo, input: CompleteTaskInput) -> TaskPayload:
        data: Any = input.data
        if not isinstance(data, dict):
            return TaskPayload(
                errors=[
                    ProcessUserError(
                        field=["data"],
                        code=ProcessErrorCode.FORM_INVALID,  # type: ignore[attr-defined]
                        message="must be an object of the form's fields",
                    )
                ]
            )
        return _task_change(
            info,
            lambda session, actor: logic.complete_task(
                session, actor, pk_of(input.id, "Task", "id"), data
            ),
        )


def _load_task(info: ContextInfo, pk: int) -> TaskNode | None:
    ctx = info.context
    try:
        return TaskNode.of(logic.visible_task(ctx.session, ctx.actor, pk))
    except NotFoundError:
        return None


NODE_LOADERS: dict[str, Callable[[ContextInfo, int], Node | None]] = {"Task": _load_task}
