"""Complaints as GraphQL (CMP-1 … CMP-6): submit, list, one complaint with its timeline, statistics.

A complaint is visible to whoever may see its customer (row scope, grant) and to its handler.
Its process is exposed too — the diagram's XML and the active/completed element ids — so a
frontend can draw where the complaint stands.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import strawberry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from strawberry.scalars import JSON

from authz.fields import present as present_fields
from core import clock
from core.errors import ForbiddenError, UserInputError
from core.ids import pk_of
from resolvers import complaints as logic
from resolvers import workflows as workflow_logic
from resolvers.shared.pagination import PageRequest
from schema.customers import CustomerNode
from schema.shared.base import (
    Connection,
    ContextInfo,
    Node,
    SortDirection,
    bilingual_enum,
    node_id,
    user_errors,
)
from schema.shared.context import Context
from schema.shared.customers import nested_customer, nested_customer_row
from schema.shared.mutations import mutate
from schema.shared.rights import Authenticated, HasRight
from schema.shared.rights import field as guarded_field
from schema.shared.rights import mutation as guarded_mutation
from schema.staff import StaffNode
from schema.workflows import (
    ProcessInstanceNode,
    ProcessVersionNode,
    TaskNode,
    batched_instance,
    batched_staff,
    present_tasks,
)
from store.complaints import (
    Category,
    Channel,
    Complaint,
    ComplaintStatus,
    Complexity,
    SlaState,
)

V = TypeVar("V")

ChannelEnum = bilingual_enum(
    Channel,
    "How a complaint arrived. 投诉渠道。",
    {
        "HOTLINE": "Customer service hotline 客服热线",
        "EMAIL": "E-mail 电子邮件",
        "ONLINE": "Online platform 线上平台",
        "BRANCH_COUNTER": "Branch counter 网点柜台",
        "REGULATOR_REFERRAL": "Referred by a regulator 监管转办",
    },
)
CategoryEnum = bilingual_enum(
    Category,
    "What a complaint is about. 投诉类别。",
    {
        "SERVICE_ATTITUDE": "Service attitude 服务态度",
        "FEES_AND_CHARGES": "Fees and charges 收费",
        "PRODUCT_MIS_SELLING": "Product mis-selling 产品销售",
        "ACCOUNT_AND_PAYMENT": "Accounts and payments 账户与支付",
        "LOANS_AND_CREDIT": "Loans and credit 贷款与信用",
        "CARDS": "Bank cards 银行卡",
        "DIGITAL_CHANNELS": "Mobile and online banking 电子渠道",
        "PERSONAL_INFORMATION": "Personal information 个人信息",
        "OTHER": "Other 其他",
    },
)
ComplaintStatusEnum = bilingual_enum(
    ComplaintStatus,
    "Where a complaint stands. 投诉状态。",
    {
        "REGISTERED": "Registered, waiting for a handler 已登记",
        "INVESTIGATING": "Being investigated 调查处理中",
        "DECIDED": "Decision delivered 已作出处理决定",
        "UNDER_REVIEW": "Under review by the superior unit 复核中",
        "CLOSED": "Closed 已办结",
    },
)
ComplexityEnum = bilingual_enum(
    Complexity,
    "How long a complaint may take (natural days). 复杂程度。",
    {
        "STANDARD": "Standard: 15 days 一般（15日）",
        "COMPLEX": "Complex: 30 days 复杂（30日）",
        "ESPECIALLY_COMPLEX": "Especially complex, approved: 60 days 特别复杂（60日）",
    },
)
SlaStateEnum = bilingual_enum(
    SlaState,
    "Deadline health of a complaint (CMP-6). 时限状态。",
    {
        "ON_TRACK": "On track 正常",
        "AT_RISK": "Deadline near; supervisor warned 临期预警",
        "BREACHED": "Deadline missed; escalated 已超期",
    },
)


class _ComplaintErrorCode(Enum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    PROCESS_NOT_DEPLOYED = "PROCESS_NOT_DEPLOYED"
    PROCESS_STEP_FAILED = "PROCESS_STEP_FAILED"
    EXPRESSION_LIMIT = "EXPRESSION_LIMIT"


ComplaintErrorCode = bilingual_enum(
    _ComplaintErrorCode,
    "Why a complaint submission was refused. 投诉登记错误代码。",
    {
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "NOT_FOUND": "No such object 对象不存在",
        "REQUIRED": "A required value is missing 缺少必填项",
        "TOO_LONG": "The text is too long 文本过长",
        "INVALID_AMOUNT": "Not a valid amount of money 金额无效",
        "NEGATIVE_AMOUNT": "The amount is negative 金额为负",
        "PROCESS_NOT_DEPLOYED": "The complaint process is not deployed 投诉流程未部署",
        "PROCESS_STEP_FAILED": "The complaint process failed at an element 流程步骤失败",
        "EXPRESSION_LIMIT": "An expression of the complaint process exceeded the sandbox's "
        "limits 表达式超出沙箱限制",
    },
)


@strawberry.type(description="A refused complaint submission: the field and why.")
class ComplaintUserError:
    field: list[str] | None
    code: ComplaintErrorCode  # type: ignore[valid-type]
    message: str


@strawberry.type(description="One step of a complaint: what, who, when, notes. 处理记录。")
class ComplaintEventNode:
    kind: str = strawberry.field(
        description="REGISTERED, HANDLER_ASSIGNED, TASK_COMPLETED, PLAN_MADE, DEADLINE_EXTENDED, "
        "DEADLINE_WARNING, DEADLINE_MISSED, PROGRESS_UPDATE_SENT, DECISION_DELIVERED, CALLED_BACK, "
        "REVIEW_REQUESTED, REVIEWED, RECTIFICATION_RAISED, RECTIFICATION_CLOSED, CLOSED, …"
    )
    actor: str | None = strawberry.field(description="Employee number; null: the system.")
    at: dt.datetime
    details: JSON | None = strawberry.field(description="Notes and form answers of the step.")


@strawberry.type(description="Something the bank told the customer, with proof. 告知记录。")
class CustomerMessageNode:
    kind: str = strawberry.field(
        description="ACKNOWLEDGEMENT, EXTENSION, PROGRESS, DECISION_NOTICE, REVIEW_DECISION"
    )
    channel: str
    content: str
    proof_of_delivery: str | None
    sent_at: dt.datetime


@strawberry.type(description="A systemic issue escalated to head office (CMP-5). 整改事项。")
class RectificationNode:
    issue: str
    actions: list[str] | None
    raised_at: dt.datetime
    closed_at: dt.datetime | None


@strawberry.type(
    name="ComplaintProcess",
    description="The complaint's process: the diagram and where the complaint stands on it.",
)
class ComplaintProcess:
    instance: ProcessInstanceNode
    version: ProcessVersionNode


@strawberry.type(name="Complaint", description="A customer complaint (CMP). 客户投诉。")
class ComplaintNode(Node):
    _pk: strawberry.Private[int]
    _customer_id: strawberry.Private[int]
    _handler_id: strawberry.Private[int | None]
    _instance_id: strawberry.Private[int | None]
    _complained_staff_id: strawberry.Private[int | None]
    reference: str = strawberry.field(description="Complaint number, e.g. TS20261129-000012.")
    channel: ChannelEnum  # type: ignore[valid-type]
    category: CategoryEnum  # type: ignore[valid-type]
    description: str | None = strawberry.field(
        description="What the customer says (null when your policy withholds it)."
    )
    requested_remedy: str | None
    amount_in_dispute: Decimal | None = strawberry.field(
        description="Money in dispute (a band when masked)."
    )
    branch: strawberry.ID = strawberry.field(description="The branch handling the complaint.")
    complained_branch: strawberry.ID | None
    status: ComplaintStatusEnum  # type: ignore[valid-type]
    complexity: ComplexityEnum  # type: ignore[valid-type]
    sla_state: SlaStateEnum  # type: ignore[valid-type]
    accepted_at: dt.datetime
    decision_due_at: dt.datetime = strawberry.field(
        description="End of the last natural day for the decision (15/30/60 days)."
    )
    cause: str | None
    systemic: bool
    resolved_on_the_spot: bool
    plan_deadline: dt.datetime | None
    decided_at: dt.datetime | None
    outcome: str | None
    satisfaction_score: int | None
    review_requested_at: dt.datetime | None
    review_due_at: dt.datetime | None
    review_outcome: str | None
    closed_at: dt.datetime | None

    @classmethod
    def of(cls, row: Complaint, ctx: Context) -> ComplaintNode:
        """The complaint with its personal fields as the caller's policy allows (authz)."""
        personal = present_fields(
            "Complaint",
            {
                "description": row.description,
                "requested_remedy": row.requested_remedy,
                "amount_in_dispute": row.amount_in_dispute,
            },
            ctx.access_for(row.customer_id),
        )
        return cls(
            id=node_id("Complaint", row.id),
            _pk=row.id,
            _customer_id=row.customer_id,
            _handler_id=row.handler_id,
            _instance_id=row.instance_id,
            _complained_staff_id=row.complained_staff_id,
            reference=row.reference,
            channel=row.channel,
            category=row.category,
            **personal,
            branch=node_id("Branch", row.branch_id),
            complained_branch=node_id("Branch", row.complained_branch_id)
            if row.complained_branch_id
            else None,
            status=row.status,
            complexity=row.complexity,
            sla_state=row.sla_state,
            accepted_at=row.accepted_at,
            decision_due_at=row.decision_due_at,
            cause=row.cause,
            systemic=row.systemic,
            resolved_on_the_spot=row.resolved_on_the_spot,
            plan_deadline=row.plan_deadline,
            decided_at=row.decided_at,
            outcome=row.outcome,
            satisfaction_score=row.satisfaction_score,
            review_requested_at=row.review_requested_at,
            review_due_at=row.review_due_at,
            review_outcome=row.review_outcome,
            closed_at=row.closed_at,
        )

    def _with_the_others(
        self, info: ContextInfo, batch: str, load: Callable[[Session, Sequence[int]], dict[int, V]]
    ) -> V | None:
        """This complaint's share of ``load``, run once for every complaint of the response."""
        ctx = info.context
        return ctx.batched(batch, self._pk, load, keys=ctx.pending("complaints"))

    def _text(
        self,
        info: ContextInfo,
        field: str,
        batch: str,
        load: Callable[[Session, Sequence[int]], dict[int, list[V]]],
    ) -> list[V] | None:
        """What handlers wrote or told the customer (``field``), or None when withheld."""
        if not info.context.may_read_complaint_text(self._customer_id, "Complaint", field):
            return None
        return self._with_the_others(info, batch, load) or []

    @strawberry.field(description="Undecided past its deadline (or a review past its deadline).")
    def overdue(self) -> bool:
        now = clock.now()
        # A deadline is the first instant after the period (Beijing midnight): due then.
        if self.status == ComplaintStatus.UNDER_REVIEW and self.review_outcome is None:
            return self.review_due_at is not None and self.review_due_at <= now
        return self.decided_at is None and self.decision_due_at <= now

    @strawberry.field(description="The customer (null when you may not see them).")
    def customer(self, info: ContextInfo) -> CustomerNode | None:
        return nested_customer(info, self._customer_id, "complaint_customers")

    @strawberry.field(description="The assigned handler.")
    def handler(self, info: ContextInfo) -> StaffNode | None:
        return batched_staff(info, self._handler_id)

    @strawberry.field(description="The staff member complained about.")
    def complained_staff(self, info: ContextInfo) -> StaffNode | None:
        return batched_staff(info, self._complained_staff_id)

    @strawberry.field(
        description="Every step, oldest first: who, when, notes (null when withheld: a third "
        "party needs a consent naming the complaints group). 处理时间线。"
    )
    def timeline(self, info: ContextInfo) -> list[ComplaintEventNode] | None:
        events = self._text(info, "timeline", "complaint_events", logic.events)
        if events is None:
            return None
        return [
            ComplaintEventNode(
                kind=event.kind,
                actor=employee_no,
                at=event.at,
                details=json.loads(event.details) if event.details else None,
            )
            for event, employee_no in events
        ]

    @strawberry.field(
        description="What the customer was told, with proof of delivery (null when withheld, "
        "like the timeline)."
    )
    def messages(self, info: ContextInfo) -> list[CustomerMessageNode] | None:
        found = self._text(info, "messages", "complaint_messages", logic.messages)
        if found is None:
            return None
        return [
            CustomerMessageNode(
                kind=m.kind,
                channel=m.channel,
                content=m.content,
                proof_of_delivery=m.proof_of_delivery,
                sent_at=m.sent_at,
            )
            for m in found
        ]

    @strawberry.field(description="Open tasks of the complaint's process, with due dates.")
    def current_tasks(self, info: ContextInfo) -> list[TaskNode]:
        if self._instance_id is None:
            return []
        ctx = info.context
        tasks = ctx.batched(
            "complaint_tasks",
            self._instance_id,
            lambda session, ids: workflow_logic.open_tasks(session, ids),
            keys=ctx.pending("task_instances"),
        )
        return present_tasks(info, tasks or [])

    @strawberry.field(description="The rectification item, when the issue was systemic.")
    def rectification(self, info: ContextInfo) -> RectificationNode | None:
        item = self._with_the_others(info, "complaint_rectifications", logic.rectifications)
        if item is None:
            return None
        return RectificationNode(
            issue=item.issue,
            actions=json.loads(item.actions) if item.actions is not None else None,
            raised_at=item.raised_at,
            closed_at=item.closed_at,
        )

    @strawberry.field(description="The diagram and the active/completed element ids.")
    def process(self, info: ContextInfo) -> ComplaintProcess | None:
        if self._instance_id is None:
            return None
        instance = batched_instance(info, self._instance_id)
        if instance is None:
            return None
        version = workflow_logic.version_data(info.context.session, instance.version_id)
        return ComplaintProcess(
            instance=ProcessInstanceNode.of(instance), version=ProcessVersionNode.of(version)
        )


def present(info: ContextInfo, rows: list[Complaint]) -> list[ComplaintNode]:
    ctx = info.context
    ctx.pending("complaints").extend(r.id for r in rows)
    ctx.pending("complaint_customers").extend(r.customer_id for r in rows)
    ctx.complaint_customer_ids.extend(r.customer_id for r in rows)
    ctx.pending("task_instances").extend(r.instance_id for r in rows if r.instance_id)
    ctx.pending("staff").extend(
        staff for r in rows for staff in (r.handler_id, r.complained_staff_id) if staff
    )
    # A complaint's personal fields follow how its customer is seen: own scope, a share grant
    # or a consent (their field groups), or — for the handler alone — the role's policy.
    for row in rows:
        customer = nested_customer_row(info, row.customer_id, "complaint_customers")
        if customer is not None:
            ctx.note_customer(customer)
    return [ComplaintNode.of(r, ctx) for r in rows]


@strawberry.input(description="Filters for complaints; all given conditions must hold.")
class ComplaintWhere:
    status: list[ComplaintStatusEnum] | None = None  # type: ignore[valid-type]
    sla_state: list[SlaStateEnum] | None = None  # type: ignore[valid-type]
    category: list[CategoryEnum] | None = None  # type: ignore[valid-type]
    channel: list[ChannelEnum] | None = None  # type: ignore[valid-type]
    customer_id: strawberry.ID | None = None
    branch: strawberry.ID | None = None
    overdue: bool | None = strawberry.field(
        default=None, description="Undecided past the deadline (or review past its deadline)."
    )
    accepted_from: dt.datetime | None = None
    accepted_before: dt.datetime | None = None

    def compile(self) -> logic.ComplaintFilter:
        return logic.ComplaintFilter(
            status=self.status,
            sla_state=self.sla_state,
            category=self.category,
            channel=self.channel,
            customer_id=pk_of(self.customer_id, "Customer", ("where", "customerId"))
            if self.customer_id
            else None,
            branch_id=pk_of(self.branch, "Branch", ("where", "branch")) if self.branch else None,
            overdue=self.overdue,
            accepted_from=self.accepted_from,
            accepted_to=self.accepted_before,
        )


class _ComplaintOrderField(Enum):
    ACCEPTED_AT = "ACCEPTED_AT"
    DECISION_DUE_AT = "DECISION_DUE_AT"


ComplaintOrderField = bilingual_enum(
    _ComplaintOrderField,
    "Orderings of complaints. 投诉排序字段。",
    {
        "ACCEPTED_AT": "When it was accepted 受理时间",
        "DECISION_DUE_AT": "The decision deadline 处理期限",
    },
)


@strawberry.input
class ComplaintOrderBy:
    field: ComplaintOrderField  # type: ignore[valid-type]
    direction: SortDirection = SortDirection.ASC


class _ComplaintDimension(Enum):
    CATEGORY = "CATEGORY"
    CHANNEL = "CHANNEL"
    UNIT = "UNIT"
    CAUSE = "CAUSE"
    MONTH = "MONTH"


ComplaintDimension = bilingual_enum(
    _ComplaintDimension,
    "How complaint statistics are grouped (CMP-5). 统计维度。",
    {
        "CATEGORY": "By category 按类别",
        "CHANNEL": "By channel 按渠道",
        "UNIT": "By handling branch 按机构",
        "CAUSE": "By cause 按原因",
        "MONTH": "By month of acceptance (Beijing time) 按受理月份",
    },
)


@strawberry.type(description="Complaint figures for one group. 投诉统计。")
class ComplaintStatistic:
    key: str = strawberry.field(
        description="Category, channel, branch code, cause or month (YYYY-MM, Beijing time)."
    )
    count: int
    closed: int
    decided: int
    decided_on_time: int
    on_time_rate: Decimal | None = strawberry.field(description="decidedOnTime / decided.")
    average_satisfaction: Decimal | None = strawberry.field(description="Call-back score 1–5.")
    overdue_open: int = strawberry.field(description="Open and past a deadline now.")


def _visible(info: ContextInfo) -> Any:
    ctx = info.context
    return logic.visible_condition(ctx.actor, ctx.visible)


@strawberry.type
class ComplaintQuery:
    @guarded_field(
        "Complaints you may see: of customers you see, or handled by you. "
        "`where: {overdue: true}` lists the overdue ones (CMP-6). 投诉列表。",
        Authenticated(),
    )
    def complaints(
        self,
        info: ContextInfo,
        where: ComplaintWhere | None = None,
        order_by: ComplaintOrderBy | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ComplaintNode]:
        ctx = info.context
        order = order_by or ComplaintOrderBy(
            field=ComplaintOrderField.ACCEPTED_AT, direction=SortDirection.DESC
        )
        page = logic.page(
            ctx.session,
            _visible(info),
            (where or ComplaintWhere()).compile(),
            order.field.value,  # type: ignore[attr-defined]
            order.direction is SortDirection.DESC,
            PageRequest(first=first, after=after, last=last, before=before),
        )
        return Connection.of(page, present(info, page.rows))

    @guarded_field(
        "One complaint with its timeline, tasks and process. 投诉详情。", Authenticated()
    )
    def complaint(self, info: ContextInfo, id: strawberry.ID) -> ComplaintNode:
        row = logic.get(info.context.session, pk_of(id, "Complaint", "id"), _visible(info))
        return present(info, [row])[0]

    @guarded_field(
        "Complaint statistics by category, channel, unit, cause or month (CMP-5). "
        "Over the complaints you may see; roles without customer rows get bank-wide "
        "aggregates. 投诉统计。",
        Authenticated(),
    )
    def complaint_statistics(
        self,
        info: ContextInfo,
        by: ComplaintDimension,  # type: ignore[valid-type]
        where: ComplaintWhere | None = None,
    ) -> list[ComplaintStatistic]:
        ctx = info.context
        visible = _visible(info) if ctx.row_scopes else None
        if visible is None and where is not None and where.customer_id is not None:
            # Aggregates only: narrowed to one customer they would be that customer's record.
            raise ForbiddenError("your roles see bank-wide statistics, not one customer's")
        rows = logic.statistics(
            ctx.session,
            visible,
            by.value,  # type: ignore[attr-defined]
            (where or ComplaintWhere()).compile(),
        )
        return [
            ComplaintStatistic(
                key=r.key,
                count=r.count,
                closed=r.closed,
                decided=r.decided,
                decided_on_time=r.decided_on_time,
                on_time_rate=(Decimal(r.decided_on_time) / Decimal(r.decided)).quantize(
                    Decimal("0.0001")
                )
                if r.decided
                else None,
                average_satisfaction=r.average_satisfaction,
                overdue_open=r.overdue_open,
            )
            for r in rows
        ]


@strawberry.input(description="A complaint as the customer made it (CMP-1). 投诉登记。")
class SubmitComplaintInput:
    customer_id: strawberry.ID
    channel: ChannelEnum  # type: ignore[valid-type]
    category: CategoryEnum  # type: ignore[valid-type]
    description: str
    requested_remedy: str | None = None
    amount_in_dispute: Decimal | None = None
    complained_staff: str | None = strawberry.field(
        default=None, description="Employee number of the person complained about."
    )
    complained_branch: strawberry.ID | None = strawberry.field(
        default=None, description="The unit complained about (default: that person's branch)."
    )
    idempotency_key: str = strawberry.field(
        description="Your key for this submission: a retry with the same key returns the same "
        "complaint instead of registering it twice."
    )


@strawberry.type
class SubmitComplaintPayload:
    errors: list[ComplaintUserError]
    complaint: ComplaintNode | None = None
    created: bool = strawberry.field(default=False, description="False for a retried submission.")


def _complaint_errors(exc: UserInputError) -> list[ComplaintUserError]:
    return user_errors(exc, ComplaintUserError, ComplaintErrorCode)


@strawberry.type
class ComplaintMutation:
    @guarded_mutation(
        "Register a complaint and start its process. 投诉登记。",
        HasRight("admin:complaint_intake", purpose=True),
    )
    def submit_complaint(
        self, info: ContextInfo, input: SubmitComplaintInput
    ) -> SubmitComplaintPayload:
        ctx = info.context

        def command(session: Any) -> tuple[Complaint, bool]:
            draft = logic.ComplaintDraft(
                customer_id=pk_of(input.customer_id, "Customer", "customerId"),
                channel=input.channel,
                category=input.category,
                description=input.description,
                idempotency_key=input.idempotency_key,
                requested_remedy=input.requested_remedy,
                amount_in_dispute=input.amount_in_dispute,
                complained_staff=input.complained_staff,
                complained_branch_id=pk_of(input.complained_branch, "Branch", "complainedBranch")
                if input.complained_branch
                else None,
            )
            return logic.submit(session, ctx.actor, draft, ctx.visible)

        try:
            try:
                complaint, created = mutate(info, command)
            except IntegrityError:
                # A concurrent retry with the same key won the race: answer with its complaint.
                found = logic.find_submission(ctx.session, ctx.actor, input.idempotency_key.strip())
                if found is None:
                    raise
                complaint, created = found, False
        except UserInputError as exc:
            return SubmitComplaintPayload(errors=_complaint_errors(exc))
        return SubmitComplaintPayload(
            errors=[], complaint=present(info, [complaint])[0], created=created
        )


def _load_complaint(info: ContextInfo, pk: int) -> ComplaintNode | None:
    ctx = info.context
    complaint = ctx.session.scalar(
        select(Complaint).where(Complaint.id == pk, logic.visible_condition(ctx.actor, ctx.visible))
    )
    return present(info, [complaint])[0] if complaint else None


NODE_LOADERS: dict[str, Callable[[ContextInfo, int], Node | None]] = {"Complaint": _load_complaint}
