"""Contacts with customers (REL-1) and the contact cadence by value tier (REL-2)."""
