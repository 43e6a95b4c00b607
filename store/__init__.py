"""Storage floor: SQLAlchemy 2.x models per domain, engine and sessions, Alembic migrations."""
