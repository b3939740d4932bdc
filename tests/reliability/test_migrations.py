"""Migrations from every earlier revision to head, with data in every table."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import (
    _alembic_config,
    head_revision,
    make_engine,
    open_store,
    sqlite_url,
)

EARLIER = [
    script.revision
    for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
    if script.revision != head_revision()
]

# Values that keep the rows a consistent meeting (the app reads them after the
# upgrade); any other column gets a value made from its type.
MEANINGFUL: dict[str, object] = {
    "starts_at": "2026-01-01 09:00:00.000000",
    "slot_start": "2026-01-01 09:00:00.000000",
    "ends_at": "2026-01-01 10:00:00.000000",
    "created_at": "2026-01-01 08:55:00.000000",
    "at": "2026-01-01 09:10:00.000000",
    "status_at": "2026-01-01 09:10:00.000000",
    "minute": "2026-01-01 09:10:00.000000",
    "expires_at": "2026-01-01 10:10:00.000000",
    "status": "engaged",
    "kind": "local",
    "speaking": 0,
    "engaged": 1,
    "disengaged": 0,
}


def value_for(table: str, column: Any) -> object:
    if column.name in MEANINGFUL:
        return MEANINGFUL[column.name]
    kind = type(column.type).__name__.upper()
    if "INT" in kind:
        return 1
    if "BOOL" in kind:
        return False
    if "DATE" in kind or "TIME" in kind:
        return "2026-01-01 09:00:00.000000"
    length = getattr(column.type, "length", None) or 64
    return f"{table}.{column.name} kept"[:length]


def fill_every_table(url: str) -> dict[str, dict[str, object]]:
    """One row per table at the current revision, foreign keys pointing at the others."""
    engine = make_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    rows: dict[str, dict[str, object]] = {}
    with engine.begin() as connection:
        for table in metadata.sorted_tables:  # parents before children
            if table.name == "alembic_version":
                continue
            row = {}
            for column in table.columns:
                keys = list(column.foreign_keys)
                if keys:
                    parent = keys[0].column
                    row[column.name] = rows[parent.table.name][parent.name]
                else:
                    row[column.name] = value_for(table.name, column)
            names = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            # A row a migration seeded (0006's room `default`) makes way: one row per table.
            connection.exec_driver_sql(f"DELETE FROM {table.name}")  # noqa: S608
            # Raw SQL, as an old app version wrote it: text times, no ORM types.
            connection.exec_driver_sql(
                f"INSERT INTO {table.name} ({names}) VALUES ({marks})",  # noqa: S608
                tuple(row.values()),
            )
            rows[table.name] = row
    engine.dispose()
    assert {"meeting", "participant", "status_change", "engagement_sample"} <= set(rows)
    return rows


@pytest.mark.parametrize("revision", EARLIER)
def test_upgrading_from_an_earlier_revision_keeps_every_row(tmp_path: Path, revision: str) -> None:
    url = sqlite_url(tmp_path / "db.sqlite3")
    engine = make_engine(url)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()
    rows = fill_every_table(url)

    store = open_store(url)  # the app's own start-up: upgrades to head
    store.close()
    with closing(sqlite3.connect(tmp_path / "db.sqlite3")) as connection:
        connection.row_factory = sqlite3.Row
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        assert version == head_revision()
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        for table, row in rows.items():
            stored = connection.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608
            assert len(stored) == 1, table
            kept = {name: stored[0][name] for name in row}
            assert kept == row, table

    # And the app reads them as the same meeting, its status and its minute.
    store = open_store(url)
    try:
        service = MeterService(store.engine, UTC)
        detail = service.history.meeting_detail(1)
        assert detail.title == rows["meeting"]["title"]
        assert detail.starts_at == datetime(2026, 1, 1, 9, tzinfo=UTC)
        (participant,) = detail.participants
        assert participant.status is Status.ENGAGED
        by_minute = {s.minute: s for s in detail.engagement_samples}
        sample = by_minute[datetime(2026, 1, 1, 9, 10, tzinfo=UTC)]
        assert Counts(sample.speaking, sample.engaged, sample.disengaged) == Counts(0, 1, 0)
        assert service.history.list_meetings(1).total == 1
    finally:
        store.close()


def test_there_is_an_earlier_revision_to_test() -> None:
    assert EARLIER, "no earlier revision: the test above would prove nothing"
