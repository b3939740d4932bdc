"""In-process Qt benchmarks, each run in a fresh process (offscreen platform):

    python -m benchmarks.bench_qt click DATA_DIR     # tray click -> status committed
    python -m benchmarks.bench_qt lag DATA_DIR       # event-loop lag with/without LAN load
    python -m benchmarks.bench_qt history DATA_DIR   # history window on a big database

Each prints one JSON object as its last line; `measure(...)` starts it and
reads that line.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import PYTHON, ROOT


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def spread(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median_ms": round(statistics.median(values), 3),
        "p99_ms": round(percentile(values, 0.99), 3),
        "max_ms": round(max(values), 3),
    }


def measure(kind: str, data_dir: Path, *extra: str, timeout: float = 600) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [PYTHON, "-m", "benchmarks.bench_qt", kind, str(data_dir), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench_qt {kind} failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- in the child ---------------------------------------------------------------


def _app() -> Any:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["mudameter-bench"])
    app.setQuitOnLastWindowClosed(False)
    return app


def _pump(seconds: float) -> None:
    from PySide6.QtCore import QCoreApplication, QEventLoop

    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
        time.sleep(0.001)


def _desktop(data_dir: Path, *, server: bool) -> tuple[Any, Any]:
    """The real DesktopApp on the real store; its runtime opened (server optional)."""
    from mudameter_desktop.runtime import Options, open_runtime, prepare_paths
    from mudameter_desktop.ui.application import DesktopApp

    app = _app()
    options = Options(data_dir=data_dir, port=int(os.environ.get("BENCH_PORT", "0")))
    paths = prepare_paths(options)
    desktop = DesktopApp(quit_app=lambda: None)
    if server:
        work = lambda: open_runtime(options, paths)  # noqa: E731
    else:
        work = lambda: _runtime_without_server(options, paths)  # noqa: E731
    desktop.start(work)
    deadline = time.perf_counter() + 60
    while desktop.controller.runtime is None:
        if time.perf_counter() > deadline:
            raise RuntimeError("the runtime never opened")
        _pump(0.05)
    return app, desktop


def _runtime_without_server(options: Any, paths: Any) -> Any:
    from mudameter_desktop.runtime import open_runtime

    return open_runtime(options, paths, serve=False)


def click(data_dir: Path, count: int) -> dict[str, Any]:
    """Tray menu status action triggered on the UI thread -> status committed."""
    from mudameter_desktop.domain.statuses import Status

    _, desktop = _desktop(data_dir, server=False)
    actions = desktop.menu.statuses.actions()
    service = desktop.controller.runtime.service
    timings = []
    for number in range(count + 10):
        action = actions[number % len(actions)]
        started = time.perf_counter()
        action.trigger()
        elapsed = (time.perf_counter() - started) * 1000
        if number >= 10:  # the first clicks create the meeting and the participant
            timings.append(elapsed)
        _pump(0.002 if number % 25 else 0.2)  # now and then the batched refresh runs
    expected = Status(actions[(count + 9) % len(actions)].data())
    # Committed: a fresh session reads the last status back.
    detail = service.history.meeting_detail(desktop.controller.state.live.meeting.id)
    mine = [p for p in detail.participants if p.kind == "local"]
    assert mine and mine[-1].status == expected, (mine, expected)
    desktop.controller.shutdown()
    return spread(timings)


def lag(data_dir: Path, clients: int, seconds: float) -> dict[str, Any]:
    """Lateness of a 10 ms QTimer: idle, then while `clients` LAN clients post statuses."""
    from PySide6.QtCore import Qt, QTimer

    _, desktop = _desktop(data_dir, server=True)
    port = desktop.controller.runtime.server.port
    desktop.show_history()  # open, as a user watching the meeting would
    interval = 10
    samples: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        samples.append(max(0.0, (now - last[0]) * 1000 - interval))
        last[0] = now

    timer = QTimer(interval=interval)
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(beat)

    def phase(run: Callable[[], None]) -> list[float]:
        samples.clear()
        last[0] = time.perf_counter()
        timer.start()
        run()
        timer.stop()
        return list(samples)

    from PySide6.QtCore import QCoreApplication, QEventLoop, QProcess

    def idle() -> None:
        _loop_for(seconds)

    def _loop_for(duration: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(duration * 1000), loop.quit)
        loop.exec()

    load_result: dict[str, Any] = {}

    def loaded() -> None:
        process = QProcess()
        process.setWorkingDirectory(str(ROOT))
        process.start(PYTHON, ["-m", "benchmarks.loadgen", str(port), str(clients), str(seconds)])
        loop = QEventLoop()
        process.finished.connect(loop.quit)
        loop.exec()
        output = bytes(process.readAllStandardOutput().data()).decode()
        load_result.update(json.loads(output.strip().splitlines()[-1]))

    quiet = phase(idle)
    busy = phase(loaded)
    QCoreApplication.processEvents()
    desktop.controller.shutdown()
    return {"idle": spread(quiet), "load": spread(busy), "clients": load_result}


def history(data_dir: Path, meeting_id: int, repeats: int) -> dict[str, Any]:
    """Open the history window (first 20 rows painted); select a big meeting."""
    from PySide6.QtCore import QCoreApplication

    app, desktop = _desktop(data_dir, server=False)
    opened: list[float] = []
    first_open = 0.0
    for number in range(repeats + 1):
        if desktop.history is not None:
            desktop.history.close()
            desktop.history.deleteLater()
            desktop.history = None
            QCoreApplication.processEvents()
        started = time.perf_counter()
        desktop.show_history()  # the first time also imports the module (QtCharts)
        window = desktop.history
        QCoreApplication.processEvents()
        window.repaint()
        rows = window.model.rowCount()
        elapsed = (time.perf_counter() - started) * 1000
        assert rows >= 20, rows
        if number == 0:
            first_open = elapsed
        else:
            opened.append(elapsed)
    window = desktop.history
    row = window.model.row_of(meeting_id)
    assert row is not None
    other = 0 if row else 1
    selected: list[float] = []
    for _ in range(repeats):
        window.table.selectRow(other)
        QCoreApplication.processEvents()
        started = time.perf_counter()
        window.table.selectRow(row)
        QCoreApplication.processEvents()
        window.repaint()
        selected.append((time.perf_counter() - started) * 1000)
        detail = window.detail
        assert detail is not None and detail.id == meeting_id
        assert detail.participant_count == 50 and len(detail.engagement_samples) == 60
    desktop.controller.shutdown()
    del app
    return {
        "first_open_ms": round(first_open, 2),
        "open": spread(opened),
        "select": spread(selected),
    }


if __name__ == "__main__":
    if os.environ.get("BENCH_SWITCH_INTERVAL"):  # experiments with the GIL's switch interval
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
    kind, folder = sys.argv[1], Path(sys.argv[2])
    if kind == "click":
        figures = click(folder, int(sys.argv[3]) if len(sys.argv) > 3 else 500)
    elif kind == "lag":
        figures = lag(folder, int(sys.argv[3]), float(sys.argv[4]))
    elif kind == "history":
        figures = history(folder, int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown benchmark {kind}")
    print(json.dumps(figures))
