"""Complaints as GraphQL types (CMP-1 … CMP-6): the complaint, its timeline and messages.

A complaint is visible to whoever may see its customer (row scope, grant) and to its handler.
Its process is exposed too — the diagram's XML and the active/completed element ids — so a
frontend can draw where the complaint stands.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TypeVar

import strawberry
from sqlalchemy.orm import Session
from strawberry.scalars import JSON

from authz.fields import present as present_fields
from core import clock
from resolvers import workflows as workflow_logic
from resolvers.complaints import deadlines, loaders
from resolvers.complaints import queries as complaint_queries
from schema.complaints.enums import (
    CategoryEnum,
    ChannelEnum,
    ComplaintAlertKind,
    ComplaintErrorCode,
    ComplaintEventKind,
    ComplaintStatusEnum,
    ComplexityEnum,
    CustomerMessageChannel,
    CustomerMessageKind,
    DeadlineEndEnum,
    DeadlineStageEnum,
    OutboxStatusEnum,
    PauseReasonEnum,
    SlaStateEnum,
)
from schema.customers import CustomerNode
from schema.shared.base import ContextInfo, Node, node_id
from schema.shared.context import Context
from schema.shared.customers import nested_customer, nested_customer_row
from schema.staff import StaffNode, staff_number_field
from schema.workflows import (
    ProcessInstanceNode,
    ProcessVersionNode,
    TaskNode,
    batched_instance,
    batched_staff,
    present_tasks,
)
from store.complaints import Complaint, ComplaintAlert

V = TypeVar("V")


@strawberry.type(description="A refused complaint submission: the field and why.")
class ComplaintUserError:
    field: list[str] | None
    code: ComplaintErrorCode  # type: ignore[valid-type]
    message: str


@strawberry.type(description="One step of a complaint: what, who, when, notes. 处理记录。")
class ComplaintEventNode:
    kind: ComplaintEventKind  # type: ignore[valid-type]
    actor: str | None = strawberry.field(description="Employee number; null: the system.")
    at: dt.datetime
    details: JSON | None = strawberry.field(description="Notes and form answers of the step.")


@strawberry.type(description="Something the bank told the customer, with proof. 告知记录。")
class CustomerMessageNode:
    kind: CustomerMessageKind  # type: ignore[valid-type]
    channel: CustomerMessageChannel  # type: ignore[valid-type]
    content: str
    proof_of_delivery: str | None = strawberry.field(
        description="What the channel answered (SMTP reply, gateway receipt) or what staff "
        "recorded; null until then."
    )
    sent_at: dt.datetime = strawberry.field(description="When the bank decided to send it.")
    delivery_status: OutboxStatusEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="Where it is on its way (null: told before the outbox existed).",
    )
    delivered_at: dt.datetime | None = strawberry.field(
        default=None, description="When the channel (or staff) reported it delivered."
    )
    attempts: int = strawberry.field(default=0, description="Sending attempts so far.")
    next_attempt_at: dt.datetime | None = strawberry.field(
        default=None, description="When the next attempt is due (QUEUED)."
    )
    last_error: str | None = strawberry.field(
        default=None, description="Why the last attempt failed."
    )


@strawberry.type(
    description="One clock of a complaint: warned once before, escalated once at its due "
    "instant (CMP-6). 办理时限。"
)
class ComplaintDeadlineNode:
    stage: DeadlineStageEnum  # type: ignore[valid-type]
    due_at: dt.datetime = strawberry.field(description="Overdue from this instant on.")
    warn_at: dt.datetime
    warned_at: dt.datetime | None
    escalated_at: dt.datetime | None = strawberry.field(
        description="When the breach was escalated (a supervise task, DEADLINE_MISSED)."
    )
    ended_at: dt.datetime | None = strawberry.field(description="Null while it runs.")
    end: DeadlineEndEnum | None  # type: ignore[valid-type]


@strawberry.type(description="A systemic issue escalated to head office (CMP-5). 整改事项。")
class RectificationNode:
    _owner_id: strawberry.Private[int | None]
    _customer_id: strawberry.Private[int]
    _recurrence_check: strawberry.Private[str | None]
    issue: str
    actions: list[str] | None
    raised_at: dt.datetime
    closed_at: dt.datetime | None
    due_at: dt.datetime | None = strawberry.field(
        description="End of the last day the owner has for it (Beijing midnight)."
    )

    @strawberry.field(description="Who answers for the rectification.")
    def owner(self, info: ContextInfo) -> StaffNode | None:
        if self._owner_id is None:
            return None
        return batched_staff(info, self._owner_id, "RectificationNode", "owner")

    @strawberry.field(
        description="How it was checked, before closing, that the issue did not recur (null "
        "when withheld, like the timeline)."
    )
    def recurrence_check(self, info: ContextInfo) -> str | None:
        if not info.context.may_read_complaint_text(
            self._customer_id, "RectificationNode", "recurrenceCheck"
        ):
            return None
        return self._recurrence_check


@strawberry.type(
    description="A stretch of time the decision clock stood still: external appraisal, testing "
    "or mediation (CMP-7). 中止计时。"
)
class ComplaintPauseNode:
    reason: PauseReasonEnum  # type: ignore[valid-type]
    note: str | None = strawberry.field(description="Null when withheld, like the timeline.")
    started_at: dt.datetime
    latest_end_at: dt.datetime = strawberry.field(
        description="When it stops counting by itself: the paused days left (at most "
        "60 natural days in all per complaint) are used up."
    )
    ended_at: dt.datetime | None
    paused_days: int | None = strawberry.field(
        description="Natural days it moved the decision deadline (once ended)."
    )


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
    _withdrawal_reason: strawberry.Private[str | None]
    # The caller is the person complained about: the handling record is withheld (recusal).
    _recused: strawberry.Private[bool]
    # The earliest running stage deadline: part of the overdue rule (deadlines.is_overdue).
    stage_due_at: strawberry.Private[dt.datetime | None]
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
        description="End of the last natural day for the decision (15/30/60 days, plus the "
        "natural days its clock was paused): the deadline in force, moved only by an extension "
        "granted before it passed or by a pause."
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
    persons_involved: int = strawberry.field(
        description="How many people the complaint speaks for (1 unless collective)."
    )
    major: bool = strawberry.field(
        description="A major complaint (重大投诉): that many people or that large an amount "
        "(settings); escalated to head office at intake (CMP-7)."
    )
    regulator_referred: bool = strawberry.field(
        description="Referred by a regulator (监管转办), with its transfer number (CMP-7)."
    )
    regulator_reference: str | None = strawberry.field(
        description="The regulator's transfer number of a referred complaint."
    )
    merged_into: strawberry.ID | None = strawberry.field(
        description="The earlier complaint this repeated one was merged into (CMP-7)."
    )
    withdrawn_at: dt.datetime | None
    paused_days: int = strawberry.field(
        description="Natural days the decision clock stood still in ended pauses; the "
        "decision deadline is later by as many days."
    )
    clock_paused: bool = strawberry.field(
        description="The decision clock stands still now (an open pause); meanwhile "
        "`decisionDueAt` is the deadline if the pause lasts as long as allowed."
    )

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
            ctx.access.access_for(row.customer_id),
        )
        # The person complained about sees that the complaint exists and where it stands, not
        # how it is handled (findings, evidence, plan, decision drafts: 办法第十七条 recusal).
        recused = row.complained_staff_id is not None and (
            ctx.access.staff is not None and ctx.access.staff.id == row.complained_staff_id
        )
        return cls(
            id=node_id("Complaint", row.id),
            _pk=row.id,
            _customer_id=row.customer_id,
            _handler_id=row.handler_id,
            _instance_id=row.instance_id,
            _complained_staff_id=row.complained_staff_id,
            stage_due_at=row.stage_due_at,
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
            sla_state=deadlines.sla_state(row, row.sla_state, clock.now()),
            accepted_at=row.accepted_at,
            decision_due_at=row.decision_due_at,
            cause=None if recused else row.cause,
            systemic=row.systemic,
            resolved_on_the_spot=row.resolved_on_the_spot,
            plan_deadline=None if recused else row.plan_deadline,
            decided_at=row.decided_at,
            outcome=row.outcome,
            satisfaction_score=row.satisfaction_score,
            review_requested_at=row.review_requested_at,
            review_due_at=row.review_due_at,
            review_outcome=row.review_outcome,
            closed_at=row.closed_at,
            persons_involved=row.persons_involved,
            major=row.major,
            regulator_referred=row.regulator_reference is not None,
            regulator_reference=row.regulator_reference,
            merged_into=node_id("Complaint", row.merged_into_id) if row.merged_into_id else None,
            withdrawn_at=row.withdrawn_at,
            paused_days=row.paused_days,
            clock_paused=row.paused_until is not None and clock.now() < row.paused_until,
            _withdrawal_reason=row.withdrawal_reason,
            _recused=recused,
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
        if not self._may_read_handling(info, field):
            return None
        return self._with_the_others(info, batch, load) or []

    def _may_read_handling(self, info: ContextInfo, field: str) -> bool:
        """The handling record's ``field``: withheld from the person complained about, and as
        the policy withholds complaint text."""
        return not self._recused and info.context.may_read_complaint_text(
            self._customer_id, "Complaint", field
        )

    @strawberry.field(
        description="Undecided at or past its decision deadline, a review at or past its "
        "deadline, or a step (assignment, call-back, review, rectification) at or past its due "
        "time: the deadline instant itself is overdue. slaState is BREACHED whenever this is true."
    )
    def overdue(self) -> bool:
        return deadlines.is_overdue(self, clock.now())

    @strawberry.field(description="The customer (null when you may not see them).")
    def customer(self, info: ContextInfo) -> CustomerNode | None:
        return nested_customer(info, self._customer_id, "complaint_customers")

    @strawberry.field(description="The assigned handler.")
    def handler(self, info: ContextInfo) -> StaffNode | None:
        return batched_staff(info, self._handler_id, "Complaint", "handler")

    @strawberry.field(description="The staff member complained about.")
    def complained_staff(self, info: ContextInfo) -> StaffNode | None:
        return batched_staff(info, self._complained_staff_id, "Complaint", "complainedStaff")

    @strawberry.field(
        description="Every step, oldest first: who, when, notes (null when withheld: a third "
        "party needs a consent naming the complaints group; the person complained about reads "
        "no handling record — timeline, messages, pause notes, cause, plan deadline, "
        "rectification). 处理时间线。"
    )
    def timeline(self, info: ContextInfo) -> list[ComplaintEventNode] | None:
        events = self._text(info, "timeline", "complaint_events", loaders.events)
        if events is None:
            return None
        return [
            ComplaintEventNode(
                kind=ComplaintEventKind(event.kind),
                actor=staff_number_field(info.context, "ComplaintEventNode", "actor", employee_no),
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
        found = self._text(info, "messages", "complaint_messages", loaders.messages)
        if found is None:
            return None
        return [
            CustomerMessageNode(
                kind=CustomerMessageKind(m.kind),
                channel=CustomerMessageChannel(m.channel),
                content=m.content,
                proof_of_delivery=m.proof_of_delivery if sent is None else sent.proof,
                sent_at=m.sent_at,
                delivery_status=None if sent is None else sent.status,
                delivered_at=None if sent is None else sent.delivered_at,
                attempts=0 if sent is None else sent.attempts,
                next_attempt_at=None if sent is None else sent.next_attempt_at,
                last_error=None if sent is None else sent.last_error,
            )
            for m, sent in found
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

    @strawberry.field(
        description="Every clock, oldest first: each decision deadline in force (an extension "
        "ends the old one as EXTENDED) and each step's due time. 办理时限。"
    )
    def deadlines(self, info: ContextInfo) -> list[ComplaintDeadlineNode]:
        rows = self._with_the_others(info, "complaint_deadlines", loaders.deadlines) or []
        return [
            ComplaintDeadlineNode(
                stage=row.stage,
                due_at=row.due_at,
                warn_at=row.warn_at,
                warned_at=row.warned_at,
                escalated_at=row.escalated_at,
                ended_at=row.ended_at,
                end=row.end,
            )
            for row in rows
        ]

    @strawberry.field(
        description="The earliest due instant of a clock still running and not yet escalated "
        "(null: none). 最近到期时间。"
    )
    def next_due_at(self, info: ContextInfo) -> dt.datetime | None:
        rows = self._with_the_others(info, "complaint_deadlines", loaders.deadlines) or []
        due = [r.due_at for r in rows if r.ended_at is None and r.escalated_at is None]
        return min(due) if due else None

    @strawberry.field(description="The rectification item, when the issue was systemic.")
    def rectification(self, info: ContextInfo) -> RectificationNode | None:
        if self._recused:  # the issue and the actions are the handling record
            return None
        item = self._with_the_others(info, "complaint_rectifications", loaders.rectifications)
        if item is None:
            return None
        return RectificationNode(
            _owner_id=item.owner_id,
            _customer_id=self._customer_id,
            _recurrence_check=item.recurrence_check,
            issue=item.issue,
            actions=json.loads(item.actions) if item.actions is not None else None,
            raised_at=item.raised_at,
            closed_at=item.closed_at,
            due_at=item.due_at,
        )

    @strawberry.field(
        description="The repeated complaints merged into this one, oldest first (CMP-7)."
    )
    def merged_complaints(self, info: ContextInfo) -> list[strawberry.ID]:
        found = self._with_the_others(info, "complaints_merged_from", loaders.merged_from) or []
        return [node_id("Complaint", pk) for pk in found]

    @strawberry.field(
        description="Why the customer withdrew it (null when withheld, like the timeline)."
    )
    def withdrawal_reason(self, info: ContextInfo) -> str | None:
        if self._withdrawal_reason is None or not self._may_read_handling(info, "withdrawalReason"):
            return None
        return self._withdrawal_reason

    @strawberry.field(
        description="Every pause of the decision clock, oldest first; the note is withheld "
        "like the timeline (CMP-7)."
    )
    def pauses(self, info: ContextInfo) -> list[ComplaintPauseNode]:
        found = self._with_the_others(info, "complaint_pauses", loaders.pauses) or []
        shown = self._may_read_handling(info, "pauses")
        return [
            ComplaintPauseNode(
                reason=p.reason,
                note=p.note if shown else None,
                started_at=p.started_at,
                latest_end_at=p.latest_end_at,
                ended_at=p.ended_at,
                paused_days=p.paused_days,
            )
            for p in found
        ]

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
            ctx.access.note_customer(customer)
    return [ComplaintNode.of(r, ctx) for r in rows]


@strawberry.type(
    name="ComplaintAlert",
    description="Work head office is given at once by the rules: a major complaint (CMP-7). "
    "总行提示。",
)
class ComplaintAlertNode(Node):
    _pk: strawberry.Private[int]
    _complaint_id: strawberry.Private[int]
    _acknowledged_by_id: strawberry.Private[int | None]
    kind: ComplaintAlertKind  # type: ignore[valid-type]
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None

    @classmethod
    def of(cls, row: ComplaintAlert) -> ComplaintAlertNode:
        return cls(
            id=node_id("ComplaintAlert", row.id),
            _pk=row.id,
            _complaint_id=row.complaint_id,
            _acknowledged_by_id=row.acknowledged_by_id,
            kind=ComplaintAlertKind(row.kind),
            raised_at=row.raised_at,
            acknowledged_at=row.acknowledged_at,
        )

    @strawberry.field(description="Who took it up.")
    def acknowledged_by(self, info: ContextInfo) -> StaffNode | None:
        if self._acknowledged_by_id is None:
            return None
        return batched_staff(info, self._acknowledged_by_id, "ComplaintAlert", "acknowledgedBy")

    @strawberry.field(description="The complaint (null when you may not see it).")
    def complaint(self, info: ContextInfo) -> ComplaintNode | None:
        ctx = info.context

        def present_all() -> dict[int, ComplaintNode]:
            # Every alert's complaint of the response at once: loaded and presented together,
            # so the statements do not grow with the page.
            ids = list(dict.fromkeys(ctx.pending("alert_complaints")))
            visible = ctx.access.complaints_visible
            rows = complaint_queries.complaints_by_id(ctx.session, ids, visible)
            found = [rows[pk] for pk in ids if pk in rows]
            return {row.id: node for row, node in zip(found, present(info, found), strict=True)}

        return ctx.memo(("alert_complaints",), present_all).get(self._complaint_id)


def present_alerts(info: ContextInfo, rows: list[ComplaintAlert]) -> list[ComplaintAlertNode]:
    ctx = info.context
    ctx.pending("alert_complaints").extend(r.complaint_id for r in rows)
    ctx.pending("staff").extend(r.acknowledged_by_id for r in rows if r.acknowledged_by_id)
    return [ComplaintAlertNode.of(r) for r in rows]


@strawberry.type(description="Complaint figures for one group. 投诉统计。")
class ComplaintStatistic:
    key: str = strawberry.field(
        description="Category, channel, branch code, cause or month (YYYY-MM, Beijing time); "
        "`SUPPRESSED`: small rows merged for callers who see aggregates only."
    )
    count: int
    closed: int
    decided: int
    decided_on_time: int
    on_time_rate: Decimal | None = strawberry.field(description="decidedOnTime / decided.")
    average_satisfaction: Decimal | None = strawberry.field(description="Call-back score 1–5.")
    overdue_open: int = strawberry.field(description="Open and past a deadline now.")
    major: int = strawberry.field(default=0, description="Major complaints (重大投诉).")
    regulator_referred: int = strawberry.field(
        default=0, description="Complaints referred by a regulator (监管转办)."
    )
    withdrawn: int = strawberry.field(default=0, description="Withdrawn by the customer.")
    merged: int = strawberry.field(
        default=0, description="Repeated complaints merged into an earlier one."
    )
