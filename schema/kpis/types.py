"""KPI types: an indicator's definition, its figures per window, a scope's values, teams."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry

from core.errors import UserInputError
from resolvers.kpis import compute
from resolvers.kpis.indicators import Indicator, definition
from resolvers.kpis.scope import Level
from schema.kpis.enums import (
    KpiAreaEnum,
    KpiErrorCode,
    KpiLevelEnum,
    KpiNullReason,
    KpiPeriodKind,
    KpiValueKindEnum,
)
from schema.shared.base import Node, node_id, user_errors
from schema.staff import BranchNode, StaffNode
from store.kpis import Team


@strawberry.type(description="An indicator and its written definition (KPI-1). 指标定义。")
class KpiIndicatorDefinition:
    code: str = strawberry.field(description="What `kpis(indicators:)` takes, e.g. REFERRAL_RATE.")
    area: KpiAreaEnum  # type: ignore[valid-type]
    title: str = strawberry.field(description="The name staff read (中文).")
    kind: KpiValueKindEnum  # type: ignore[valid-type]
    definition: str = strawberry.field(
        description="Numerator, denominator and inclusion rules — the same text as the README."
    )
    numerator: str = strawberry.field(description="The measure counted above the line.")
    denominator: str | None = strawberry.field(description="The measure below it (none: a count).")

    @classmethod
    def of(cls, indicator: Indicator) -> KpiIndicatorDefinition:
        return cls(
            code=indicator.code,
            area=indicator.area,
            title=indicator.title,
            kind=indicator.kind,
            definition=definition(indicator),
            numerator=indicator.numerator,
            denominator=indicator.denominator,
        )


@strawberry.type(description="Part of a count, e.g. lost customers by reason. 细分。")
class KpiBreakdownItem:
    key: str
    customers: int | None = strawberry.field(description="Null: suppressed.")


@strawberry.type(description="An indicator in one period for one scope. 某期指标值。")
class KpiFigure:
    label: str = strawberry.field(description="2026-Q3, 2026-10, 2026 or from/to.")
    start: dt.date = strawberry.field(description="First day (Beijing).")
    end: dt.date = strawberry.field(description="Last day (Beijing), inclusive.")
    value: Decimal | None = strawberry.field(description="Null: see `nullReason`.")
    numerator: Decimal | None
    denominator: Decimal | None = strawberry.field(description="Null for counts and amounts.")
    customers: int | None = strawberry.field(
        description="Distinct customers the figure describes (the suppression count)."
    )
    suppressed: bool
    null_reason: KpiNullReason | None  # type: ignore[valid-type]
    breakdown: list[KpiBreakdownItem]

    @classmethod
    def of(cls, figure: compute.Figure) -> KpiFigure:
        return cls(
            label=figure.window.label,
            start=figure.window.start,
            end=figure.window.last_day,
            value=figure.value,
            numerator=figure.numerator,
            denominator=figure.denominator,
            customers=figure.customers,
            suppressed=figure.reason == compute.SUPPRESSED,
            null_reason=figure.reason,  # type: ignore[arg-type]
            breakdown=[KpiBreakdownItem(key=k, customers=n) for k, n in figure.breakdown],
        )


@strawberry.type(description="A value against another period. 同比/环比变化。")
class KpiChange:
    absolute: Decimal | None = strawberry.field(description="value − the other value.")
    relative: Decimal | None = strawberry.field(
        description="absolute ÷ |the other value| (4 decimals); null when that is 0 or null."
    )

    @classmethod
    def of(cls, change: compute.Change) -> KpiChange:
        return cls(absolute=change.absolute, relative=change.relative)


@strawberry.type(description="One indicator for one scope. 指标。")
class KpiValue:
    indicator: str
    title: str
    kind: KpiValueKindEnum  # type: ignore[valid-type]
    value: Decimal | None = strawberry.field(description="The period's value (= current.value).")
    numerator: Decimal | None
    denominator: Decimal | None
    suppressed: bool
    null_reason: KpiNullReason | None  # type: ignore[valid-type]
    current: KpiFigure
    previous: KpiFigure = strawberry.field(description="The period before.")
    last_year: KpiFigure = strawberry.field(description="The same period last year.")
    change_from_previous: KpiChange
    change_from_last_year: KpiChange
    series: list[KpiFigure] = strawberry.field(
        description="For charts, oldest first, the period last: 13 months, 5 quarters, 3 "
        "years, or a range's three windows."
    )

    @classmethod
    def of(cls, value: compute.Value) -> KpiValue:
        # The comparison periods are in the series (a range's too): one object per window.
        figures = {f.window: KpiFigure.of(f) for f in value.series}
        for extra in (value.current, value.previous, value.last_year):
            if extra.window not in figures:
                figures[extra.window] = KpiFigure.of(extra)
        current = figures[value.current.window]
        return cls(
            indicator=value.indicator.code,
            title=value.indicator.title,
            kind=value.indicator.kind,
            value=current.value,
            numerator=current.numerator,
            denominator=current.denominator,
            suppressed=current.suppressed,
            null_reason=current.null_reason,
            current=current,
            previous=figures[value.previous.window],
            last_year=figures[value.last_year.window],
            change_from_previous=KpiChange.of(value.change_previous),
            change_from_last_year=KpiChange.of(value.change_last_year),
            series=[figures[f.window] for f in value.series],
        )


TYPE_OF = {Level.BRANCH: "Branch", Level.TEAM: "Team", Level.STAFF: "Staff"}


@strawberry.type(
    description="The bank, a branch, a team or a staff member, with its values. 考核单元。"
)
class KpiUnit:
    level: KpiLevelEnum  # type: ignore[valid-type]
    id: strawberry.ID | None = strawberry.field(
        description="The Branch, Team or Staff ID; null for the bank, and for a branch's "
        "customers whose manager is in no team."
    )
    label: str
    values: list[KpiValue]

    @classmethod
    def of(cls, unit: compute.Unit) -> KpiUnit:
        type_name = TYPE_OF.get(unit.level)
        return cls(
            level=unit.level,
            id=None if unit.key is None or type_name is None else node_id(type_name, unit.key),
            label=unit.label,
            values=[KpiValue.of(v) for v in unit.values.values()],
        )


@strawberry.type(description="KPIs of a period and scope (KPI-1). 考核指标。")
class KpiReport:
    kind: KpiPeriodKind  # type: ignore[valid-type]
    label: str
    start: dt.date
    end: dt.date = strawberry.field(description="Last day, inclusive.")
    as_of: dt.datetime = strawberry.field(description="Figures of a running period: up to now.")
    minimum_count: int | None = strawberry.field(
        description="Cells describing fewer customers are suppressed (complementary "
        "suppression across siblings); null: nothing is suppressed for your roles."
    )
    scope: KpiUnit
    children: list[KpiUnit] = strawberry.field(
        description="With `drillDown`: branches of the bank, teams of a branch, staff of a team."
    )
    definitions: list[KpiIndicatorDefinition]

    @classmethod
    def of(cls, report: compute.Report) -> KpiReport:
        window = report.period.window
        return cls(
            kind=KpiPeriodKind[report.period.kind],
            label=window.label,
            start=window.start,
            end=window.last_day,
            as_of=report.as_of,
            minimum_count=report.minimum,
            scope=KpiUnit.of(report.total),
            children=[KpiUnit.of(u) for u in report.children],
            definitions=[
                KpiIndicatorDefinition.of(v.indicator) for v in report.total.values.values()
            ],
        )


@strawberry.type(name="Team", description="A team within a branch. 团队。")
class TeamNode(Node):
    _pk: strawberry.Private[int]
    code: str
    name: str
    branch: BranchNode
    members: list[StaffNode] = strawberry.field(description="Its members now.")

    @classmethod
    def of(cls, team: Team, branch: BranchNode, members: list[StaffNode]) -> TeamNode:
        return cls(
            id=node_id("Team", team.id),
            _pk=team.id,
            code=team.code,
            name=team.name,
            branch=branch,
            members=members,
        )


@strawberry.type
class KpiUserError:
    field: list[str] | None = strawberry.field(description="Path of the input field.")
    code: KpiErrorCode  # type: ignore[valid-type]
    message: str


def kpi_errors(exc: UserInputError) -> list[KpiUserError]:
    return user_errors(exc, KpiUserError, lambda code: KpiErrorCode[code])


@strawberry.type
class TeamPayload:
    team: TeamNode | None = None
    errors: list[KpiUserError]


@strawberry.type
class TeamMovePayload:
    staff: StaffNode | None = None
    team: TeamNode | None = strawberry.field(default=None, description="Null: in no team now.")
    errors: list[KpiUserError]
