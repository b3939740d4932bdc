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
from pathlib import Path

from benchmarks.common import PYTHON, ROOT, free_port, median

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


def run_bare(env: dict[str, str], eager: bool, idle_s: float) -> dict[str, float]:
    child = Child([PYTHON, "benchmarks/bare_tray.py", *(["--eager"] if eager else [])], env)
    try:
        shown, _ = child.wait_line(SHOWN)
        result = {"shown_s": shown}
        if idle_s:
            time.sleep(idle_s)
            result["rss_mb"] = rss_mb(child.process.pid)
        return result
    finally:
        child.stop()


def run_app(env: dict[str, str], idle_s: float, folder: str) -> dict[str, float | str]:
    """The app on `folder` (an existing data folder: the usual start, not the first)."""
    port = free_port()
    command = [PYTHON, "-m", "mudameter_desktop", "--data-dir", folder, "--port", str(port)]
    child = Child(command, env)
    try:
        shown, line = child.wait_line(SHOWN)
        ready = wait_ready(child, port)
        result: dict[str, float | str] = {"shown_s": shown, "ready_s": ready, "line": line}
        if idle_s:
            time.sleep(idle_s)
            result["rss_mb"] = rss_mb(child.process.pid)
        return result
    finally:
        child.stop()


def measure(platform: str, repeats: int, idle_s: float = 3.0) -> dict[str, object]:
    """Interleaved runs of bare, bare --eager and the app on `platform` (xcb or offscreen)."""
    with x_display() if platform == "xcb" else _offscreen() as env:
        folder = tempfile.mkdtemp(prefix="mudameter-bench-")
        run_bare(env, False, 0)  # warm the page cache; not counted
        first = run_app(env, 0, folder)  # creates the database: the first start
        runs: dict[str, list[dict[str, float]]] = {"bare": [], "eager": [], "app": []}
        for index in range(repeats):
            runs["bare"].append(run_bare(env, False, idle_s))
            runs["eager"].append(run_bare(env, True, 0))
            app = run_app(env, idle_s, folder)
            if platform == "xcb" and "Tray shown" not in str(app["line"]):
                raise RuntimeError(f"no tray under {platform}: {app['line']}")
            runs["app"].append({k: float(v) for k, v in app.items() if k != "line"})
            print(
                f"  {platform} round {index + 1}: bare {runs['bare'][-1]}, "
                f"eager {runs['eager'][-1]}, app {runs['app'][-1]}",
                flush=True,
            )

        shutil.rmtree(folder, ignore_errors=True)

    def pick(name: str, key: str) -> float:
        return median([run[key] for run in runs[name]])

    return {
        "platform": platform,
        "repeats": repeats,
        "bare_shown_ms": pick("bare", "shown_s") * 1000,
        "eager_shown_ms": pick("eager", "shown_s") * 1000,
        "app_shown_ms": pick("app", "shown_s") * 1000,
        "app_ready_ms": pick("app", "ready_s") * 1000,
        "app_first_ready_ms": float(first["ready_s"]) * 1000,  # one run, new database
        "bare_rss_mb": pick("bare", "rss_mb"),
        "app_rss_mb": pick("app", "rss_mb"),
        "runs": runs,
    }


@contextmanager
def _offscreen() -> Iterator[dict[str, str]]:
    yield {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:] or ["offscreen", "xcb"]:  # offscreen has no tray: the meter window
        figures = measure(name, repeats=3)
        print(json.dumps({k: v for k, v in figures.items() if k != "runs"}, indent=2))
