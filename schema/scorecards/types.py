"""Scorecard types: weight versions, frozen scorecards with their lines, honours and training
recommendations, versions of a period, the bonus split."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from core.errors import UserInputError
from resolvers.kpis.indicators import BY_CODE
from resolvers.kpis.scope import Level
from resolvers.scorecards import model
from resolvers.scorecards.queries import Frozen, Training, trainings
from schema.kpis.enums import KpiNullReason
from schema.kpis.types import TYPE_OF
from schema.scorecards.enums import (
    HonourTitleEnum,
    ScorecardErrorCode,
    ScorecardLevelEnum,
    ScoreDirectionEnum,
)
from schema.shared.base import node_id, user_errors
from store.scorecards import ScorecardLine as LineRow
from store.scorecards import ScorecardRun


def _title(code: str) -> str:
    indicator = BY_CODE.get(code)
    return indicator.title if indicator is not None else code


@strawberry.type(description="An indicator's weight and scoring rule. 指标权重与评分规则。")
class IndicatorWeight:
    indicator: str = strawberry.field(description="A code of `kpiIndicators`.")
    title: str
    weight: Decimal = strawberry.field(description="0 … 1; a level's weights add up to 1.")
    direction: ScoreDirectionEnum  # type: ignore[valid-type]
    target: Decimal = strawberry.field(description="The value that scores 100.")
    floor: Decimal = strawberry.field(description="The value that scores 0.")

    @classmethod
    def of(cls, weight: model.Weight) -> IndicatorWeight:
        return cls(
            indicator=weight.indicator,
            title=_title(weight.indicator),
            weight=weight.weight,
            direction=weight.direction,
            target=weight.target,
            floor=weight.floor,
        )


@strawberry.type(description="The weights of one level. 某层级的权重。")
class LevelWeights:
    level: ScorecardLevelEnum  # type: ignore[valid-type]
    indicators: list[IndicatorWeight]


@strawberry.type(description="A rule that awards an honour title (KPI-3). 荣誉评选规则。")
class HonourRule:
    title: HonourTitleEnum  # type: ignore[valid-type]
    title_text: str = strawberry.field(description="优秀客户管理团队 or 客户服务明星.")
    level: ScorecardLevelEnum  # type: ignore[valid-type]
    top: int | None = strawberry.field(description="Rank at most this (ties share a rank).")
    min_score: Decimal | None
    min_customers: int = strawberry.field(description="Customers at the period's end.")
    no_major_complaint: bool = strawberry.field(
        description="No major complaint (CMP-7) of its customers accepted in the period."
    )
    description: str = strawberry.field(description="The rule in words (中文).")

    @classmethod
    def of(cls, rule: model.HonourRule) -> HonourRule:
        return cls(
            title=rule.title,
            title_text=model.TITLES[rule.title],
            level=rule.level.value,  # type: ignore[arg-type]
            top=rule.top,
            min_score=rule.min_score,
            min_customers=rule.min_customers,
            no_major_complaint=rule.no_major_complaint,
            description=rule.describe(),
        )


@strawberry.type(
    description="A version of the scorecard weights, owned by head office (KPI-2). 考核权重版本。"
)
class ScorecardWeightVersion:
    version: int
    valid_from: dt.date = strawberry.field(description="First Beijing day in force.")
    valid_to: dt.date | None = strawberry.field(description="Last day in force; null: open.")
    summary: str
    changed_by: str | None = strawberry.field(description="Null: the reviewed file.")
    levels: list[LevelWeights]
    honours: list[HonourRule]

    @classmethod
    def of(cls, version: model.WeightVersion, changed_by: str | None) -> ScorecardWeightVersion:
        return cls(
            version=version.version,
            valid_from=version.valid_from,
            valid_to=version.valid_to,
            summary=version.summary,
            changed_by=changed_by,
            levels=[
                LevelWeights(
                    level=level.value,  # type: ignore[arg-type]
                    indicators=[IndicatorWeight.of(w) for w in weights],
                )
                for level, weights in version.levels.items()
            ],
            honours=[HonourRule.of(r) for r in version.honours],
        )


@strawberry.type(description="One indicator of a frozen scorecard. 考核指标明细。")
class ScorecardLine:
    indicator: str
    title: str
    weight: Decimal
    direction: ScoreDirectionEnum  # type: ignore[valid-type]
    target: Decimal
    floor: Decimal
    value: Decimal | None = strawberry.field(description="As computed when frozen.")
    numerator: Decimal | None
    denominator: Decimal | None
    null_reason: KpiNullReason | None  # type: ignore[valid-type]
    score: Decimal | None = strawberry.field(
        description="The value normalised to 0 … 100 (null with the value)."
    )

    @classmethod
    def of(cls, line: LineRow) -> ScorecardLine:
        return cls(
            indicator=line.indicator,
            title=_title(line.indicator),
            weight=line.weight,
            direction=model.Direction(line.direction),
            target=line.target,
            floor=line.floor,
            value=line.value,
            numerator=line.numerator,
            denominator=line.denominator,
            null_reason=line.null_reason,  # type: ignore[arg-type]
            score=line.score,
        )


@strawberry.type(description="An honour title awarded to a scorecard. 获得的荣誉称号。")
class HonourAward:
    title: HonourTitleEnum  # type: ignore[valid-type]
    title_text: str
    rule: str = strawberry.field(description="The rule it was awarded by (中文).")


@strawberry.type(description="A training for one of a team's weakest indicators. 培训建议。")
class TrainingRecommendation:
    indicator: str
    indicator_title: str
    score: Decimal = strawberry.field(description="The indicator's normalised score.")
    course_code: str
    course_title: str

    @classmethod
    def of(cls, training: Training) -> TrainingRecommendation:
        return cls(
            indicator=training.indicator,
            indicator_title=_title(training.indicator),
            score=training.score,
            course_code=training.course.code,
            course_title=training.course.title,
        )


@strawberry.type(description="A frozen scorecard (KPI-2). 考核记分卡。")
class Scorecard:
    level: ScorecardLevelEnum  # type: ignore[valid-type]
    subject_id: strawberry.ID = strawberry.field(description="The Branch, Team or Staff ID.")
    label: str
    branch_id: strawberry.ID
    team_id: strawberry.ID | None = strawberry.field(description="A staff member's team.")
    score: Decimal | None = strawberry.field(
        description="Σ weight × line score ÷ Σ weight of the lines with a score (2 decimals); "
        "null when no line has one."
    )
    rank: int | None = strawberry.field(
        description="Among the version's scorecards of the level (1 best; ties share a rank)."
    )
    customers: int = strawberry.field(description="Customers at the period's end.")
    major_complaints: int = strawberry.field(description="Major complaints in the period.")
    lines: list[ScorecardLine]
    honours: list[HonourAward]
    trainings: list[TrainingRecommendation] = strawberry.field(
        description="Teams: courses for the weakest indicators (trainings.toml)."
    )

    @classmethod
    def of(cls, frozen: Frozen, catalogue: model.Catalogue) -> Scorecard:
        card = frozen.card
        level = Level(card.level)
        return cls(
            level=card.level,  # type: ignore[arg-type]
            subject_id=node_id(TYPE_OF[level], card.subject_id),
            label=card.label,
            branch_id=node_id("Branch", card.branch_id),
            team_id=None if card.team_id is None else node_id("Team", card.team_id),
            score=card.score,
            rank=card.rank,
            customers=card.customers,
            major_complaints=card.major_complaints,
            lines=[ScorecardLine.of(line) for line in frozen.lines],
            honours=[
                HonourAward(
                    title=model.HonourTitle(title),
                    title_text=model.TITLES[model.HonourTitle(title)],
                    rule=rule,
                )
                for title, rule in frozen.honours
            ],
            trainings=(
                [TrainingRecommendation.of(t) for t in trainings(frozen.lines, catalogue)]
                if level is Level.TEAM
                else []
            ),
        )


@strawberry.type(description="A version of a period's scorecards (one assessment). 考核版本。")
class ScorecardVersion:
    period: str
    version: int
    branch_id: strawberry.ID | None = strawberry.field(description="Null: the whole bank.")
    weight_version: int
    computed_at: dt.datetime
    computed_by: str
    reason: str | None

    @classmethod
    def of(cls, run: ScorecardRun) -> ScorecardVersion:
        return cls(
            period=run.period,
            version=run.version,
            branch_id=None if run.branch_id is None else node_id("Branch", run.branch_id),
            weight_version=run.weight_version,
            computed_at=run.computed_at,
            computed_by=run.computed_by,
            reason=run.reason,
        )


@strawberry.type(description="Frozen scorecards of a period, level and scope. 考核结果。")
class ScorecardSet:
    period: str
    level: ScorecardLevelEnum  # type: ignore[valid-type]
    version: ScorecardVersion | None = strawberry.field(
        description="The version shown (the newest unless asked); null: not assessed yet."
    )
    versions: list[ScorecardVersion] = strawberry.field(
        description="Every version covering the scope, newest first (recomputations keep the old)."
    )
    scorecards: list[Scorecard] = strawberry.field(description="By rank: the ranking.")


@strawberry.type(description="One part of a bonus pool. 奖金分配。")
class BonusShare:
    subject_id: strawberry.ID
    label: str
    rank: int | None
    score: Decimal | None
    amount: Decimal


@strawberry.type(description="A bonus pool split by frozen scores (KPI-3). 奖金分配方案。")
class BonusAllocation:
    period: str
    version: int
    level: ScorecardLevelEnum  # type: ignore[valid-type]
    pool: Decimal
    total: Decimal = strawberry.field(description="Σ amounts: always the pool.")
    shares: list[BonusShare]


@strawberry.type
class ScorecardUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: ScorecardErrorCode  # type: ignore[valid-type]
    message: str


def scorecard_errors(exc: UserInputError) -> list[ScorecardUserError]:
    return user_errors(exc, ScorecardUserError, lambda code: ScorecardErrorCode[code])


@strawberry.type
class ScorecardWeightsPayload:
    weights: ScorecardWeightVersion | None = None
    errors: list[ScorecardUserError]


@strawberry.type
class AssessScorecardsPayload:
    version: ScorecardVersion | None = None
    scorecard_count: int | None = None
    errors: list[ScorecardUserError]
