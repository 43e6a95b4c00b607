"""Alembic environment: runs on the connection ``store.migrate`` hands over."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import TypeDecorator

from store.models import Base


def compare_type(
    _context: Any, _inspected: Any, _metadata: Any, _db_type: Any, model_type: Any
) -> Any:
    """Our column types (sealed text, UTC times, money) are written by hand in migrations."""
    if isinstance(model_type, TypeDecorator):
        return False
    return None  # Alembic's own comparison


config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=compare_type,
)
with context.begin_transaction():
    context.run_migrations()
