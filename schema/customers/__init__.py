"""Customers and their information as GraphQL (INFO-1 … INFO-5)."""

from schema.customers.mutations import CustomerMutation
from schema.customers.queries import NODE_LOADERS, CustomerQuery
from schema.customers.types import AccountNode, CustomerNode, TransactionNode

__all__ = [
    "NODE_LOADERS",
    "AccountNode",
    "CustomerMutation",
    "CustomerNode",
    "CustomerQuery",
    "TransactionNode",
]
