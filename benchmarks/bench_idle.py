"""Idle cost: CPU and wake-ups of the running app with its server up and no clients.

CPU is utime + stime from /proc/<pid>/stat over the window; wake-ups are the
voluntary context switches of every thread (/proc/<pid>/task/*/status), per
second, also per thread, so a timer that wakes Python more than once a
second shows up by name. The bare tray script is measured the same way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.bench_startup import SHOWN, Child, wait_ready
from benchmarks.common import PYTHON, free_port

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def switches(pid: int) -> dict[str, int]:
    """Voluntary context switches per thread ("tid name")."""
    counts = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    counts[f"{task.name} {name}"] = int(line.split()[1])
        except OSError:
            continue  # the thread ended meanwhile
    return counts


def observe(pid: int, seconds: float) -> dict[str, object]:
    cpu0, sw0, t0 = cpu_seconds(pid), switches(pid), time.monotonic()
    time.sleep(seconds)
    cpu1, sw1, t1 = cpu_seconds(pid), switches(pid), time.monotonic()
    elapsed = t1 - t0
    per_thread = {
        tid: round((count - sw0.get(tid, 0)) / elapsed, 2)
        for tid, count in sw1.items()
        if count - sw0.get(tid, 0) > 0
    }
    return {
        "seconds": round(elapsed, 1),
        "cpu_percent": round(100 * (cpu1 - cpu0) / elapsed, 3),
        "wakeups_per_s": round(sum(per_thread.values()), 2),
        "threads": len(sw1),
        "wakeups_per_thread": dict(sorted(per_thread.items(), key=lambda kv: -kv[1])),
    }


def measure(seconds: float = 60.0, settle: float = 5.0) -> dict[str, object]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    results: dict[str, object] = {}
    folder = tempfile.mkdtemp(prefix="mudameter-idle-")
    port = free_port()
    runs = {
        "app": [PYTHON, "-m", "mudameter_desktop", "--data-dir", folder, "--port", str(port)],
        "headless": [
            PYTHON,
            "-m",
            "mudameter_desktop",
            "--headless",
            "--data-dir",
            folder + "-headless",
            "--port",
            str(port),
        ],
        "bare": [PYTHON, "benchmarks/bare_tray.py"],
    }
    try:
        for name, command in runs.items():
            child = Child(command, env)
            try:
                if name == "bare":
                    child.wait_line(SHOWN)
                else:
                    wait_ready(child, port)
                time.sleep(settle)
                results[name] = observe(child.process.pid, seconds)
                print(f"  idle {name}: {results[name]}", flush=True)
            finally:
                child.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(folder + "-headless", ignore_errors=True)
    return results


if __name__ == "__main__":
    import sys

    measure(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0)
