"""The PostgreSQL privileges of the service's role: the audit tables are append-only for it.

A migration cannot know the production role's name, so ``kehu audit grant-service-role ROLE``
runs these statements as the tables' owner (or prints them for a DBA). The role must not own
the tables: an owner can grant itself anything back and disable the append-only triggers.
"""

from __future__ import annotations

import re

# Unquoted PostgreSQL identifiers only: the name is spliced into GRANT statements.
SERVICE_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
AUDIT_ENTRY_TABLES = "audit_log, audit_customers"


def service_role_grants(role: str) -> list[str]:
    """GRANT/REVOKE statements giving ``role`` what ``kehu serve`` and ``kehu worker`` need."""
    if not SERVICE_ROLE.fullmatch(role):
        raise ValueError("not a plain PostgreSQL role name")
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        # Entries are only ever added; audit_head is updated by every append (so it stays).
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {AUDIT_ENTRY_TABLES} FROM {role}",
        # kehu rotate-keys re-encrypts the sealed detail; the chain covers its plain text.
        f"GRANT UPDATE (detail) ON audit_log TO {role}",
    ]
