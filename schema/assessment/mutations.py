"""Assessment mutations (KPI-2): draw a spot check, record findings, complete it, rectify and
verify; record a customer's evaluation of staff."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from authz import rights as authz_rights
from authz import rows as row_scopes
from core.errors import UserInputError
from core.ids import pk_of
from resolvers.assessment import evaluations, spot_checks
from schema.assessment.enums import (
    EvaluationChannelEnum,
    EvaluationOccasionEnum,
    SeverityEnum,
    SpotCheckKindEnum,
)
from schema.assessment.queries import checks_visible, own_branch_only
from schema.assessment.types import (
    SpotCheckItemPayload,
    SpotCheckPayload,
    SpotCheckRectificationPayload,
    StaffEvaluationPayload,
    assessment_errors,
    present_checks,
    present_evaluations,
    present_items,
    present_rectifications,
)
from schema.shared.base import ContextInfo
from schema.shared.context import Context
from schema.shared.mutations import run_command
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from store.assessment import (
    EvaluationChannel,
    EvaluationOccasion,
    Severity,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckItem,
    SpotCheckKind,
    SpotCheckRectification,
    StaffEvaluation,
)
from store.staff import Staff


@strawberry.input(description="Draw a spot check's sample. 抽取抽查样本。")
class DrawSpotCheckInput:
    kind: SpotCheckKindEnum  # type: ignore[valid-type]
    start: dt.date = strawberry.field(description="First Beijing date of the period.")
    end: dt.date = strawberry.field(
        description="Last Beijing date of the period (not after today)."
    )
    inspector_ids: list[strawberry.ID] = strawberry.field(
        description="Staff holding `spot_check:inspect`; items go round them in drawing order, "
        "never to the record's responsible member of staff nor to its branch's staff."
    )
    branch_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The records of one branch (a supervisor: their own, the "
        "default); none: the whole bank (head office).",
    )
    size: int | None = strawberry.field(default=None, description="1 … 1,000; or give rate.")
    rate: Decimal | None = strawberry.field(
        default=None, description="A share of the population (0 < rate ≤ 1), rounded up."
    )
    seed: int | None = strawberry.field(
        default=None, description="0 … 2147483647; none: drawn at random and recorded."
    )


@strawberry.input(description="One criterion's finding. 检查项结果。")
class SpotCheckFindingInput:
    criterion: str
    passed: bool
    severity: SeverityEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Required when failed."
    )
    note: str | None = strawberry.field(
        default=None, description="Required when failed; at most 2,000 characters."
    )


@strawberry.input(description="The findings of one sampled item. 录入抽查结果。")
class RecordSpotCheckFindingsInput:
    item_id: strawberry.ID
    findings: list[SpotCheckFindingInput]


@strawberry.input(description="Complete a spot check. 完成抽查。")
class CompleteSpotCheckInput:
    id: strawberry.ID


@strawberry.input(description="Say a rectification is done. 提交整改。")
class RectifySpotCheckFindingInput:
    id: strawberry.ID = strawberry.field(description="The rectification.")
    note: str = strawberry.field(description="What was done; at most 2,000 characters.")


@strawberry.input(description="Verify a rectification, or reopen it. 验证整改。")
class VerifySpotCheckRectificationInput:
    id: strawberry.ID
    accepted: bool


@strawberry.input(description="A customer's rating of the staff who served them. 录入客户评价。")
class RecordStaffEvaluationInput:
    customer_id: strawberry.ID
    occasion: EvaluationOccasionEnum  # type: ignore[valid-type]
    occasion_id: strawberry.ID = strawberry.field(description="The contact or closed complaint.")
    channel: EvaluationChannelEnum  # type: ignore[valid-type]
    rating: int = strawberry.field(description="1 … 5.")
    comment: str | None = strawberry.field(default=None, description="At most 2,000 characters.")


def _may_inspect(ctx: Context):  # type: ignore[no-untyped-def]
    policy = ctx.access.policy

    def check(staff: Staff) -> bool:
        return authz_rights.holds_right(policy.decisions(staff.roles), "spot_check:inspect")

    return check


def _check_branch(ctx: Context, given: strawberry.ID | None) -> int | None:
    asked = None if given is None else pk_of(given, "Branch", "branchId")
    own = own_branch_only(ctx)
    if own is not None and asked not in (None, own):
        raise UserInputError.one(("branchId",), "OUT_OF_SCOPE", "your own branch only")
    return own if own is not None else asked


def _rectification(session: Session, pk: int, condition: object) -> SpotCheckRectification:
    row = session.scalar(
        select(SpotCheckRectification)
        .join(SpotCheckFinding, SpotCheckFinding.id == SpotCheckRectification.finding_id)
        .join(SpotCheckItem, SpotCheckItem.id == SpotCheckFinding.item_id)
        .where(SpotCheckRectification.id == pk, condition)  # type: ignore[arg-type]
        .with_for_update(of=SpotCheckRectification)
    )
    if row is None:
        raise UserInputError.one(("id",), "NOT_FOUND", "no rectification of yours with this ID")
    return row


def _check_answer(info: ContextInfo, row: SpotCheck) -> SpotCheckPayload:
    return SpotCheckPayload(errors=[], spot_check=present_checks(info.context, [row])[0])


def _rectification_answer(
    info: ContextInfo, row: SpotCheckRectification
) -> SpotCheckRectificationPayload:
    node = present_rectifications(info.context, [row])[0]
    return SpotCheckRectificationPayload(errors=[], rectification=node)


@strawberry.type
class AssessmentMutation:
    @guarded_mutation(
        "Draw a reproducible random sample of customer records, contacts or closed complaints "
        "of a Beijing period and assign it to inspectors (KPI-2): the same seed over the same "
        "population draws the same records. Head office for any branch or the bank, a "
        "supervisor for their branch. 抽取抽查样本。",
        HasRight("spot_check:draw"),
    )
    def draw_spot_check(self, info: ContextInfo, input: DrawSpotCheckInput) -> SpotCheckPayload:
        ctx = info.context

        def command(session: Session, actor: Staff) -> SpotCheck:
            given = spot_checks.NewSpotCheck(
                kind=SpotCheckKind(input.kind),
                branch_id=_check_branch(ctx, input.branch_id),
                start=input.start,
                end=input.end,
                size=input.size,
                rate=input.rate,
                seed=input.seed,
                inspector_ids=[
                    pk_of(i, "Staff", f"inspectorIds.{n}")
                    for n, i in enumerate(input.inspector_ids)
                ],
            )
            return spot_checks.create(session, actor, given, _may_inspect(ctx))

        return run_command(
            info,
            SpotCheckPayload,
            command,
            lambda row: _check_answer(info, row),
            errors=assessment_errors,
        )

    @guarded_mutation(
        "Record the findings of a sampled item assigned to you: every criterion of the check's "
        "checklist once, passed or failed (a failure with its severity and a note). 录入抽查结果。",
        HasRight("spot_check:inspect"),
    )
    def record_spot_check_findings(
        self, info: ContextInfo, input: RecordSpotCheckFindingsInput
    ) -> SpotCheckItemPayload:
        given = [
            spot_checks.GivenFinding(
                criterion=f.criterion,
                passed=f.passed,
                severity=None if f.severity is None else Severity(f.severity),
                note=f.note,
            )
            for f in input.findings
        ]

        def command(session: Session, actor: Staff) -> SpotCheckItem:
            pk = pk_of(input.item_id, "SpotCheckItem", "itemId")
            item = session.scalar(
                select(SpotCheckItem)
                .where(SpotCheckItem.id == pk, SpotCheckItem.inspector_id == actor.id)
                .with_for_update()
            )
            if item is None:
                raise UserInputError.one(("itemId",), "NOT_FOUND", "no item of yours with this ID")
            spot_checks.record_findings(session, actor, item, given)
            return item

        return run_command(
            info,
            SpotCheckItemPayload,
            command,
            lambda row: SpotCheckItemPayload(errors=[], item=present_items(info.context, [row])[0]),
            errors=assessment_errors,
        )

    @guarded_mutation(
        "Complete a spot check once every item has its findings: they become final (the "
        "branch checked sees them) and each failure opens a rectification for the record's "
        "responsible member of staff, due by its severity. Who drew the check, or head "
        "office. 完成抽查。",
        HasRight("spot_check:draw"),
    )
    def complete_spot_check(
        self, info: ContextInfo, input: CompleteSpotCheckInput
    ) -> SpotCheckPayload:
        ctx = info.context

        def command(session: Session, actor: Staff) -> SpotCheck:
            pk = pk_of(input.id, "SpotCheck", "id")
            # Who drew the check completes it, or head office; a supervisor never completes
            # a check of their branch that head office drew.
            mine = SpotCheck.created_by_id == actor.id
            allowed = mine if own_branch_only(ctx) is not None else true()
            check = session.scalar(
                select(SpotCheck)
                .where(SpotCheck.id == pk, checks_visible(ctx), allowed)
                .with_for_update()
            )
            if check is None:
                raise UserInputError.one(("id",), "NOT_FOUND", "no spot check with this ID")
            spot_checks.complete(session, check)
            return check

        return run_command(
            info,
            SpotCheckPayload,
            command,
            lambda row: _check_answer(info, row),
            errors=assessment_errors,
        )

    @guarded_mutation(
        "Say a rectification you own is done, with what was done; the inspector verifies it. "
        "提交整改。",
        HasRight("spot_check:rectify"),
    )
    def rectify_spot_check_finding(
        self, info: ContextInfo, input: RectifySpotCheckFindingInput
    ) -> SpotCheckRectificationPayload:
        def command(session: Session, actor: Staff) -> SpotCheckRectification:
            pk = pk_of(input.id, "SpotCheckRectification", "id")
            row = _rectification(session, pk, SpotCheckRectification.owner_id == actor.id)
            spot_checks.rectify(session, row, input.note)
            return row

        return run_command(
            info,
            SpotCheckRectificationPayload,
            command,
            lambda row: _rectification_answer(info, row),
            errors=assessment_errors,
        )

    @guarded_mutation(
        "Close a rectified finding of an item you inspected (accepted), or reopen it (still "
        "due as before). 验证整改。",
        HasRight("spot_check:inspect"),
    )
    def verify_spot_check_rectification(
        self, info: ContextInfo, input: VerifySpotCheckRectificationInput
    ) -> SpotCheckRectificationPayload:
        def command(session: Session, actor: Staff) -> SpotCheckRectification:
            pk = pk_of(input.id, "SpotCheckRectification", "id")
            row = _rectification(session, pk, SpotCheckItem.inspector_id == actor.id)
            spot_checks.verify(session, actor, row, input.accepted)
            return row

        return run_command(
            info,
            SpotCheckRectificationPayload,
            command,
            lambda row: _rectification_answer(info, row),
            errors=assessment_errors,
        )

    @guarded_mutation(
        "Record a customer's 1 … 5 rating of the member of staff who served them on a contact "
        "or a closed complaint, once per occasion, never by the member of staff rated. "
        "录入客户对员工的评价。",
        HasRight("evaluation:record", purpose=True),
    )
    def record_staff_evaluation(
        self, info: ContextInfo, input: RecordStaffEvaluationInput
    ) -> StaffEvaluationPayload:
        ctx = info.context
        occasion = EvaluationOccasion(input.occasion)

        def command(session: Session, actor: Staff) -> StaffEvaluation:
            customer_id = row_scopes.require_writable(
                session,
                pk_of(input.customer_id, "Customer", "customerId"),
                ctx.access.visible,
                ctx.access.writable,
            )
            occasion_id = pk_of(input.occasion_id, occasion.value.title(), "occasionId")
            return evaluations.record(
                session,
                actor,
                customer_id,
                occasion,
                occasion_id,
                EvaluationChannel(input.channel),
                input.rating,
                input.comment,
            )

        return run_command(
            info,
            StaffEvaluationPayload,
            command,
            lambda row: StaffEvaluationPayload(
                errors=[], evaluation=present_evaluations(ctx, [row])[0]
            ),
            errors=assessment_errors,
        )
