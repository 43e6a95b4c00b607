"""Indexes for recusal (issue 11): the complaint of a process instance (every task guard and
service operation looks it up) and the complaints about a member of staff (their inbox).

Revision ID: 0016
Revises: 0014
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_complaints_instance", "complaints", ["instance_id"])
    op.create_index("ix_complaints_complained_staff", "complaints", ["complained_staff_id"])


def downgrade() -> None:
    op.drop_index("ix_complaints_complained_staff", table_name="complaints")
    op.drop_index("ix_complaints_instance", table_name="complaints")
