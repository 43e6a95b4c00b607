"""Contacts with customers and the contact cadence (REL-1, REL-2) as GraphQL."""

from schema.contacts.mutations import ContactMutation
from schema.contacts.queries import NODE_LOADERS, ContactQuery

__all__ = ["NODE_LOADERS", "ContactMutation", "ContactQuery"]
