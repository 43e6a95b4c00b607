"""Placement write rules for databases whose live policy predates them (issue 8 review).

A customer's branch and relationship manager became a write of their own (``placement``), so a
risk officer, who may write risk assessments on every row, can no longer move customers. A live
policy imported before this has no ``placement`` group: this adds the group and the rules of
``authz/policy.csv`` as a new policy version (without them no one could move a customer).
Empty databases are left alone: the first start imports the whole file.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = [
    ("g2", "Customer.branch", "placement", "", ""),
    ("g2", "Customer.relationshipManager", "placement", "", ""),
    ("p", "RELATIONSHIP_MANAGER", "placement", "write", "allow"),
    ("p", "BRANCH_SUPERVISOR", "placement", "write", "allow"),
    ("p", "HEAD_OFFICE", "placement", "write", "allow"),
]
SUMMARY = "migration 0012: placement write rules"

rules = sa.table(
    "policy_rules",
    sa.column("ptype", sa.String),
    sa.column("v0", sa.String),
    sa.column("v1", sa.String),
    sa.column("v2", sa.String),
    sa.column("v3", sa.String),
)
versions = sa.table(
    "policy_versions",
    sa.column("version", sa.Integer),
    sa.column("changed_at", sa.DateTime(timezone=True)),
    sa.column("changed_by", sa.String),
    sa.column("summary", sa.String),
)
COLUMNS = ("ptype", "v0", "v1", "v2", "v3")


def _new_version(connection: sa.Connection) -> None:
    latest = connection.scalar(sa.select(sa.func.max(versions.c.version))) or 0
    connection.execute(
        versions.insert().values(
            version=latest + 1,
            changed_at=datetime.now(UTC),
            changed_by="migration",
            summary=SUMMARY,
        )
    )


def _key(row: sa.Row[tuple[str, str, str, str | None, str | None]]) -> tuple[str, ...]:
    return (row.ptype, row.v0, row.v1, row.v2 or "", row.v3 or "")


def upgrade() -> None:
    connection = op.get_bind()
    if not connection.scalar(sa.select(sa.func.count()).select_from(rules)):
        return  # no live policy yet: the first start imports authz/policy.csv
    existing = {_key(row) for row in connection.execute(sa.select(rules))}
    missing = [dict(zip(COLUMNS, rule, strict=True)) for rule in RULES if rule not in existing]
    if missing:
        connection.execute(rules.insert(), missing)
        _new_version(connection)


def downgrade() -> None:
    connection = op.get_bind()
    removed = 0
    for rule in RULES:
        match = [rules.c[name] == value for name, value in zip(COLUMNS, rule, strict=True)]
        removed += connection.execute(rules.delete().where(*match)).rowcount
    if removed:
        _new_version(connection)
