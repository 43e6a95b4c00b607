"""Surveys (REL-5) as GraphQL."""

from schema.surveys.mutations import SurveyMutation
from schema.surveys.queries import NODE_LOADERS, SurveyQuery

__all__ = ["NODE_LOADERS", "SurveyMutation", "SurveyQuery"]
