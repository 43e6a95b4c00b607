"""Customer segments (SEG-1, SEG-4) as GraphQL."""

from schema.segments.mutations import SegmentMutation
from schema.segments.queries import NODE_LOADERS, SegmentQuery

__all__ = ["NODE_LOADERS", "SegmentMutation", "SegmentQuery"]
