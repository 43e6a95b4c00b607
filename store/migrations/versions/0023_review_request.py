"""A review request recorded by staff at any stage after the decision notice reached the
customer (issue 11, rule 6; CMP-4): the right to record it.

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

from alembic import op

from store.migrations import policy_rules

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The new right's rules as in authz/policy.csv, for live policies imported before it (a copy:
# a migration never reads a file that changes later). Empty databases import the whole file.
RULES = [
    ("p", "COMPLAINT_HANDLER", "complaint:request_review", "use", "allow"),
    ("p", "BRANCH_SUPERVISOR", "complaint:request_review", "use", "allow"),
    ("p", "HEAD_OFFICE", "complaint:request_review", "use", "allow"),
]
SUMMARY = "migration 0021: recording a customer's review request"


def upgrade() -> None:
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
