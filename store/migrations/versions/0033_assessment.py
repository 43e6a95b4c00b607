"""Assessment (KPI-2): spot checks (sample, items, findings with sealed notes,
rectifications) and customers' evaluations of staff (sealed comments); the spot-check and
evaluation rights and field groups for a live policy that predates them.

Revision ID: 0033
Revises: 0032
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = [
    ("g2", "SpotCheckFinding.note", "spot_check_notes", "", ""),
    ("g2", "SpotCheckRectification.note", "spot_check_notes", "", ""),
    ("g2", "StaffEvaluation.comment", "evaluation_text", "", ""),
    *policy_rules.p_rules(
        [
            "HEAD_OFFICE, spot_check:draw, use, allow",
            "BRANCH_SUPERVISOR, spot_check:draw, use, allow",
            "HEAD_OFFICE, spot_check:inspect, use, allow",
            "AUDITOR, spot_check:inspect, use, allow",
            "HEAD_OFFICE, spot_check:read, use, allow",
            "AUDITOR, spot_check:read, use, allow",
            "BRANCH_SUPERVISOR, spot_check:read, use, allow",
            "RELATIONSHIP_MANAGER, spot_check:rectify, use, allow",
            "BRANCH_SUPERVISOR, spot_check:rectify, use, allow",
            "COMPLAINT_HANDLER, spot_check:rectify, use, allow",
            "HEAD_OFFICE, spot_check:rectify, use, allow",
            "HEAD_OFFICE, spot_check_notes, full, allow",
            "AUDITOR, spot_check_notes, full, allow",
            "BRANCH_SUPERVISOR, spot_check_notes, full, allow",
            "RELATIONSHIP_MANAGER, spot_check_notes, full, allow",
            "COMPLAINT_HANDLER, spot_check_notes, full, allow",
            "RELATIONSHIP_MANAGER, evaluation:record, use, allow",
            "BRANCH_SUPERVISOR, evaluation:record, use, allow",
            "COMPLAINT_HANDLER, evaluation:record, use, allow",
            "HEAD_OFFICE, evaluation:record, use, allow",
            "BRANCH_SUPERVISOR, evaluation:results, use, allow",
            "HEAD_OFFICE, evaluation:results, use, allow",
            "MARKETING_ANALYST, evaluation:results, use, allow",
            "RELATIONSHIP_MANAGER, evaluation_text, full, allow",
            "BRANCH_SUPERVISOR, evaluation_text, full, allow",
            "HEAD_OFFICE, evaluation_text, full, allow",
        ]
    ),
]
SUMMARY = "migration 0033: spot-check and staff-evaluation rights"


def upgrade() -> None:
    op.create_table(
        "spot_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "CUSTOMER_RECORD",
                "CONTACT",
                "COMPLAINT",
                name="spotcheckkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("population_size", sa.Integer(), nullable=False),
        sa.Column("population_digest", sa.String(length=64), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("OPEN", "COMPLETED", name="spotcheckstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_spot_checks_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_spot_checks_created_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_checks")),
    )
    with op.batch_alter_table("spot_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spot_checks_branch_id"), ["branch_id"], unique=False)
        batch_op.create_index("ix_spot_checks_created_at", ["created_at", "id"], unique=False)

    op.create_table(
        "spot_check_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("inspector_id", sa.Integer(), nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_spot_check_items_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["check_id"], ["spot_checks.id"], name=op.f("fk_spot_check_items_check_id_spot_checks")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_spot_check_items_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"], ["staff.id"], name=op.f("fk_spot_check_items_inspector_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"], ["staff.id"], name=op.f("fk_spot_check_items_responsible_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_check_items")),
        sa.UniqueConstraint("check_id", "subject_id", name=op.f("uq_spot_check_items_check_id")),
    )
    with op.batch_alter_table("spot_check_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spot_check_items_check_id"), ["check_id"], unique=False
        )
        batch_op.create_index("ix_spot_check_items_inspector", ["inspector_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_spot_check_items_responsible_id"), ["responsible_id"], unique=False
        )

    op.create_table(
        "staff_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column(
            "occasion",
            sa.Enum(
                "CONTACT", "COMPLAINT", name="evaluationoccasion", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("occasion_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "PHONE",
                "COUNTER",
                "VISIT",
                "SMS",
                "WECHAT",
                "ONLINE",
                name="evaluationchannel",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_staff_evaluations_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["staff.id"], name=op.f("fk_staff_evaluations_recorded_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_evaluations_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_evaluations")),
        sa.UniqueConstraint("occasion", "occasion_id", name=op.f("uq_staff_evaluations_occasion")),
    )
    with op.batch_alter_table("staff_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_evaluations_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_staff_evaluations_recorded_at", ["recorded_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_evaluations_staff_id"), ["staff_id"], unique=False
        )

    op.create_table(
        "spot_check_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(length=50), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column(
            "severity",
            sa.Enum("LOW", "MEDIUM", "HIGH", name="severity", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["spot_check_items.id"],
            name=op.f("fk_spot_check_findings_item_id_spot_check_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_check_findings")),
        sa.UniqueConstraint("item_id", "criterion", name=op.f("uq_spot_check_findings_item_id")),
    )
    op.create_table(
        "spot_check_rectifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "OPEN",
                "RECTIFIED",
                "VERIFIED",
                name="rectificationstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("rectified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rectification_note", sa.Text(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("overdue_warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["spot_checks.id"],
            name=op.f("fk_spot_check_rectifications_check_id_spot_checks"),
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["spot_check_findings.id"],
            name=op.f("fk_spot_check_rectifications_finding_id_spot_check_findings"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["staff.id"], name=op.f("fk_spot_check_rectifications_owner_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_id"],
            ["staff.id"],
            name=op.f("fk_spot_check_rectifications_verified_by_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_check_rectifications")),
        sa.UniqueConstraint("finding_id", name=op.f("uq_spot_check_rectifications_finding_id")),
    )
    with op.batch_alter_table("spot_check_rectifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spot_check_rectifications_check_id"), ["check_id"], unique=False
        )
        batch_op.create_index(
            "ix_spot_check_rectifications_due", ["status", "due_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_spot_check_rectifications_owner_id"), ["owner_id"], unique=False
        )

    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
    with op.batch_alter_table("spot_check_rectifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spot_check_rectifications_owner_id"))
        batch_op.drop_index("ix_spot_check_rectifications_due")
        batch_op.drop_index(batch_op.f("ix_spot_check_rectifications_check_id"))

    op.drop_table("spot_check_rectifications")
    op.drop_table("spot_check_findings")
    with op.batch_alter_table("staff_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_evaluations_staff_id"))
        batch_op.drop_index("ix_staff_evaluations_recorded_at")
        batch_op.drop_index(batch_op.f("ix_staff_evaluations_customer_id"))

    op.drop_table("staff_evaluations")
    with op.batch_alter_table("spot_check_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spot_check_items_responsible_id"))
        batch_op.drop_index("ix_spot_check_items_inspector")
        batch_op.drop_index(batch_op.f("ix_spot_check_items_check_id"))

    op.drop_table("spot_check_items")
    with op.batch_alter_table("spot_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_spot_checks_created_at")
        batch_op.drop_index(batch_op.f("ix_spot_checks_branch_id"))

    op.drop_table("spot_checks")
