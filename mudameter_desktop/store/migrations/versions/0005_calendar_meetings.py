"""Meetings from calendar events: one per occurrence.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("meeting", sa.Column("calendar_key", sa.String(64), nullable=True))
    # A unique index, not a constraint: SQLite adds it without copying the table.
    op.create_index("ix_meeting_calendar_key", "meeting", ["calendar_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_meeting_calendar_key", "meeting")
    with op.batch_alter_table("meeting") as batch:
        batch.drop_column("calendar_key")
