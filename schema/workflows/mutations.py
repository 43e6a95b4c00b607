"""Changing processes and tasks: deploy, migrate an instance, claim, reassign, complete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from sqlalchemy.orm import Session
from strawberry.scalars import JSON

from core.errors import FieldError, UserInputError
from core.ids import pk_of
from resolvers import workflows as logic
from schema.shared.base import ContextInfo, user_errors
from schema.shared.mutations import KEY_DESCRIPTION, Once, created_id, load_row, mutate
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from schema.workflows.enums import ProcessErrorCode
from schema.workflows.types import (
    ProcessIncidentNode,
    ProcessInstanceNode,
    ProcessUserError,
    ProcessVersionNode,
    TaskNode,
)
from store.staff import Staff
from store.workflows import ProcessTask, ProcessVersion


def process_errors(exc: UserInputError) -> list[ProcessUserError]:
    """Process codes as they are; a code only a domain's rules produce as DOMAIN_RULE with the
    domain's typed code (the complaint operations' codes are ``ComplaintErrorCode``)."""
    from schema.complaints.enums import ComplaintErrorCode

    process_codes = {member.name for member in ProcessErrorCode}  # type: ignore[attr-defined]

    def code(value: str) -> Any:
        return ProcessErrorCode[value if value in process_codes else "DOMAIN_RULE"]  # type: ignore[misc]

    def extra(error: FieldError) -> dict[str, Any]:
        if error.code in process_codes:
            return {}
        return {"complaint_code": ComplaintErrorCode[error.code]}  # type: ignore[misc]

    return user_errors(exc, ProcessUserError, code, extra)


@strawberry.input(description="A diagram to deploy, with its forms.")
class DeployProcessInput:
    bpmn_xml: str = strawberry.field(description="BPMN 2.0 XML with its BPMNDI section.")
    forms: JSON | None = strawberry.field(
        default=None,
        description="Form name → JSON schema; default: the forms shipped in workflows/forms.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


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
class RetryProcessIncidentInput:
    id: strawberry.ID


@strawberry.type
class ProcessIncidentPayload:
    errors: list[ProcessUserError]
    incident: ProcessIncidentNode | None = strawberry.field(
        default=None, description="RESOLVED when the step now succeeded; OPEN when it failed again."
    )


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
                Once(input.idempotency_key, input, created_id, load_row(ProcessVersion)),
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

    @guarded_mutation(
        "Run a failed step again once its cause is fixed (process owners). 重试流程异常。",
        HasRight("admin:process"),
    )
    def retry_process_incident(
        self, info: ContextInfo, input: RetryProcessIncidentInput
    ) -> ProcessIncidentPayload:
        try:
            incident = mutate(
                info,
                lambda session: logic.retry_incident(
                    session,
                    info.context.actor,
                    pk_of(input.id, "ProcessIncident", "id"),
                ),
            )
        except UserInputError as exc:
            return ProcessIncidentPayload(errors=process_errors(exc))
        return ProcessIncidentPayload(errors=[], incident=ProcessIncidentNode.of(incident))

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
