"""Opening the store: pragmas, migrations, damaged and foreign files, uniqueness."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from mudameter_desktop.store.database import (
    SchemaTooNewError,
    StoreError,
    _alembic_config,
    head_revision,
    make_engine,
    open_store,
    sqlite_url,
)
from mudameter_desktop.store.models import Meeting

SLOT = datetime(2026, 11, 27, 9, tzinfo=UTC)


def test_fresh_file_is_migrated_to_head_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "db.sqlite3"))
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert revision == head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert {"meeting", "participant", "status_change", "engagement_sample"} <= tables
    assert store.moved_aside is None
    store.close()


def test_one_meeting_per_slot_is_enforced_by_the_database(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "db.sqlite3"))
    with store.sessions.begin() as session:
        session.add(
            Meeting(title="a", starts_at=SLOT, ends_at=SLOT, created_at=SLOT, slot_start=SLOT)
        )
    with pytest.raises(IntegrityError), store.sessions.begin() as session:
        session.add(
            Meeting(title="b", starts_at=SLOT, ends_at=SLOT, created_at=SLOT, slot_start=SLOT)
        )
    with store.sessions.begin() as session:  # explicit meetings (no slot) never collide
        for title in ("c", "d"):
            session.add(Meeting(title=title, starts_at=SLOT, ends_at=SLOT, created_at=SLOT))
    with store.sessions() as session:
        assert len(session.scalars(select(Meeting)).all()) == 3
    store.close()


def test_aware_datetimes_round_trip_in_utc(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    store = open_store(sqlite_url(tmp_path / "db.sqlite3"))
    local = datetime(2026, 11, 27, 15, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
    with store.sessions.begin() as session:
        session.add(Meeting(title="t", starts_at=local, ends_at=local, created_at=local))
    with store.sessions() as session:
        stored = session.scalars(select(Meeting)).one().starts_at
    assert stored == local
    assert stored.tzinfo is UTC
    store.close()


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all", b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["foreign-file", "corrupt-sqlite"],
)
def test_a_damaged_file_is_moved_aside_and_a_fresh_one_made(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(content)
    store = open_store(sqlite_url(path))
    assert store.moved_aside is not None
    assert store.moved_aside.name.startswith("db.sqlite3.corrupt-")
    assert store.moved_aside.read_bytes() == content  # nothing lost: the old file is kept
    assert "damaged" in caplog.text
    with store.sessions() as session:
        assert session.scalars(select(Meeting)).all() == []
    store.close()
    again = open_store(sqlite_url(path))  # the next start is normal
    assert again.moved_aside is None
    again.close()


def test_a_corrupted_page_inside_a_real_database_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = open_store(sqlite_url(path))
    with store.sessions.begin() as session:
        for hour in range(200):
            start = SLOT.replace(year=2020 + hour % 5, day=1 + hour % 28)
            session.add(Meeting(title="x" * 150, starts_at=start, ends_at=start, created_at=start))
    store.close()
    data = bytearray(path.read_bytes())
    data[4096 * 2 : 4096 * 2 + 600] = b"\x13" * 600  # scribble over an index/table page
    path.write_bytes(bytes(data))
    reopened = open_store(sqlite_url(path))
    assert reopened.moved_aside is not None
    reopened.close()


def test_a_database_from_a_newer_app_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    open_store(sqlite_url(path)).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_future'")
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer"):
        open_store(sqlite_url(path))
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.corrupt-*"))


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` read-only, also for root (which ignores mode bits)."""
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o500)
    try:
        yield
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o700)


def test_a_read_only_data_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder), pytest.raises(StoreError, match="read-only"):
        open_store(sqlite_url(folder / "db.sqlite3"))
    assert list(folder.iterdir()) == []


def test_migrations_run_from_every_earlier_revision_keeping_data(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    engine = make_engine(sqlite_url(path))
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO meeting (id, title, starts_at, ends_at, created_at, slot_start) "
                "VALUES (1, 'Old', '2026-01-01 09:00:00.000000', '2026-01-01 10:00:00.000000', "
                "'2026-01-01 08:40:00.000000', '2026-01-01 09:00:00.000000')"
            )
        )
        connection.execute(
            text("INSERT INTO engagement_sample VALUES (1, '2026-01-01 09:00:00.000000', 1, 2, 3)")
        )
    engine.dispose()
    store = open_store(sqlite_url(path))
    with store.sessions() as session:
        meeting = session.get(Meeting, 1)
        assert meeting is not None
        assert (meeting.title, meeting.complete) == ("Old", False)
        assert meeting.starts_at == datetime(2026, 1, 1, 9, tzinfo=UTC)
        assert session.execute(text("SELECT disengaged FROM engagement_sample")).scalar() == 3
    store.close()


def test_every_revision_downgrades_and_upgrades_cleanly(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path / "db.sqlite3"))
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        assert "meeting" in inspect(connection).get_table_names()
    engine.dispose()


def test_twenty_threads_detecting_one_slot_through_the_database_make_one_meeting(
    tmp_path: Path,
) -> None:
    """Each thread has its own engine (as separate processes would): only the
    unique constraint stands between them."""
    path = tmp_path / "db.sqlite3"
    open_store(sqlite_url(path)).close()
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def detect() -> None:
        engine = make_engine(sqlite_url(path))
        barrier.wait()
        try:
            with engine.begin() as connection:
                connection.execute(
                    Meeting.__table__.insert().values(  # type: ignore[attr-defined]
                        title="Meeting 10:00",
                        starts_at=SLOT,
                        ends_at=SLOT,
                        created_at=SLOT,
                        slot_start=SLOT,
                    )
                )
            outcomes.append("created")
        except IntegrityError:
            outcomes.append("exists")
        finally:
            engine.dispose()

    threads = [threading.Thread(target=detect) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["exists"] * 19
