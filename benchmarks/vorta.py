"""Vorta 0.11.6, a PyQt6 tray app from PyPI, as a start-up and memory reference.

The benchmark installs it into its own virtual environment under
`benchmarks/.cache/` (a benchmark-only dependency: it is never imported by
the app or its tests) and starts it with a private HOME and XDG folders, so it
neither reads nor writes the user's settings. Borg is not installed: Vorta
shows its tray icon without it (and a "No Borg Binary Found" box).

Two ways it is measured:

- `default`: as it starts out of the box (it also shows its main window,
  its "foreground" setting is on by default);
- `tray`: its "Show main window of Vorta on launch" setting turned off, as a
  tray user would have it, so only the tray icon (and the Borg box) show.

Both start on a settings database made by one earlier, unmeasured start (the
usual start, as for Muda Meter).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import ROOT

VERSION = "0.11.6"
CACHE = ROOT / "benchmarks" / ".cache"
VENV = CACHE / f"vorta-{VERSION}"


def executable() -> Path:
    """The `vorta` command, installing it into its own venv on first use."""
    command = VENV / "bin" / "vorta"
    marker = VENV / ".installed"
    if command.exists() and marker.exists():
        return command
    CACHE.mkdir(parents=True, exist_ok=True)
    # The base interpreter, not this venv's: Vorta's packages must not mix with the app's.
    base = getattr(sys, "_base_executable", sys.executable)
    print(f"  installing vorta=={VERSION} into {VENV} (once)", flush=True)
    subprocess.run([base, "-m", "venv", "--clear", str(VENV)], check=True, timeout=300)
    subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", f"vorta=={VERSION}"],
        check=True,
        timeout=900,
    )  # fmt: skip
    marker.write_text(VERSION)
    return command


def home(kind: str) -> tuple[str, dict[str, str]]:
    """A private HOME and XDG folders for one way of running; (folder, environment)."""
    folder = tempfile.mkdtemp(prefix=f"mudameter-bench-vorta-{kind}-")
    runtime = Path(folder) / "run"
    runtime.mkdir(mode=0o700)
    env = {
        "HOME": folder,
        "XDG_CONFIG_HOME": f"{folder}/.config",
        "XDG_DATA_HOME": f"{folder}/.local/share",
        "XDG_CACHE_HOME": f"{folder}/.cache",
        "XDG_STATE_HOME": f"{folder}/.local/state",
        "XDG_RUNTIME_DIR": str(runtime),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    return folder, env


def tray_only(folder: str) -> None:
    """Turn off "Show main window of Vorta on launch" in the settings Vorta made."""
    databases = list(Path(folder).rglob("settings.db"))
    if not databases:
        raise RuntimeError(f"Vorta made no settings.db under {folder}")
    with sqlite3.connect(databases[0]) as connection:
        changed = connection.execute(
            "UPDATE settingsmodel SET value = 0 WHERE key = 'foreground'"
        ).rowcount
    if changed != 1:
        raise RuntimeError("Vorta's settings have no 'foreground' row")
