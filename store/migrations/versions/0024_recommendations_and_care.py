"""Products and suitable recommendations (REL-3); care runs and occasions (REL-4); the
recommendation right for a live policy that predates it.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
RISK_LEVEL = sa.Enum(
    "R1", "R2", "R3", "R4", "R5", name="productrisklevel", native_enum=False, length=32
)

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = policy_rules.p_rules(
    [
        "RELATIONSHIP_MANAGER, contact:recommend, use, allow",
        "BRANCH_SUPERVISOR, contact:recommend, use, allow",
        "HEAD_OFFICE, contact:recommend, use, allow",
    ]
)
SUMMARY = "migration 0024: recommendation right"


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "DEPOSIT",
                "WEALTH_MANAGEMENT",
                "FUND",
                "INSURANCE",
                "STRUCTURED",
                name="productkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("risk_level", RISK_LEVEL, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("code", name=op.f("uq_products_code")),
    )
    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("risk_assessment_id", sa.Integer(), nullable=False),
        sa.Column("product_risk_level", RISK_LEVEL, nullable=False),
        sa.Column("risk_tolerance", sa.String(32), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("risks", sa.Text(), nullable=False),
        sa.Column("returns", sa.Text(), nullable=False),
        sa.Column("recommended_by_id", sa.Integer(), nullable=False),
        sa.Column("recommended_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_recommendations_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_recommendations_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_recommendations_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["risk_assessment_id"],
            ["risk_assessments.id"],
            name=op.f("fk_recommendations_risk_assessment_id_risk_assessments"),
        ),
        sa.ForeignKeyConstraint(
            ["recommended_by_id"],
            ["staff.id"],
            name=op.f("fk_recommendations_recommended_by_id_staff"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
    )
    op.create_index("ix_recommendations_customer", "recommendations", ["customer_id", "id"])
    op.create_table(
        "care_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("started_by", sa.String(40), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("occasions", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_runs")),
    )
    op.create_index(op.f("ix_care_runs_run_on"), "care_runs", ["run_on"])
    op.create_table(
        "care_occasions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("occasion", sa.String(40), nullable=False),
        sa.Column("occasion_on", sa.Date(), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("offer", sa.String(200), nullable=True),
        sa.Column("relationship_manager_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_care_occasions_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["relationship_manager_id"],
            ["staff.id"],
            name=op.f("fk_care_occasions_relationship_manager_id_staff"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_care_occasions_message_id_outbox_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["care_runs.id"], name=op.f("fk_care_occasions_run_id_care_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_occasions")),
        sa.UniqueConstraint("customer_id", "occasion", "occasion_on", name="uq_care_occasion"),
    )
    op.create_index("ix_care_occasions_day", "care_occasions", ["occasion_on", "id"])
    op.create_index(
        "ix_care_occasions_manager",
        "care_occasions",
        ["relationship_manager_id", "occasion_on"],
    )
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
    op.drop_index("ix_care_occasions_manager", table_name="care_occasions")
    op.drop_index("ix_care_occasions_day", table_name="care_occasions")
    op.drop_table("care_occasions")
    op.drop_index(op.f("ix_care_runs_run_on"), table_name="care_runs")
    op.drop_table("care_runs")
    op.drop_index("ix_recommendations_customer", table_name="recommendations")
    op.drop_table("recommendations")
    op.drop_table("products")
