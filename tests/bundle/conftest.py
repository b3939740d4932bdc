"""Fixtures for the smoke tests of the built bundle (`scripts/build_linux.py` first).

A missing bundle or package is a failure, never a skip: these tests only run
in tox's `package` env, right after the build.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mudameter_desktop import APP_ID, __version__

ROOT = Path(__file__).resolve().parent.parent.parent
DIST = ROOT / "dist"
BUNDLE = DIST / APP_ID
START_TIMEOUT = 30.0  # seconds; a cold start of the bundle takes about one


def built(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `python scripts/build_linux.py --baseline` first")
    return path


@pytest.fixture(scope="session")
def executable() -> Path:
    return built(BUNDLE / APP_ID)


@pytest.fixture(scope="session")
def deb() -> Path:
    return built(DIST / f"{APP_ID}_{__version__}_amd64.deb")


@pytest.fixture(scope="session")
def tarball() -> Path:
    return built(DIST / f"{APP_ID}-{__version__}-linux-x86_64.tar.gz")


@pytest.fixture(scope="session")
def sizes() -> dict[str, object]:
    data: dict[str, object] = json.loads(built(DIST / "sizes.json").read_text())
    return data


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a bundle: no Python paths or Qt settings of the test run."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "QT_", "VIRTUAL_ENV")) and key != "DISPLAY"
    }
    return {**env, **extra}


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log: Path
    started_at: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> float:
        """Seconds from the start until GET /health answers 200."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return time.perf_counter() - self.started_at
            except httpx.TransportError:
                pass
            time.sleep(0.02)  # an external process: nothing to wait on but the socket
        pytest.fail(f"/health did not answer within {timeout} s:\n{self.output()}")

    def stop(self) -> int:
        """SIGTERM, then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    """Start a program with `--port <free> --data-dir <tmp>`; killed at the end if alive."""
    started: list[Running] = []

    def run(command: list[str], *args: str, env: dict[str, str] | None = None) -> Running:
        port = free_port()
        data_dir = tmp_path / f"data-{len(started)}"
        log = tmp_path / f"output-{len(started)}.txt"
        started_at = time.perf_counter()
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [*command, "--port", str(port), "--data-dir", str(data_dir), *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env if env is not None else clean_env(),
                cwd=tmp_path,
            )
        running = Running(process, port, data_dir, log, started_at)
        started.append(running)
        return running

    yield run
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()
