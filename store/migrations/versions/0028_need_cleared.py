"""A staff setting of a need can be cleared (SEG-2): ``customer_needs.present`` null means the
derived need counts again.

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_needs", schema=None) as batch_op:
        batch_op.alter_column("present", existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM customer_needs WHERE present IS NULL")
    with op.batch_alter_table("customer_needs", schema=None) as batch_op:
        batch_op.alter_column("present", existing_type=sa.Boolean(), nullable=False)
