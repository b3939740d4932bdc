"""`POST /users/status` under load: the app's server against the seed baseline.

Both run as separate processes on 127.0.0.1, loaded by the same asyncio
client (each client a participant that first visits), one after the other in
the same run; the figure is the median of `repeats` rounds.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from benchmarks.common import PYTHON, free_port, median, running, wait_for_port
from benchmarks.loadgen import LoadResult, run_load


def _load(command: list[str], port: int, clients: int, seconds: float) -> LoadResult:
    with running(command):
        wait_for_port(port)
        return asyncio.run(run_load(port, clients, seconds))


def app_command(port: int, folder: Path) -> list[str]:
    return [PYTHON, "-m", "mudameter_desktop", "--headless", "--port", str(port),
            "--data-dir", str(folder)]  # fmt: skip


def seed_command(port: int, folder: Path) -> list[str]:
    return [PYTHON, "benchmarks/seed_baseline.py", str(port), str(folder / "seed.sqlite3")]


def measure(clients: int, seconds: float = 8.0, repeats: int = 3) -> dict[str, object]:
    rounds: dict[str, list[dict[str, float | int]]] = {"app": [], "seed": []}
    for index in range(repeats):
        for name, command in (("seed", seed_command), ("app", app_command)):
            with tempfile.TemporaryDirectory() as folder:
                port = free_port()
                result = _load(command(port, Path(folder)), port, clients, seconds)
                rounds[name].append(result.summary())
                print(f"  {clients} clients, round {index + 1}, {name}: {result.summary()}")
    figures = {
        name: {
            key: median([float(r[key]) for r in results])
            for key in ("req_per_s", "p50_ms", "p99_ms", "errors", "requests")
        }
        for name, results in rounds.items()
    }
    figures["ratio_req_per_s"] = {
        "app/seed": figures["app"]["req_per_s"] / figures["seed"]["req_per_s"]
    }
    return figures


if __name__ == "__main__":
    for count in (20, 50):
        print(count, measure(count))
