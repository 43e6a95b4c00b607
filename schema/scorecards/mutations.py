"""Scorecard mutations (KPI-2): a new weight version, an assessment (head office; audited)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.ids import pk_of
from resolvers.scorecards import commands
from resolvers.scorecards.queries import as_version
from schema.scorecards.enums import HonourTitleEnum, ScorecardLevelEnum, ScoreDirectionEnum
from schema.scorecards.types import (
    AssessScorecardsPayload,
    ScorecardVersion,
    ScorecardWeightsPayload,
    ScorecardWeightVersion,
    scorecard_errors,
)
from schema.shared.base import ContextInfo
from schema.shared.mutations import run_command
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from store.scorecards import Scorecard, ScorecardRun
from store.scorecards import ScorecardWeightVersion as WeightRow
from store.staff import Staff


@strawberry.input(description="An indicator's weight and scoring rule. 指标权重。")
class IndicatorWeightInput:
    indicator: str = strawberry.field(description="A code of `kpiIndicators`.")
    weight: Decimal = strawberry.field(description="Above 0, at most 1, at most 4 decimals.")
    direction: ScoreDirectionEnum  # type: ignore[valid-type]
    target: Decimal = strawberry.field(description="Scores 100 (HIGHER: above the floor).")
    floor: Decimal = strawberry.field(description="Scores 0.")


@strawberry.input(description="The weights of one level; they add up to exactly 1. 层级权重。")
class LevelWeightsInput:
    level: ScorecardLevelEnum  # type: ignore[valid-type]
    indicators: list[IndicatorWeightInput]


@strawberry.input(description="A rule awarding an honour title (all conditions hold). 荣誉规则。")
class HonourRuleInput:
    title: HonourTitleEnum  # type: ignore[valid-type]
    level: ScorecardLevelEnum  # type: ignore[valid-type]
    top: int | None = strawberry.field(default=None, description="Rank at most this.")
    min_score: Decimal | None = strawberry.field(default=None, description="Score at least.")
    min_customers: int = 0
    no_major_complaint: bool = True


@strawberry.input(description="A new version of the scorecard weights (KPI-2). 新权重版本。")
class SetScorecardWeightsInput:
    valid_from: dt.date = strawberry.field(description="First Beijing day in force.")
    valid_to: dt.date | None = strawberry.field(
        default=None, description="Last day in force; null: open-ended."
    )
    summary: str = strawberry.field(description="Why (at most 500 characters).")
    levels: list[LevelWeightsInput] = strawberry.field(description="BRANCH, TEAM and STAFF.")
    honours: list[HonourRuleInput] | None = strawberry.field(
        default=None, description="Null: the reviewed file's rules (weights.toml)."
    )


@strawberry.input(description="Assess (compute and freeze) a period's scorecards. 考核。")
class AssessScorecardsInput:
    period: str = strawberry.field(description="A month or quarter that has ended: 2026-Q3.")
    branch_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this branch (its teams and staff); null: the bank."
    )
    reason: str | None = strawberry.field(
        default=None, description="Why (a recomputation: what was corrected)."
    )


def _raw(input: SetScorecardWeightsInput) -> dict[str, object]:
    return {
        "levels": [
            {
                "level": level.level.value,  # type: ignore[attr-defined]
                "indicators": [
                    {
                        "indicator": w.indicator,
                        "weight": w.weight,
                        "direction": w.direction.value,  # type: ignore[attr-defined]
                        "target": w.target,
                        "floor": w.floor,
                    }
                    for w in level.indicators
                ],
            }
            for level in input.levels
        ],
        "honours": None
        if input.honours is None
        else [
            {
                "title": h.title.value,  # type: ignore[attr-defined]
                "level": h.level.value,  # type: ignore[attr-defined]
                "top": h.top,
                "min_score": h.min_score,
                "min_customers": h.min_customers,
                "no_major_complaint": h.no_major_complaint,
            }
            for h in input.honours
        ],
    }


@strawberry.type
class ScorecardMutation:
    @guarded_mutation(
        "A new version of the scorecard weights (KPI-2), head office only, audited: each "
        "level's indicators (known ones: UNKNOWN_INDICATOR) with weights adding up to exactly 1 "
        "(WEIGHTS_NOT_ONE), a scoring rule each, the honour rules; valid for Beijing dates "
        "validFrom … validTo. An open-ended version that began earlier ends the day before; "
        "any other overlap is refused (OVERLAPPING_WEIGHT_VERSIONS). 设置考核权重。",
        HasRight("scorecard:manage"),
    )
    def set_scorecard_weights(
        self, info: ContextInfo, input: SetScorecardWeightsInput
    ) -> ScorecardWeightsPayload:
        def command(session: Session, actor: Staff) -> WeightRow:
            return commands.set_weights(
                session,
                actor.employee_no,
                _raw(input),
                input.valid_from,
                input.valid_to,
                input.summary,
            )

        return run_command(
            info,
            ScorecardWeightsPayload,
            command,
            lambda row: ScorecardWeightsPayload(
                errors=[], weights=ScorecardWeightVersion.of(as_version(row), row.changed_by)
            ),
            errors=scorecard_errors,
        )

    @guarded_mutation(
        "Compute and freeze the scorecards (KPI-2) of a month or quarter that has ended, for "
        "every branch, team and staff member (or one branch's), with the weight version in "
        "force on its last day; ranks and honours (KPI-3) with them. Assessing a period again "
        "makes the next version and keeps the old. Head office only, audited. Refused: "
        "FUTURE_PERIOD, PERIOD_NOT_ENDED, NO_WEIGHTS, UNKNOWN_SCOPE. The CLI: `kehu assess`. "
        "考核（冻结记分卡）。",
        HasRight("scorecard:manage"),
    )
    def assess_scorecards(
        self, info: ContextInfo, input: AssessScorecardsInput
    ) -> AssessScorecardsPayload:
        def command(session: Session, actor: Staff) -> ScorecardRun:
            branch = (
                None if input.branch_id is None else pk_of(input.branch_id, "Branch", "branchId")
            )
            return commands.assess(session, actor.employee_no, input.period, branch, input.reason)

        def answer(run: ScorecardRun) -> AssessScorecardsPayload:
            count = info.context.session.scalar(
                select(func.count(Scorecard.id)).where(Scorecard.run_id == run.id)
            )
            return AssessScorecardsPayload(
                errors=[], version=ScorecardVersion.of(run), scorecard_count=count
            )

        return run_command(info, AssessScorecardsPayload, command, answer, errors=scorecard_errors)
