"""The installed command line, paths, settings and logging."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mudameter_desktop import __version__
from mudameter_desktop.__main__ import build_parser
from mudameter_desktop.api import server as server_module
from mudameter_desktop.api.server import PORT_ATTEMPTS, ServerStartError
from mudameter_desktop.logs import setup_logging
from mudameter_desktop.paths import resolve_paths
from mudameter_desktop.settings import Settings, load_settings, save_settings

BIN = Path(sys.executable).parent


def test_version_and_help_work_from_the_installed_entry_point() -> None:
    version = subprocess.run(
        [BIN / "mudameter", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"mudameter {__version__}"
    help_text = subprocess.run(
        [BIN / "mudameter", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in ("--headless", "--host", "--port", "--data-dir", "--database-url", "--room-key"):
        assert option in help_text


def test_options_are_parsed_and_bad_ports_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["--headless", "--host", "0.0.0.0", "--port", "9000", "--data-dir", "/tmp/x"]  # noqa: S104, S108
    )
    assert (args.headless, args.host, args.port, args.data_dir) == (
        True,
        "0.0.0.0",  # noqa: S104
        9000,
        Path("/tmp/x"),  # noqa: S108
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--port", "70000"])
    assert "port must be 0-65535" in capsys.readouterr().err


def test_data_dir_overrides_every_location(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path)
    assert paths.database_file == tmp_path / "mudameter.sqlite3"
    assert paths.log_file.parent == tmp_path / "logs"
    assert paths.settings_file.parent == tmp_path / "config"
    paths.create()
    assert all(p.is_dir() for p in (paths.data_dir, paths.log_dir, paths.config_dir))


def test_platform_locations_are_separate_without_an_override() -> None:
    paths = resolve_paths()
    assert "mudameter" in str(paths.data_dir)
    assert paths.config_dir != paths.data_dir


def test_settings_round_trip_and_a_room_key_is_made_once(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    first = load_settings(path)
    assert len(first.room_key) >= 16
    assert load_settings(path).room_key == first.room_key  # kept across restarts
    changed = first.with_changes(port=9123, hourly_cost=80.0, currency="USD", share_on_lan=True)
    save_settings(path, changed)
    assert load_settings(path) == changed


def test_unreadable_or_wrongly_typed_settings_fall_back_to_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert load_settings(path).port == Settings().port
    path.write_text(json.dumps({"port": "eighty", "hourly_cost": 50, "room_key": "k" * 32}))
    loaded = load_settings(path)
    assert (loaded.port, loaded.hourly_cost, loaded.room_key) == (8765, 50.0, "k" * 32)


def test_logging_goes_to_the_rotating_file(tmp_path: Path) -> None:
    log_file = tmp_path / "mudameter.log"
    root = logging.getLogger()
    before = list(root.handlers)
    setup_logging(log_file)
    try:
        logging.getLogger("mudameter_desktop.test").warning("hello from the test")
        for handler in root.handlers:
            handler.flush()
        assert "hello from the test" in log_file.read_text()
    finally:
        for handler in set(root.handlers) - set(before):
            root.removeHandler(handler)
            handler.close()


# -- errors a user meets at start-up: one line, no traceback -------------------------------

STARTUP_TIMEOUT = 60


def run_cli(
    *args: str | Path, timeout: float = STARTUP_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "mudameter-cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_database_url_that_is_not_one_is_refused_in_one_line(tmp_path: Path) -> None:
    done = run_cli("--headless", "--data-dir", tmp_path, "--database-url", "foo")
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "--database-url 'foo' is not a database URL" in line


def test_an_unknown_database_is_refused_in_one_line(tmp_path: Path) -> None:
    done = run_cli("--headless", "--data-dir", tmp_path, "--database-url", "nosuch://h/db")
    assert done.returncode == 1
    assert "'nosuch' is not a database this app can use" in one_line(done.stderr)


def test_postgresql_without_its_driver_names_the_extra_to_install(tmp_path: Path) -> None:
    url = "postgresql://user:secret@127.0.0.1:1/meter"  # port 1: nothing listens there
    done = run_cli("--headless", "--data-dir", tmp_path, "--database-url", url)
    assert done.returncode == 1
    line = one_line(done.stderr)
    if importlib.util.find_spec("psycopg") is None:
        assert "needs the postgresql+psycopg driver (psycopg)" in line
        assert "pip install 'mudameter-desktop[server]'" in line
    else:  # the extra is installed: the driver is found, the server is not
        assert line.startswith("Cannot open the database:")


def test_the_server_extra_installs_the_postgresql_driver() -> None:
    with (Path(__file__).parent.parent / "pyproject.toml").open("rb") as file:
        extras = tomllib.load(file)["project"]["optional-dependencies"]
    assert any(requirement.startswith("psycopg[binary]") for requirement in extras["server"])


def read_until(app: subprocess.Popen[str], needle: str, timeout: float) -> str:
    """What the app wrote to stderr until a line containing `needle` (or the timeout),
    then SIGTERM and the rest; a reader thread, so a silent app cannot block the test."""
    assert app.stderr is not None
    stream = app.stderr
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True)
    reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(needle in line for line in seen):
        with contextlib.suppress(queue.Empty):
            seen.append(lines.get(timeout=0.2))
    app.send_signal(signal.SIGTERM)
    try:
        app.wait(timeout=30)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait()
    reader.join(timeout=5)
    while not lines.empty():
        seen.append(lines.get())
    return "".join(seen)


def test_the_gui_says_a_bad_database_url_in_one_line(tmp_path: Path) -> None:
    """The tray app shows the message and keeps running; stderr gets one line, no traceback."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [BIN / "mudameter", "--data-dir", tmp_path, "--database-url", "foo"]
    with subprocess.Popen(
        list(map(str, command)), stderr=subprocess.PIPE, text=True, env=env
    ) as app:
        stderr = read_until(app, "is not a database URL", STARTUP_TIMEOUT)
    assert "Traceback" not in stderr, stderr
    assert "is not a database URL" in stderr, stderr


def test_an_explicit_port_that_is_taken_is_refused(tmp_path: Path, taken_port: int) -> None:
    done = run_cli("--headless", "--data-dir", tmp_path, "--port", taken_port)
    assert done.returncode == 1
    refusal = done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr, done.stderr
    assert f"Cannot listen on 127.0.0.1 port {taken_port}" in refusal
    assert "choose another --port" in refusal


def test_the_default_port_moves_on_to_the_next_free_one(tmp_path: Path, taken_port: int) -> None:
    paths = resolve_paths(tmp_path)
    paths.create()
    save_settings(paths.settings_file, Settings(port=taken_port, room_key="k" * 32))
    command = [BIN / "mudameter-cli", "--headless", "--data-dir", tmp_path]
    with subprocess.Popen(list(map(str, command)), stderr=subprocess.PIPE, text=True) as app:
        stderr = read_until(app, "HTTP server listening on", STARTUP_TIMEOUT)
    assert app.returncode == 0, stderr
    listening = next(line for line in stderr.splitlines() if "HTTP server listening on" in line)
    port = int(listening.rsplit(":", 1)[1].split("/", 1)[0])
    assert taken_port < port < taken_port + PORT_ATTEMPTS


def test_the_port_message_and_the_readme_agree_on_how_many_ports_are_tried() -> None:
    further = PORT_ATTEMPTS - 1
    held: list[socket.socket] = []
    try:
        base = _consecutive_free_ports(PORT_ATTEMPTS)
        for port in range(base, base + PORT_ATTEMPTS):
            holder = socket.socket()
            holder.bind(("127.0.0.1", port))
            holder.listen()
            held.append(holder)
        with pytest.raises(ServerStartError) as refused:
            server_module._listen("127.0.0.1", base)
    finally:
        for holder in held:
            holder.close()
    assert f"{base} and the {further} after it are taken" in str(refused.value)
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"the next free one of the {further} after it" in " ".join(readme.split())


def _consecutive_free_ports(count: int) -> int:
    for base in range(20_000, 60_000, 997):
        free = True
        for port in range(base, base + count):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    free = False
                    break
        if free:
            return base
    raise AssertionError("no run of free ports")


def test_the_first_start_tells_the_console_one_line_about_the_database(
    tmp_path: Path, taken_port: int
) -> None:
    """Alembic's steps go to the log file; the console gets one line (then the port refusal)."""
    done = run_cli("--headless", "--data-dir", tmp_path, "--port", taken_port)
    lines = done.stderr.strip().splitlines()
    assert not [line for line in lines if "alembic" in line], done.stderr
    assert [line for line in lines if "Database created with schema" in line], done.stderr
    assert len(lines) == 2, done.stderr
    log = resolve_paths(tmp_path).log_file.read_text(encoding="utf-8")
    assert "Running upgrade" in log
