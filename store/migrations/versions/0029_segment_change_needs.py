"""Segment changes keep the needs a run derived (SEG-2: the distribution by need over time);
head office changes the service measures (SEG-5: the ``segment:measures`` right).

Revision ID: 0029
Revises: 0028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEEDS = ("to_needs_investment", "to_needs_financing", "to_needs_settlement")
# The rule as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = policy_rules.p_rules(["HEAD_OFFICE, segment:measures, use, allow"])
SUMMARY = "migration 0029: service measures right"


def upgrade() -> None:
    with op.batch_alter_table("segment_changes", schema=None) as batch_op:
        for name in NEEDS:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=True))
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
    with op.batch_alter_table("segment_changes", schema=None) as batch_op:
        for name in reversed(NEEDS):
            batch_op.drop_column(name)
