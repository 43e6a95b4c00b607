"""Customer segments (SEG-1, SEG-2, SEG-4): value rule sets, runs, current segments with derived
needs, staff-set needs, changes, overrides;
the segment field group and the segment rights for a live policy that predates them.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Money: Numeric(18, 2); integer fen on SQLite (see store.base.Money).
MONEY = sa.Numeric(18, 2).with_variant(sa.BigInteger(), "sqlite")
TIME = sa.DateTime(timezone=True)
TIER = sa.Enum("LOW", "MEDIUM", "HIGH", name="valuetier", native_enum=False, length=32)

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = [
    ("g2", "CustomerSegment.tier", "segment", "", ""),
    ("g2", "CustomerSegment.score", "segment", "", ""),
    ("g2", "CustomerSegment.privateBanking", "segment", "", ""),
    ("g2", "CustomerSegment.inputs", "segment", "", ""),
    ("g2", "CustomerSegment.needs", "segment", "", ""),
    *policy_rules.p_rules(
        [
            "RELATIONSHIP_MANAGER, segment, full, allow",
            "BRANCH_SUPERVISOR, segment, full, allow",
            "RISK_OFFICER, segment, full, allow",
            "HEAD_OFFICE, segment, full, allow",
            "BRANCH_SUPERVISOR, segment:classify, use, allow",
            "HEAD_OFFICE, segment:classify, use, allow",
            "BRANCH_SUPERVISOR, segment:override, use, allow",
            "HEAD_OFFICE, segment:override, use, allow",
            "HEAD_OFFICE, segment:model, use, allow",
            "MARKETING_ANALYST, segment:model, use, allow",
            "BRANCH_SUPERVISOR, segment:distribution, use, allow",
            "HEAD_OFFICE, segment:distribution, use, allow",
            "MARKETING_ANALYST, segment:distribution, use, allow",
            "RELATIONSHIP_MANAGER, segment:needs, use, allow",
            "BRANCH_SUPERVISOR, segment:needs, use, allow",
            "HEAD_OFFICE, segment:needs, use, allow",
        ]
    ),
]
SUMMARY = "migration 0020: segment field group and rights"


def _inputs() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("aum", MONEY, nullable=False),
        sa.Column("transaction_count", sa.Integer(), nullable=False),
        sa.Column("deposit_balance", MONEY, nullable=False),
        sa.Column("loan_amount", MONEY, nullable=False),
        sa.Column("fee_income", MONEY, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
    ]


def _needs() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(f"needs_{name}", sa.Boolean(), nullable=False)
        for name in ("investment", "financing", "settlement")
    ]


def upgrade() -> None:
    op.create_table(
        "segment_rule_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("changed_by", sa.String(length=40), nullable=False),
        sa.Column("changed_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_rule_sets")),
        sa.UniqueConstraint("model", "version", name=op.f("uq_segment_rule_sets_model")),
    )
    op.create_table(
        "segment_staging",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        *_inputs(),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("private_banking", sa.Boolean(), nullable=False),
        *_needs(),
        sa.PrimaryKeyConstraint("run_id", "customer_id", name=op.f("pk_segment_staging")),
    )
    op.create_table(
        "segment_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_set_version", sa.Integer(), nullable=False),
        sa.Column(
            "scope",
            sa.Enum("CUSTOMER", "BRANCH", "BANK", name="runscope", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("started_by", sa.String(length=40), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_segment_runs_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_runs")),
    )
    op.create_table(
        "customer_segments",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("rule_set_version", sa.Integer(), nullable=False),
        *_inputs(),
        sa.Column("tier", TIER, nullable=False),
        sa.Column("private_banking", sa.Boolean(), nullable=False),
        *_needs(),
        sa.Column("classified_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_segments_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_segments")),
    )
    op.create_index(
        "ix_customer_segments_score", "customer_segments", ["score", "customer_id"], unique=False
    )
    op.create_index(op.f("ix_customer_segments_tier"), "customer_segments", ["tier"], unique=False)
    op.create_table(
        "segment_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tier", TIER, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("withdrawn_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_segment_overrides_created_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_segment_overrides_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_overrides")),
    )
    op.create_index(
        "ix_segment_overrides_customer",
        "segment_overrides",
        ["customer_id", "expires_at"],
        unique=False,
    )
    op.create_table(
        "segment_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("from_tier", sa.String(length=32), nullable=True),
        sa.Column("to_tier", sa.String(length=32), nullable=False),
        sa.Column("from_private_banking", sa.Boolean(), nullable=True),
        sa.Column("to_private_banking", sa.Boolean(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "FIRST_CLASSIFICATION",
                "INPUTS_CHANGED",
                "RECLASSIFIED",
                "OVERRIDE",
                "OVERRIDE_WITHDRAWN",
                name="changereason",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("override_id", sa.Integer(), nullable=True),
        sa.Column("rule_set_version", sa.Integer(), nullable=True),
        sa.Column("changed_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_segment_changes_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["override_id"],
            ["segment_overrides.id"],
            name=op.f("fk_segment_changes_override_id_segment_overrides"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["segment_runs.id"], name=op.f("fk_segment_changes_run_id_segment_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_changes")),
    )
    op.create_index(
        "ix_segment_changes_customer", "segment_changes", ["customer_id", "id"], unique=False
    )
    op.create_table(
        "customer_needs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column(
            "need",
            sa.Enum(
                "INVESTMENT", "FINANCING", "SETTLEMENT", name="need", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=False),
        sa.Column("set_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_needs_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["staff.id"], name=op.f("fk_customer_needs_set_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_needs")),
    )
    op.create_index(
        "ix_customer_needs_customer", "customer_needs", ["customer_id", "need", "id"], unique=False
    )
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
    op.drop_index("ix_customer_needs_customer", table_name="customer_needs")
    op.drop_table("customer_needs")
    op.drop_index("ix_segment_changes_customer", table_name="segment_changes")
    op.drop_table("segment_changes")
    op.drop_index("ix_segment_overrides_customer", table_name="segment_overrides")
    op.drop_table("segment_overrides")
    op.drop_index(op.f("ix_customer_segments_tier"), table_name="customer_segments")
    op.drop_index("ix_customer_segments_score", table_name="customer_segments")
    op.drop_table("customer_segments")
    op.drop_table("segment_runs")
    op.drop_table("segment_staging")
    op.drop_table("segment_rule_sets")
