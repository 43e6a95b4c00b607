"""Processes and user tasks as GraphQL (PLAT-2): deploy, versions, instances, the task inbox."""

from schema.workflows.enums import ProcessErrorCode
from schema.workflows.mutations import WorkflowMutation
from schema.workflows.queries import NODE_LOADERS, WorkflowQuery
from schema.workflows.types import (
    ProcessInstanceNode,
    ProcessVersionNode,
    TaskNode,
    batched_instance,
    batched_staff,
    present_tasks,
)

__all__ = [
    "NODE_LOADERS",
    "ProcessErrorCode",
    "ProcessInstanceNode",
    "ProcessVersionNode",
    "TaskNode",
    "WorkflowMutation",
    "WorkflowQuery",
    "batched_instance",
    "batched_staff",
    "present_tasks",
]
