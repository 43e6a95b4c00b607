"""Adding reviewed rules to a live policy that predates them, for migrations (0009, 0012).

A database holding a live policy (imported from ``authz/policy.csv`` at its first start) keeps
it across upgrades; a migration that brings new rules adds the missing ones as a new policy
version, which servers reload within their poll interval. Empty databases are left alone: the
first start imports the whole file. Written against plain tables, never the models, so the
migrations that call it keep meaning what they meant when they were written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

# (ptype, v0, v1, v2, v3): "p" rules use all five, "g2" groupings the first three.
Rule = tuple[str, str, str, str, str]
COLUMNS = ("ptype", "v0", "v1", "v2", "v3")

rules = sa.table("policy_rules", *(sa.column(name, sa.String) for name in COLUMNS))
versions = sa.table(
    "policy_versions",
    sa.column("version", sa.Integer),
    sa.column("changed_at", sa.DateTime(timezone=True)),
    sa.column("changed_by", sa.String),
    sa.column("summary", sa.String),
)


def p_rules(lines: Sequence[str]) -> list[Rule]:
    """``"ROLE, object, action, effect"`` lines as ``p`` rules."""
    parsed: list[Rule] = []
    for line in lines:
        role, obj, action, effect = (part.strip() for part in line.split(","))
        parsed.append(("p", role, obj, action, effect))
    return parsed


def add_missing(connection: sa.Connection, wanted: Sequence[Rule], summary: str) -> None:
    """Insert the rules the live policy lacks, as one new version (none: nothing happens)."""
    if not connection.scalar(sa.select(sa.func.count()).select_from(rules)):
        return  # no live policy yet: the first start imports authz/policy.csv
    existing = {
        (row.ptype, row.v0, row.v1, row.v2 or "", row.v3 or "")
        for row in connection.execute(sa.select(rules))
    }
    missing = [dict(zip(COLUMNS, rule, strict=True)) for rule in wanted if rule not in existing]
    if missing:
        connection.execute(rules.insert(), missing)
        _new_version(connection, summary)


def remove(connection: sa.Connection, unwanted: Sequence[Rule], summary: str) -> None:
    """Delete these rules (a downgrade), as one new version when any was there."""
    removed = 0
    for rule in unwanted:
        match = [rules.c[name] == value for name, value in zip(COLUMNS, rule, strict=True)]
        removed += connection.execute(rules.delete().where(*match)).rowcount
    if removed:
        _new_version(connection, summary)


def _new_version(connection: sa.Connection, summary: str) -> None:
    latest = connection.scalar(sa.select(sa.func.max(versions.c.version))) or 0
    connection.execute(
        versions.insert().values(
            version=latest + 1,
            changed_at=datetime.now(UTC),
            changed_by="migration",
            summary=summary,
        )
    )
