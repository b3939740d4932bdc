"""Where the start's memory and time go: every import's own RSS and time, by package.

    .venv/bin/python -m benchmarks.profile_start            # the tray app, Xvfb + trayer
    .venv/bin/python -m benchmarks.profile_start --offscreen  # no tray: the meter window
    .venv/bin/python -m benchmarks.profile_start --headless

Runs the app in a child process with an import hook that reads VmRSS
(/proc/self/statm) and the clock around each module's execution, so each
module is charged what it costs itself (its own imports are charged to them).
The app runs on a data folder made by an earlier start (the usual start); 6 s
after the start the child writes its table: packages by RSS, split into
before and after "Tray shown" (what delays the tray, what the backend costs),
and the modules that cost most. Extension modules are charged to their
importer (their loading happens in create_module, outside the hook).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_startup import x_display
from benchmarks.common import PYTHON, ROOT, compile_app

HOOK = r"""
import importlib.abc, logging, os, sys, threading, time
PAGE = os.sysconf("SC_PAGE_SIZE")
_statm = open("/proc/self/statm", "rb")
_lock = threading.Lock()
def rss():
    with _lock:
        _statm.seek(0)
        return int(_statm.read().split()[1]) * PAGE
stats, stack, phase = {}, threading.local(), ["before tray"]
class Loader(importlib.abc.Loader):
    def __init__(self, inner, name): self.inner, self.name = inner, name
    def create_module(self, spec): return self.inner.create_module(spec)
    def exec_module(self, module):
        frames = stack.__dict__.setdefault("frames", [])
        r0, t0 = rss(), time.perf_counter()
        frames.append(self.name)
        try:
            self.inner.exec_module(module)
        finally:
            frames.pop()
            dr, dt = rss() - r0, time.perf_counter() - t0
            entry = stats.setdefault(self.name, [0, 0.0, 0, 0.0, phase[0]])
            entry[0] += dr; entry[1] += dt
            if frames:
                parent = stats.setdefault(frames[-1], [0, 0.0, 0, 0.0, phase[0]])
                parent[2] += dr; parent[3] += dt
    def __getattr__(self, name): return getattr(self.inner, name)
class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = Loader(spec.loader, name)
                return spec
        return None
sys.meta_path.insert(0, Finder())
class TrayShown(logging.Handler):
    def emit(self, record):
        if "shown" in record.getMessage():
            phase[0] = "after tray"
logging.getLogger("mudameter_desktop").addHandler(TrayShown())
def report(path):
    by_package = {}
    for name, (rss_in, t_in, rss_children, t_children, when) in stats.items():
        key = ".".join(name.split(".")[:2]) if name.startswith("mudameter") else name.split(".")[0]
        row = by_package.setdefault((when, key), [0, 0.0])
        row[0] += rss_in - rss_children; row[1] += t_in - t_children
    with open(path, "w") as out:
        out.write(f"VmRSS now {rss() / 2**20:.1f} MB\n")
        for when in ("before tray", "after tray"):
            rows = [(v, k) for (w, k), v in by_package.items() if w == when]
            total = sum(v[0] for v, _ in rows), sum(v[1] for v, _ in rows)
            size, seconds = total[0] / 2**20, total[1] * 1000
            out.write(f"\n== imported {when}: {size:.1f} MB, {seconds:.0f} ms\n")
            for (size, seconds), key in sorted(rows, key=lambda row: -row[0][0])[:25]:
                out.write(f"{size / 2**20:7.2f} MB {seconds * 1000:7.1f} ms  {key}\n")
threading.Timer(float(os.environ["PROFILE_AT_S"]), report, [os.environ["PROFILE_OUT"]]).start()
sys.argv = ["mudameter", *sys.argv[1:]]
import runpy
runpy.run_module("mudameter_desktop", run_name="__main__", alter_sys=True)
"""


def profile(mode: str, at_s: float = 6.0) -> str:
    """`mode`: xcb (under Xvfb with trayer), offscreen or headless."""
    if mode == "xcb":
        with x_display() as env:
            return _profile(env, mode, at_s)
    return _profile({**os.environ, "QT_QPA_PLATFORM": "offscreen"}, mode, at_s)


def _profile(display: dict[str, str], mode: str, at_s: float) -> str:
    folder = tempfile.mkdtemp(prefix="mudameter-profile-")
    out = Path(folder) / "profile.txt"
    env = {**display, "PROFILE_AT_S": str(at_s)}
    headless = mode == "headless"
    command = [PYTHON, "-c", HOOK, "--data-dir", folder, "--port", "0"]
    command += ["--headless"] if headless else []
    for run in ("first", "usual"):  # the first start creates the database; the second counts
        env["PROFILE_OUT"] = str(out)
        child = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + at_s + 30
        while not out.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.2)
        time.sleep(0.5)
        child.terminate()
        child.wait(timeout=10)
        if run == "first":
            out.unlink(missing_ok=True)
    text = out.read_text()
    shutil.rmtree(folder, ignore_errors=True)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--headless", action="store_true")
    chosen.add_argument("--offscreen", action="store_true")
    args = parser.parse_args()
    compile_app()
    print(profile("headless" if args.headless else "offscreen" if args.offscreen else "xcb"))
    sys.exit(0)
