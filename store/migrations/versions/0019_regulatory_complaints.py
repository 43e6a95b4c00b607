"""Regulatory complaint cases (issue 11, CMP-7): major and regulator-referred complaints,
merging, withdrawal, clock pauses, head-office alerts, and rectification owners and deadlines.

Revision ID: 0019
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The new rights' rules as in authz/policy.csv, for live policies imported before them (a copy:
# a migration never reads a file that changes later). Empty databases import the whole file.
RULES = [
    ("p", "RELATIONSHIP_MANAGER", "complaint:withdraw", "use", "allow"),
    ("p", "BRANCH_SUPERVISOR", "complaint:withdraw", "use", "allow"),
    ("p", "COMPLAINT_HANDLER", "complaint:withdraw", "use", "allow"),
    ("p", "HEAD_OFFICE", "complaint:withdraw", "use", "allow"),
    ("p", "BRANCH_SUPERVISOR", "complaint:merge", "use", "allow"),
    ("p", "HEAD_OFFICE", "complaint:merge", "use", "allow"),
    ("p", "COMPLAINT_HANDLER", "complaint:pause", "use", "allow"),
    ("p", "BRANCH_SUPERVISOR", "complaint:pause", "use", "allow"),
    ("p", "HEAD_OFFICE", "complaint:pause", "use", "allow"),
    ("p", "HEAD_OFFICE", "complaint:oversee", "use", "allow"),
]
SUMMARY = "migration 0019: complaint withdrawal, merge, pause and oversight rights"


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        # Existing complaints speak for one person, are not major and never paused.
        batch_op.add_column(
            sa.Column("persons_involved", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("major", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("regulator_reference", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawal_reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("paused_days", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_complaints_merged_into_id_complaints"),
            "complaints",
            ["merged_into_id"],
            ["id"],
        )
    with op.batch_alter_table("rectifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("recurrence_check", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_rectifications_owner_id_staff"), "staff", ["owner_id"], ["id"]
        )
    op.create_table(
        "complaint_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "APPRAISAL",
                "TESTING",
                "MEDIATION",
                name="pausereason",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("latest_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by_id", sa.Integer(), nullable=True),
        sa.Column("paused_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_pauses_complaint_id_complaints"),
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_id"], ["staff.id"], name=op.f("fk_complaint_pauses_ended_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["staff.id"], name=op.f("fk_complaint_pauses_started_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_pauses")),
    )
    with op.batch_alter_table("complaint_pauses", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_pauses_complaint", ["complaint_id", "id"], unique=False)
    op.create_table(
        "complaint_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["staff.id"],
            name=op.f("fk_complaint_alerts_acknowledged_by_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_alerts_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_alerts")),
    )
    with op.batch_alter_table("complaint_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_alerts_open", ["acknowledged_at", "id"], unique=False)
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
    op.drop_table("complaint_alerts")
    op.drop_table("complaint_pauses")
    with op.batch_alter_table("rectifications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_rectifications_owner_id_staff"), type_="foreignkey")
        batch_op.drop_column("recurrence_check")
        batch_op.drop_column("due_at")
        batch_op.drop_column("owner_id")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_complaints_merged_into_id_complaints"), type_="foreignkey"
        )
        for column in (
            "paused_until",
            "paused_days",
            "withdrawal_reason",
            "withdrawn_at",
            "merged_into_id",
            "regulator_reference",
            "major",
            "persons_involved",
        ):
            batch_op.drop_column(column)
