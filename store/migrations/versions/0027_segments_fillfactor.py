"""Current segments leave room on their pages (PostgreSQL fillfactor 50), so a classification
run's in-place UPDATE of every row can stay on the same page without touching the indexes (HOT).

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Existing pages keep their fill until rewritten; every run rewrites every row, so the
        # table spreads out after the first run.
        op.execute("ALTER TABLE customer_segments SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE customer_segments RESET (fillfactor)")
