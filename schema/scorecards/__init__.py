"""Scorecards (KPI-2) and incentives (KPI-3) as GraphQL."""

from schema.scorecards.mutations import ScorecardMutation
from schema.scorecards.queries import ScorecardQuery

__all__ = ["ScorecardMutation", "ScorecardQuery"]
