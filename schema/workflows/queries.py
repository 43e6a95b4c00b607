"""Reading processes and tasks: the inbox, one task, versions, service operations, and
``node(id:)`` of each process type."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from sqlalchemy import select

from core.errors import NotFoundError
from core.ids import pk_of
from resolvers import workflows as logic
from schema.shared.base import Connection, ContextInfo, Node, page_request
from schema.shared.rights import Authenticated, HasRight
from schema.shared.rights import field as guarded_field
from schema.workflows.filters import ProcessIncidentWhere, ProcessVersionWhere, TaskWhere
from schema.workflows.types import (
    ProcessIncidentNode,
    ProcessInstanceNode,
    ProcessVersionNode,
    ServiceOperation,
    ServiceOperationParameter,
    TaskNode,
    present_tasks,
)
from store.complaints import Complaint
from store.workflows import ProcessIncident, ProcessInstance, ProcessVersion


def load_task(info: ContextInfo, pk: int) -> TaskNode | None:
    """``node(id:)`` of a task: for its candidates, assignee and supervisors (as ``task``)."""
    ctx = info.context
    try:
        return TaskNode.of(logic.visible_task(ctx.session, ctx.actor, pk))
    except NotFoundError:
        return None


def load_instance(info: ContextInfo, pk: int) -> ProcessInstanceNode | None:
    """``node(id:)`` of an instance, for whoever reaches it through a list: process owners,
    whoever may see one of its tasks (``Task.processInstance``), and whoever sees the domain
    row it runs for (``Complaint.process``)."""
    ctx = info.context
    found = ctx.session.get(ProcessInstance, pk)
    if found is None:
        return None
    if (
        ctx.access.has_right("admin:process")
        or logic.visible_instance(ctx.session, ctx.actor, pk) is not None
        or _sees_record(info, found.business_key)
    ):
        return ProcessInstanceNode.of(found)
    return None


def _sees_record(info: ContextInfo, business_key: str) -> bool:
    """Whether the caller sees the domain row of a business key (``complaint:<id>``)."""
    prefix, _, record_id = business_key.partition(":")
    if prefix != "complaint" or not record_id.isdigit():
        return False
    ctx = info.context
    visible = ctx.access.complaints_visible
    return (
        ctx.session.scalar(select(Complaint.id).where(Complaint.id == int(record_id), visible))
        is not None
    )


def load_version(info: ContextInfo, pk: int) -> ProcessVersionNode | None:
    """``node(id:)`` of a version: process owners, as ``processVersions``."""
    ctx = info.context
    if not ctx.access.has_right("admin:process"):
        return None
    found = ctx.session.get(ProcessVersion, pk)
    return ProcessVersionNode.of(found) if found is not None else None


def load_incident(info: ContextInfo, pk: int) -> ProcessIncidentNode | None:
    """``node(id:)`` of an incident: process owners, as ``processIncidents``."""
    ctx = info.context
    if not ctx.access.has_right("admin:process"):
        return None
    found = ctx.session.get(ProcessIncident, pk)
    return ProcessIncidentNode.of(found) if found is not None else None


NODE_LOADERS: dict[str, Callable[[ContextInfo, int], Node | None]] = {
    "Task": load_task,
    "ProcessInstance": load_instance,
    "ProcessVersion": load_version,
    "ProcessIncident": load_incident,
}


@strawberry.type
class WorkflowQuery:
    @guarded_field(
        "Your inbox: open tasks assigned to you or waiting for your role and branch. 我的待办。",
        Authenticated(),
    )
    def my_tasks(
        self,
        info: ContextInfo,
        where: TaskWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[TaskNode]:
        ctx = info.context
        page = logic.task_page(
            ctx.session, ctx.actor, page_request(first, after, last, before), where
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
        self,
        info: ContextInfo,
        where: ProcessVersionWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ProcessVersionNode]:
        page = logic.version_page(
            info.context.session, where, page_request(first, after, last, before)
        )
        return Connection.of(page, [ProcessVersionNode.of(v) for v in page.rows])

    @guarded_field(
        "Steps that failed at run time, newest first, with the element, the error and a retry "
        "(`retryProcessIncident`), for process owners; open ones: `where: {status: {eq: OPEN}}`. "
        "流程异常。",
        HasRight("admin:process"),
    )
    def process_incidents(
        self,
        info: ContextInfo,
        where: ProcessIncidentWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ProcessIncidentNode]:
        page = logic.incident_page(
            info.context.session, where, page_request(first, after, last, before)
        )
        return Connection.of(page, [ProcessIncidentNode.of(i) for i in page.rows])

    @guarded_field(
        "Operations service tasks may call, for process owners. 可用服务操作。",
        HasRight("admin:process"),
    )
    def service_operations(self, info: ContextInfo) -> list[ServiceOperation]:
        return [
            ServiceOperation(
                name=name,
                description=description,
                parameters=[
                    ServiceOperationParameter(
                        name=p.name,
                        type="any" if p.kind is object else p.kind.__name__,
                        required=p.required,
                        choices=[str(c) for c in p.choices] or None,
                        minimum=p.minimum,
                        maximum=p.maximum,
                    )
                    for p in logic.operation_parameters(name)
                ],
            )
            for name, description in logic.known_operations()
        ]
