"""E-mail addresses are lower-cased whole.

Until now only the domain was lower-cased, so a search typed in another case than the one
registered missed the customer. Every stored ``customers.email`` is lower-cased here, sealed
again for its row and given the keyed hash of the new form. The downgrade keeps the lower-cased
values (the original case is not kept anywhere, and either form is a valid stored value).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store import crypto

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def upgrade() -> None:
    connection = op.get_bind()
    customers = sa.table(
        "customers", sa.column("id"), sa.column("email", sa.Text()), sa.column("email_hash")
    )
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(customers.c.id, customers.c.email)
            .where(customers.c.id > last_id, customers.c.email.is_not(None))
            .order_by(customers.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        cipher = crypto.cipher()  # needed only when there is something to convert
        for row in rows:
            plain = cipher.open(row.email, "customers", "email", row.id)
            lowered = plain.lower()
            if lowered != plain:
                connection.execute(
                    sa.update(customers)
                    .where(customers.c.id == row.id)
                    .values(
                        email=cipher.seal(lowered, "customers", "email", row.id),
                        email_hash=cipher.blind_index(lowered),
                    )
                )
        last_id = rows[-1].id


def downgrade() -> None:
    """Nothing to undo: lower-cased addresses are valid stored values of the older code too."""
