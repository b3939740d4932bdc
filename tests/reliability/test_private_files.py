"""Secrets at rest and scripted keys (issue 11, findings 5 and 7's key strength).

Another local account is played by `nobody` (`runuser`); the data folder sits
in a folder every account may enter, so only the app's own modes protect it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    App,
    answers_health,
    free_port,
    headless_args,
    wait_for,
)

KEY = "private-files-key-0123456789abcdef"
Start = Callable[..., App]

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root and runuser"
)


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder any account can enter (0755), unlike pytest's tmp_path (0700)."""
    folder = Path(tempfile.mkdtemp(prefix="mudameter-modes-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def started(apps: Start, data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> App:
    port = free_port()
    app = apps(headless_args(data_dir, port, *extra), env)
    wait_for(lambda: answers_health(f"http://127.0.0.1:{port}"), what="the server")
    return app


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def written_files(data_dir: Path) -> list[Path]:
    return [path for path in data_dir.rglob("*") if path.is_file()]


def test_every_file_is_the_users_alone_after_a_real_start(open_folder: Path, apps: Start) -> None:
    """Found: folders 0755, settings (with the key), database and logs 0644."""
    data_dir = open_folder / "data"
    app = started(apps, data_dir)
    files = {path.name for path in written_files(data_dir)}
    for name in ("settings.json", "mudameter.sqlite3", "mudameter.log", "mudameter.sqlite3.lock"):
        assert name in files, files
    assert "mudameter.sqlite3-wal" in files  # WAL mode: the -wal and -shm exist while open
    for path in written_files(data_dir):
        assert mode(path) == 0o600, (path, oct(mode(path)))
    for folder in (data_dir, data_dir / "logs", data_dir / "config"):
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    app.end()


def test_files_left_readable_by_an_older_version_are_tightened(
    open_folder: Path, apps: Start
) -> None:
    data_dir = open_folder / "data"
    started(apps, data_dir).end()
    for path in [data_dir, *data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (data_dir / "logs" / "mudameter.log.1").write_text("rotated\n", encoding="utf-8")
    (data_dir / "logs" / "mudameter.log.1").chmod(0o644)
    started(apps, data_dir).end()
    for path in written_files(data_dir):
        assert mode(path) == 0o600, (path, oct(mode(path)))


def test_a_rotated_log_is_private_too(tmp_path: Path) -> None:
    import logging

    from mudameter_desktop.logs import PrivateRotatingFileHandler

    previous = os.umask(0o022)  # what a library user's process may have
    try:
        handler = PrivateRotatingFileHandler(tmp_path / "app.log", maxBytes=200, backupCount=2)
        for number in range(40):
            handler.emit(logging.makeLogRecord({"msg": f"line {number} " + "x" * 40}))
        handler.close()
    finally:
        os.umask(previous)
    logs = sorted(tmp_path.glob("app.log*"))
    assert len(logs) == 3
    for path in logs:
        assert mode(path) == 0o600, (path, oct(mode(path)))


@needs_root
def test_another_local_user_reads_nothing(open_folder: Path, apps: Start) -> None:
    data_dir = open_folder / "data"
    app = started(apps, data_dir, "--room-key", KEY)
    targets = [
        data_dir / "config" / "settings.json",
        data_dir / "mudameter.sqlite3",
        data_dir / "mudameter.sqlite3.lock",
        data_dir / "logs" / "mudameter.log",
    ]
    for target in targets:
        assert target.exists()
        seen = subprocess.run(
            ["runuser", "-u", "nobody", "--", "cat", str(target)],
            capture_output=True,
            check=False,
        )
        assert seen.returncode != 0, target
        assert seen.stdout == b"", target
    # Nor can it hold the database lock and so stop the app's next start.
    flock = subprocess.run(
        ["runuser", "-u", "nobody", "--", "flock", "-n", str(targets[2]), "true"],
        capture_output=True,
        check=False,
    )
    assert flock.returncode != 0
    app.end()


def cmdline(app: App) -> str:
    return Path(f"/proc/{app.process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_the_key_from_a_file_stays_out_of_the_process_list(tmp_path: Path, apps: Start) -> None:
    key_file = tmp_path / "room.key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    app = started(apps, tmp_path / "data", "--room-key-file", str(key_file), "--host", "0.0.0.0")  # noqa: S104 - to print the join link
    assert KEY not in cmdline(app)
    # The join link, printed once, holds the key: it was read and used.
    wait_for(lambda: f"key={KEY}" in app.stdout.text, what="the join link")
    app.end()  # the join link, printed once: the key was used


def test_the_key_from_the_environment_stays_out_of_the_process_list(
    tmp_path: Path, apps: Start
) -> None:
    env = {**os.environ, "MUDAMETER_ROOM_KEY": KEY}
    app = started(apps, tmp_path / "data", "--host", "0.0.0.0", env=env)  # noqa: S104 - join link
    assert KEY not in cmdline(app)
    # The join link, printed once, holds the key: it was read and used.
    wait_for(lambda: f"key={KEY}" in app.stdout.text, what="the join link")
    app.end()


@pytest.mark.parametrize(
    ("how", "key"),
    [("flag", "1234"), ("flag", "a" * 21), ("file", "short-key"), ("env", "x" * 10)],
)
def test_a_short_key_is_refused_in_one_line(
    tmp_path: Path, apps: Start, how: str, key: str
) -> None:
    """Found: `--room-key 1234` was accepted; 17 addresses guessed ~10 000 keys a minute."""
    extra: list[str] = []
    env = {k: v for k, v in os.environ.items() if k != "MUDAMETER_ROOM_KEY"}
    if how == "flag":
        extra = ["--room-key", key]
    elif how == "file":
        (tmp_path / "key").write_text(key, encoding="utf-8")
        extra = ["--room-key-file", str(tmp_path / "key")]
    else:
        env["MUDAMETER_ROOM_KEY"] = key
    app = apps(headless_args(tmp_path / "data", free_port(), *extra), env)
    assert app.wait() == 2
    lines = app.stderr.text.strip().splitlines()
    assert len(lines) == 1, lines
    assert "at least 22" in lines[0]
    assert key not in lines[0]


def test_a_missing_key_file_is_one_line(tmp_path: Path, apps: Start) -> None:
    app = apps(headless_args(tmp_path, free_port(), "--room-key-file", str(tmp_path / "none")))
    assert app.wait() == 2
    lines = app.stderr.text.strip().splitlines()
    assert len(lines) == 1 and "room key file" in lines[0], lines


def test_a_weak_saved_key_is_replaced_by_a_strong_one(tmp_path: Path) -> None:
    from mudameter_desktop.settings import MIN_KEY_LENGTH, Settings, load_settings, save_settings

    path = tmp_path / "settings.json"
    save_settings(path, Settings(room_key="1234"))
    key = load_settings(path).room_key
    assert len(key) >= MIN_KEY_LENGTH
    assert load_settings(path).room_key == key  # saved: phones keep working after a restart
