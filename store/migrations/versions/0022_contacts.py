"""Contacts (REL-1) and each customer's latest contact for the cadence (REL-2); the contacts
field group and the contact rights for a live policy that predates them.

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migrations import policy_rules

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
CHANNEL = sa.Enum(
    "PHONE",
    "VISIT",
    "EMAIL",
    "SMS",
    "WECHAT",
    "WEIBO",
    name="contactchannel",
    native_enum=False,
    length=32,
)

# The rules as in authz/policy.csv (a copy: a migration never reads a file that changes later).
RULES = [
    ("g2", "Contact.summary", "contacts", "", ""),
    ("g2", "Contact.outcome", "contacts", "", ""),
    ("g2", "Contact.nextStep", "contacts", "", ""),
    *policy_rules.p_rules(
        [
            "RELATIONSHIP_MANAGER, contacts, full, allow",
            "BRANCH_SUPERVISOR, contacts, full, allow",
            "HEAD_OFFICE, contacts, full, allow",
            "AUDITOR, contacts, masked, allow",
            "RELATIONSHIP_MANAGER, contact:log, use, allow",
            "BRANCH_SUPERVISOR, contact:log, use, allow",
            "HEAD_OFFICE, contact:log, use, allow",
            "RELATIONSHIP_MANAGER, contact:cadence, use, allow",
            "BRANCH_SUPERVISOR, contact:cadence, use, allow",
            "HEAD_OFFICE, contact:cadence, use, allow",
        ]
    ),
]
SUMMARY = "migration 0023: contacts field group and rights"


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("channel", CHANNEL, nullable=False),
        sa.Column(
            "phone_line",
            sa.Enum("HOTLINE", "MANAGER", name="phoneline", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column(
            "purpose",
            sa.Enum(
                "CONSULTATION",
                "PRODUCT_RECOMMENDATION",
                "CARE_AND_FEEDBACK",
                "MARKET_INFORMATION",
                name="contactpurpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("contacted_at", TIME, nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("next_step", sa.Text(), nullable=True),
        sa.Column("next_step_due_on", sa.Date(), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contacts_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_contacts_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_contacts_instance_id_process_instances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index(
        "ix_contacts_customer", "contacts", ["customer_id", "contacted_at", "id"], unique=False
    )
    op.create_index("ix_contacts_staff", "contacts", ["staff_id", "contacted_at", "id"])
    op.create_index("ix_contacts_contacted_at", "contacts", ["contacted_at", "id"])
    op.create_table(
        "contact_status",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("last_contact_id", sa.Integer(), nullable=False),
        sa.Column("last_contacted_at", TIME, nullable=False),
        sa.Column("last_channel", CHANNEL, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contact_status_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["last_contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_status_last_contact_id_contacts"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_contact_status")),
    )
    op.create_index(
        op.f("ix_contact_status_last_contacted_at"), "contact_status", ["last_contacted_at"]
    )
    policy_rules.add_missing(op.get_bind(), RULES, SUMMARY)


def downgrade() -> None:
    policy_rules.remove(op.get_bind(), RULES, SUMMARY)
    op.drop_index(op.f("ix_contact_status_last_contacted_at"), table_name="contact_status")
    op.drop_table("contact_status")
    op.drop_index("ix_contacts_contacted_at", table_name="contacts")
    op.drop_index("ix_contacts_staff", table_name="contacts")
    op.drop_index("ix_contacts_customer", table_name="contacts")
    op.drop_table("contacts")
