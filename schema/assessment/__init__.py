"""Assessment (KPI-2) as GraphQL: spot checks, findings, rectifications, staff evaluations."""

from schema.assessment.mutations import AssessmentMutation
from schema.assessment.queries import NODE_LOADERS, AssessmentQuery

__all__ = ["NODE_LOADERS", "AssessmentMutation", "AssessmentQuery"]
