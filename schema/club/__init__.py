"""The customer club (REL-4) as GraphQL."""

from schema.club.mutations import ClubMutation
from schema.club.queries import NODE_LOADERS, ClubQuery

__all__ = ["NODE_LOADERS", "ClubMutation", "ClubQuery"]
