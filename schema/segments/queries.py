"""Segment queries: the distribution, the value model's versions, classification runs."""

from __future__ import annotations

import strawberry
from sqlalchemy import true

from core import clock
from core.ids import pk_of
from resolvers.segments import commands, distribution, queries, risk_model
from schema.segments.enums import DistributionDimensionEnum
from schema.segments.types import (
    RiskRuleSet,
    SegmentCell,
    SegmentDistribution,
    SegmentMonth,
    SegmentRunNode,
    SegmentTrend,
    ServiceMeasureSet,
    ValueRuleSet,
)
from schema.shared.base import Connection, ContextInfo, NodeLoader, page_request
from schema.shared.rights import Authenticated, HasRight
from schema.shared.rights import field as guarded_field
from store.segments import SegmentRun


@strawberry.type
class SegmentQuery:
    @guarded_field(
        "Customers and AUM per value tier (SEG-1) — or per risk grade with `dimension: "
        "RISK_GRADE` (SEG-3), or per need with `dimension: NEED` (SEG-2: a customer counts "
        "under each of its needs, so need cells overlap and do not add up to the customers; "
        "customers without a need are in no cell) — and per branch with `byBranch`: over the "
        "customers you see, or the whole bank for roles that see no customer rows (marketing). "
        "Cells of fewer than `minimumCount` customers are suppressed, with as many others as "
        "it takes for no suppressed cell to be the only one of its tier, grade or need over "
        "the branches, or of its branch. 客户分类分布。",
        HasRight("segment:distribution"),
    )
    def segments(
        self,
        info: ContextInfo,
        by_branch: bool = False,
        dimension: DistributionDimensionEnum = DistributionDimensionEnum.VALUE_TIER,  # type: ignore[valid-type]
    ) -> SegmentDistribution:
        ctx = info.context
        now = clock.now()
        # Aggregates only: roles without customer rows count the bank; others what they see.
        visible = ctx.access.visible if ctx.access.row_scopes else true()
        cells = queries.distribution(
            ctx.session,
            now,
            visible,
            by_branch,
            dimension=dimension.value,  # type: ignore[attr-defined]
        )
        return SegmentDistribution(
            as_of=now,
            dimension=dimension,
            minimum_count=queries.MINIMUM_CELL,
            cells=[SegmentCell.of(cell) for cell in cells],
        )

    @guarded_field(
        "Customers and AUM per value tier — or per risk grade with `dimension: RISK_GRADE`, "
        "or per need with `dimension: NEED` — at each month end of a range of Beijing months "
        "(`fromMonth` … `toMonth`, e.g. 2026-01, at most 36), and per branch with `byBranch`, "
        "from the segment history: the tier shown then (an override in force, else the "
        "computed tier), the risk grade of the last computed change, the needs then (the "
        "newest staff setting of each need made by then, else the needs derived by the last "
        "computed change; a customer counts under each of its needs), and the AUM of the "
        "newest snapshot recorded by then. Visible customers as for `segments`; each month's "
        "small cells suppressed the same way. 客户分类分布变化。",
        HasRight("segment:distribution"),
    )
    def segments_over_time(
        self,
        info: ContextInfo,
        from_month: str,
        to_month: str,
        by_branch: bool = False,
        dimension: DistributionDimensionEnum = DistributionDimensionEnum.VALUE_TIER,  # type: ignore[valid-type]
    ) -> SegmentTrend:
        ctx = info.context
        ends = distribution.month_ends(from_month, to_month, clock.now())
        visible = ctx.access.visible if ctx.access.row_scopes else true()
        cells = distribution.over_time(
            ctx.session,
            ends,
            visible,
            by_branch,
            queries.MINIMUM_CELL,
            dimension.value,  # type: ignore[attr-defined]
        )
        return SegmentTrend(
            dimension=dimension,
            minimum_count=queries.MINIMUM_CELL,
            months=[
                SegmentMonth(
                    month=end.month,
                    as_of=end.at,
                    cells=[SegmentCell.of(c) for c in cells if c.month == end.month],
                )
                for end in ends
            ],
        )

    @guarded_field(
        "The value model in force (SEG-1): weights, thresholds, tier cut-offs. 现行客户价值模型。",
        Authenticated(),
    )
    def value_rule_set(self, info: ContextInfo) -> ValueRuleSet:
        session = info.context.session
        row = queries.newest_rule_set(session)
        if row is not None:
            return ValueRuleSet.of_row(row)
        return ValueRuleSet.of(commands.rule_set_in_force(session), None)

    @guarded_field(
        "Every stored version of the value model, newest first. 客户价值模型版本。",
        Authenticated(),
    )
    def value_rule_sets(
        self,
        info: ContextInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ValueRuleSet]:
        page = queries.rule_set_page(info.context.session, page_request(first, after, last, before))
        return Connection.of(page, [ValueRuleSet.of_row(row) for row in page.rows])

    @guarded_field(
        "The risk model in force (SEG-3): credit-score bands, early-warning thresholds and "
        "windows, the re-assessment period. 现行客户风险模型。",
        Authenticated(),
    )
    def risk_rule_set(self, info: ContextInfo) -> RiskRuleSet:
        session = info.context.session
        row = queries.newest_rule_set(session, model=risk_model.RISK)
        if row is not None:
            return RiskRuleSet.of_row(row)
        return RiskRuleSet.of(commands.risk_rule_set_in_force(session), None)

    @guarded_field(
        "Every stored version of the risk model, newest first. 客户风险模型版本。",
        Authenticated(),
    )
    def risk_rule_sets(
        self,
        info: ContextInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[RiskRuleSet]:
        request = page_request(first, after, last, before)
        page = queries.rule_set_page(info.context.session, request, risk_model.RISK)
        return Connection.of(page, [RiskRuleSet.of_row(row) for row in page.rows])

    @guarded_field(
        "The service measures in force for every segment (SEG-5). 现行分类管理措施。",
        Authenticated(),
    )
    def service_measure_set(self, info: ContextInfo) -> ServiceMeasureSet:
        return ServiceMeasureSet.in_force(info.context.session)

    @guarded_field(
        "Classification runs, newest first (SEG-4). 分类批次。", HasRight("segment:classify")
    )
    def segment_runs(
        self,
        info: ContextInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[SegmentRunNode]:
        page = queries.run_page(info.context.session, page_request(first, after, last, before))
        return Connection.of(page, [SegmentRunNode.of(row) for row in page.rows])

    @guarded_field(
        "One classification run (SEG-4): its status and progress while a worker runs it. "
        "分类批次进度。",
        HasRight("segment:classify"),
    )
    def classification_run(self, info: ContextInfo, id: strawberry.ID) -> SegmentRunNode | None:
        run = _run(info, pk_of(id, "SegmentRun", "id"))
        return None if run is None else SegmentRunNode.of(run)


def _run(info: ContextInfo, pk: int) -> SegmentRun | None:
    return info.context.session.get(SegmentRun, pk)


NODE_LOADERS: dict[str, NodeLoader] = {}
