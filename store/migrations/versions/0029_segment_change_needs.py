"""Segment changes keep the needs a run derived (SEG-2: the distribution by need over time).

Revision ID: 0029
Revises: 0028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEEDS = ("to_needs_investment", "to_needs_financing", "to_needs_settlement")


def upgrade() -> None:
    with op.batch_alter_table("segment_changes", schema=None) as batch_op:
        for name in NEEDS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("segment_changes", schema=None) as batch_op:
        for name in reversed(NEEDS):
            batch_op.drop_column(name)
