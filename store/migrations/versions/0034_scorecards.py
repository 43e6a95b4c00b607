"""Scorecards (KPI-2) and honours (KPI-3): weight versions, frozen assessment runs with their
scorecards and indicator lines, honours; the scorecard rights for a live policy that predates
them.

Revision ID: 0034
Revises: 0033
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
DECIMAL = sa.String(40)

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = policy_rules.p_rules(
    [
        "RELATIONSHIP_MANAGER, scorecard:read, use, allow",
        "BRANCH_SUPERVISOR, scorecard:read, use, allow",
        "HEAD_OFFICE, scorecard:read, use, allow",
        "HEAD_OFFICE, scorecard:manage, use, allow",
    ]
)
SUMMARY = "migration 0034: scorecard rights"


def upgrade() -> None:
    op.create_table(
        "scorecard_weight_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("changed_by", sa.String(40), nullable=False),
        sa.Column("changed_at", TIME, nullable=False),
        sa.UniqueConstraint("version", name="uq_scorecard_weight_versions_version"),
    )
    op.create_table(
        "scorecard_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("branches.id"), nullable=True),
        sa.Column("weight_version", sa.Integer(), nullable=False),
        sa.Column("honour_rules", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("computed_by", sa.String(40), nullable=False),
        sa.Column("computed_at", TIME, nullable=False),
        sa.UniqueConstraint("period", "version", name="uq_scorecard_runs_period"),
    )
    op.create_table(
        "scorecards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("scorecard_runs.id"), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("branch_id", sa.Integer(), sa.ForeignKey("branches.id"), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id"), nullable=True),
        sa.Column("score", DECIMAL, nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("major_complaints", sa.Integer(), nullable=False),
    )
    op.create_index("ix_scorecards_run", "scorecards", ["run_id", "level"])
    op.create_table(
        "scorecard_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scorecard_id", sa.Integer(), sa.ForeignKey("scorecards.id"), nullable=False),
        sa.Column("indicator", sa.String(40), nullable=False),
        sa.Column("weight", DECIMAL, nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("target", DECIMAL, nullable=False),
        sa.Column("floor", DECIMAL, nullable=False),
        sa.Column("value", DECIMAL, nullable=True),
        sa.Column("numerator", DECIMAL, nullable=True),
        sa.Column("denominator", DECIMAL, nullable=True),
        sa.Column("null_reason", sa.String(30), nullable=True),
        sa.Column("score", DECIMAL, nullable=True),
    )
    op.create_index("ix_scorecard_lines_scorecard", "scorecard_lines", ["scorecard_id"])
    op.create_table(
        "scorecard_honours",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("scorecard_runs.id"), nullable=False),
        sa.Column("scorecard_id", sa.Integer(), sa.ForeignKey("scorecards.id"), nullable=False),
        sa.Column("title", sa.String(30), nullable=False),
        sa.Column("rule", sa.Integer(), nullable=False),
    )
    op.create_index("ix_scorecard_honours_run", "scorecard_honours", ["run_id"])
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, "migration 0034 undone")
    op.drop_index("ix_scorecard_honours_run", table_name="scorecard_honours")
    op.drop_table("scorecard_honours")
    op.drop_index("ix_scorecard_lines_scorecard", table_name="scorecard_lines")
    op.drop_table("scorecard_lines")
    op.drop_index("ix_scorecards_run", table_name="scorecards")
    op.drop_table("scorecards")
    op.drop_table("scorecard_runs")
    op.drop_table("scorecard_weight_versions")
