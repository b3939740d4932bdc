"""Alembic environment: runs on the connection handed over by `store.database`."""

from alembic import context
from sqlalchemy import Connection

from mudameter_desktop.store.models import Base

connection: Connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
