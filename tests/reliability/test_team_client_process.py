"""Issue 13's "done when", as a person does it: the real app under Xvfb, connected with
`mudameter --connect HOST_LINK` to a real team server on PostgreSQL, clicked with its
global shortcuts (keys through the X server, as a hand presses them).

Engaged reaches the room; with the server gone, Disengaged is kept; the app is killed
with SIGKILL and started again (it stays connected); once the server is back, the room
shows the host disengaged from the time of that click.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.team_server import TeamServer
from tests.ui.test_shortcuts import ROOT, press, wait_until, x_display

__all__ = ["x_display"]  # the fixture, used by name

pytestmark = [pytest.mark.pg, pytest.mark.slow, pytest.mark.xvfb]


def start_app(display: str, data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    env.pop("WAYLAND_DISPLAY", None)
    command = [sys.executable, "-m", "mudameter_desktop", "--data-dir", str(data_dir)]
    return subprocess.Popen(
        [*command, "--port", "0", *extra],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def shortcuts_ready(log: Path, starts: int) -> bool:
    """The app's `starts`-th start has grabbed its keys (the log file is kept across starts)."""
    return log.exists() and log.read_text("utf-8").count("Global shortcuts active") >= starts


def waiting_clicks(database: Path) -> list[tuple[str, datetime]]:
    """The clicks kept in the app's outbox (test-only SQL beside the running app)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT status, at FROM outbox ORDER BY id").fetchall()
    # SQLite keeps the times as UTC text without an offset.
    return [
        (str(status), datetime.fromisoformat(str(at)).replace(tzinfo=UTC)) for status, at in rows
    ]


def test_a_click_made_offline_survives_a_kill_and_reaches_the_room_with_its_time(
    x_display: str, room_server: TeamServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "desktop"
    log = data_dir / "logs" / "mudameter.log"
    database = data_dir / "mudameter.sqlite3"
    app = start_app(x_display, data_dir, "--connect", room_server.host_link)
    try:
        wait_until("the shortcuts", lambda: shortcuts_ready(log, 1))
        press(x_display, "ctrl+alt+2")
        wait_until(
            "Engaged in the room",
            lambda: [s for _, s, _ in room_server.status_changes()] == ["engaged"],
        )

        room_server.stop()
        press(x_display, "ctrl+alt+3")
        wait_until("the click kept", lambda: len(waiting_clicks(database)) == 1)
        [(status, made_at)] = waiting_clicks(database)
        assert status == "disengaged"
        app.send_signal(signal.SIGKILL)
        app.wait(30)

        app = start_app(x_display, data_dir)  # no --connect: the link was remembered
        wait_until("the shortcuts again", lambda: shortcuts_ready(log, 2))
        room_server.resume()
        wait_until("the kept click delivered", lambda: waiting_clicks(database) == [])
    finally:
        app.send_signal(signal.SIGTERM)
        code = app.wait(30)
    assert code == 0
    changes = room_server.status_changes()
    assert [status for _, status, _ in changes] == ["engaged", "disengaged"]
    assert changes[1][2] == made_at  # recorded at the click's own time, once
    assert len({participant for participant, _, _ in changes}) == 1  # one host participant
    meeting = room_server.get("/meetings").json()["items"][0]
    detail = room_server.get(f"/meetings/{meeting['id']}").json()
    assert [(p["kind"], p["status"]) for p in detail["participants"]] == [("local", "disengaged")]
    assert detail["room"] == {"speaking": 0, "engaged": 0, "disengaged": 1}
