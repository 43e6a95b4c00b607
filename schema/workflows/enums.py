"""Process and task statuses, and the codes of refused process actions."""

from __future__ import annotations

from enum import Enum

from schema.shared.base import bilingual_enum
from store.workflows import IncidentStatus, InstanceStatus, TaskStatus

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

IncidentStatusEnum = bilingual_enum(
    IncidentStatus,
    "Whether a failed step still waits for a retry. 流程异常状态。",
    {
        "OPEN": "Waiting for a retry 待处理",
        "RESOLVED": "A retry succeeded 已解决",
        "ENDED": "The instance ended before a retry (withdrawn, merged) 流程已终止",
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
    TIMER_INVALID = "TIMER_INVALID"
    PARAMETER_INVALID = "PARAMETER_INVALID"
    UNKNOWN_VARIABLE = "UNKNOWN_VARIABLE"
    STAGE_MISSING = "STAGE_MISSING"
    PROCESS_NOT_DEPLOYED = "PROCESS_NOT_DEPLOYED"
    PROCESS_STEP_FAILED = "PROCESS_STEP_FAILED"
    EXPRESSION_LIMIT = "EXPRESSION_LIMIT"
    MIGRATION_UNSAFE = "MIGRATION_UNSAFE"
    WRONG_PROCESS = "WRONG_PROCESS"
    INSTANCE_FINISHED = "INSTANCE_FINISHED"
    INCIDENT_RESOLVED = "INCIDENT_RESOLVED"
    TASK_NOT_OPEN = "TASK_NOT_OPEN"
    ALREADY_ASSIGNED = "ALREADY_ASSIGNED"
    NOT_A_CANDIDATE = "NOT_A_CANDIDATE"
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    DOMAIN_RULE = "DOMAIN_RULE"


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
        "TIMER_INVALID": "A timer is not a valid ISO 8601 date, duration or cycle (quote it: "
        '`"P30D"`) 定时器不是有效的 ISO 8601 值',
        "PARAMETER_INVALID": "A service task's parameter is unknown, missing or out of the "
        "operation's range 服务任务参数无效",
        "UNKNOWN_VARIABLE": "An expression reads a variable the process never has "
        "表达式引用了未知变量",
        "STAGE_MISSING": "A stage the domain requires is missing or out of order (complaints: "
        "assignment, investigation, decision notice, call-back, review) 缺少必需环节",
        "PROCESS_NOT_DEPLOYED": "The process has no deployed version 流程未部署",
        "PROCESS_STEP_FAILED": "The diagram failed at an element 流程步骤失败",
        "EXPRESSION_LIMIT": "An expression of the diagram exceeded the sandbox's limits (steps, "
        "time or size); the instance stays where it was 表达式超出沙箱限制",
        "MIGRATION_UNSAFE": "The new version lacks where the instance stands 迁移不安全",
        "WRONG_PROCESS": "The version belongs to another process 版本不属于该流程",
        "INSTANCE_FINISHED": "The instance has finished 流程实例已结束",
        "INCIDENT_RESOLVED": "The incident is already resolved 流程异常已解决",
        "TASK_NOT_OPEN": "The task is no longer open 任务已办结或撤销",
        "ALREADY_ASSIGNED": "Someone else has the task 任务已被他人认领",
        "NOT_A_CANDIDATE": "The person may not do this task 非任务候选人",
        "REQUIRED": "A required value is missing 缺少必填项",
        "INVALID": "The value is malformed 格式不正确",
        "DOMAIN_RULE": "A rule of the instance's domain refused the answers; its code is in "
        "the domain's field (e.g. `complaintCode`) 业务规则不允许",
    },
)
