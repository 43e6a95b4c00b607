"""Segments as GraphQL types: a customer's segment with its explanation, rule sets, runs,
changes, overrides, the distribution, payloads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy.orm import Session

from authz.fields import Effect, present
from core import clock
from core.errors import UserInputError
from resolvers.segments import commands, loaders, measures, model, risk_model
from resolvers.segments.distribution import MonthCell
from resolvers.segments.queries import Cell
from schema.segments.enums import (
    DistributionDimensionEnum,
    MeasureActionEnum,
    NeedEnum,
    NeedSourceEnum,
    RiskGradeEnum,
    RiskSignalEnum,
    RunScopeEnum,
    RunStatusEnum,
    SegmentChangeReasonEnum,
    SegmentDimensionEnum,
    SegmentErrorCode,
    ValueInputEnum,
    ValueTierEnum,
)
from schema.shared.base import ContextInfo, node_id, user_errors
from schema.shared.context import Context
from schema.staff import BranchNode
from store.segments import (
    Need,
    NeedSource,
    RiskGrade,
    SegmentDimension,
    SegmentRuleSet,
    SegmentRun,
    ValueTier,
)


@strawberry.type(description="A refused segment input. 客户分类输入错误。")
class SegmentUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: SegmentErrorCode  # type: ignore[valid-type]
    message: str


def segment_errors(exc: UserInputError) -> list[SegmentUserError]:
    return user_errors(exc, SegmentUserError, lambda code: SegmentErrorCode[code])


def _score(units: int) -> Decimal:
    """A score in hundredths as the 0 … 100 value it stands for ("76.91")."""
    return Decimal(units).scaleb(-2)


@strawberry.type(description="One input of the value model and its weight. 价值模型因子。")
class ValueFactor:
    input: ValueInputEnum  # type: ignore[valid-type]
    weight: Decimal = strawberry.field(description="0 … 1; the weights add up to 1. 权重。")
    full_score_at: Decimal = strawberry.field(
        description="The value that earns the input's full 100 points. 满分值。"
    )


@strawberry.type(description="The AUM range of a tier: [fromAum, belowAum). 等级区间。")
class TierCutOff:
    tier: ValueTierEnum  # type: ignore[valid-type]
    from_aum: Decimal
    below_aum: Decimal | None = strawberry.field(description="Null: no upper bound.")


@strawberry.type(description="A version of the value model (SEG-1). 客户价值模型版本。")
class ValueRuleSet:
    version: int
    summary: str
    changed_by: str = strawberry.field(description="Employee number, or `system` (the file).")
    changed_at: dt.datetime | None = strawberry.field(description="Null: not stored yet.")
    factors: list[ValueFactor]
    cut_offs: list[TierCutOff]
    lift_score: Decimal | None = strawberry.field(
        description="A score of at least this lifts the customer one tier; null: never. "
        "评分达到该值可提升一个等级。"
    )
    private_banking_aum: Decimal = strawberry.field(
        description="The private-banking mark from this AUM on. 私人银行客户资产门槛。"
    )

    @classmethod
    def of(cls, rules: model.RuleSet, row: SegmentRuleSet | None) -> ValueRuleSet:
        return cls(
            version=rules.version,
            summary=rules.summary,
            changed_by=row.changed_by if row is not None else "system",
            changed_at=row.changed_at if row is not None else None,
            factors=[
                ValueFactor(input=f.input, weight=f.weight, full_score_at=f.full_score_at)
                for f in rules.factors
            ],
            cut_offs=[
                TierCutOff(tier=c.tier, from_aum=c.from_aum, below_aum=c.below_aum)
                for c in rules.cut_offs
            ],
            lift_score=rules.lift_score,
            private_banking_aum=rules.private_banking_aum,
        )

    @classmethod
    def of_row(cls, row: SegmentRuleSet) -> ValueRuleSet:
        return cls.of(model.from_definition(row.definition, row.version, row.summary), row)


@strawberry.type(
    description="The credit-score band of a risk grade: [fromScore, belowScore). 信用评分区间。"
)
class RiskBand:
    grade: RiskGradeEnum  # type: ignore[valid-type]
    from_score: int
    below_score: int | None = strawberry.field(description="Null: no upper bound.")


@strawberry.type(description="An early-warning signal's thresholds. 预警信号阈值。")
class RiskSignalThreshold:
    signal: RiskSignalEnum  # type: ignore[valid-type]
    medium_at: Decimal | None = strawberry.field(
        description="From this value on the grade is at least MEDIUM; null: never. 中风险阈值。"
    )
    high_at: Decimal | None = strawberry.field(
        description="From this value on the grade is HIGH; null: never. 高风险阈值。"
    )
    window_days: int | None = strawberry.field(
        description="The window the signal is read over, in days (null: none). 观察期（天）。"
    )


@strawberry.type(description="A version of the risk model (SEG-3). 客户风险模型版本。")
class RiskRuleSet:
    version: int
    summary: str
    changed_by: str = strawberry.field(description="Employee number, or `system` (the file).")
    changed_at: dt.datetime | None = strawberry.field(description="Null: not stored yet.")
    bands: list[RiskBand]
    signals: list[RiskSignalThreshold]
    unscored_grade: RiskGradeEnum = strawberry.field(  # type: ignore[valid-type]
        description="The band grade of a customer without a credit score. 无信用评分时的等级。"
    )
    review_period_days: int = strawberry.field(
        description="A HIGH-risk customer is re-assessed this often (SEG-5). 高风险客户重评周期。"
    )

    @classmethod
    def of(cls, rules: risk_model.RiskRuleSet, row: SegmentRuleSet | None) -> RiskRuleSet:
        return cls(
            version=rules.version,
            summary=rules.summary,
            changed_by=row.changed_by if row is not None else "system",
            changed_at=row.changed_at if row is not None else None,
            bands=[
                RiskBand(grade=b.grade, from_score=b.from_score, below_score=b.below_score)
                for b in rules.bands
            ],
            signals=[
                RiskSignalThreshold(
                    signal=t.signal,
                    medium_at=t.medium_at,
                    high_at=t.high_at,
                    window_days=t.window_days,
                )
                for t in rules.thresholds
            ],
            unscored_grade=rules.unscored_grade,
            review_period_days=rules.review_period_days,
        )

    @classmethod
    def of_row(cls, row: SegmentRuleSet) -> RiskRuleSet:
        return cls.of(risk_model.from_definition(row.definition, row.version, row.summary), row)


@strawberry.type(
    description="Why a customer has its risk grade: the credit band or a signal that reached a "
    "threshold. 风险等级成因。"
)
class RiskSignalExplained:
    name: RiskSignalEnum  # type: ignore[valid-type]
    value: Decimal | None = strawberry.field(
        description="The customer's value (null: no credit score). 客户数值。"
    )
    threshold: Decimal | None = strawberry.field(
        description="The threshold reached; of the credit band, the score it lies below. 阈值。"
    )
    grade: RiskGradeEnum  # type: ignore[valid-type]


def _risk_rule_set(
    ctx: Context, version: int
) -> tuple[risk_model.RiskRuleSet, SegmentRuleSet | None]:
    """A stored risk model version, once per request."""

    def load() -> tuple[risk_model.RiskRuleSet, SegmentRuleSet | None]:
        row = loaders.rule_set_summaries(ctx.session, [version], risk_model.RISK).get(version)
        if row is None:
            return commands.risk_rule_set_in_force(ctx.session), None
        return risk_model.from_definition(row.definition, row.version, row.summary), row

    return ctx.memo(("RiskRuleSet", version), load)


def _risk_causes(rules: risk_model.RiskRuleSet, row: Any) -> list[RiskSignalExplained]:
    """The causes of a computed grade: its stored values against its version's thresholds."""
    values = risk_model.RiskValues(
        row.credit_score, row.days_past_due, row.outflow, row.aum_drop, row.market_risk
    )
    _, causes = risk_model.grade(rules, values)
    return [
        RiskSignalExplained(name=c.signal, value=c.value, threshold=c.threshold, grade=c.grade)
        for c in causes
    ]


@strawberry.type(description="Why a customer scores what it does: one input. 评分依据。")
class ValueInputExplained:
    name: ValueInputEnum  # type: ignore[valid-type]
    value: Decimal = strawberry.field(description="The customer's value (CNY, or a count).")
    weight: Decimal
    points: Decimal = strawberry.field(description="0 … 100 points before weighting. 得分。")


@strawberry.type(description="A need of the customer (SEG-2) and where it comes from. 客户需求。")
class CustomerNeedShown:
    need: NeedEnum  # type: ignore[valid-type]
    source: NeedSourceEnum = strawberry.field(  # type: ignore[valid-type]
        description="DERIVED from holdings and transactions, or set by STAFF. 需求来源。"
    )
    derived: bool = strawberry.field(
        description="From holdings and transactions (else set by staff). 系统识别。"
    )
    reason: str | None = strawberry.field(description="Why staff set it.")
    set_by: str | None = strawberry.field(description="Employee number of who set it.")
    set_at: dt.datetime | None


def _needs(view: loaders.SegmentView) -> list[CustomerNeedShown]:
    return [
        CustomerNeedShown(
            need=need,
            source=NeedSource.DERIVED if setting is None else NeedSource.STAFF,
            derived=setting is None,
            reason=None if setting is None else setting.reason,
            set_by=None if setting is None else setting.set_by,
            set_at=None if setting is None else setting.set_at,
        )
        for need, setting in view.needs()
    ]


@strawberry.type(
    description="A need as staff set it (SEG-2): present or not, why, who, when. 需求设置记录。"
)
class CustomerNeedSetting:
    need: NeedEnum  # type: ignore[valid-type]
    present: bool = strawberry.field(description="False: staff said the customer has it not.")
    cleared: bool = strawberry.field(
        default=False,
        description="True: staff cleared their setting, the derived need counts again "
        "(`present` is then false).",
    )
    reason: str
    set_by: str = strawberry.field(description="Employee number of who set it.")
    set_at: dt.datetime

    @classmethod
    def of(cls, row: Any) -> CustomerNeedSetting:
        return cls(
            need=Need(row.need),
            present=bool(row.present),
            cleared=row.present is None,
            reason=row.reason,
            set_by=row.set_by,
            set_at=row.set_at,
        )


@strawberry.type(description="A supervisor's override in force. 主管调整。")
class SegmentOverrideInForce:
    tier: ValueTierEnum | None  # type: ignore[valid-type]
    reason: str | None = strawberry.field(description="Why (null when the tier is withheld).")
    created_by: str | None = strawberry.field(description="Employee number of who overrode.")
    expires_at: dt.datetime
    created_at: dt.datetime


def _explain(rules: model.RuleSet, row: Any) -> list[ValueInputExplained]:
    inputs = model.Inputs(
        row.aum, row.transaction_count, row.deposit_balance, row.loan_amount, row.fee_income
    )
    return [
        ValueInputExplained(
            name=f.input,
            value=inputs.value(f.input),
            weight=f.weight,
            points=_score(model.points(inputs.value(f.input), f.full_score_at)),
        )
        for f in rules.factors
    ]


def _rule_set(ctx: Context, version: int) -> tuple[model.RuleSet, SegmentRuleSet | None]:
    """A stored version, once per request (a page's customers share one or two versions)."""

    def load() -> tuple[model.RuleSet, SegmentRuleSet | None]:
        row = loaders.rule_set_summaries(ctx.session, [version]).get(version)
        if row is None:  # computed before any version was stored: cannot happen, but explain
            return commands.rule_set_in_force(ctx.session), None
        return model.from_definition(row.definition, row.version, row.summary), row

    return ctx.memo(("ValueRuleSet", version), load)


@strawberry.type(
    description="Where a customer stands with the bank (SEG-1, SEG-4): the value tier shown "
    "(a supervisor's override while in force, else the computed one), the value score and why. "
    "Fields of the `segment` group of the access policy. 客户价值分类。"
)
class CustomerSegment:
    tier: ValueTierEnum | None  # type: ignore[valid-type]
    score: Decimal | None = strawberry.field(description="Value score 0 … 100. 价值评分。")
    private_banking: bool | None = strawberry.field(description="Private banking 私人银行客户。")
    inputs: list[ValueInputExplained] | None = strawberry.field(
        description="The inputs the score was computed from, with their weights. 评分依据。"
    )
    needs: list[CustomerNeedShown] | None = strawberry.field(
        description="Investment, financing, settlement (SEG-2): derived from holdings and "
        "transactions, or as staff set them. 客户需求。"
    )
    computed_tier: ValueTierEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The tier the model gives, whatever an override says (null when withheld)."
    )
    override: SegmentOverrideInForce | None
    rule_set: ValueRuleSet | None = strawberry.field(
        description="The model version that computed it (null: overridden, never computed)."
    )
    run: strawberry.ID | None = strawberry.field(description="The run that computed it.")
    classified_at: dt.datetime | None
    risk_grade: RiskGradeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Risk grade (SEG-3): the highest of the credit-score band and the early-"
        "warning signals reached (field group `segment_risk`). 风险等级。"
    )
    risk_signals: list[RiskSignalExplained] | None = strawberry.field(
        description="What caused the risk grade: the credit band (unless LOW) and every signal "
        "that reached a threshold. 风险等级成因。"
    )
    risk_rule_set: RiskRuleSet | None = strawberry.field(
        description="The risk model version that computed the grade. 风险模型版本。"
    )
    customer_id: strawberry.Private[int]

    @strawberry.field(
        description="Every setting of a need by staff, newest first (SEG-2); read like `needs`. "
        "需求设置记录。"
    )
    def need_history(self, info: ContextInfo) -> list[CustomerNeedSetting] | None:
        ctx = info.context
        rows = ctx.batched("need_history", self.customer_id, loaders.need_histories) or []
        settings = [CustomerNeedSetting.of(row) for row in rows]
        shown = present(
            "CustomerSegment", {"needs": settings}, ctx.access.access_for(self.customer_id)
        )
        return shown["needs"]  # type: ignore[no-any-return]

    @classmethod
    def present(cls, view: loaders.SegmentView, ctx: Context) -> CustomerSegment:
        access = ctx.access.access_for(view.customer_id)
        computed, override = view.computed, view.override
        rules = row = None
        risk: tuple[risk_model.RiskRuleSet, SegmentRuleSet | None] | None = None
        if computed is not None:
            rules, row = _rule_set(ctx, computed.rule_set_version)
            if computed.risk_rule_set_version is not None:
                risk = _risk_rule_set(ctx, computed.risk_rule_set_version)
        tier = (
            override.tier
            if override is not None
            else computed.tier
            if computed is not None
            else None
        )
        values = present(
            "CustomerSegment",
            {
                "tier": None if tier is None else ValueTier(tier),
                "score": None if computed is None else _score(computed.score),
                "private_banking": None if computed is None else computed.private_banking,
                "inputs": None if rules is None else _explain(rules, computed),
                "needs": _needs(view),
                "risk_grade": None
                if risk is None or computed.risk_grade is None
                else RiskGrade(computed.risk_grade),
                "risk_signals": None if risk is None else _risk_causes(risk[0], computed),
                "risk_rule_set": None if risk is None else RiskRuleSet.of(*risk),
            },
            access,
        )
        shown = access.effect("CustomerSegment", "tier") is Effect.FULL
        return cls(
            computed_tier=ValueTier(computed.tier) if computed is not None and shown else None,
            override=SegmentOverrideInForce(
                tier=ValueTier(override.tier) if shown else None,
                reason=override.reason if shown else None,
                created_by=override.created_by if shown else None,
                expires_at=override.expires_at,
                created_at=override.created_at,
            )
            if override is not None
            else None,
            rule_set=ValueRuleSet.of(rules, row) if rules is not None else None,
            run=node_id("SegmentRun", computed.run_id) if computed is not None else None,
            classified_at=computed.classified_at if computed is not None else None,
            customer_id=view.customer_id,
            **values,
        )


def customer_segment(ctx: Context, customer_id: int) -> CustomerSegment | None:
    """``Customer.segment``: loaded for every customer of the request at once."""
    now = clock.now()

    def load(session: Session, ids: Any) -> dict[int, loaders.SegmentView]:
        return loaders.segments(session, ids, now)

    view = ctx.batched("segments", customer_id, load)
    return CustomerSegment.present(view, ctx) if view is not None else None


@strawberry.type(description="A service measure of a segment (SEG-5). 分类管理措施。")
class ServiceMeasure:
    code: str = strawberry.field(description="Stable code, e.g. `DEDICATED_MANAGER`.")
    name: str = strawberry.field(description="Chinese name. 措施名称。")
    description: str = strawberry.field(description="What the bank does. 措施说明。")
    dimension: SegmentDimensionEnum  # type: ignore[valid-type]
    segment: str = strawberry.field(
        description="The segment it belongs to: a value tier, need or risk grade (`HIGH`, "
        "`INVESTMENT` …)."
    )
    applied: MeasureActionEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="What the system does about it by itself (null: staff apply it). 系统执行方式。"
    )

    @classmethod
    def of(cls, measure: measures.Measure) -> ServiceMeasure:
        return cls(
            code=measure.code,
            name=measure.name,
            description=measure.description,
            dimension=measure.dimension,
            segment=measure.segment,
            applied=measure.applied,
        )


@strawberry.type(description="A version of the service measures (SEG-5). 分类管理措施版本。")
class ServiceMeasureSet:
    version: int
    summary: str
    measures: list[ServiceMeasure]

    @classmethod
    def in_force(cls, session: Session) -> ServiceMeasureSet:
        found = commands.measures_in_force(session)
        return cls(
            version=found.version,
            summary=found.summary,
            measures=[ServiceMeasure.of(m) for m in found.measures],
        )


def service_measures(ctx: Context, customer_id: int) -> list[ServiceMeasure] | None:
    """``Customer.serviceMeasures``: the measures of the segments the caller may see (a value
    tier's with the tier, needs' with the needs, a risk grade's with the grade); null until the
    customer is classified. Loaded with the request's other segments."""
    now = clock.now()
    view = ctx.batched("segments", customer_id, lambda s, ids: loaders.segments(s, ids, now))
    if view is None:
        return None
    access = ctx.access.access_for(customer_id)

    def shown(field: str) -> bool:
        return access.effect("CustomerSegment", field) is Effect.FULL

    computed, override = view.computed, view.override
    segments: list[tuple[SegmentDimension, str]] = []
    if shown("tier"):
        tier = override.tier if override is not None else computed.tier
        segments.append((SegmentDimension.VALUE_TIER, ValueTier(tier).value))
    if shown("needs"):
        segments += [(SegmentDimension.NEED, need.value) for need, _ in view.needs()]
    if shown("riskGrade") and computed is not None and computed.risk_grade is not None:
        segments.append((SegmentDimension.RISK_GRADE, RiskGrade(computed.risk_grade).value))
    found = ctx.memo(("ServiceMeasures",), lambda: commands.measures_in_force(ctx.session))
    return [ServiceMeasure.of(m) for m in found.of(segments)]


@strawberry.type(description="One change of a customer's segment (SEG-4). 分类变动记录。")
class SegmentChange:
    from_tier: ValueTierEnum | None  # type: ignore[valid-type]
    to_tier: ValueTierEnum | None  # type: ignore[valid-type]
    from_private_banking: bool | None
    to_private_banking: bool | None
    reason: SegmentChangeReasonEnum  # type: ignore[valid-type]
    run: strawberry.ID | None
    rule_set_version: int | None
    changed_at: dt.datetime
    changed_by: str | None = strawberry.field(
        description="Who overrode or withdrew, or started the run (employee number). 操作人。"
    )
    override_reason: str | None = strawberry.field(
        description="The override's reason (override entries; null when the tier is withheld). "
        "调整原因。"
    )
    from_risk_grade: RiskGradeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The risk grade before (SEG-3; null: first classification). Override "
        "entries (set, withdrawn or expired) change the value tier only: before and after are "
        "the computed grade in force then."
    )
    to_risk_grade: RiskGradeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The risk grade after (on override entries the computed grade in force "
        "then, unchanged)."
    )
    risk_rule_set_version: int | None = strawberry.field(
        description="The risk model version of the run that made the change."
    )
    derived_needs: list[NeedEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="The needs (SEG-2) the run derived from holdings and transactions, after "
        "the change (a change of them alone is kept too; staff settings are `needHistory`). "
        "Null on override entries and on changes kept before needs were recorded. 系统识别的需求。",
    )

    @classmethod
    def present(cls, row: loaders.HistoryEntry, ctx: Context) -> SegmentChange:
        # Tiers and marks of the history are shown as the live segment's would be.
        access = ctx.access.access_for(row.customer_id)
        before = present(
            "CustomerSegment",
            {"tier": row.from_tier, "private_banking": row.from_private_banking},
            access,
        )
        after = present(
            "CustomerSegment",
            {"tier": row.to_tier, "private_banking": row.to_private_banking},
            access,
        )
        risk = present(
            "CustomerSegment",
            {"risk_grade": (row.from_risk_grade, row.to_risk_grade)},
            access,
        )["risk_grade"] or (None, None)
        return cls(
            from_tier=ValueTier(before["tier"]) if before["tier"] else None,
            to_tier=ValueTier(after["tier"]) if after["tier"] else None,
            from_private_banking=before["private_banking"],
            to_private_banking=after["private_banking"],
            reason=row.reason,
            run=node_id("SegmentRun", row.run_id) if row.run_id else None,
            rule_set_version=row.rule_set_version,
            changed_at=row.changed_at,
            changed_by=row.changed_by,
            override_reason=row.override_reason
            if access.effect("CustomerSegment", "tier") is Effect.FULL
            else None,
            from_risk_grade=RiskGrade(risk[0]) if risk[0] else None,
            to_risk_grade=RiskGrade(risk[1]) if risk[1] else None,
            risk_rule_set_version=row.risk_rule_set_version,
            derived_needs=present("CustomerSegment", {"needs": row.derived_needs}, access)["needs"],
        )


def segment_history(ctx: Context, customer_id: int) -> list[SegmentChange]:
    """``Customer.segmentHistory``, newest first (an expired override's fallback included); two
    statements for the request's customers."""
    now = clock.now()

    def load(session: Session, ids: Any) -> dict[int, list[loaders.HistoryEntry]]:
        return loaders.histories(session, ids, now)

    rows = ctx.batched("segment_history", customer_id, load) or []
    return [SegmentChange.present(r, ctx) for r in rows]


@strawberry.type(description="How far a run has got. 分类批次进度。")
class RunProgress:
    done: int = strawberry.field(description="Customers computed so far. 已完成。")
    total: int = strawberry.field(description="Customers in the run's scope. 总数。")


@strawberry.type(description="A classification run (SEG-4). 分类批次。")
class SegmentRunNode:
    id: strawberry.ID
    scope: RunScopeEnum  # type: ignore[valid-type]
    branch: strawberry.ID | None
    status: RunStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="PENDING (waiting for a worker), RUNNING, DONE or FAILED. 批次状态。"
    )
    progress: RunProgress
    failure: str | None = strawberry.field(description="Why it failed (FAILED only). 失败原因。")
    rule_set_version: int
    started_by: str
    started_at: dt.datetime = strawberry.field(description="When it was asked for. 发起时间。")
    finished_at: dt.datetime | None
    customers: int = strawberry.field(description="Customers classified.")
    changed: int = strawberry.field(description="Customers whose segment changed.")
    risk_rule_set_version: int | None = strawberry.field(
        default=None, description="The risk model version of the run (SEG-3)."
    )

    @strawberry.field(
        description="The model version it runs under (that in force when a worker took it). "
        "所用模型版本。"
    )
    def rule_set(self, info: ContextInfo) -> ValueRuleSet:
        rules, row = _rule_set(info.context, self.rule_set_version)
        return ValueRuleSet.of(rules, row)

    @classmethod
    def of(cls, row: SegmentRun) -> SegmentRunNode:
        return cls(
            id=node_id("SegmentRun", row.id),
            scope=row.scope,
            branch=node_id("Branch", row.branch_id) if row.branch_id else None,
            status=row.status,
            progress=RunProgress(done=row.progress_done, total=row.progress_total),
            failure=row.failure,
            rule_set_version=row.rule_set_version,
            started_by=row.started_by,
            started_at=row.started_at,
            finished_at=row.finished_at,
            customers=row.customers,
            changed=row.changed,
            risk_rule_set_version=row.risk_rule_set_version,
        )


@strawberry.type(description="Customers and AUM of one tier (and branch). 分类分布单元。")
class SegmentCell:
    tier: ValueTierEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Null: customers not classified yet (always null by risk grade)."
    )
    branch: BranchNode | None = strawberry.field(description="When grouped by branch.")
    suppressed: bool = strawberry.field(
        description="Fewer customers than `minimumCount`: counts withheld. 小样本隐藏。"
    )
    customers: int | None
    assets_under_management: Decimal | None
    risk_grade: RiskGradeEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="By risk grade (`dimension: RISK_GRADE`, SEG-3): the grade; null: not "
        "graded yet. 风险等级。",
    )
    need: NeedEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="By need (`dimension: NEED`, SEG-2): the need. A customer with several "
        "needs counts in each of their cells; one without any need is in none. 客户需求。",
    )

    @classmethod
    def of(cls, cell: Cell | MonthCell) -> SegmentCell:
        return cls(
            tier=ValueTier(cell.tier) if cell.tier is not None else None,
            branch=BranchNode.of_parts(*cell.branch) if cell.branch is not None else None,
            suppressed=cell.suppressed,
            customers=cell.customers,
            assets_under_management=cell.aum,
            risk_grade=RiskGrade(cell.risk_grade) if cell.risk_grade is not None else None,
            need=Need(cell.need) if cell.need is not None else None,
        )


@strawberry.type(description="The segment distribution (SEG-6). 客户分类分布。")
class SegmentDistribution:
    as_of: dt.datetime
    dimension: DistributionDimensionEnum = strawberry.field(  # type: ignore[valid-type]
        description="What the cells count by: value tier (default), risk grade or need. 分布维度。"
    )
    minimum_count: int = strawberry.field(description="Smaller cells are suppressed.")
    cells: list[SegmentCell]


@strawberry.type(description="The distribution at one month end (SEG-4). 月末客户分类分布。")
class SegmentMonth:
    month: str = strawberry.field(description="The Beijing month, e.g. 2026-01. 月份。")
    as_of: dt.datetime = strawberry.field(
        description="The state just before this instant: 00:00 Beijing on the 1st of the next "
        "month, or now for the month in progress. 统计时点。"
    )
    cells: list[SegmentCell]


@strawberry.type(
    description="The segment distribution at each month end, from the history (SEG-4). "
    "客户分类分布变化。"
)
class SegmentTrend:
    dimension: DistributionDimensionEnum = strawberry.field(  # type: ignore[valid-type]
        description="What the cells count by: value tier (default), risk grade or need. 分布维度。"
    )
    minimum_count: int = strawberry.field(description="Smaller cells are suppressed.")
    months: list[SegmentMonth]


@strawberry.type
class ValueRuleSetPayload:
    errors: list[SegmentUserError]
    rule_set: ValueRuleSet | None = None


@strawberry.type
class RiskRuleSetPayload:
    errors: list[SegmentUserError]
    rule_set: RiskRuleSet | None = None


@strawberry.type
class ServiceMeasureSetPayload:
    errors: list[SegmentUserError]
    measure_set: ServiceMeasureSet | None = None


@strawberry.type
class SegmentRunPayload:
    errors: list[SegmentUserError]
    run: SegmentRunNode | None = None


@strawberry.type
class CustomerSegmentPayload:
    errors: list[SegmentUserError]
    customer_id: strawberry.ID | None = None
    segment: CustomerSegment | None = None
