"""Classification runs in the background (SEG-4): status, progress, heartbeat, failure, and the
unique slot that lets one bulk run wait or run at a time; who made a segment change by hand.

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS = sa.Enum(
    "PENDING", "RUNNING", "DONE", "FAILED", name="runstatus", native_enum=False, length=32
)


def upgrade() -> None:
    with op.batch_alter_table("segment_runs", schema=None) as batch_op:
        # Runs before this migration ran in the request and finished there: DONE.
        batch_op.add_column(sa.Column("status", STATUS, nullable=False, server_default="DONE"))
        batch_op.add_column(
            sa.Column("progress_done", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("progress_total", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failure", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("active", sa.String(length=10), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_segment_runs_active"), ["active"])
    with op.batch_alter_table("segment_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_by", sa.String(length=40), nullable=True))
    with op.batch_alter_table("segment_runs", schema=None) as batch_op:
        # The defaults only filled the rows that existed; the application always sets them.
        batch_op.alter_column("status", server_default=None)
        batch_op.alter_column("progress_done", server_default=None)
        batch_op.alter_column("progress_total", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("segment_changes", schema=None) as batch_op:
        batch_op.drop_column("changed_by")
    with op.batch_alter_table("segment_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_segment_runs_active"), type_="unique")
        batch_op.drop_column("active")
        batch_op.drop_column("failure")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("progress_total")
        batch_op.drop_column("progress_done")
        batch_op.drop_column("status")
