"""Audit log: keyed (HMAC) hash chain with key ids; append-only entry tables (SHARE-4).

Existing entries are re-chained with the active audit key, after their plain SHA-256 chain was
verified: a log that was already tampered with stops the migration instead of being vouched
for. Re-chaining (rather than verifying an unkeyed prefix as "legacy") leaves one rule for
every entry, so a database writer cannot downgrade keyed entries to the unkeyed kind.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store import audit_chain
from store.base import Encrypted, UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
ENTRY_TABLES = ("audit_log", "audit_customers")
# SQLite has no row images to compare: every column but the sealed detail is listed.
FIXED = (
    "id, at, actor_id, actor, roles, purpose, action, operation, customer_ids, fields, via, "
    "prev_hash, hash, key_id"
)

log = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("at", UTCDateTime),
    sa.column("actor_id", sa.Integer),
    sa.column("actor", sa.String),
    sa.column("roles", sa.JSON),
    sa.column("purpose", sa.String),
    sa.column("action", sa.String),
    sa.column("operation", sa.String),
    sa.column("customer_ids", sa.JSON),
    sa.column("fields", sa.JSON),
    sa.column("via", sa.JSON),
    sa.column("detail", Encrypted("audit_log.detail")),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
    sa.column("key_id", sa.String),
)
head = sa.table("audit_head", sa.column("id"), sa.column("last_hash", sa.String))


def _rechain(keyed: bool) -> None:
    """Verify the chain as it is and rewrite it keyed (upgrade) or plain (downgrade)."""
    connection = op.get_bind()
    rows = [dict(r._mapping) for r in connection.execute(sa.select(log).order_by(log.c.id))]
    if not rows:
        return
    keys = audit_chain.keys()

    def plain(previous: str, row: dict[str, object]) -> str:
        return audit_chain.legacy_hash(previous, row)

    old, new = (plain, keys.entry_hash) if keyed else (keys.entry_hash, plain)
    previous = rewritten = GENESIS
    for expected_id, row in enumerate(rows, start=1):
        if (
            row["id"] != expected_id
            or row["prev_hash"] != previous
            or row["hash"] != old(previous, row)
        ):
            raise RuntimeError(
                f"audit entry {expected_id} does not verify; the log is not re-chained. "
                "Investigate (kehu audit verify with the previous version) before migrating."
            )
        previous = row["hash"]
        row["key_id"] = keys.active_key_id if keyed else None
        new_hash = new(rewritten, row)
        connection.execute(
            sa.update(log)
            .where(log.c.id == row["id"])
            .values(prev_hash=rewritten, hash=new_hash, key_id=row["key_id"])
        )
        rewritten = new_hash
    connection.execute(sa.update(head).where(head.c.id == 1).values(last_hash=rewritten))


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    _rechain(keyed=True)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("key_id", existing_type=sa.String(length=16), nullable=False)
    if op.get_bind().dialect.name == "postgresql":
        # One guard for both tables; only rotate-keys' re-encryption of detail gets through.
        op.execute(
            """
            CREATE FUNCTION kehu_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_log'
                 AND (to_jsonb(NEW) - 'detail') = (to_jsonb(OLD) - 'detail') THEN
                RETURN NEW;
              END IF;
              RAISE EXCEPTION 'the audit log is append-only: % on % is refused',
                TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        for table in ENTRY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION kehu_audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION kehu_audit_append_only()"
            )
        return
    refuse = "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    op.execute(f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log {refuse}")
    op.execute(f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE OF {FIXED} ON audit_log {refuse}")
    op.execute(
        f"CREATE TRIGGER audit_customers_no_delete BEFORE DELETE ON audit_customers {refuse}"
    )
    op.execute(
        f"CREATE TRIGGER audit_customers_no_update BEFORE UPDATE ON audit_customers {refuse}"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ENTRY_TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION kehu_audit_append_only()")
    else:
        for name in (
            "log_no_delete",
            "log_no_update",
            "customers_no_delete",
            "customers_no_update",
        ):
            op.execute(f"DROP TRIGGER audit_{name}")
    _rechain(keyed=False)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("key_id")
