"""`--headless --workers N`: uvicorn's worker processes on one PostgreSQL database.

The parent migrates and binds; every worker builds its own store and app and
guards its connections like the desktop's server thread. SQLite is refused.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mudameter_desktop.api.workers import WorkerSettings
from mudameter_desktop.runtime import Options, workers_refusal
from tests.postgres import PostgresCluster
from tests.reliability.conftest import (
    App,
    answers_health,
    free_port,
    headless_args,
    port_is_free,
    wait_for,
)

KEY = "team-server-key-for-the-tests"
BEARER = {"Authorization": f"Bearer {KEY}"}
START_S = 90.0  # N workers importing the stack at once on a busy 2-core machine


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "Z"


def workers_of(app: App) -> set[int]:
    """The uvicorn workers: the parent's children but multiprocessing's resource tracker."""
    return {
        pid
        for pid in children(app.process.pid)
        if "resource_tracker" not in _cmdline(pid) and alive(pid)
    }


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def team_server(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> Iterator[tuple[App, str, set[int]]]:
    """`mudameter --headless --workers 3` on a fresh, empty database: (app, url, workers)."""
    port = free_port()
    database = postgres_cluster.create_database()
    app = App(
        headless_args(
            tmp_path / "data",
            port,
            "--database-url",
            database,
            "--workers",
            "3",
            "--trusted-proxy",
            "127.0.0.1",
            "--room-key",
            KEY,
        )
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: (
                app.process.poll() is not None
                or (answers_health(url) and len(workers_of(app)) == 3)
            ),
            START_S,
            "three workers",
        )
        assert app.process.poll() is None, app.stderr.text
        wait_for(lambda: _all_started(app), START_S, "every worker serving")
        yield app, url, workers_of(app)
    finally:
        stragglers = workers_of(app)
        app.end()
        for pid in stragglers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        postgres_cluster.drop_database(database)


def _all_started(app: App) -> bool:
    return app.stderr.text.count("Started server process") >= 3


def test_workers_need_postgresql_and_headless(tmp_path: Path) -> None:
    sqlite = Options(headless=True, workers=2)
    assert "needs a PostgreSQL --database-url" in (workers_refusal(sqlite) or "")
    given = Options(headless=True, workers=2, database_url=f"sqlite:///{tmp_path}/x.sqlite3")
    assert "SQLite is the desktop's single-process store" in (workers_refusal(given) or "")
    assert "needs --headless" in (workers_refusal(Options(workers=2)) or "")
    postgres = Options(headless=True, workers=2, database_url="postgresql+psycopg://u@h/db")
    assert workers_refusal(postgres) is None
    assert workers_refusal(Options(headless=True)) is None  # one: the server thread, any store


@pytest.mark.parametrize(
    "extra",
    [
        ["--workers", "2"],
        ["--workers", "2", "--database-url", "sqlite:///{dir}/mudameter.sqlite3"],
    ],
)
def test_workers_with_sqlite_are_refused_in_one_line(tmp_path: Path, extra: list[str]) -> None:
    args = headless_args(tmp_path, free_port(), *(part.format(dir=tmp_path) for part in extra))
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "SQLite" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "mudameter.sqlite3").exists()  # refused before anything was made


def test_workers_count_is_checked_by_the_parser(tmp_path: Path) -> None:
    args = headless_args(tmp_path, free_port(), "--workers", "0")
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "workers must be 1-" in done.stderr


def test_an_unreachable_database_stops_the_parent_in_one_line(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    url = f"postgresql+psycopg://nobody@127.0.0.1:{closed}/none"
    args = headless_args(tmp_path, free_port(), "--database-url", url, "--workers", "2")
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "Cannot open the database" in done.stderr
    assert "Traceback" not in done.stderr


def test_worker_settings_travel_through_the_environment() -> None:
    settings = WorkerSettings(
        workers=3,
        database_url="postgresql+psycopg://u:p@h/db",
        data_dir="/var/lib/mudameter",
        room_key="k" * 22,
        trusted_proxies=("127.0.0.1", "10.0.0.0/8"),
        rate_limit=0,
    )
    environment = {"MUDAMETER_WORKER": settings.to_environment()}
    assert WorkerSettings.from_environment(environment) == settings
    with pytest.raises(RuntimeError):
        WorkerSettings.from_environment({})


@pytest.mark.slow
def test_three_workers_serve_one_database(team_server: tuple[App, str, set[int]]) -> None:
    app, url, workers = team_server
    assert len(workers) == 3
    assert "Database created with schema" in app.stderr.text  # the parent migrated, once
    assert app.stderr.text.count("Database created") == 1
    # Each request on a new connection: the kernel hands them to any worker. With
    # --trusted-proxy 127.0.0.1 a loopback request is a proxied client's: it needs the key.
    assert httpx.get(f"{url}/meetings", timeout=10).status_code == 401
    visit = httpx.post(f"{url}/visit", headers=BEARER, timeout=10)
    assert visit.status_code == 200, visit.text
    meeting = visit.json()["meeting"]["id"]
    for _ in range(30):
        answer = httpx.get(f"{url}/meetings/{meeting}", headers=BEARER, timeout=10)
        assert answer.status_code == 200
    # Every worker guards its connections as the server thread does: a huge head is a 431.
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        assert raw.recv(64).startswith(b"HTTP/1.1 431")
    assert "Traceback" not in app.stderr.text


@pytest.mark.slow
def test_a_dead_worker_is_replaced_and_sigterm_stops_them_all(
    team_server: tuple[App, str, set[int]],
) -> None:
    app, url, workers = team_server
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: victim not in workers_of(app) and len(workers_of(app)) == 3,
        START_S,
        "a new worker",
    )
    wait_for(lambda: app.stderr.text.count("Started server process") >= 4, START_S, "it serves")
    assert answers_health(url)
    remaining = workers_of(app)
    app.signal(signal.SIGTERM)
    assert app.wait(30) == 0
    wait_for(lambda: not any(alive(pid) for pid in remaining), 15, "the workers to stop")
    port = int(url.rsplit(":", 1)[1])
    assert port_is_free(port)


@pytest.mark.slow
def test_workers_stop_when_their_parent_is_killed(team_server: tuple[App, str, set[int]]) -> None:
    app, url, workers = team_server
    app.process.kill()
    app.wait()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)
    assert not answers_health(url)
