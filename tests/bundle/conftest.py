"""Fixtures for the smoke tests of the built bundle (`scripts/build_linux.py` first).

A missing bundle or package is a failure, never a skip: these tests only run
in tox's `package` env, right after the build.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mudameter_desktop import APP_ID, __version__
from tests.bundle.support import FIGURES, Running, clean_env, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
DIST = ROOT / "dist"
BUNDLE = DIST / APP_ID


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("bundle figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


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


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
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
