"""The Core tables the app runs on (`store.tables`) are the ORM models' schema, exactly.

The models stay the schema's source for Alembic; the running app uses the Core
mirror so that it never imports `sqlalchemy.orm` (~10 MB, 0.2-0.4 s at start).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Dialect, MetaData, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from mudameter_desktop.store import models, tables
from mudameter_desktop.store.database import OpenedStore

NINE = datetime(2026, 11, 30, 9, tzinfo=UTC)


def ddl(metadata: MetaData, dialect: Dialect) -> list[str]:
    statements = []
    for table in metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip())
        for index in sorted(table.indexes, key=lambda index: str(index.name)):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)).strip())
    return statements


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_core_tables_are_the_models_schema(dialect: Dialect) -> None:
    assert ddl(tables.metadata, dialect) == ddl(models.Base.metadata, dialect)


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
