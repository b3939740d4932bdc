"""Complete meetings keep their samples' sums, for trends over thousands of meetings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("speaking", "engaged", "disengaged")


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column(
            "meeting",
            sa.Column(f"total_{column}", sa.Integer(), nullable=False, server_default="0"),
        )
    # Plain ADD COLUMNs, then one UPDATE: existing complete meetings get their sums.
    meeting = sa.table(
        "meeting",
        sa.column("id"),
        sa.column("complete"),
        *(sa.column(f"total_{column}") for column in COLUMNS),
    )
    sample = sa.table("engagement_sample", sa.column("meeting_id"), *map(sa.column, COLUMNS))
    sums = {
        f"total_{column}": sa.select(sa.func.coalesce(sa.func.sum(sample.c[column]), 0))
        .where(sample.c.meeting_id == meeting.c.id)
        .scalar_subquery()
        for column in COLUMNS
    }
    op.execute(sa.update(meeting).where(meeting.c.complete == sa.true()).values(**sums))


def downgrade() -> None:
    with op.batch_alter_table("meeting") as batch:
        for column in COLUMNS:
            batch.drop_column(f"total_{column}")
