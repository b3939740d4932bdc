"""Helpers for the reliability tests: real processes, free ports, waits with deadlines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

BIN = Path(sys.executable).parent
PYTHON = sys.executable
HERE = Path(__file__).parent
REPO = HERE.parent.parent


def free_port() -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def answers_health(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


class Output:
    """Collects a pipe's lines in a thread, so the child never blocks on a full pipe."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None, "start the process with a pipe"
        self.lines: list[str] = []
        self._stream = stream
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def complete_lines(self) -> list[str]:
        """Only lines that ended with a newline: a line cut by a kill was not acknowledged."""
        return [line.rstrip("\n") for line in self.lines if line.endswith("\n")]


class App:
    """A real `mudameter` process (headless or GUI) with its own data folder."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
        )
        self.stdout = Output(self.process.stdout)
        self.stderr = Output(self.process.stderr)

    def wait(self, timeout: float = 20.0) -> int:
        code = self.process.wait(timeout)
        self.stdout.join()
        self.stderr.join()
        return code

    def signal(self, number: signal.Signals) -> None:
        self.process.send_signal(number)

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.wait()


def headless_args(data_dir: Path, port: int, *extra: str) -> list[str]:
    return [
        str(BIN / "mudameter-cli"),
        "--headless",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        *extra,
    ]


def gui_env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


@pytest.fixture
def apps() -> Iterator[Callable[..., App]]:
    """Start real app processes; every one still running is killed at the end."""
    started: list[App] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> App:
        app = App(args, env)
        started.append(app)
        return app

    yield start
    for app in started:
        app.end()
