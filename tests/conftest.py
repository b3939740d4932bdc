"""Shared fixtures: offscreen Qt, a fresh database per test, a controllable clock.

The `store` fixture (and so `service` and every API fixture on top of it) runs each
test twice: on a SQLite file (id `sqlite`) and on a fresh PostgreSQL database (id `pg`),
from a throwaway cluster started on first use (tests/postgres.py). Tests about what
only SQLite has (the file, its lock, WAL, damaged files, migrating old files) opt out
with `@pytest.mark.sqlite_only` (a module may set `pytestmark`); tests under tests/ui
run on SQLite only. `-m "not pg"` runs the SQLite half alone.
"""

from __future__ import annotations

import os

# Set before anything imports Qt: every Qt test runs without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore, open_store, sqlite_url
from tests.postgres import PostgresCluster, PostgresUnavailableError
from tests.team_server import TeamServer


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 27, 9, 50, tzinfo=UTC))


SQLITE = "sqlite"
POSTGRESQL = "postgresql"
UI_TESTS = Path(__file__).parent / "ui"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: about SQLite itself (its file, lock, WAL): no PostgreSQL run"
    )
    config.addinivalue_line("markers", "pg: runs on PostgreSQL (set on the store's pg variant)")
    config.addinivalue_line(
        "markers", "restarts_postgres: stops and starts its PostgreSQL (one the tests run)"
    )
    config.addinivalue_line(
        "markers", "pg_only: several processes on one database: no SQLite run (one process)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses `store` runs on both databases, unless it opts out."""
    if "store" not in metafunc.fixturenames:
        return
    sqlite_only = (
        metafunc.definition.get_closest_marker("sqlite_only") is not None
        or UI_TESTS in metafunc.definition.path.parents
    )
    pg_only = metafunc.definition.get_closest_marker("pg_only") is not None
    engines = [] if pg_only else [pytest.param(SQLITE, id="sqlite")]
    if not sqlite_only:
        engines.append(pytest.param(POSTGRESQL, id="pg", marks=pytest.mark.pg))
    metafunc.parametrize("store", engines, indirect=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL server for the session, started on first use, removed at the end."""
    try:
        cluster = PostgresCluster.from_environment()
    except PostgresUnavailableError as error:  # a failure, never a silent skip
        pytest.fail(f"{error} (install Debian's `postgresql`, as .ci/run does)")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenedStore]:
    """A fresh database at the newest schema: SQLite, or PostgreSQL for the `pg` variant."""
    engine = getattr(request, "param", SQLITE)
    if engine == SQLITE:
        opened = open_store(sqlite_url(tmp_path / "mudameter.sqlite3"))
        yield opened
        opened.close()
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.migrated_database()
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.close()
        cluster.drop_database(url)


@pytest.fixture
def store_url(store: OpenedStore) -> str:
    """The URL of the test's database (for a second engine or a server process)."""
    return store.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def service(store: OpenedStore, clock: FakeClock) -> MeterService:
    return MeterService(store.engine, ZoneInfo("Europe/Berlin"), clock=clock)


@pytest.fixture
def room_server(postgres_cluster: PostgresCluster, tmp_path: Path) -> Iterator[TeamServer]:
    """A real `mudameter --headless` team server on the test PostgreSQL, with one room."""
    server = TeamServer.start(postgres_cluster, tmp_path)
    try:
        yield server
    finally:
        server.close()
