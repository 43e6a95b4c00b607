"""Outbox of messages to customers (issue 11): real delivery with the channel's answer as proof.

Revision ID: 0017
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("proof", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_outbox_messages_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["staff.id"], name=op.f("fk_outbox_messages_recorded_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_messages_due", ["status", "next_attempt_at"])
        batch_op.create_index("ix_outbox_messages_customer", ["customer_id", "id"])
    with op.batch_alter_table("complaint_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outbox_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_complaint_messages_outbox_id_outbox_messages"),
            "outbox_messages",
            ["outbox_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("complaint_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_complaint_messages_outbox_id_outbox_messages"), type_="foreignkey"
        )
        batch_op.drop_column("outbox_id")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_customer")
        batch_op.drop_index("ix_outbox_messages_due")
    op.drop_table("outbox_messages")
