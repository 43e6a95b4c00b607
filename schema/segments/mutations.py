"""Segment mutations: change the value model, classify, override a customer's segment."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import strawberry
from sqlalchemy.orm import Session

from authz import rows as row_scopes
from core import clock
from core.errors import ForbiddenError
from core.ids import pk_of
from resolvers.segments import applied, commands, jobs
from schema.segments.enums import (
    MeasureActionEnum,
    NeedEnum,
    RiskGradeEnum,
    RiskSignalEnum,
    SegmentDimensionEnum,
    ValueInputEnum,
    ValueTierEnum,
)
from schema.segments.types import (
    CustomerSegmentPayload,
    RiskRuleSet,
    RiskRuleSetPayload,
    SegmentRunNode,
    SegmentRunPayload,
    ServiceMeasureSet,
    ServiceMeasureSetPayload,
    ValueRuleSet,
    ValueRuleSetPayload,
    customer_segment,
    segment_errors,
)
from schema.shared.base import ContextInfo, node_id
from schema.shared.mutations import run_command
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from store.segments import Need, RunScope, SegmentRuleSet, SegmentRun, ValueTier
from store.staff import Staff

P = TypeVar("P")


@strawberry.input(description="One input of the value model: its weight and full-score value.")
class ValueFactorInput:
    input: ValueInputEnum  # type: ignore[valid-type]
    weight: Decimal = strawberry.field(description="0 … 1, at most 4 decimals; all add up to 1.")
    full_score_at: Decimal = strawberry.field(
        description="The value that earns the input's full 100 points (CNY, or a count)."
    )


@strawberry.input(description="The AUM range of a tier: [fromAum, belowAum).")
class TierCutOffInput:
    tier: ValueTierEnum  # type: ignore[valid-type]
    from_aum: Decimal
    below_aum: Decimal | None = strawberry.field(
        default=None, description="Null: no upper bound (the top tier only)."
    )


@strawberry.input(description="A new version of the value model (SEG-1).")
class ChangeValueRuleSetInput:
    expected_version: int = strawberry.field(
        description="The version you edited (`valueRuleSet { version }`); a newer one is CONFLICT."
    )
    factors: list[ValueFactorInput] = strawberry.field(
        description="Every input once; the weights add up to exactly 1."
    )
    cut_offs: list[TierCutOffInput] = strawberry.field(
        description="One range per tier from 0 upwards, without gap or overlap."
    )
    lift_score: Decimal | None = strawberry.field(
        default=None, description="A score of at least this lifts one tier; null: never."
    )
    private_banking_aum: Decimal
    summary: str = strawberry.field(description="What changed and why (at most 500 characters).")


@strawberry.input(description="The credit-score band of a risk grade: [fromScore, belowScore).")
class RiskBandInput:
    grade: RiskGradeEnum  # type: ignore[valid-type]
    from_score: int
    below_score: int | None = strawberry.field(
        default=None, description="Null: no upper bound (the LOW band, highest scores, only)."
    )


@strawberry.input(description="An early-warning signal's thresholds (SEG-3).")
class RiskSignalInput:
    signal: RiskSignalEnum  # type: ignore[valid-type]
    medium_at: Decimal | None = strawberry.field(
        default=None, description="From this value on at least MEDIUM; null: never."
    )
    high_at: Decimal | None = strawberry.field(
        default=None, description="From this value on HIGH; null: never. Not below mediumAt."
    )
    window_days: int | None = strawberry.field(
        default=None,
        description="1 … 365 days, for LARGE_OUTFLOW and AUM_DROP only (they read a window).",
    )


@strawberry.input(description="A new version of the risk model (SEG-3).")
class ChangeRiskRuleSetInput:
    expected_version: int = strawberry.field(
        description="The version you edited (`riskRuleSet { version }`); a newer one is CONFLICT."
    )
    bands: list[RiskBandInput] = strawberry.field(
        description="One credit-score band per grade from 0 upwards, without gap or overlap: "
        "HIGH for the lowest scores, LOW for the highest."
    )
    signals: list[RiskSignalInput] = strawberry.field(
        description="Every early-warning signal once."
    )
    unscored_grade: RiskGradeEnum = strawberry.field(  # type: ignore[valid-type]
        description="The band grade of a customer without a credit score."
    )
    review_period_days: int = strawberry.field(
        description="How often a HIGH-risk customer is re-assessed (1 … 3650 days)."
    )
    summary: str = strawberry.field(description="What changed and why (at most 500 characters).")


@strawberry.input(description="One service measure of a segment (SEG-5). 分类管理措施。")
class ServiceMeasureInput:
    dimension: SegmentDimensionEnum  # type: ignore[valid-type]
    segment: str = strawberry.field(
        description="A segment of the dimension: a value tier (`HIGH` …), need (`INVESTMENT` …) "
        "or risk grade; another is INVALID."
    )
    code: str = strawberry.field(description="UPPER_SNAKE_CASE, 2 … 40 characters, unique.")
    name: str = strawberry.field(description="Chinese name, at most 50 characters.")
    description: str = strawberry.field(description="What the bank does, at most 300.")
    applied: MeasureActionEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="What the system does by itself: MANAGER_WORKLIST on value HIGH, "
        "REASSESSMENT_TASK on risk HIGH only; null: staff apply it.",
    )


@strawberry.input(description="A new version of the service measures (SEG-5).")
class ChangeServiceMeasuresInput:
    expected_version: int = strawberry.field(
        description="The version you edited (`serviceMeasureSet { version }`); a newer one is "
        "CONFLICT."
    )
    measures: list[ServiceMeasureInput] = strawberry.field(
        description="The whole set, in the order customers see them (at least one)."
    )
    summary: str = strawberry.field(description="What changed and why (at most 500 characters).")


@strawberry.input(description="Classify customers now under the value model in force.")
class ClassifyCustomersInput:
    branch: strawberry.ID | None = strawberry.field(
        default=None,
        description="One branch. Null: your branch (supervisors), or the whole bank (head office).",
    )


@strawberry.input(description="Override a customer's value tier until a time (SEG-4).")
class OverrideSegmentInput:
    customer_id: strawberry.ID
    tier: ValueTierEnum  # type: ignore[valid-type]
    reason: str | None = strawberry.field(
        default=None, description="Why (required; at most 300 characters)."
    )
    expires_at: dt.datetime | None = strawberry.field(
        default=None, description="Required: in the future, at most a year ahead."
    )


@strawberry.input(description="Whether a customer has a need (SEG-2), and why.")
class SetCustomerNeedInput:
    customer_id: strawberry.ID
    need: NeedEnum  # type: ignore[valid-type]
    present: bool = strawberry.field(description="False: the customer does not have it.")
    reason: str = strawberry.field(description="Why (at most 300 characters).")


@strawberry.input(description="Put a need staff set back to the derived value (SEG-2), and why.")
class ClearCustomerNeedInput:
    customer_id: strawberry.ID
    need: NeedEnum  # type: ignore[valid-type]
    reason: str = strawberry.field(description="Why (at most 300 characters).")


@strawberry.input(description="End a customer's override now.")
class WithdrawSegmentOverrideInput:
    customer_id: strawberry.ID


def _plain(value: Any) -> Any:
    """An input as the plain values the model checks (snake_case keys, enums as names)."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)


def _run(info: ContextInfo, payload: type[P], command: Any, answer: Any) -> P:
    """A segment mutation through the unit of work; refusals as ``SegmentUserError``."""
    return run_command(info, payload, command, answer, errors=segment_errors)


def _segment_answer(info: ContextInfo, customer_id: int) -> CustomerSegmentPayload:
    return CustomerSegmentPayload(
        errors=[],
        customer_id=node_id("Customer", customer_id),
        segment=customer_segment(info.context, customer_id),
    )


def _changed_customer(info: ContextInfo, session: Session, value: str) -> int:
    """The customer a segment mutation changes: in the caller's write rows (NOT_FOUND unseen)."""
    ctx = info.context
    return row_scopes.require_writable(
        session, pk_of(value, "Customer", "customerId"), ctx.access.visible, ctx.access.writable
    )


def _customer_change(
    info: ContextInfo, customer: str, change: Callable[[Session, Staff, int], Any]
) -> CustomerSegmentPayload:
    """A change of one customer's segment (in the caller's write rows), answered with it."""

    def command(session: Session, actor: Staff) -> int:
        customer_id = _changed_customer(info, session, customer)
        change(session, actor, customer_id)
        return customer_id

    return _run(info, CustomerSegmentPayload, command, lambda pk: _segment_answer(info, pk))


@strawberry.type
class SegmentMutation:
    @guarded_mutation(
        "A new version of the value model: checked (weights add up to 1, AUM ranges without "
        "gap or overlap), numbered, audited; it applies to runs from now on. 修改客户价值模型。",
        HasRight("segment:model"),
    )
    def change_value_rule_set(
        self, info: ContextInfo, input: ChangeValueRuleSetInput
    ) -> ValueRuleSetPayload:
        raw = _plain(input)

        def command(session: Session, actor: Staff) -> SegmentRuleSet:
            return commands.change_value_rule_set(
                session, actor.employee_no, input.expected_version, raw, input.summary
            )

        return _run(
            info,
            ValueRuleSetPayload,
            command,
            lambda row: ValueRuleSetPayload(errors=[], rule_set=ValueRuleSet.of_row(row)),
        )

    @guarded_mutation(
        "A new version of the risk model (SEG-3): credit-score bands without gap or overlap, "
        "every early-warning signal with its thresholds and window; numbered, audited; it "
        "applies to runs from now on. 修改客户风险模型。",
        HasRight("segment:risk_model"),
    )
    def change_risk_rule_set(
        self, info: ContextInfo, input: ChangeRiskRuleSetInput
    ) -> RiskRuleSetPayload:
        raw = _plain(input)

        def command(session: Session, actor: Staff) -> SegmentRuleSet:
            return commands.change_risk_rule_set(
                session, actor.employee_no, input.expected_version, raw, input.summary
            )

        return _run(
            info,
            RiskRuleSetPayload,
            command,
            lambda row: RiskRuleSetPayload(errors=[], rule_set=RiskRuleSet.of_row(row)),
        )

    @guarded_mutation(
        "A new version of the service measures (SEG-5): the whole set, checked (a segment of "
        "its dimension, codes unique, names and descriptions given, an applied action only on "
        "its segment), numbered, audited. `serviceMeasures` and the measures the system applies "
        "follow it at once: without a MANAGER_WORKLIST measure the worklist is empty; without a "
        "REASSESSMENT_TASK measure open re-assessment tasks are cancelled and none open, with "
        "one HIGH-risk customers get theirs in the same transaction. 修改分类管理措施。",
        HasRight("segment:measures"),
    )
    def change_service_measures(
        self, info: ContextInfo, input: ChangeServiceMeasuresInput
    ) -> ServiceMeasureSetPayload:
        raw = _plain(input)

        def command(session: Session, actor: Staff) -> int:
            row = commands.change_service_measures(
                session, actor.employee_no, input.expected_version, raw, input.summary
            )
            applied.follow_measures(session, clock.now())
            return row.version

        return _run(
            info,
            ServiceMeasureSetPayload,
            command,
            lambda _: ServiceMeasureSetPayload(
                errors=[], measure_set=ServiceMeasureSet.in_force(info.context.session)
            ),
        )

    @guarded_mutation(
        "Classify customers (SEG-4): a supervisor their branch, head office the whole bank or "
        "one branch. Answers at once with the run (`PENDING`), which a worker runs in the "
        "background: follow it with `classificationRun(id)`. One bulk run at a time: another "
        "while one waits or runs is `CONFLICT`. Each run records the value and risk model "
        "versions; every change of a segment is kept. 重新分类（后台批次）。",
        HasRight("segment:classify"),
    )
    def classify_customers(
        self, info: ContextInfo, input: ClassifyCustomersInput | None = None
    ) -> SegmentRunPayload:
        ctx = info.context
        branch = None if input is None or input.branch is None else input.branch

        def command(session: Session, actor: Staff) -> SegmentRun:
            bank_wide = "bank" in ctx.access.row_scopes
            wanted = None if branch is None else pk_of(branch, "Branch", "branch")
            if not bank_wide and wanted not in (None, actor.branch_id):
                raise ForbiddenError("you may classify the customers of your own branch only")
            if bank_wide and wanted is None:
                return jobs.start(session, RunScope.BANK, actor.employee_no)
            branch_id = actor.branch_id if wanted is None else wanted
            return jobs.start(session, RunScope.BRANCH, actor.employee_no, branch_id)

        return _run(
            info,
            SegmentRunPayload,
            command,
            lambda run: SegmentRunPayload(errors=[], run=SegmentRunNode.of(run)),
        )

    @guarded_mutation(
        "Override a customer's value tier with a reason until `expiresAt` (SEG-4); then the "
        "computed tier applies again by itself. A newer override replaces the one in force. "
        "主管调整客户分类。",
        HasRight("segment:override", purpose=True),
    )
    def override_segment(
        self, info: ContextInfo, input: OverrideSegmentInput
    ) -> CustomerSegmentPayload:
        return _customer_change(
            info,
            input.customer_id,
            lambda session, actor, customer_id: commands.override_segment(
                session,
                actor,
                customer_id,
                ValueTier(input.tier),
                input.reason,
                input.expires_at,
            ),
        )

    @guarded_mutation(
        "End a customer's override now; the computed tier applies again. 撤销主管调整。",
        HasRight("segment:override", purpose=True),
    )
    def withdraw_segment_override(
        self, info: ContextInfo, input: WithdrawSegmentOverrideInput
    ) -> CustomerSegmentPayload:
        return _customer_change(
            info,
            input.customer_id,
            lambda session, actor, customer_id: commands.withdraw_override(
                session, customer_id, actor
            ),
        )

    @guarded_mutation(
        "Set whether a customer has a need (SEG-2) with a reason: it counts instead of the "
        "derived one; earlier settings are kept. 设置客户需求。",
        HasRight("segment:needs", purpose=True),
    )
    def set_customer_need(
        self, info: ContextInfo, input: SetCustomerNeedInput
    ) -> CustomerSegmentPayload:
        return _customer_change(
            info,
            input.customer_id,
            lambda session, actor, customer_id: commands.set_need(
                session, actor.id, customer_id, Need(input.need), input.present, input.reason
            ),
        )

    @guarded_mutation(
        "Clear what staff set about a customer's need (SEG-2), with a reason: the derived need "
        "counts again; the setting and its clearing stay in `needHistory`. 恢复系统判定的需求。",
        HasRight("segment:needs", purpose=True),
    )
    def clear_customer_need(
        self, info: ContextInfo, input: ClearCustomerNeedInput
    ) -> CustomerSegmentPayload:
        return _customer_change(
            info,
            input.customer_id,
            lambda session, actor, customer_id: commands.clear_need(
                session, actor.id, customer_id, Need(input.need), input.reason
            ),
        )
