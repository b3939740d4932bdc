"""Rooms, and the shared state of a room's writers; 64-bit ids.

Every meeting belongs to a room; the room `default` (id 1) holds all earlier
meetings. A slot or calendar occurrence is unique per room. The room row is
the lock and version that keep several server processes exactly right
(services.coordination). On PostgreSQL the ids become BIGINT; SQLite's
INTEGER primary keys already are 64-bit.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = sa.DateTime(timezone=True)
# (table, column) pairs that hold a meeting id or a row id, widened on PostgreSQL.
_WIDENED = [
    ("meeting", "id"),
    ("status_change", "id"),
    ("participant", "meeting_id"),
    ("status_change", "meeting_id"),
    ("engagement_sample", "meeting_id"),
]


def upgrade() -> None:
    room = op.create_table(
        "room",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64)),
        sa.Column("participant_key", sa.String(128)),
        sa.Column("host_token", sa.String(128)),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_event_at", _UTC),
        sa.Column("settled_until", _UTC),
        sa.PrimaryKeyConstraint("id", name="pk_room"),
        sa.UniqueConstraint("slug", name="uq_room_slug"),
        sqlite_autoincrement=True,
    )
    now = datetime.now(UTC)
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.bulk_insert(
        room,
        [
            {
                "id": 1,
                "slug": "default",
                "name": "Default",
                "created_at": now.replace(tzinfo=None) if sqlite else now,
                "version": 0,
            }
        ],
    )
    if not sqlite:
        op.execute("SELECT setval(pg_get_serial_sequence('room', 'id'), 1)")
        for table, column in _WIDENED:
            op.alter_column(table, column, type_=sa.BigInteger())
        for table in ("meeting", "status_change"):
            op.execute(f"ALTER SEQUENCE {table}_id_seq AS bigint")
    op.drop_index("ix_meeting_calendar_key", "meeting")
    with op.batch_alter_table(
        "meeting",
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.add_column(
            sa.Column("room_id", _ID, nullable=False, server_default=sa.text("1")),
        )
        batch.create_foreign_key(
            "fk_meeting_room_id_room", "room", ["room_id"], ["id"], ondelete="CASCADE"
        )
        batch.drop_constraint("uq_meeting_slot_start", type_="unique")
        batch.create_unique_constraint("uq_meeting_room_slot", ["room_id", "slot_start"])
        batch.create_index("ix_meeting_room_calendar_key", ["room_id", "calendar_key"], unique=True)
        batch.create_index("ix_meeting_room_starts_at", ["room_id", "starts_at"])


def downgrade() -> None:
    with op.batch_alter_table("meeting") as batch:
        batch.drop_index("ix_meeting_room_starts_at")
        batch.drop_index("ix_meeting_room_calendar_key")
        batch.drop_constraint("uq_meeting_room_slot", type_="unique")
        batch.create_unique_constraint("uq_meeting_slot_start", ["slot_start"])
        batch.drop_constraint("fk_meeting_room_id_room", type_="foreignkey")
        batch.drop_column("room_id")
    op.create_index("ix_meeting_calendar_key", "meeting", ["calendar_key"], unique=True)
    op.drop_table("room")
