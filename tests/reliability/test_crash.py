"""Crash durability: no acknowledged click is lost when the process is killed."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import closing
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mudameter_desktop.store.database import head_revision, open_store, sqlite_url
from mudameter_desktop.store.models import StatusChange
from tests.reliability.conftest import (
    HERE,
    PYTHON,
    App,
    Output,
    answers_health,
    free_port,
    headless_args,
    port_is_free,
    wait_for,
)

KILL_CYCLES = 50
HTTP_KILL_CYCLES = 8


def stored_statuses(database: Path) -> dict[str, str]:
    """participant id -> status of every stored change, read through the app's store."""
    store = open_store(sqlite_url(database))
    try:
        assert store.moved_aside is None, "a killed database must never look damaged"
        with store.sessions() as session:
            rows = session.execute(select(StatusChange.participant_id, StatusChange.status))
            return {str(participant): str(status) for participant, status in rows}
    finally:
        store.close()


def has_spoken(output: Output, child: subprocess.Popen[str]) -> bool:
    return bool(output.lines) or child.poll() is not None


def integrity(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        connection.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_acknowledged_status(tmp_path: Path) -> None:
    database = tmp_path / "mudameter.sqlite3"
    rng = random.Random(20261127)  # noqa: S311 - kill moments, not secrets
    acknowledged: dict[str, str] = {}
    started = time.monotonic()
    for cycle in range(KILL_CYCLES):
        child = subprocess.Popen(
            [PYTHON, str(HERE / "recorder.py"), str(database)],
            stdout=subprocess.PIPE,
            text=True,
        )
        output = Output(child.stdout)
        if rng.random() < 0.2:  # while it starts: opening, migrating
            time.sleep(rng.uniform(0.01, 0.8))
        else:  # while it records
            wait_for(partial(has_spoken, output, child), what="ready")
            time.sleep(rng.uniform(0.0, 0.2))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        output.join()
        for line in output.complete_lines():
            if line != "ready":
                participant, status = line.split()
                acknowledged[participant] = status
        assert integrity(database) == "ok", f"cycle {cycle}"
        stored = stored_statuses(database)
        missing = {p: s for p, s in acknowledged.items() if stored.get(p) != s}
        assert not missing, f"cycle {cycle}: {len(missing)} acknowledged statuses lost"
    elapsed = time.monotonic() - started
    print(f"{KILL_CYCLES} SIGKILL cycles, {len(acknowledged)} acknowledged, {elapsed:.1f} s")
    assert len(acknowledged) > KILL_CYCLES  # the child really was recording when killed


@pytest.mark.slow
def test_sigkill_during_the_first_start_leaves_a_database_that_opens(tmp_path: Path) -> None:
    """Killed while creating the file and migrating it: the next start just carries on."""
    rng = random.Random(4242)  # noqa: S311 - kill moments, not secrets
    for cycle in range(10):
        database = tmp_path / f"fresh-{cycle}.sqlite3"
        child = subprocess.Popen([PYTHON, str(HERE / "recorder.py"), str(database)])
        # The file appears after the imports; the migrations take the next ~40 ms.
        wait_for(database.exists, what="the database file")
        time.sleep(rng.uniform(0.0, 0.04))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert integrity(database) == "ok", f"cycle {cycle}"
        stored_statuses(database)  # opens with the app, migrated to head, not moved aside
        with closing(sqlite3.connect(database)) as connection:
            version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        assert version == (head_revision(),)


class Poster:
    """Posts statuses over HTTP from a thread as fast as the server answers."""

    def __init__(self, url: str) -> None:
        self.acknowledged: dict[str, str] = {}
        self.server_errors = 0
        self._url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        statuses = ("speaking", "engaged", "disengaged")
        with httpx.Client(base_url=self._url, timeout=5.0) as client:
            index = 0
            while not self._stop.is_set():
                status = statuses[index % 3]
                index += 1
                try:
                    response = client.post("/users/status", json={"status": status})
                except httpx.HTTPError:
                    continue  # the server is gone: this click was never acknowledged
                if response.status_code >= 500:
                    self.server_errors += 1
                elif response.status_code == 200:
                    self.acknowledged[response.json()["participant_id"]] = status

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.slow
def test_sigkill_of_the_headless_server_loses_no_acknowledged_status(
    tmp_path: Path, apps: Callable[..., App]
) -> None:
    database = tmp_path / "mudameter.sqlite3"
    rng = random.Random(8765)  # noqa: S311
    acknowledged: dict[str, str] = {}
    for cycle in range(HTTP_KILL_CYCLES):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = apps(headless_args(tmp_path, port))
        wait_for(partial(answers_health, url), what="the server")
        poster = Poster(url)
        time.sleep(rng.uniform(0.05, 0.6))
        server.signal(signal.SIGKILL)
        server.wait()
        poster.stop()
        assert poster.server_errors == 0
        acknowledged.update(poster.acknowledged)
        assert integrity(database) == "ok", f"cycle {cycle}"
        stored = stored_statuses(database)
        missing = {p: s for p, s in acknowledged.items() if stored.get(p) != s}
        assert not missing, f"cycle {cycle}: {len(missing)} acknowledged statuses lost"
    assert len(acknowledged) > HTTP_KILL_CYCLES


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_stops_the_headless_server_cleanly_losing_nothing(
    tmp_path: Path, apps: Callable[..., App], number: signal.Signals
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = apps(headless_args(tmp_path, port))
    wait_for(lambda: answers_health(url), what="the server")
    poster = Poster(url)
    wait_for(lambda: len(poster.acknowledged) >= 50, what="50 acknowledged statuses")
    server.signal(number)  # while clicks are still arriving
    code = server.wait()
    poster.stop()
    assert code == 0, server.stderr.text
    assert "Traceback" not in server.stderr.text
    assert "HTTP server stopped" in server.stderr.text
    assert port_is_free(port)
    assert not answers_health(url)
    assert poster.server_errors == 0
    assert integrity(tmp_path / "mudameter.sqlite3") == "ok"
    stored = stored_statuses(tmp_path / "mudameter.sqlite3")
    assert all(stored.get(p) == s for p, s in poster.acknowledged.items())
