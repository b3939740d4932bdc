"""The Core tables the app runs on (`store.tables`) are the ORM models' schema.

The schema is written once, as Core tables; the typed models map them, so
that the running app never imports `sqlalchemy.orm` (~10 MB, 0.2-0.4 s at start).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from mudameter_desktop.store import models, tables
from mudameter_desktop.store.database import OpenedStore

NINE = datetime(2026, 11, 30, 9, tzinfo=UTC)


def test_the_models_map_the_core_tables() -> None:
    """One schema: the typed models are declared over the Core tables, not beside them."""
    assert models.Base.metadata is tables.metadata
    mapped = {
        models.Room: tables.room,
        models.Meeting: tables.meeting,
        models.Participant: tables.participant,
        models.StatusChange: tables.status_change,
        models.EngagementSample: tables.engagement_sample,
        models.Outbox: tables.outbox,
        models.RemoteParticipant: tables.remote_participant,
    }
    for model, table in mapped.items():
        assert model.__table__ is table
    assert set(tables.metadata.tables.values()) == set(mapped.values())


def test_a_core_namespace_stands_for_its_table(store: OpenedStore) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            insert(tables.Meeting).values(
                title="Planning",
                starts_at=NINE,
                ends_at=NINE.replace(hour=10),
                created_at=NINE,
            )
        )
        row = connection.execute(select(tables.Meeting)).one()
    assert row.title == "Planning"
    assert row.starts_at == NINE  # aware UTC back (UTCDateTime)
