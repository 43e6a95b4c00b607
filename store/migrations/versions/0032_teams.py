"""Teams within branches and staff membership history (KPI-1: scope bank → branch → team →
staff); the KPI rights for a live policy that predates them.

Revision ID: 0032
Revises: 0030
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0032"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = policy_rules.p_rules(
    [
        "BRANCH_SUPERVISOR, kpi:read, use, allow",
        "HEAD_OFFICE, kpi:read, use, allow",
        "MARKETING_ANALYST, kpi:read, use, allow",
        "BRANCH_SUPERVISOR, kpi:organise, use, allow",
        "HEAD_OFFICE, kpi:organise, use, allow",
    ]
)
SUMMARY = "migration 0032: KPI and team rights"


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("branches.id"), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.UniqueConstraint("branch_id", "code", name="uq_teams_branch_id"),
    )
    op.create_index("ix_teams_branch_id", "teams", ["branch_id"])
    op.create_table(
        "team_memberships",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id"), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=True),
        sa.Column("moved_by_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
    )
    op.create_index("ix_team_memberships_staff", "team_memberships", ["staff_id", "started_at"])
    op.create_index("ix_team_memberships_team", "team_memberships", ["team_id", "started_at"])
    op.create_index(
        "uq_team_memberships_open",
        "team_memberships",
        ["staff_id"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, "migration 0032 undone")
    op.drop_index("uq_team_memberships_open", table_name="team_memberships")
    op.drop_index("ix_team_memberships_team", table_name="team_memberships")
    op.drop_index("ix_team_memberships_staff", table_name="team_memberships")
    op.drop_table("team_memberships")
    op.drop_index("ix_teams_branch_id", table_name="teams")
    op.drop_table("teams")
