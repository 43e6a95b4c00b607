"""Sharing of personal data (SHARE-2, SHARE-3) as GraphQL; explaining access decisions."""

from schema.sharing.mutations import SharingMutation
from schema.sharing.queries import NODE_LOADERS, SharingQuery
from schema.sharing.types import ConsentNode, ShareGrantNode, ShareRequestNode, ThirdPartyNode

__all__ = [
    "NODE_LOADERS",
    "ConsentNode",
    "ShareGrantNode",
    "ShareRequestNode",
    "SharingMutation",
    "SharingQuery",
    "ThirdPartyNode",
]
