"""Bad files and environment, with real `mudameter` processes (headless and GUI)."""

from __future__ import annotations

import signal
import socket
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from mudameter_desktop.paths import resolve_paths
from mudameter_desktop.settings import Settings, save_settings
from mudameter_desktop.store.database import head_revision, open_store, sqlite_url
from mudameter_desktop.ui.instance_server import InstanceServer
from mudameter_desktop.ui.single_instance import notify_running, socket_name
from tests.reliability.conftest import (
    BIN,
    App,
    answers_health,
    free_port,
    gui_env,
    headless_args,
    port_is_free,
    wait_for,
)
from tests.store.test_database import read_only

Start = Callable[..., App]
GARBAGE = b"this was a database once" * 100


def stop(app: App) -> int:
    app.signal(signal.SIGTERM)
    return app.wait()


def no_traceback(app: App) -> None:
    assert "Traceback" not in app.stderr.text, app.stderr.text


def test_a_corrupt_database_is_moved_aside_and_the_user_told(tmp_path: Path, apps: Start) -> None:
    database = tmp_path / "mudameter.sqlite3"
    database.write_bytes(GARBAGE)
    port = free_port()
    server = apps(headless_args(tmp_path, port))
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: answers_health(url), what="the server on a fresh database")
    assert stop(server) == 0
    no_traceback(server)
    (moved,) = tmp_path.glob("mudameter.sqlite3.corrupt-*")
    assert moved.read_bytes() == GARBAGE  # kept for the user, never deleted
    assert "damaged" in server.stderr.text
    assert str(moved) in server.stderr.text  # told where it went
    assert "damaged" in (tmp_path / "logs" / "mudameter.log").read_text(encoding="utf-8")
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_truncated_database_is_moved_aside_too(tmp_path: Path) -> None:
    database = tmp_path / "mudameter.sqlite3"
    store = open_store(sqlite_url(database))
    store.close()
    data = database.read_bytes()
    database.write_bytes(data[: len(data) // 3])
    reopened = open_store(sqlite_url(database))
    try:
        assert reopened.moved_aside is not None
    finally:
        reopened.close()


def test_a_database_from_a_newer_app_is_refused_and_kept(tmp_path: Path, apps: Start) -> None:
    database = tmp_path / "mudameter.sqlite3"
    open_store(sqlite_url(database)).close()
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        connection.execute(
            "INSERT INTO meeting (title, starts_at, ends_at, created_at, complete) "
            "VALUES ('Keep me', '2026-01-01 09:00:00', '2026-01-01 10:00:00', "
            "'2026-01-01 09:00:00', 1)"
        )
    before = database.read_bytes()  # closed: the write-ahead log is in the file
    server = apps(headless_args(tmp_path, free_port()))
    assert server.wait() == 1
    no_traceback(server)
    assert "newer Muda Meter" in server.stderr.text
    assert "Nothing was changed" in server.stderr.text
    assert database.read_bytes() == before
    assert not list(tmp_path.glob("*.corrupt-*"))
    with closing(sqlite3.connect(database)) as connection:
        assert connection.execute("SELECT title FROM meeting").fetchall() == [("Keep me",)]
    assert head_revision() != "9999_from_the_future"


def test_a_read_only_data_folder_is_a_clear_error_headless(tmp_path: Path, apps: Start) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    with read_only(folder):
        app = apps(headless_args(folder, free_port()))
        code = app.wait(60)
    no_traceback(app)
    assert code == 1
    assert f"Cannot use the data folder {folder}" in app.stderr.text
    assert list(folder.iterdir()) == []


def test_a_read_only_database_folder_is_a_clear_error_headless(tmp_path: Path, apps: Start) -> None:
    folder = tmp_path / "data"
    for sub in ("logs", "config"):  # logs and settings can be written, the database cannot
        (folder / sub).mkdir(parents=True)
    with read_only(folder):
        app = apps(headless_args(folder, free_port()))
        code = app.wait(60)
    no_traceback(app)
    assert code == 1
    assert f"The data location {folder} is read-only" in app.stderr.text
    assert not (folder / "mudameter.sqlite3").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("subfolders", "message"),
    [
        ((), "Cannot use the data folder"),
        (("logs", "config"), "Muda Meter could not start: The data location"),
    ],
    ids=["nothing-writable", "database-not-writable"],
)
def test_a_read_only_data_folder_is_shown_in_the_gui(
    tmp_path: Path, apps: Start, subfolders: tuple[str, ...], message: str
) -> None:
    """The GUI never fails invisibly: it stays up and says why it cannot work."""
    folder = tmp_path / "data"
    folder.mkdir()
    for sub in subfolders:  # logs and settings can be written, the database cannot
        (folder / sub).mkdir()
    with read_only(folder):
        app = apps(gui_args(folder, free_port()), gui_env())
        wait_for(lambda: message in app.stderr.text, timeout=60, what="the message")
        assert app.process.poll() is None  # showing it, not gone
        app.end()
    assert str(folder) in app.stderr.text
    assert not (folder / "mudameter.sqlite3").exists()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on, with the next one free."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and port_is_free(port + 1):
            break
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen(1)
        yield port


def test_a_taken_port_means_the_next_one(tmp_path: Path, apps: Start, taken_port: int) -> None:
    """The settings' port moves on (an explicit --port is refused: tests/test_command_line.py)."""
    paths = resolve_paths(tmp_path)
    paths.create()
    save_settings(paths.settings_file, Settings(port=taken_port, room_key="k" * 32))
    server = apps([str(BIN / "mudameter-cli"), "--headless", "--data-dir", str(tmp_path)])
    url = f"http://127.0.0.1:{taken_port + 1}"
    wait_for(lambda: answers_health(url), what="the server on the next port")
    wait_for(lambda: f"listening on {url}/" in server.stderr.text, what="the real URL logged")
    assert stop(server) == 0


def gui_args(data_dir: Path, port: int) -> list[str]:
    return [str(BIN / "mudameter"), "--data-dir", str(data_dir), "--port", str(port)]


@pytest.mark.slow
def test_a_stale_single_instance_lock_after_a_crash_does_not_block_the_next_start(
    tmp_path: Path, apps: Start
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = apps(gui_args(tmp_path, port), gui_env())
    wait_for(lambda: answers_health(url), timeout=60, what="the first app")
    first.signal(signal.SIGKILL)  # a crash: the instance socket is left behind
    first.wait()
    lock = Path(socket_name(tmp_path.resolve()))  # a full path, in the runtime folder
    assert lock.exists()
    wait_for(lambda: port_is_free(port), what="the killed app's port")
    again = apps(gui_args(tmp_path, port), gui_env())
    wait_for(lambda: answers_health(url), timeout=60, what="the app after a crash")
    assert again.process.poll() is None
    assert stop(again) == 0
    no_traceback(again)


@pytest.mark.slow
def test_a_second_instance_hands_over_and_exits_0(tmp_path: Path, apps: Start) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = apps(gui_args(tmp_path, port), gui_env())
    wait_for(lambda: answers_health(url), timeout=60, what="the first app")
    second = apps(gui_args(tmp_path, free_port()), gui_env())
    assert second.wait(60) == 0
    no_traceback(second)
    assert "already running" in second.stderr.text
    assert first.process.poll() is None  # the first one goes on serving
    assert answers_health(url)
    elsewhere = tmp_path / "other"  # another data folder is another instance
    third_port = free_port()
    third = apps(gui_args(elsewhere, third_port), gui_env())
    wait_for(lambda: answers_health(f"http://127.0.0.1:{third_port}"), timeout=60, what="third")
    assert stop(third) == 0
    assert stop(first) == 0


def test_the_first_instance_is_asked_to_show_its_history(qtbot: QtBot, tmp_path: Path) -> None:
    name = socket_name(tmp_path)
    assert not notify_running(name)  # nobody there yet
    server = InstanceServer(name)
    try:
        with qtbot.waitSignal(server.show_history_requested, timeout=5000):
            assert notify_running(name)
    finally:
        server.close()


@pytest.mark.slow
def test_a_corrupt_database_is_told_in_the_gui(tmp_path: Path, apps: Start) -> None:
    (tmp_path / "mudameter.sqlite3").write_bytes(GARBAGE)
    port = free_port()
    app = apps(gui_args(tmp_path, port), gui_env())
    # Without a system tray (offscreen) the tray message goes to the log instead.
    wait_for(
        lambda: "Started with a fresh database: The database was damaged" in app.stderr.text,
        timeout=60,
        what="the notice",
    )
    assert answers_health(f"http://127.0.0.1:{port}")
    (moved,) = tmp_path.glob("mudameter.sqlite3.corrupt-*")
    assert str(moved) in app.stderr.text
    assert moved.read_bytes() == GARBAGE


def test_a_second_process_on_the_same_database_is_refused(tmp_path: Path, apps: Start) -> None:
    """Each process keeps open meetings' buckets in memory: two writers would overwrite
    each other's counts (found by running two headless servers on one folder)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = apps(headless_args(tmp_path, port))
    wait_for(lambda: answers_health(url), what="the first server")
    second = apps(headless_args(tmp_path, free_port()))
    assert second.wait(60) == 1
    no_traceback(second)
    assert "in use by another Muda Meter" in second.stderr.text
    assert answers_health(url)
    assert stop(first) == 0
    third = apps(headless_args(tmp_path, port))  # the lock goes with the process
    wait_for(lambda: answers_health(url), what="a server after the first stopped")
    third.signal(signal.SIGKILL)
    third.wait()
    fourth = apps(headless_args(tmp_path, port))  # ...also when it was killed
    wait_for(lambda: answers_health(url), what="a server after a kill")
    assert stop(fourth) == 0
