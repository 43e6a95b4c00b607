"""Placement write rules for databases whose live policy predates them.

A customer's branch and relationship manager became a write of their own (``placement``), so a
risk officer, who may write risk assessments on every row, can no longer move customers. A live
policy imported before this has no ``placement`` group: this adds the group and the rules of
``authz/policy.csv`` as a new policy version (without them no one could move a customer).
Empty databases are left alone: the first start imports the whole file.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

from store.migrations import policy_rules

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = [
    ("g2", "Customer.branch", "placement", "", ""),
    ("g2", "Customer.relationshipManager", "placement", "", ""),
    ("p", "RELATIONSHIP_MANAGER", "placement", "write", "allow"),
    ("p", "BRANCH_SUPERVISOR", "placement", "write", "allow"),
    ("p", "HEAD_OFFICE", "placement", "write", "allow"),
]
SUMMARY = "migration 0012: placement write rules"


def upgrade() -> None:
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
