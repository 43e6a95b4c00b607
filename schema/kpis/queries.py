"""KPI queries (KPI-1): ``kpis`` by period and scope, the indicator definitions, the teams."""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy import select, true

from core import clock
from core.errors import ForbiddenError
from core.ids import pk_of
from resolvers.kpis import compute
from resolvers.kpis import periods as kpi_periods
from resolvers.kpis import scope as kpi_scope
from resolvers.kpis.indicators import INDICATORS
from resolvers.kpis.queries import teams_of
from schema.kpis.enums import KpiLevelEnum
from schema.kpis.types import TYPE_OF, KpiIndicatorDefinition, KpiReport, TeamNode
from schema.shared.base import ContextInfo, NodeLoader
from schema.shared.rights import Authenticated, HasRight
from schema.shared.rights import field as guarded_field
from schema.staff import BranchNode, StaffNode
from store.kpis import Team
from store.staff import Branch, Staff


@strawberry.input(
    description="A month, quarter or year by `label` (2026-10, 2026-Q3, 2026), or a range of "
    "Beijing dates `from` … `to` (inclusive, at most 366 days). Not in the future. 考核期间。"
)
class KpiPeriodInput:
    label: str | None = None
    from_: dt.date | None = strawberry.field(default=None, name="from")
    to: dt.date | None = None


@strawberry.input(
    description="Whose KPIs: the bank, or a branch, team or staff member by ID. 考核范围。"
)
class KpiScopeInput:
    level: KpiLevelEnum  # type: ignore[valid-type]
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The Branch, Team or Staff ID (none for the bank)."
    )


@strawberry.type
class KpiQuery:
    @guarded_field(
        "Indicators (KPI-1) of a period for the bank, a branch, a team or a staff member: "
        "each value with its numerator and denominator, the change against the previous "
        "period and the same period last year, a series for charts; `drillDown` adds the "
        "branches of the bank, the teams of a branch or the staff of a team. Supervisors: "
        "their branch; head office: the bank; marketing analysts: aggregates, with cells of "
        "fewer customers than `minimumCount` suppressed (complementary suppression across "
        "siblings, parents and the calendar: a quarter is its months), for a month, quarter or "
        "year only (a range: CALENDAR_PERIOD_REQUIRED), with teams as they are now, and not by "
        "member of staff (FORBIDDEN). "
        "Refused: future periods (FUTURE_PERIOD), unknown scopes (UNKNOWN_SCOPE) or "
        "indicators (UNKNOWN_INDICATOR). 考核指标。",
        HasRight("kpi:read"),
    )
    def kpis(
        self,
        info: ContextInfo,
        period: KpiPeriodInput,
        scope: KpiScopeInput | None = None,
        indicators: list[str] | None = strawberry.UNSET,
        drill_down: bool = False,
    ) -> KpiReport:
        ctx = info.context
        now, today = clock.now(), clock.today()
        chosen = compute.indicators_of(indicators or None)
        found = kpi_periods.parse(period.label, period.from_, period.to, today)
        level = kpi_scope.Level(scope.level.value if scope else "BANK")  # type: ignore[attr-defined]
        key = None
        if scope is not None and scope.id is not None and level is not kpi_scope.Level.BANK:
            key = pk_of(scope.id, TYPE_OF[level], ("scope", "id"))
        access = ctx.access
        aggregates_only = not access.row_scopes
        minimum = ctx.settings.kpi_minimum_cell if aggregates_only else None
        if aggregates_only and level is kpi_scope.Level.STAFF:
            raise ForbiddenError(
                "scope.level: your roles see aggregates by bank, branch and team, not by "
                "member of staff (appraisal data)"
            )
        if aggregates_only and drill_down and level is kpi_scope.Level.TEAM:
            raise ForbiddenError(
                "drillDown: your roles see aggregates by bank, branch and team, not by member "
                "of staff (appraisal data)"
            )
        at = compute.attribution_instant(found, now, minimum)
        resolved = kpi_scope.resolve(ctx.session, level, key, at, access.row_scopes, ctx.actor)
        report = compute.compute(
            ctx.session,
            found,
            resolved,
            chosen,
            now=now,
            today=today,
            visible=true() if aggregates_only else access.in_rows,
            minimum=minimum,
            drill_down=drill_down,
        )
        return KpiReport.of(report)

    @guarded_field(
        "Every KPI indicator with its definition (numerator, denominator, inclusion rules). "
        "考核指标定义。",
        Authenticated(),
    )
    def kpi_indicators(self, info: ContextInfo) -> list[KpiIndicatorDefinition]:
        return [KpiIndicatorDefinition.of(i) for i in INDICATORS]

    @guarded_field(
        "The teams of a branch (yours when omitted) with their members now. 团队。",
        HasRight("kpi:read"),
    )
    def teams(self, info: ContextInfo, branch_id: strawberry.ID | None = None) -> list[TeamNode]:
        ctx = info.context
        branch = (
            ctx.actor.branch_id if branch_id is None else pk_of(branch_id, "Branch", "branchId")
        )
        if "bank" not in ctx.access.row_scopes and ctx.access.row_scopes:
            branch = ctx.actor.branch_id  # supervisors: their own branch only
        return present_teams(info, teams_of(ctx.session, [branch]))


def present_teams(info: ContextInfo, found: list[tuple[Team, list[int]]]) -> list[TeamNode]:
    """Teams as nodes, their branches and members loaded in one statement each."""
    session = info.context.session
    branch_ids = {team.branch_id for team, _ in found}
    staff_ids = {pk for _, members in found for pk in members}
    branches = {
        b.id: BranchNode.of(b)
        for b in session.scalars(select(Branch).where(Branch.id.in_(branch_ids)))
    }
    staff = {
        s.id: StaffNode.of(s) for s in session.scalars(select(Staff).where(Staff.id.in_(staff_ids)))
    }
    return [
        TeamNode.of(team, branches[team.branch_id], [staff[pk] for pk in members])
        for team, members in found
    ]


def _load_team(info: ContextInfo, pk: int) -> TeamNode | None:
    if not info.context.access.has_right("kpi:read"):
        return None
    found = teams_of(info.context.session, None, [pk])
    return present_teams(info, found)[0] if found else None


NODE_LOADERS: dict[str, NodeLoader] = {"Team": _load_team}
