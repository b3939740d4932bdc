"""The outbox: clicks kept until a team server acknowledged them; the host participant.

The desktop app as a client of a team server (SPEC §7) keeps each click here,
with its own time, and deletes it only once the server answered 2xx; the
`local` participant the server gave it is kept per room, so the host stays
one participant across restarts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("server", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("participant_id", sa.String(36)),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_server_id", "outbox", ["server", "id"])
    op.create_table(
        "remote_participant",
        sa.Column("server", sa.String(512), nullable=False),
        sa.Column("participant_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("server", name="pk_remote_participant"),
    )


def downgrade() -> None:
    op.drop_table("remote_participant")
    op.drop_index("ix_outbox_server_id", "outbox")
    op.drop_table("outbox")
