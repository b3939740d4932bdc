"""Mark meetings whose samples are all stored, so only open ones are settled.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: no table copy. Existing meetings start as open; the
    # app settles them once on start-up.
    op.add_column(
        "meeting", sa.Column("complete", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index(op.f("ix_meeting_complete"), "meeting", ["complete"])


def downgrade() -> None:
    op.drop_index(op.f("ix_meeting_complete"), "meeting")
    with op.batch_alter_table("meeting") as batch:
        batch.drop_column("complete")
