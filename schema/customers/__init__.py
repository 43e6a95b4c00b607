"""Customers and their information as GraphQL (INFO-1 … INFO-5)."""

from schema.customers.mutations import CustomerMutation
from schema.customers.queries import NODE_LOADERS, CustomerQuery
from schema.customers.types import AccountNode, CustomerNode, TransactionNode

# The nested-customer helpers live in schema.shared.customers; these names stay importable from
# here until every domain imports them from there.
from schema.shared.customers import load_customer, nested_customer, nested_customer_row

__all__ = [
    "NODE_LOADERS",
    "AccountNode",
    "CustomerMutation",
    "CustomerNode",
    "CustomerQuery",
    "TransactionNode",
    "load_customer",
    "nested_customer",
    "nested_customer_row",
]
