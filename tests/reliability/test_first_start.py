"""Concurrent first starts on an empty PostgreSQL database migrate it once, and all start.

Before the migration lock, six `--headless` processes started at once on an
empty database failed in most rounds: all but one died on `alembic_version`
(its table, or its type, already existed), exit code 1.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.postgres import PostgresCluster
from tests.reliability.conftest import App, answers_health, free_port, headless_args

PROCESSES = 6
ROUNDS = 2  # before the lock, 3 of 4 rounds of 6 failed
ROUND_S = 120.0  # six processes importing the stack at once on a busy 2-core machine


@pytest.mark.slow
def test_six_processes_starting_at_once_on_an_empty_database_all_start(
    postgres_cluster: PostgresCluster, apps: Callable[..., App], tmp_path: Path
) -> None:
    for round_number in range(ROUNDS):
        database = postgres_cluster.create_database()  # empty: no schema at all
        started = [
            (
                apps(
                    headless_args(
                        tmp_path / f"round{round_number}-{index}",
                        port := free_port(),
                        "--database-url",
                        database,
                    )
                ),
                f"http://127.0.0.1:{port}",
            )
            for index in range(PROCESSES)
        ]
        deadline = time.monotonic() + ROUND_S
        waiting = list(started)
        while waiting and time.monotonic() < deadline:
            for app, url in list(waiting):
                exited = app.process.poll()
                assert exited is None, (
                    f"round {round_number}: a process exited {exited}: {app.stderr.text}"
                )
                if answers_health(url):
                    waiting.remove((app, url))
            time.sleep(0.05)
        assert not waiting, (
            f"round {round_number}: {len(waiting)} never answered /health: "
            + " | ".join(app.stderr.text[-500:] for app, _ in waiting)
        )
        texts = [app.stderr.text for app, _ in started]
        assert sum(text.count("Database created with schema") for text in texts) == 1, texts
        for app, _ in started:
            app.signal(signal.SIGTERM)
        for app, _ in started:
            assert app.wait(30) == 0, app.stderr.text
            assert "Traceback" not in app.stderr.text
        postgres_cluster.drop_database(database)


def test_a_start_waits_for_the_migration_lock_and_gives_up_in_one_line(
    postgres_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process migrates (holds the lock), a start waits; past the timeout it
    stops with a sentence, not a traceback, and the next start migrates normally."""
    import psycopg
    from sqlalchemy.engine import make_url

    from mudameter_desktop.store import database

    url = postgres_cluster.create_database()
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    monkeypatch.setattr(database, "MIGRATION_LOCK_TIMEOUT_S", 1)
    with psycopg.connect(plain, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (database.MIGRATION_LOCK_KEY,))
        began = time.monotonic()
        with pytest.raises(database.StoreError, match="migrating the database for over 1 s"):
            database.open_store(url)
        assert 0.9 < time.monotonic() - began < 10
    opened = database.open_store(url)  # the lock went with the other session
    try:
        with opened.engine.connect() as connection:
            version = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert version.scalar() == database.HEAD_REVISION
            held = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            ).scalar()
            assert held == 0  # released after migrating
    finally:
        opened.close()
        postgres_cluster.drop_database(url)
