"""Seal the free text staff type about a customer.

``information_sources.detail``, ``verifications.note``, ``consents.evidence``,
``share_grants.reason`` and ``customer_watchers.reason`` can name a person or hold what was
learnt about them, so they become sealed text bound to their row like other personal data;
``customer_watchers`` has no id, so its reason is bound to the row's composite key
(``<customer_id>/<staff_id>``). Existing values are sealed here.

Revision ID: 0013
Revises: 0012
"""

import importlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The conversion of 0010, for these columns.
_previous: Any = importlib.import_module("store.migrations.versions.0010_state_at_rest")

# table → (column, its type before, nullable)
NEWLY_SEALED: dict[str, list[tuple[str, Any, bool]]] = {
    "information_sources": [("detail", sa.String(length=200), False)],
    "verifications": [("note", sa.String(length=500), True)],
    "consents": [("evidence", sa.String(length=300), False)],
    "share_grants": [("reason", sa.String(length=300), False)],
    "customer_watchers": [("reason", sa.String(length=200), False)],
}
KEYS = {"customer_watchers": ("customer_id", "staff_id")}


def upgrade() -> None:
    for table in NEWLY_SEALED:
        _previous._retype(table, to_sealed=True, newly_sealed=NEWLY_SEALED)
        _previous._convert(
            table, seal=True, newly_sealed=NEWLY_SEALED, key=KEYS.get(table, ("id",))
        )


def downgrade() -> None:
    for table in NEWLY_SEALED:
        _previous._convert(
            table, seal=False, newly_sealed=NEWLY_SEALED, key=KEYS.get(table, ("id",))
        )
        _previous._retype(table, to_sealed=False, newly_sealed=NEWLY_SEALED)
