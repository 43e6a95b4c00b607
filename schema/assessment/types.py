"""Assessment as GraphQL types (KPI-2): spot checks, their items and findings, rectifications,
staff evaluations, and the aggregates for scorecards.

Finding notes and rectification notes are the ``spot_check_notes`` field group, an evaluation's
comment the ``evaluation_text`` group: FULL, or withheld (null + FIELD_FORBIDDEN). Findings are
null for callers without the ``spot_check:inspect`` right until the check is completed — the
branch whose work was checked sees them once final.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import strawberry
from sqlalchemy import select

from authz.fields import Effect
from core import clock
from core.errors import UserInputError
from resolvers.assessment import queries as logic
from schema.assessment.enums import (
    AssessmentErrorCode,
    EvaluationChannelEnum,
    EvaluationOccasionEnum,
    RectificationStatusEnum,
    SeverityEnum,
    SpotCheckKindEnum,
    SpotCheckStatusEnum,
)
from schema.shared.base import ContextInfo, Node, node_id, user_errors
from schema.shared.context import Context
from schema.shared.execution import context_only
from schema.staff import BranchNode, StaffNode
from store.assessment import (
    RectificationStatus,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckItem,
    SpotCheckKind,
    SpotCheckRectification,
    SpotCheckStatus,
    StaffEvaluation,
)
from store.staff import Branch, Staff

# The global ID type of what an item samples.
SUBJECT_TYPES = {
    SpotCheckKind.CUSTOMER_RECORD: "Customer",
    SpotCheckKind.CONTACT: "Contact",
    SpotCheckKind.COMPLAINT: "Complaint",
}


@strawberry.type(description="A refused assessment input. 考核输入错误。")
class AssessmentUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: AssessmentErrorCode  # type: ignore[valid-type]
    message: str


def assessment_errors(exc: UserInputError) -> list[AssessmentUserError]:
    return user_errors(exc, AssessmentUserError, lambda code: AssessmentErrorCode[code])


def sealed(
    ctx: Context, type_name: str, field: str, value: str | None, customer_id: int | None = None
) -> str | None:
    """A sealed note as the field group of ``Type.field`` allows: FULL, or withheld. A note
    served is recorded for the read audit, under ``customer_id`` (the customer it is about)."""
    if value is None:
        return None
    # Decided once per request and field, not per row (an enforce call costs ~1 ms).
    name = f"{type_name}.{field}"
    effect = ctx.memo(
        ("sealed", name), lambda: ctx.access.policy.field_decision(ctx.actor.roles, name).effect
    )
    if effect is Effect.FULL:
        # Served text about a customer: the READ entry names the customer and the field.
        ctx.note_value_shown(name, Effect.FULL)
        if customer_id is not None:
            ctx.customer_ids.append(customer_id)
        return value
    ctx.access.withhold(type_name, field)
    return None


def staff_nodes(ctx: Context, ids: set[int]) -> dict[int, StaffNode]:
    """Staff members by id, one statement."""
    if not ids:
        return {}
    return {
        s.id: StaffNode.of(s) for s in ctx.session.scalars(select(Staff).where(Staff.id.in_(ids)))
    }


def branch_nodes(ctx: Context, ids: set[int]) -> dict[int, BranchNode]:
    if not ids:
        return {}
    return {
        b.id: BranchNode.of(b)
        for b in ctx.session.scalars(select(Branch).where(Branch.id.in_(ids)))
    }


@strawberry.type(description="A criterion of a spot-check checklist. 检查项。")
class SpotCheckCriterion:
    code: str
    text: str


@strawberry.type(name="SpotCheckFinding", description="One criterion, passed or failed. 检查结果。")
class SpotCheckFindingNode:
    criterion: str
    passed: bool
    severity: SeverityEnum | None  # type: ignore[valid-type]
    note: str | None = strawberry.field(
        description="What the inspector found: the `spot_check_notes` group. 检查说明。"
    )
    rectification: SpotCheckRectificationNode | None


@strawberry.type(
    name="SpotCheckRectification",
    description="A failed finding to put right by its owner before it is due (KPI-2). 整改事项。",
)
class SpotCheckRectificationNode(Node):
    status: RectificationStatusEnum  # type: ignore[valid-type]
    owner: StaffNode
    due_at: dt.datetime = strawberry.field(
        description="00:00 Beijing after the severity's days from the check's completion."
    )
    overdue: bool = strawberry.field(description="Still OPEN at or after dueAt. 是否逾期。")
    overdue_warned_at: dt.datetime | None
    rectified_at: dt.datetime | None
    note: str | None = strawberry.field(
        description="What the owner did: the `spot_check_notes` group. 整改说明。"
    )
    verified_at: dt.datetime | None
    reopened: int
    criterion: str
    severity: SeverityEnum | None  # type: ignore[valid-type]
    spot_check_id: strawberry.ID
    subject_id: strawberry.ID = strawberry.field(
        description="The customer, contact or complaint the finding concerns."
    )


@strawberry.type(
    name="SpotCheckItem", description="A sampled record, its inspector and findings. 抽查样本。"
)
class SpotCheckItemNode(Node):
    position: int = strawberry.field(description="1 … sample size, in drawing order.")
    subject_id: strawberry.ID = strawberry.field(
        description="The global ID of the customer, contact or complaint sampled."
    )
    customer_id: strawberry.ID
    branch: BranchNode
    responsible: StaffNode | None = strawberry.field(
        description="Whose work it is (relationship manager, who made the contact, the "
        "complaint's handler)."
    )
    inspector: StaffNode
    inspected_at: dt.datetime | None
    findings: list[SpotCheckFindingNode] | None = strawberry.field(
        description="Null until the check is completed, unless you may inspect."
    )
    spot_check_id: strawberry.ID


@strawberry.type(
    name="SpotCheck",
    description="A reproducible random sample of records assigned to inspectors (KPI-2). 抽查。",
)
class SpotCheckNode(Node):
    _pk: strawberry.Private[int]
    kind: SpotCheckKindEnum  # type: ignore[valid-type]
    branch: BranchNode | None = strawberry.field(description="Null: the whole bank.")
    period_start: dt.date
    period_end: dt.date
    seed: int = strawberry.field(description="Draw again with this seed to get the same sample.")
    sample_size: int
    population_size: int
    population_digest: str = strawberry.field(
        description="sha256 of the population's ids, comma-joined in id order."
    )
    checklist_version: int
    criteria: list[SpotCheckCriterion]
    status: SpotCheckStatusEnum  # type: ignore[valid-type]
    created_by: StaffNode
    created_at: dt.datetime
    completed_at: dt.datetime | None

    @strawberry.field(description="The sample, in drawing order. 样本。")
    @context_only
    def items(self, info: ContextInfo) -> list[SpotCheckItemNode]:
        ctx = info.context
        found = ctx.batched(
            "spot_check_items",
            self._pk,
            lambda session, ids: items_of_checks(ctx, ids),
            keys=ctx.pending("spot_check_items"),
        )
        return found or []


def present_checks(ctx: Context, rows: Sequence[SpotCheck]) -> list[SpotCheckNode]:
    staff = staff_nodes(ctx, {r.created_by_id for r in rows})
    branches = branch_nodes(ctx, {r.branch_id for r in rows if r.branch_id is not None})
    ctx.pending("spot_check_items").extend(r.id for r in rows)
    return [
        SpotCheckNode(
            id=node_id("SpotCheck", r.id),
            _pk=r.id,
            kind=r.kind,
            branch=None if r.branch_id is None else branches[r.branch_id],
            period_start=r.period_start,
            period_end=r.period_end,
            seed=r.seed,
            sample_size=r.sample_size,
            population_size=r.population_size,
            population_digest=r.population_digest,
            checklist_version=int(r.checklist["version"]),
            criteria=[
                SpotCheckCriterion(code=c["code"], text=c["text"]) for c in r.checklist["criteria"]
            ],
            status=r.status,
            created_by=staff[r.created_by_id],
            created_at=r.created_at,
            completed_at=r.completed_at,
        )
        for r in rows
    ]


def items_of_checks(ctx: Context, check_ids: Sequence[int]) -> dict[int, list[SpotCheckItemNode]]:
    rows = list(
        ctx.session.scalars(
            select(SpotCheckItem)
            .where(SpotCheckItem.check_id.in_(check_ids))
            .order_by(SpotCheckItem.check_id, SpotCheckItem.position)
        )
    )
    nodes = present_items(ctx, rows)
    found: dict[int, list[SpotCheckItemNode]] = {pk: [] for pk in check_ids}
    for row, node in zip(rows, nodes, strict=True):
        found[row.check_id].append(node)
    return found


def present_items(ctx: Context, rows: Sequence[SpotCheckItem]) -> list[SpotCheckItemNode]:
    """Items with their findings and rectifications: a fixed number of statements."""
    session = ctx.session
    checks = {
        c.id: c
        for c in session.scalars(
            select(SpotCheck).where(SpotCheck.id.in_({r.check_id for r in rows}))
        )
    }
    inspects = ctx.access.has_right("spot_check:inspect")
    findings = logic.findings_of(session, [r.id for r in rows])
    all_findings = [f for fs in findings.values() for f in fs]
    rectifications = logic.rectifications_of(session, [f.id for f in all_findings])
    staff = staff_nodes(
        ctx,
        {r.inspector_id for r in rows}
        | {r.responsible_id for r in rows if r.responsible_id is not None}
        | {r.owner_id for r in rectifications.values()},
    )
    branches = branch_nodes(ctx, {r.branch_id for r in rows})
    nodes = []
    for row in rows:
        check = checks[row.check_id]
        shown = inspects or check.status is SpotCheckStatus.COMPLETED
        nodes.append(
            SpotCheckItemNode(
                id=node_id("SpotCheckItem", row.id),
                position=row.position,
                subject_id=node_id(SUBJECT_TYPES[check.kind], row.subject_id),
                customer_id=node_id("Customer", row.customer_id),
                branch=branches[row.branch_id],
                responsible=None if row.responsible_id is None else staff[row.responsible_id],
                inspector=staff[row.inspector_id],
                inspected_at=row.inspected_at,
                findings=[
                    present_finding(ctx, f, rectifications.get(f.id), check, row, staff)
                    for f in findings[row.id]
                ]
                if shown
                else None,
                spot_check_id=node_id("SpotCheck", row.check_id),
            )
        )
    return nodes


def present_finding(
    ctx: Context,
    row: SpotCheckFinding,
    rectification: SpotCheckRectification | None,
    check: SpotCheck,
    item: SpotCheckItem,
    staff: dict[int, StaffNode],
) -> SpotCheckFindingNode:
    return SpotCheckFindingNode(
        criterion=row.criterion,
        passed=row.passed,
        severity=row.severity,
        note=sealed(ctx, "SpotCheckFinding", "note", row.note, item.customer_id),
        rectification=None
        if rectification is None
        else present_rectification(
            ctx, rectification, row, check, item, staff[rectification.owner_id]
        ),
    )


def present_rectification(
    ctx: Context,
    row: SpotCheckRectification,
    finding: SpotCheckFinding,
    check: SpotCheck,
    item: SpotCheckItem,
    owner: StaffNode,
) -> SpotCheckRectificationNode:
    return SpotCheckRectificationNode(
        id=node_id("SpotCheckRectification", row.id),
        status=row.status,
        owner=owner,
        due_at=row.due_at,
        overdue=row.status is RectificationStatus.OPEN and clock.now() >= row.due_at,
        overdue_warned_at=row.overdue_warned_at,
        rectified_at=row.rectified_at,
        note=sealed(
            ctx, "SpotCheckRectification", "note", row.rectification_note, item.customer_id
        ),
        verified_at=row.verified_at,
        reopened=row.reopened,
        criterion=finding.criterion,
        severity=finding.severity,
        spot_check_id=node_id("SpotCheck", check.id),
        subject_id=node_id(SUBJECT_TYPES[check.kind], item.subject_id),
    )


def present_rectifications(
    ctx: Context, rows: Sequence[SpotCheckRectification]
) -> list[SpotCheckRectificationNode]:
    """Rectifications with their findings, items and checks: a fixed number of statements."""
    session = ctx.session
    findings = {
        f.id: f
        for f in session.scalars(
            select(SpotCheckFinding).where(SpotCheckFinding.id.in_({r.finding_id for r in rows}))
        )
    }
    items = {
        i.id: i
        for i in session.scalars(
            select(SpotCheckItem).where(
                SpotCheckItem.id.in_({f.item_id for f in findings.values()})
            )
        )
    }
    checks = {
        c.id: c
        for c in session.scalars(
            select(SpotCheck).where(SpotCheck.id.in_({r.check_id for r in rows}))
        )
    }
    staff = staff_nodes(ctx, {r.owner_id for r in rows})
    result = []
    for row in rows:
        finding = findings[row.finding_id]
        item = items[finding.item_id]
        result.append(
            present_rectification(
                ctx, row, finding, checks[row.check_id], item, staff[row.owner_id]
            )
        )
    return result


@strawberry.type(
    name="StaffEvaluation",
    description="A customer's rating of the member of staff who served them (KPI-2). 客户评价。",
)
class StaffEvaluationNode(Node):
    customer_id: strawberry.ID
    staff: StaffNode
    occasion: EvaluationOccasionEnum  # type: ignore[valid-type]
    occasion_id: strawberry.ID
    channel: EvaluationChannelEnum  # type: ignore[valid-type]
    rating: int
    comment: str | None = strawberry.field(
        description="What the customer said: the `evaluation_text` group. 评价内容。"
    )
    recorded_by: StaffNode
    recorded_at: dt.datetime


def present_evaluations(ctx: Context, rows: Sequence[StaffEvaluation]) -> list[StaffEvaluationNode]:
    staff = staff_nodes(ctx, {r.staff_id for r in rows} | {r.recorded_by_id for r in rows})
    nodes = []
    for r in rows:
        nodes.append(
            StaffEvaluationNode(
                id=node_id("StaffEvaluation", r.id),
                customer_id=node_id("Customer", r.customer_id),
                staff=staff[r.staff_id],
                occasion=r.occasion,
                occasion_id=node_id(r.occasion.value.title(), r.occasion_id),
                channel=r.channel,
                rating=r.rating,
                comment=sealed(ctx, "StaffEvaluation", "comment", r.comment, r.customer_id),
                recorded_by=staff[r.recorded_by_id],
                recorded_at=r.recorded_at,
            )
        )
    return nodes


@strawberry.type
class SpotCheckPayload:
    spot_check: SpotCheckNode | None = None
    errors: list[AssessmentUserError]


@strawberry.type
class SpotCheckItemPayload:
    item: SpotCheckItemNode | None = None
    errors: list[AssessmentUserError]


@strawberry.type
class SpotCheckRectificationPayload:
    rectification: SpotCheckRectificationNode | None = None
    errors: list[AssessmentUserError]


@strawberry.type
class StaffEvaluationPayload:
    evaluation: StaffEvaluationNode | None = None
    errors: list[AssessmentUserError]


@strawberry.type(description="Spot-check findings of one member of staff or branch. 抽查通过率。")
class SpotCheckPassRate:
    staff: StaffNode | None = strawberry.field(description="Null when grouped by branch.")
    branch: BranchNode
    numerator: int = strawberry.field(description="Criteria passed.")
    denominator: int = strawberry.field(description="Criteria answered.")
    value: float | None = strawberry.field(description="numerator / denominator.")


@strawberry.type(description="Spot-check pass rates of a period (KPI-2). 抽查通过率统计。")
class SpotCheckPassRates:
    start: dt.date
    end: dt.date
    cells: list[SpotCheckPassRate]
    definition: str


@strawberry.type(description="Customers' ratings of one member of staff or branch. 客户评价均分。")
class StaffRating:
    staff: StaffNode | None = strawberry.field(
        description="Null when grouped by branch or a total."
    )
    branch: BranchNode | None = strawberry.field(description="Null for the bank's total.")
    numerator: int | None = strawberry.field(description="Sum of ratings; null when suppressed.")
    denominator: int | None = strawberry.field(
        description="Number of ratings; null when suppressed."
    )
    customers: int | None = strawberry.field(
        description="Customers who rated; null when suppressed."
    )
    value: float | None = strawberry.field(description="Average rating (1 … 5).")


@strawberry.type(description="Customers' ratings of staff for a period (KPI-2). 客户评价统计。")
class StaffRatings:
    start: dt.date
    end: dt.date
    minimum_count: int
    cells: list[StaffRating]
    total: StaffRating
    definition: str


def ratio(numerator: int | None, denominator: int | None) -> float | None:
    return None if numerator is None or not denominator else round(numerator / denominator, 4)


def present_rating(
    cell: logic.Rating, staff: dict[int, StaffNode], branches: dict[int, BranchNode]
) -> StaffRating:
    return StaffRating(
        staff=None if cell.staff_id is None else staff[cell.staff_id],
        branch=branches.get(cell.branch_id),
        numerator=cell.numerator,
        denominator=cell.denominator,
        customers=cell.customers,
        value=ratio(cell.numerator, cell.denominator),
    )
