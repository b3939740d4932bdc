"""Helpers for the bundle smoke tests: a started program and a clean environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

START_TIMEOUT = 30.0  # seconds; a cold start of the bundle takes about two
# Figures the tests measure, printed at the end of the run (README "Packaging").
FIGURES: dict[str, str] = {}


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
