"""Meeting ids are never reused; participants remember their client's address.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("participant", sa.Column("client", sa.String(64), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # AUTOINCREMENT needs the table rebuilt; the copy keeps every id, and
        # SQLite's sequence starts after the largest one (foreign keys are off
        # while migrations run, so the copy deletes no participant or sample).
        with op.batch_alter_table(
            "meeting", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade() -> None:
    with op.batch_alter_table("participant") as batch:
        batch.drop_column("client")
