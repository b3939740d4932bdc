"""Persistence: typed SQLAlchemy models, the engine, Alembic migrations."""
