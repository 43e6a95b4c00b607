"""Surveys open by themselves and are sent (REL-5); club events can be cancelled (REL-4).

``survey_requests.requested_by_id`` becomes optional (null: opened by the system after a
closed complaint), and a request keeps the outbox message that invites the customer;
``club_events`` records a cancellation (when, by whom, why).

Revision ID: 0030
Revises: 0029
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("survey_requests", schema=None) as batch_op:
        batch_op.alter_column("requested_by_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_survey_requests_message_id_outbox_messages"),
            "outbox_messages",
            ["message_id"],
            ["id"],
        )
    with op.batch_alter_table("club_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", TIME, nullable=True))
        batch_op.add_column(sa.Column("cancelled_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_club_events_cancelled_by_id_staff"), "staff", ["cancelled_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("club_events", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_club_events_cancelled_by_id_staff"), type_="foreignkey"
        )
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_by_id")
        batch_op.drop_column("cancelled_at")
    # Requests the system opened name no one: the oldest staff row stands in (dev only).
    op.execute(
        "UPDATE survey_requests SET requested_by_id = (SELECT min(id) FROM staff)"
        " WHERE requested_by_id IS NULL"
    )
    with op.batch_alter_table("survey_requests", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_survey_requests_message_id_outbox_messages"), type_="foreignkey"
        )
        batch_op.drop_column("message_id")
        batch_op.alter_column("requested_by_id", existing_type=sa.Integer(), nullable=False)
