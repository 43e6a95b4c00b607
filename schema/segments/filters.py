"""The customers list's `segment` filter: the tier shown (override in force, else computed)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.segments.loaders import computed_column, effective_tier
from resolvers.shared.filters import FilterField
from schema.segments.enums import RiskGradeEnum, ValueTierEnum
from schema.shared.base import BooleanFilter


@strawberry.input(description="Value tier filter.")
class ValueTierFilter:
    eq: ValueTierEnum | None = None  # type: ignore[valid-type]
    in_: list[ValueTierEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(description="Risk grade filter.")
class RiskGradeFilter:
    eq: RiskGradeEnum | None = None  # type: ignore[valid-type]
    in_: list[RiskGradeEnum] | None = strawberry.field(name="in", default=None)  # type: ignore[valid-type]


@strawberry.input(
    description="Filters on a customer's segment (needs FULL access to the `segment` group). "
    "按客户分类筛选。"
)
class SegmentWhere:
    tier: ValueTierFilter | None = strawberry.field(
        default=None, description="The tier shown: an override in force, else the computed one."
    )
    private_banking: BooleanFilter | None = None
    risk_grade: RiskGradeFilter | None = strawberry.field(
        default=None,
        description="The computed risk grade (SEG-3; needs FULL access to `segment_risk`).",
    )


# Each segment filter and the field it reveals ("Type.field"): filtering needs FULL access to it.
SEGMENT_FILTERED_FIELDS = {
    "tier": "CustomerSegment.tier",
    "private_banking": "CustomerSegment.privateBanking",
    "risk_grade": "CustomerSegment.riskGrade",
}


def segment_filter(now: datetime) -> FilterField:
    """``where: {segment: …}`` of the customers list, as of ``now`` (overrides expire)."""
    return FilterField(
        None,
        "nested",
        fields={
            "tier": FilterField(effective_tier(now)),
            "private_banking": FilterField(computed_column("private_banking")),
            "risk_grade": FilterField(computed_column("risk_grade")),
        },
    )
