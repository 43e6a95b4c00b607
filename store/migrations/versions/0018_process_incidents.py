"""Process incidents: steps that failed at run time, for process owners to see and retry.

Revision ID: 0018
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=100), nullable=False),
        sa.Column("element_name", sa.String(length=200), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column(
            "status",
            sa.Enum("OPEN", "RESOLVED", name="incidentstatus", native_enum=False),
            nullable=False,
        ),
        sa.Column("wake_up", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_process_incidents_instance_id_process_instances"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["staff.id"], name=op.f("fk_process_incidents_resolved_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_incidents")),
    )
    op.create_index("ix_process_incidents_status", "process_incidents", ["status", "id"])
    op.create_index("ix_process_incidents_instance", "process_incidents", ["instance_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_process_incidents_instance", table_name="process_incidents")
    op.drop_index("ix_process_incidents_status", table_name="process_incidents")
    op.drop_table("process_incidents")
