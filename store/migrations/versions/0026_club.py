"""The customer club (REL-4): member tiers and levels, events, invitations, registrations and
attendance; the club rights for a live policy that predates them.

Revision ID: 0026
Revises: 0023
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0026"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
TIER = sa.Enum("LOW", "MEDIUM", "HIGH", name="valuetier", native_enum=False, length=32)

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = policy_rules.p_rules(
    [
        "RELATIONSHIP_MANAGER, club:read, use, allow",
        "BRANCH_SUPERVISOR, club:read, use, allow",
        "HEAD_OFFICE, club:read, use, allow",
        "BRANCH_SUPERVISOR, club:event, use, allow",
        "HEAD_OFFICE, club:event, use, allow",
        "HEAD_OFFICE, club:membership, use, allow",
        "RELATIONSHIP_MANAGER, club:register, use, allow",
        "BRANCH_SUPERVISOR, club:register, use, allow",
        "HEAD_OFFICE, club:register, use, allow",
    ]
)
SUMMARY = "migration 0026: customer club rights"

# Members at the start: high-value customers gold, medium silver; configurable afterwards.
TIERS = [
    {"tier": "HIGH", "level": "GOLD", "label": "金卡会员"},
    {"tier": "MEDIUM", "level": "SILVER", "label": "银卡会员"},
]


def upgrade() -> None:
    tiers = op.create_table(
        "club_tiers",
        sa.Column("tier", TIER, nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("tier", name=op.f("pk_club_tiers")),
    )
    op.bulk_insert(tiers, TIERS)
    op.create_table(
        "club_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "LECTURE",
                "INVESTMENT_SALON",
                "FAMILY_ACTIVITY",
                name="clubeventkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", TIME, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_club_events_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_club_events_created_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_events")),
    )
    op.create_index("ix_club_events_branch", "club_events", ["branch_id", "starts_at", "id"])
    for table, by in (("club_invitations", "invited"), ("club_registrations", "registered")):
        extra: list[Any] = (
            [
                sa.Column("attended_at", TIME, nullable=True),
                sa.Column("attendance_recorded_by_id", sa.Integer(), nullable=True),
                sa.ForeignKeyConstraint(
                    ["attendance_recorded_by_id"],
                    ["staff.id"],
                    name=op.f(f"fk_{table}_attendance_recorded_by_id_staff"),
                ),
            ]
            if table == "club_registrations"
            else []
        )
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("event_id", sa.Integer(), nullable=False),
            sa.Column("customer_id", sa.Integer(), nullable=False),
            sa.Column(f"{by}_by_id", sa.Integer(), nullable=False),
            sa.Column(f"{by}_at", TIME, nullable=False),
            *extra,
            sa.ForeignKeyConstraint(
                ["event_id"], ["club_events.id"], name=op.f(f"fk_{table}_event_id_club_events")
            ),
            sa.ForeignKeyConstraint(
                ["customer_id"], ["customers.id"], name=op.f(f"fk_{table}_customer_id_customers")
            ),
            sa.ForeignKeyConstraint(
                [f"{by}_by_id"], ["staff.id"], name=op.f(f"fk_{table}_{by}_by_id_staff")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("event_id", "customer_id", name=op.f(f"uq_{table}_event_id")),
        )
        op.create_index(op.f(f"ix_{table}_customer_id"), table, ["customer_id"])
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
    for table in ("club_registrations", "club_invitations"):
        op.drop_index(op.f(f"ix_{table}_customer_id"), table_name=table)
        op.drop_table(table)
    op.drop_index("ix_club_events_branch", table_name="club_events")
    op.drop_table("club_events")
    op.drop_table("club_tiers")
