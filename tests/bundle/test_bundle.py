"""The built onedir bundle runs with no Python beside it: headless API and tray GUI."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import median

import httpx
import pytest

from mudameter_desktop import __version__
from tests.bundle.support import FIGURES, Running, clean_env

pytestmark = pytest.mark.bundle

STARTUP_RUNS = 5
MAX_STARTUP_RATIO = 1.5  # bundle vs source, headless start to /health
GUI_UP_SECONDS = 4.0


def test_version(executable: Path) -> None:
    result = subprocess.run(
        [str(executable), "--version"], capture_output=True, text=True, env=clean_env(), check=True
    )
    assert result.stdout.strip() == f"mudameter {__version__}"


def test_the_desktop_bundle_carries_no_postgresql_driver(executable: Path) -> None:
    """psycopg is the team server's `[server]` extra: the tray app never needs it."""
    carried = [path.name for path in executable.parent.rglob("*psycopg*")]
    assert carried == []


def test_headless_serves_records_and_stops(executable: Path, start: Callable[..., Running]) -> None:
    app = start([str(executable), "--headless"])
    app.wait_healthy()
    health = httpx.get(f"{app.url}/health").json()
    assert health == {"status": "ok", "version": __version__}

    posted = httpx.post(f"{app.url}/users/status", json={"status": "engaged"})
    assert posted.status_code == 200, posted.text
    answer = posted.json()
    assert answer["status"] == "engaged"

    meeting = httpx.get(f"{app.url}/meetings/{answer['meeting_id']}")
    assert meeting.status_code == 200
    participants = meeting.json()["participants"]
    assert [(p["handle"], p["status"]) for p in participants] == [(answer["handle"], "engaged")]
    # The participant page and its assets come from the bundled resources.
    page = httpx.get(f"{app.url}/")
    assert page.status_code == 200
    assert "<html" in page.text.lower()

    assert app.stop() == 0
    assert "Traceback" not in app.output()
    # The migrations ran from the bundled files: the database is at head.
    assert (app.data_dir / "mudameter.sqlite3").stat().st_size > 0


@pytest.fixture
def tray_display(tmp_path: Path) -> Iterator[str]:
    """An Xvfb display with `trayer` as the system tray host."""
    for tool in ("Xvfb", "trayer", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (.ci/run installs it)")
    xvfb, display = _start_xvfb(tmp_path / "xvfb.txt")
    env = clean_env(DISPLAY=display)
    trayer_log = tmp_path / "trayer.txt"
    with trayer_log.open("wb") as sink:
        trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    _wait_for_window("panel", env, trayer, trayer_log)
    try:
        yield display
    finally:
        for process in (trayer, xvfb):
            process.terminate()
            process.wait(timeout=10)


X11_SOCKETS = Path("/tmp/.X11-unix")  # noqa: S108 - where every X server puts its socket
DISPLAYS = range(140, 200)  # clear of the benchmarks' 71-98 and the screenshots' 99


def _start_xvfb(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Xvfb on the first free display of DISPLAYS, once its socket is there."""
    for number in DISPLAYS:
        if (X11_SOCKETS / f"X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():  # noqa: S108
            continue
        with log.open("wb") as sink:
            # -noreset: without it the server resets whenever its last client
            # leaves (an xdotool query), and a client connecting then is refused.
            xvfb = subprocess.Popen(
                [
                    "Xvfb",
                    f":{number}",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ],
                stderr=sink,
            )
        deadline = time.monotonic() + 15
        while xvfb.poll() is None and time.monotonic() < deadline:
            if (X11_SOCKETS / f"X{number}").exists():
                return xvfb, f":{number}"
            time.sleep(0.05)
        xvfb.kill()
        xvfb.wait()
    pytest.fail(
        f"Xvfb did not start on any of :{DISPLAYS.start}-{DISPLAYS.stop - 1}: {log.read_text()}"
    )


def _wait_for_window(
    name: str,
    env: dict[str, str],
    owner: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 30.0,
) -> None:
    """Until xdotool sees a window named `name` (trayer's panel)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if owner.poll() is not None:
            pytest.fail(f"trayer exited with {owner.returncode}: {log.read_text(errors='replace')}")
        found = subprocess.run(
            ["xdotool", "search", "--name", name], env=env, capture_output=True, check=False
        )
        if found.returncode == 0:
            return
        time.sleep(0.1)
    pytest.fail(f"no window named {name!r} appeared: {log.read_text(errors='replace')}")


def _panel_width(env: dict[str, str]) -> int:
    """The width of trayer's panel, which grows by one icon per embedded tray icon."""
    shown = subprocess.run(
        ["xdotool", "search", "--name", "^panel$", "getwindowgeometry", "--shell"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(next(line for line in shown.splitlines() if line.startswith("WIDTH="))[6:])


def _wait_for_wider_panel(env: dict[str, str], empty: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _panel_width(env) > empty:
            return
        time.sleep(0.1)
    pytest.fail("no icon was embedded in the tray")


def test_gui_runs_in_a_tray_and_quits_on_sigterm(
    executable: Path, start: Callable[..., Running], tray_display: str
) -> None:
    env = clean_env(DISPLAY=tray_display, QT_QPA_PLATFORM="xcb")
    empty = _panel_width(env)
    app = start([str(executable)], env=env)
    app.wait_healthy()  # the GUI started its backend and embedded server
    _wait_for_wider_panel(env, empty)  # and its icon sits in the tray
    with pytest.raises(subprocess.TimeoutExpired):  # it stays up
        app.process.wait(timeout=GUI_UP_SECONDS)
    assert app.stop() == 0, app.output()
    output = app.output()
    assert "Traceback" not in output
    assert "Could not load the Qt platform plugin" not in output
    assert "qt.qpa" not in output, output  # no platform plugin warnings either
    assert "QSystemTrayIcon" not in output, output  # e.g. "No Icon set": the SVG plugins load


def _startup_seconds(start: Callable[..., Running], command: list[str]) -> float:
    """Median of STARTUP_RUNS headless starts (after a warm-up) until /health answers."""
    timings = []
    for run in range(STARTUP_RUNS + 1):
        app = start(command)
        elapsed = app.wait_healthy()
        assert app.stop() == 0
        if run:  # the first run creates the database and warms the file cache
            timings.append(elapsed)
    return median(timings)


def test_headless_start_is_close_to_source(executable: Path, start: Callable[..., Running]) -> None:
    bundle = _startup_seconds(start, [str(executable), "--headless"])
    source = _startup_seconds(start, [sys.executable, "-m", "mudameter_desktop", "--headless"])
    ratio = bundle / source
    FIGURES[f"headless start to /health (median of {STARTUP_RUNS})"] = (
        f"bundle {bundle:.2f} s, source {source:.2f} s, ratio {ratio:.2f} "
        f"(limit {MAX_STARTUP_RATIO})"
    )
    assert ratio <= MAX_STARTUP_RATIO
