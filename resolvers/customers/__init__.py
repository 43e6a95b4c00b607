"""Customer information: commands, the history every change records, lists and nested loaders."""

from resolvers.customers.history import audit_change

__all__ = ["audit_change"]
