"""Complaints as GraphQL (CMP-1 … CMP-6): submit, list, one complaint with its timeline,
statistics."""

from schema.complaints.mutations import ComplaintMutation
from schema.complaints.queries import NODE_LOADERS, ComplaintQuery
from schema.complaints.types import ComplaintNode

__all__ = ["NODE_LOADERS", "ComplaintMutation", "ComplaintNode", "ComplaintQuery"]
