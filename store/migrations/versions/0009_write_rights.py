"""Write rules and operation rights for databases whose live policy predates them.

A database that already holds a live policy (imported from ``authz/policy.csv`` at its first
start) would otherwise refuse every write after the upgrade. This adds the reviewed write rules
and rights of ``authz/policy.csv`` as a new policy version; servers reload within their poll
interval. Empty databases are left alone: the first start imports the whole file.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

from store.migrations import policy_rules

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = [
    "RELATIONSHIP_MANAGER, customer:create, use, allow",
    "RELATIONSHIP_MANAGER, rows:own, write, allow",
    "RELATIONSHIP_MANAGER, identity, write, allow",
    "RELATIONSHIP_MANAGER, contact, write, allow",
    "RELATIONSHIP_MANAGER, financial, write, allow",
    "RELATIONSHIP_MANAGER, transactions, write, allow",
    "RELATIONSHIP_MANAGER, credit_risk, write, allow",
    "RELATIONSHIP_MANAGER, preferences, write, allow",
    "BRANCH_SUPERVISOR, customer:create, use, allow",
    "BRANCH_SUPERVISOR, rows:branch, write, allow",
    "BRANCH_SUPERVISOR, identity, write, allow",
    "BRANCH_SUPERVISOR, contact, write, allow",
    "BRANCH_SUPERVISOR, financial, write, allow",
    "BRANCH_SUPERVISOR, transactions, write, allow",
    "BRANCH_SUPERVISOR, credit_risk, write, allow",
    "BRANCH_SUPERVISOR, preferences, write, allow",
    "HEAD_OFFICE, customer:create, use, allow",
    "HEAD_OFFICE, rows:bank, write, allow",
    "HEAD_OFFICE, identity, write, allow",
    "HEAD_OFFICE, contact, write, allow",
    "HEAD_OFFICE, financial, write, allow",
    "HEAD_OFFICE, transactions, write, allow",
    "HEAD_OFFICE, credit_risk, write, allow",
    "HEAD_OFFICE, preferences, write, allow",
    "RISK_OFFICER, rows:bank, write, allow",
    "RISK_OFFICER, credit_risk, write, allow",
    "RELATIONSHIP_MANAGER, customer:watch, use, allow",
    "BRANCH_SUPERVISOR, customer:watch, use, allow",
    "COMPLAINT_HANDLER, customer:watch, use, allow",
    "RISK_OFFICER, customer:watch, use, allow",
    "HEAD_OFFICE, customer:watch, use, allow",
    "RELATIONSHIP_MANAGER, consent:record, use, allow",
    "BRANCH_SUPERVISOR, consent:record, use, allow",
    "HEAD_OFFICE, consent:record, use, allow",
    "RELATIONSHIP_MANAGER, share:request, use, allow",
    "BRANCH_SUPERVISOR, share:request, use, allow",
    "HEAD_OFFICE, share:request, use, allow",
    "RELATIONSHIP_MANAGER, task:work, use, allow",
    "BRANCH_SUPERVISOR, task:work, use, allow",
    "COMPLAINT_HANDLER, task:work, use, allow",
    "RISK_OFFICER, task:work, use, allow",
    "HEAD_OFFICE, task:work, use, allow",
    "AUDITOR, task:work, use, allow",
    "MARKETING_ANALYST, task:work, use, allow",
    "SECURITY_ADMIN, task:work, use, allow",
    "PROCESS_OWNER, task:work, use, allow",
    "BRANCH_SUPERVISOR, task:reassign, use, allow",
    "HEAD_OFFICE, task:reassign, use, allow",
]
SUMMARY = "migration 0009: write rules and operation rights"


def upgrade() -> None:
    policy_rules.add_missing(op.get_bind(), policy_rules.p_rules(RULES), SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), policy_rules.p_rules(RULES), SUMMARY)
