"""`mudameter --headless` as a real process: no Qt, URL logged, clean stop on signals."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

HEADLESS = [sys.executable, "-m", "mudameter_desktop", "--headless"]
LISTENING = re.compile(r"HTTP server listening on (http://127\.0\.0\.1:\d+/)")


class Headless:
    """A headless app process whose output lines are read as they come."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        no_qt = tmp_path / "no-qt"
        (no_qt / "PySide6").mkdir(parents=True)
        (no_qt / "PySide6" / "__init__.py").write_text("raise ImportError('Qt in headless')\n")
        env = {**os.environ, "PYTHONPATH": str(no_qt)}  # importing Qt would fail
        self.data_dir = tmp_path / "data"
        self.process = subprocess.Popen(
            [*HEADLESS, "--data-dir", str(self.data_dir), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr: queue.Queue[str] = queue.Queue()
        for stream, lines in (
            (self.process.stdout, self.stdout),
            (self.process.stderr, self.stderr),
        ):
            threading.Thread(target=_pump, args=(stream, lines), daemon=True).start()

    def wait_for(self, lines: queue.Queue[str], pattern: re.Pattern[str]) -> re.Match[str]:
        while True:
            line = lines.get(timeout=60)
            if match := pattern.search(line):
                return match

    def stop(self, signal_number: int) -> int:
        self.process.send_signal(signal_number)
        return self.process.wait(timeout=10)


def _pump(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Callable[..., Headless]]:
    started: list[Headless] = []

    def start(*args: str) -> Headless:
        app = Headless(tmp_path, *args)
        started.append(app)
        return app

    yield start
    for app in started:
        if app.process.poll() is None:
            app.process.kill()
            app.process.wait()


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_serves_until_a_signal(run: Callable[..., Headless], signal_number: int) -> None:
    app = run("--port", "0")
    url = app.wait_for(app.stderr, LISTENING).group(1)
    assert httpx.get(f"{url}health").json()["status"] == "ok"
    assert httpx.post(f"{url}users/status", json={"status": "engaged"}).status_code == 200
    assert app.stop(signal_number) == 0
    assert app.stdout.empty()  # on loopback there is no join link to print
    log = (app.data_dir / "logs" / "mudameter.log").read_text()
    assert url in log


def test_on_all_interfaces_prints_the_join_link_once_and_never_logs_it(
    run: Callable[..., Headless],
) -> None:
    app = run("--host", "0.0.0.0", "--port", "0", "--room-key", "fixed-room-key-0123456789abcdef")  # noqa: S104
    url = app.wait_for(app.stderr, LISTENING).group(1)
    port = url.rsplit(":", 1)[1].rstrip("/")
    link = app.wait_for(app.stdout, re.compile(r"Join link: (\S+)")).group(1)
    assert re.fullmatch(rf"http://[\d.]+:{port}/#key=fixed-room-key-0123456789abcdef", link)
    denied = httpx.get(f"{url}meetings", headers={"Host": "meeting-room.example"})
    assert denied.status_code == 401  # not a loopback name: the key is needed
    assert app.stop(signal.SIGTERM) == 0
    assert app.stdout.empty()
    log = (app.data_dir / "logs" / "mudameter.log").read_text()
    assert "fixed-room-key-0123456789abcdef" not in log


def test_a_store_that_cannot_open_exits_1_with_the_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *HEADLESS,
            "--data-dir",
            str(tmp_path),
            "--database-url",
            "sqlite:////proc/mudameter-test/mudameter.sqlite3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Cannot create the data folder /proc/mudameter-test" in result.stderr


def test_a_taken_port_exits_1_with_the_message(tmp_path: Path) -> None:
    blockers = _block_ports(1)  # a port given with --port is used exactly
    port = blockers[0].getsockname()[1]
    try:
        result = subprocess.run(
            [*HEADLESS, "--data-dir", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        for blocker in blockers:
            blocker.close()
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1 port {port}" in result.stderr


def _block_ports(count: int) -> list[socket.socket]:
    """Listeners on `count` consecutive ports of 127.0.0.1."""
    for base in range(41000, 60000, 97):
        blockers: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                blocker = socket.socket()
                blockers.append(blocker)
                blocker.bind(("127.0.0.1", port))
                blocker.listen()
        except OSError:
            for blocker in blockers:
                blocker.close()
            continue
        return blockers
    raise AssertionError("no run of free ports found")


def test_a_calendar_given_on_the_command_line_names_the_meetings(
    run: Callable[..., Headless],
) -> None:
    calendar = Path(__file__).parent.parent / "data" / "outlook.ics"
    app = run("--port", "0", "--calendar", str(calendar))
    url = app.wait_for(app.stderr, LISTENING).group(1)
    answer = httpx.post(f"{url}meetings", json={"at": "2026-10-21T14:30:00Z"}, timeout=10)
    assert answer.status_code == 201
    assert answer.json()["title"] == "Budget review"
    assert app.stop(signal.SIGTERM) == 0
