"""A consent's processing methods and the recipient's contact (SHARE-3, PIPL art. 23).

Nullable: consents recorded before this revision named neither; they stay in force and show
null (the bank cannot invent what the customer was told). ``recordConsent`` requires both from
now on. The contact columns hold sealed values (``store.base.Encrypted``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACT = ("recipient_contact_name", "recipient_contact_phone", "recipient_contact_email")


def upgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("processing_methods", sa.JSON(), nullable=True))
        for column in CONTACT:
            batch_op.add_column(sa.Column(column, sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        for column in reversed(CONTACT):
            batch_op.drop_column(column)
        batch_op.drop_column("processing_methods")
