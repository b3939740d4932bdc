"""Start-up: process start -> tray shown, -> server answers and a click is recorded; RSS.

Each run starts a fresh process and reads its standard error for the line
"Tray shown" (the app logs it right after `QSystemTrayIcon.show()`; the bare
script prints it at the same point). For the app, the benchmark then polls
`GET /health` and posts one `POST /users/status`; the time of that 200 is
"ready". RSS is read from /proc once the process has been idle a moment.

The baselines run in the same round, interleaved with the app, on the same
Qt platform: `bare_tray.py` (tray only) and `bare_tray.py --eager` (tray plus
litestar, uvicorn and sqlalchemy imported up front).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import vorta
from benchmarks.common import PYTHON, ROOT, free_port, median
from benchmarks.xtray import DockWatcher

SHOWN = ("Tray shown", "Meter window shown")
TIMEOUT_S = 30.0
X11_SOCKETS = Path("/tmp/.X11-unix")  # noqa: S108 - where X servers put their sockets


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def http(port: int, method: str, path: str, body: dict[str, str] | None = None) -> int:
    """One request on a fresh connection; the status code (0 when nothing answers)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload else {}
        connection.request(method, path, body=payload, headers=headers)
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


class Child:
    """A started process whose standard error is read line by line in a thread."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put((time.perf_counter(), line))

    def wait_line(self, needles: tuple[str, ...]) -> tuple[float, str]:
        """Seconds from start until a line containing one of `needles`, and that line."""
        deadline = time.perf_counter() + TIMEOUT_S
        seen = []
        while time.perf_counter() < deadline:
            try:
                at, line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            seen.append(line)
            if any(needle in line for needle in needles):
                return at - self.started, line.strip()
        raise RuntimeError(f"no {needles} line; the child said: {''.join(seen)[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_ready(child: Child, port: int) -> float:
    """Seconds from start until /health answers and a click is recorded (200)."""
    deadline = time.perf_counter() + TIMEOUT_S
    while http(port, "GET", "/health") != 200:
        if time.perf_counter() > deadline or child.process.poll() is not None:
            raise RuntimeError("the app's server never answered")
        time.sleep(0.005)
    status = http(port, "POST", "/users/status", {"status": "engaged"})
    if status != 200:
        raise RuntimeError(f"the click was answered {status}")
    return time.perf_counter() - child.started


@contextmanager
def x_display() -> Iterator[dict[str, str]]:
    """Xvfb on a free display with trayer as the system tray host."""
    number = next(n for n in range(71, 99) if not (X11_SOCKETS / f"X{n}").exists())
    display = f":{number}"
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trayer = None
    try:
        _wait((X11_SOCKETS / f"X{number}").exists, "Xvfb")
        trayer = subprocess.Popen(
            [
                "trayer",
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "request",
                "--height",
                "32",
                "--SetDockType",
                "true",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: _has_window(env, "trayer"), "trayer")
        time.sleep(0.3)  # its tray selection is taken just after the window maps
        yield env
    finally:
        for process in (trayer, xvfb):
            if process is not None:
                process.terminate()
                process.wait(timeout=5)


def _has_window(env: dict[str, str], name: str) -> bool:
    found = subprocess.run(
        ["xdotool", "search", "--classname", name], env=env, capture_output=True, check=False
    )
    return found.returncode == 0 and bool(found.stdout.strip())


def _wait(probe: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up")


def memory_mb(pid: int) -> dict[str, float]:
    """RSS (VmRSS), and PSS and USS (private clean + dirty) from /proc/PID/smaps_rollup."""
    figures = {"rss_mb": rss_mb(pid)}
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        return figures
    figures["pss_mb"] = fields.get("Pss", 0) / 1024
    figures["uss_mb"] = (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) / 1024
    return figures


def tray_hosts(env: dict[str, str]) -> set[int]:
    """The windows of the tray host (trayer's panel and its helpers)."""
    found = subprocess.run(
        ["xdotool", "search", "--class", "trayer"], env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    hosts = {int(word) for word in found.stdout.split()}
    if not hosts:
        raise RuntimeError("no trayer window: is trayer running?")
    return hosts


@dataclass
class Program:
    """One program to start: how, what line it prints when its tray is shown, its extras."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)  # on top of the display's environment
    line: tuple[str, ...] = ()  # its own "shown" line on standard error, if it has one
    port: int | None = None  # the app: poll /health and post a click on this port


def run_program(
    program: Program, env: dict[str, str], hosts: set[int] | None, memory_at_s: float
) -> dict[str, float]:
    """Start `program` once; seconds to shown/docked/ready, then memory at `memory_at_s`.

    `hosts` (xcb only): the tray host's windows; the docking of the icon into
    them is timed by X events (`xtray.DockWatcher`), the same rule for every
    program. Memory is read `memory_at_s` after the start (and at least 1 s
    after "ready" for the app); 0 skips it.
    """
    watcher = DockWatcher(env["DISPLAY"], hosts) if hosts else None
    try:
        child = Child(program.command, {**env, **program.env})
        try:
            result: dict[str, float] = {}
            if watcher is not None:
                alive = lambda: child.process.poll() is None  # noqa: E731
                result["docked_s"] = watcher.wait_docked(TIMEOUT_S, alive) - child.started
            if program.line:
                shown, line = child.wait_line(program.line)
                result["shown_s"] = shown
                if hosts and "Tray shown" not in line:
                    raise RuntimeError(f"{program.name}: no tray under xcb: {line}")
            if program.port is not None:
                result["ready_s"] = wait_ready(child, program.port)
            if memory_at_s:
                since_start = time.perf_counter() - child.started
                after_ready = result.get("ready_s", 0.0) + 1.0
                time.sleep(max(0.0, memory_at_s - since_start, after_ready - since_start))
                result.update(memory_mb(child.process.pid))
            return result
        finally:
            child.stop()
    finally:
        if watcher is not None:
            watcher.close()


def programs(platform: str, folder: str, homes: dict[str, dict[str, str]]) -> list[Program]:
    """What one round starts, in this order (interleaved: one of each per round)."""
    port = free_port()
    app = [PYTHON, "-m", "mudameter_desktop", "--data-dir", folder, "--port", str(port)]
    listed = [
        Program("bare", [PYTHON, "benchmarks/bare_tray.py"], line=SHOWN),
        Program("eager", [PYTHON, "benchmarks/bare_tray.py", "--eager"], line=SHOWN),
        Program("app", app, line=SHOWN, port=port),
    ]
    if platform == "xcb":  # Vorta needs a tray or it shows its window: only with a tray host
        command = [str(vorta.executable())]
        listed += [Program(f"vorta_{kind}", command, env) for kind, env in homes.items()]
    return listed


def measure(platform: str, repeats: int, memory_at_s: float = 5.0) -> dict[str, Any]:
    """Interleaved runs of bare, bare --eager, the app (and Vorta, xcb) on `platform`."""
    folder = tempfile.mkdtemp(prefix="mudameter-bench-")
    homes: dict[str, dict[str, str]] = {}
    made: list[str] = []
    if platform == "xcb":
        for kind in ("default", "tray"):
            home, env = vorta.home(kind)
            made.append(home)
            homes[kind] = env
    try:
        with x_display() if platform == "xcb" else _offscreen() as env:
            hosts = tray_hosts(env) if platform == "xcb" else None
            listed = programs(platform, folder, homes)
            # Warm-ups, not counted: the page cache, the app's database, Vorta's settings.
            first: dict[str, float] = {}
            for program in listed:
                if program.name == "eager":
                    continue
                warm = run_program(program, env, hosts, 0)
                if program.name == "app":
                    first = warm  # created the database: the first start
            if homes:
                vorta.tray_only(made[1])
            runs: dict[str, list[dict[str, float]]] = {p.name: [] for p in listed}
            for index in range(repeats):
                for program in listed:
                    at = 0.0 if program.name == "eager" else memory_at_s
                    runs[program.name].append(run_program(program, env, hosts, at))
                summary = ", ".join(
                    f"{name} " + " ".join(f"{k}={v:.3g}" for k, v in values[-1].items())
                    for name, values in runs.items()
                )
                print(f"  {platform} round {index + 1}: {summary}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for home in made:
            shutil.rmtree(home, ignore_errors=True)

    figures: dict[str, Any] = {
        "platform": platform,
        "repeats": repeats,
        "memory_at_s": memory_at_s,
        "app_first_ready_ms": first.get("ready_s", float("nan")) * 1000,  # one run, new database
    }
    figures.update(medians(runs))
    figures["runs"] = runs
    return figures


def medians(runs: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """`<program>_<figure>_<ms|mb>`: the median of each figure (seconds become ms)."""
    figures: dict[str, float] = {}
    for name, values in runs.items():
        for key in sorted({key for value in values for key in value}):
            picked = median([value[key] for value in values if key in value])
            unit = key.rsplit("_", 1)[1]
            scale = 1000 if unit == "s" else 1
            figures[f"{name}_{key.rsplit('_', 1)[0]}_{'ms' if unit == 's' else unit}"] = (
                picked * scale
            )
    # The start figure of each program: docked under xcb, its own line offscreen.
    for name in runs:
        docked = figures.get(f"{name}_docked_ms")
        figures[f"{name}_tray_ms"] = docked if docked is not None else figures[f"{name}_shown_ms"]
    return figures


@contextmanager
def _offscreen() -> Iterator[dict[str, str]]:
    yield {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:] or ["offscreen", "xcb"]:  # offscreen has no tray: the meter window
        figures = measure(name, repeats=3)
        print(json.dumps({k: v for k, v in figures.items() if k != "runs"}, indent=2))
