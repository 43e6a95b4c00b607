"""Risk grades (SEG-3) and service measures (SEG-5): the early-warning data accounts carry (days
past due, product risk level), each segment's risk grade with the values it was computed from,
risk changes in the segment history, the run's risk model version; the `segment_risk` field
group and the rights to change the risk model and read the supervisors' worklist.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Money: Numeric(18, 2); integer fen on SQLite (see store.base.Money).
MONEY = sa.Numeric(18, 2).with_variant(sa.BigInteger(), "sqlite")
GRADE = sa.Enum("LOW", "MEDIUM", "HIGH", name="riskgrade", native_enum=False, length=32)

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = [
    ("g2", "CustomerSegment.riskGrade", "segment_risk", "", ""),
    ("g2", "CustomerSegment.riskSignals", "segment_risk", "", ""),
    ("g2", "CustomerSegment.riskRuleSet", "segment_risk", "", ""),
    *policy_rules.p_rules(
        [
            "RELATIONSHIP_MANAGER, segment_risk, full, allow",
            "BRANCH_SUPERVISOR, segment_risk, full, allow",
            "RISK_OFFICER, segment_risk, full, allow",
            "HEAD_OFFICE, segment_risk, full, allow",
            "RISK_OFFICER, segment:risk_model, use, allow",
            "HEAD_OFFICE, segment:risk_model, use, allow",
            "BRANCH_SUPERVISOR, segment:worklist, use, allow",
            "HEAD_OFFICE, segment:worklist, use, allow",
        ]
    ),
]
SUMMARY = "migration 0021: risk grade field group and rights"


def _risk_values() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("credit_score", sa.Integer(), nullable=True),
        sa.Column("days_past_due", sa.Integer(), nullable=True),
        sa.Column("outflow", MONEY, nullable=True),
        sa.Column("aum_drop", sa.Integer(), nullable=True),
        sa.Column("market_risk", sa.Integer(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column("days_past_due", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("product_risk_level", sa.Integer(), nullable=True))
    with op.batch_alter_table("customer_segments") as batch:
        batch.add_column(sa.Column("risk_rule_set_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("risk_grade", GRADE, nullable=True))
        for column in _risk_values():
            batch.add_column(column)
    with op.batch_alter_table("segment_staging") as batch:
        batch.add_column(sa.Column("risk_grade", sa.String(length=32), nullable=True))
        for column in _risk_values():
            batch.add_column(column)
    with op.batch_alter_table("segment_runs") as batch:
        batch.add_column(sa.Column("risk_rule_set_version", sa.Integer(), nullable=True))
    with op.batch_alter_table("segment_changes") as batch:
        batch.add_column(sa.Column("from_risk_grade", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("to_risk_grade", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("risk_rule_set_version", sa.Integer(), nullable=True))
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
    with op.batch_alter_table("segment_changes") as batch:
        batch.drop_column("risk_rule_set_version")
        batch.drop_column("to_risk_grade")
        batch.drop_column("from_risk_grade")
    with op.batch_alter_table("segment_runs") as batch:
        batch.drop_column("risk_rule_set_version")
    with op.batch_alter_table("segment_staging") as batch:
        for column in reversed(_risk_values()):
            batch.drop_column(column.name)
        batch.drop_column("risk_grade")
    with op.batch_alter_table("customer_segments") as batch:
        for column in reversed(_risk_values()):
            batch.drop_column(column.name)
        batch.drop_column("risk_grade")
        batch.drop_column("risk_rule_set_version")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("product_risk_level")
        batch.drop_column("days_past_due")
