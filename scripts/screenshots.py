#!/usr/bin/env python3
"""Screenshots of the real app under Xvfb with a tray host, for the README.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]   # default: docs/screenshots

(`SCREENSHOT_DISPLAY=:98` picks another X display number than :99.)

Needs Xvfb, trayer, xdotool and xwininfo (`.ci/run` installs them); the
pictures are taken with Qt itself (`QScreen.grabWindow` on the X display), so
neither ImageMagick nor xsetroot is needed. It seeds a throw-away data folder
through the service layer (a few past meetings and a running one with LAN
participants), starts
`mudameter --data-dir` on display :99 beside Debian's `trayer`, drives the
tray with xdotool as a user would, and saves:

    tray.png      the tray icon after clicking "Engaged" (enlarged)
    menu.png      the tray menu
    meter.png     the meter window (left click on the tray icon)
    qr.png        the QR code dialog with the join link
    settings.png  the settings dialog, with the keyboard shortcuts
    history.png   the history window (opened by a second launch), one meeting selected
    trends.png    its Trends tab over eight weeks of recurring meetings
    icons.png     the four tray icons on a dark and a light panel
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DISPLAY = os.environ.get("SCREENSHOT_DISPLAY", ":99")  # another number if :99 is taken
SCREEN = "1280x800x24"
PANEL_HEIGHT = 32
TIMEOUT_S = 30.0
T = TypeVar("T")


# -- seeding --------------------------------------------------------------


@dataclass
class ManualClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Story:
    title: str
    days_ago: int
    local_hour: int
    minutes: int
    people: int
    drift: float  # chance per person-minute of tuning out


PAST_MEETINGS = (
    Story("Sprint planning", 2, 9, 60, 7, 0.03),
    Story("Design review", 1, 11, 45, 5, 0.01),
    Story("Budget alignment", 1, 15, 90, 9, 0.06),
    Story("Customer demo", 0, 8, 30, 6, 0.005),
)


RECURRING = (  # (weekday, story): the weeks before, for the Trends tab; older weeks drift more
    (0, Story("Weekly sync", 0, 10, 45, 6, 0.02)),
    (2, Story("Sprint review", 0, 14, 60, 8, 0.025)),
    (4, Story("Budget alignment", 0, 16, 60, 9, 0.04)),
)
TREND_WEEKS = 8


def past_weeks(now: datetime, zone: tzinfo) -> list[tuple[datetime, Story]]:
    """Recurring meetings in the eight weeks before the last three days, oldest first."""
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    planned = []
    for weeks_ago in range(1, TREND_WEEKS + 1):
        for weekday, story in RECURRING:
            day = (monday - timedelta(weeks=weeks_ago, days=-weekday)).date()
            local = datetime(day.year, day.month, day.day, story.local_hour, tzinfo=zone)
            starts = local.astimezone(UTC)
            if starts + timedelta(minutes=story.minutes) < now - timedelta(days=3):
                drift = story.drift * (1 + 0.25 * weeks_ago)  # getting better lately
                planned.append((starts, replace(story, drift=drift)))
    return sorted(planned, key=lambda pair: pair[0])


def schedule(now: datetime, zone: tzinfo) -> list[tuple[datetime, Story]]:
    """The stories' start times (UTC), all over before `now`, in order: the clock only advances."""
    today = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    planned = []
    for story in PAST_MEETINGS:
        starts = (today - timedelta(days=story.days_ago)).replace(hour=story.local_hour)
        if starts + timedelta(minutes=story.minutes) > now:
            starts -= timedelta(days=1)  # too early in the day: yesterday's
        planned.append((starts.astimezone(UTC), story))
    return sorted(planned, key=lambda pair: pair[0])


def seed(data_dir: Path) -> None:
    """Past meetings with minute-by-minute statuses, and a running one with a room."""
    import tzlocal  # noqa: PLC0415 - the app's packages, after sys.path is set

    from mudameter_desktop.domain.statuses import Status  # noqa: PLC0415
    from mudameter_desktop.paths import resolve_paths  # noqa: PLC0415
    from mudameter_desktop.services.meter import MeterService  # noqa: PLC0415
    from mudameter_desktop.settings import Settings, new_room_key, save_settings  # noqa: PLC0415
    from mudameter_desktop.store.database import open_store, sqlite_url  # noqa: PLC0415

    paths = resolve_paths(data_dir)
    paths.create()
    save_settings(
        paths.settings_file,
        Settings(hourly_cost=85.0, currency="EUR", room_key=new_room_key()),
    )
    store = open_store(sqlite_url(paths.database_file))
    zone = tzlocal.get_localzone()
    real_now = datetime.now(UTC)
    clock = ManualClock(real_now - timedelta(days=3))
    service = MeterService(store.engine, zone, clock=clock)
    rng = random.Random(7)  # the same pictures every run  # noqa: S311 - not security
    for starts, story in [*past_weeks(real_now, zone), *schedule(real_now, zone)]:
        clock.now = starts
        service.start_meeting(
            starts_at=clock.now, title=story.title, duration_minutes=story.minutes
        )
        people: dict[str, Status] = {}
        for _ in range(story.people):
            status = rng.choice((Status.ENGAGED, Status.ENGAGED, Status.SPEAKING))
            people[service.record_status(status).participant_id] = status
        for _ in range(story.minutes - 1):
            clock.now += timedelta(minutes=1)
            for participant, status in list(people.items()):
                if rng.random() < story.drift:
                    new = Status.DISENGAGED
                elif rng.random() < 0.08:
                    new = rng.choice((Status.SPEAKING, Status.ENGAGED))
                else:
                    continue
                if new != status:
                    people[participant] = new
                    service.record_status(new, participant)
    clock.now = real_now  # every past meeting is over: these go to the one detected now
    for status in (Status.SPEAKING, Status.ENGAGED, Status.ENGAGED, Status.DISENGAGED):
        service.record_status(status)  # colleagues on their phones, in the running meeting
    service.history.list_meetings(1)  # store the carried-forward minutes
    store.close()


# -- X11 helpers ----------------------------------------------------------


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = TIMEOUT_S) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise SystemExit(f"Timed out waiting for {what}")


def x11(*command: str) -> str:
    return subprocess.run(
        command, env={**os.environ, "DISPLAY": DISPLAY}, check=True, capture_output=True, text=True
    ).stdout


@dataclass(frozen=True)
class Window:
    id: str
    name: str
    width: int
    height: int
    x: int
    y: int


WINDOW_LINE = re.compile(
    r'^\s*(0x[0-9a-f]+) "(?P<name>[^"]*)": \("mudameter" "Muda Meter"\)\s+'
    r"(?P<w>\d+)x(?P<h>\d+)[+-]\d+[+-]\d+\s+\+(?P<x>-?\d+)\+(?P<y>-?\d+)"
)


def app_windows() -> list[Window]:
    """The app's mapped X11 windows, with absolute positions."""
    windows = []
    for line in x11("xwininfo", "-root", "-tree").splitlines():
        match = WINDOW_LINE.match(line)
        if match:
            windows.append(
                Window(
                    match.group(1),
                    match.group("name"),
                    int(match.group("w")),
                    int(match.group("h")),
                    int(match.group("x")),
                    int(match.group("y")),
                )
            )
    return windows


def find_window(test: Callable[[Window], bool]) -> Callable[[], Window | None]:
    def probe() -> Window | None:
        return next((window for window in app_windows() if test(window)), None)

    return probe


def tray_icon(window: Window) -> bool:
    return window.height <= PANEL_HEIGHT and window.y < PANEL_HEIGHT


GRAB = """
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(sys.argv[:1])
path, (x, y, width, height, scale) = sys.argv[1], map(int, sys.argv[2:7])
shot = app.primaryScreen().grabWindow(0, x, y, width, height)
if scale != 1:
    shot = shot.scaled(width * scale, height * scale, Qt.AspectRatioMode.IgnoreAspectRatio)
sys.exit(0 if shot.save(path) else 1)
"""


def grab_window(window: Window, path: Path) -> None:
    grab_area(path, width=window.width, height=window.height, x=window.x, y=window.y)


def grab_area(path: Path, *, width: int, height: int, x: int, y: int, scale: int = 1) -> None:
    """A rectangle of the X screen as a PNG, taken by Qt (no ImageMagick needed)."""
    env = {**os.environ, "DISPLAY": DISPLAY, "QT_QPA_PLATFORM": "xcb"}
    arguments = [str(value) for value in (x, y, width, height, scale)]
    subprocess.run(
        [sys.executable, "-c", GRAB, str(path), *arguments], env=env, check=True, timeout=30
    )


def open_menu(x: int, y: int) -> Window:
    """Right-click the tray icon until its menu shows (the first click can come too early)."""
    for attempt in range(3):
        x11("xdotool", "mousemove", str(x), str(y), "click", "3")
        try:
            return wait_for("the menu", find_window(is_menu), timeout=5)
        except SystemExit:
            print(f"The menu did not open (attempt {attempt + 1}); windows:", file=sys.stderr)
            print(x11("xwininfo", "-root", "-tree"), file=sys.stderr)
            x11("xdotool", "key", "Escape")
    raise SystemExit("The tray menu did not open")


def is_menu(window: Window) -> bool:
    return window.height > 200 and window.y <= PANEL_HEIGHT + 10


def settle() -> None:
    """Let the app repaint after an input (it has no "idle" signal to wait for)."""
    time.sleep(0.8)


@contextmanager
def running(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- the tour ---------------------------------------------------------------


def icon_sheet(path: Path) -> None:
    """The four tray icons at panel size and enlarged, on a dark and a light panel."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QRectF  # noqa: PLC0415 - Qt only for this picture
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter  # noqa: PLC0415
    from PySide6.QtSvg import QSvgRenderer  # noqa: PLC0415

    from mudameter_desktop.ui.icons import ICONS  # noqa: PLC0415

    app = QGuiApplication([])
    names, sizes, pad = ("speaking", "engaged", "disengaged", "idle"), (22, 64), 12
    band = max(sizes) + 2 * pad
    width = pad + len(names) * (sum(sizes) + len(sizes) * pad + pad)
    image = QImage(width, 2 * band, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for row, colour in enumerate(("#2e3440", "#eceff4")):
        top = row * band
        painter.fillRect(0, top, width, band, QColor(colour))
        x = pad
        for name in names:
            renderer = QSvgRenderer(str(ICONS / f"{name}.svg"))
            for size in sizes:
                renderer.render(painter, QRectF(x, top + (band - size) / 2, size, size))
                x += size + pad
            x += pad
    painter.end()
    image.save(str(path))
    app.quit()


def tray_and_menu(x: int, y: int, out: Path) -> None:
    """Click "Engaged" in the menu as a user would; the icon, the menu, the QR dialog."""
    open_menu(x, y)
    x11("xdotool", "key", "Down", "Down", "Return")
    settle()
    grab_area(out / "tray.png", width=64, height=PANEL_HEIGHT, x=x - 32, y=0, scale=3)

    menu = open_menu(x, y)
    settle()
    left = max(menu.x - 24, 0)
    grab_area(out / "menu.png", width=1280 - left, height=menu.y + menu.height + 24, x=left, y=0)
    x11("xdotool", "key", "r")  # the menu's mnemonic for "Show QR code…"
    qr = wait_for("the QR code", find_window(lambda w: w.name.startswith("Join")))
    settle()
    grab_window(qr, out / "qr.png")
    x11("xdotool", "key", "Escape")


def settings_shot(x: int, y: int, path: Path) -> None:
    """The settings dialog (its keyboard shortcuts at the bottom), from the tray menu."""
    open_menu(x, y)
    x11("xdotool", "key", "g")  # "Settings…"
    dialog = wait_for("the settings", find_window(lambda w: w.name.endswith("settings")))
    settle()
    grab_window(dialog, path)
    x11("xdotool", "key", "Escape")


def tour(data_dir: Path, out: Path) -> None:
    env = {**os.environ, "DISPLAY": DISPLAY, "QT_QPA_PLATFORM": "xcb"}
    env.pop("QT_SCALE_FACTOR", None)
    app_command = [sys.executable, "-m", "mudameter_desktop", "--data-dir", str(data_dir)]
    app_command += ["--port", "0"]
    # -br: a plain black desktop (setting a colour needs xsetroot, one more package).
    xvfb = ["Xvfb", DISPLAY, "-screen", "0", SCREEN, "-nolisten", "tcp", "-noreset", "-br"]
    with running(xvfb, env):
        wait_for("the X server", lambda: _answers("xdpyinfo"))
        trayer = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"]
        trayer += ["--height", str(PANEL_HEIGHT), "--tint", "0x2e3440", "--transparent", "true"]
        trayer += ["--alpha", "0", "--SetDockType", "true", "--padding", "6"]
        with running(trayer, env), running(app_command, env) as app:
            icon = wait_for("the tray icon", find_window(tray_icon))
            log = data_dir / "logs" / "mudameter.log"
            wait_for("the server", lambda: "HTTP server listening" in log.read_text("utf-8"))
            settle()
            x, y = icon.x + icon.width // 2, icon.y + icon.height // 2

            tray_and_menu(x, y, out)

            settings_shot(x, y, out / "settings.png")

            x11("xdotool", "mousemove", str(x), str(y), "click", "1")
            meter = wait_for(
                "the meter window", find_window(lambda w: w.name == "Muda Meter" and w.width > 200)
            )
            settle()
            grab_window(meter, out / "meter.png")

            second = subprocess.run(app_command, env=env, check=False, timeout=TIMEOUT_S)
            if second.returncode != 0:
                raise SystemExit(f"The second launch exited with {second.returncode}")
            history = wait_for("the history window", find_window(lambda w: "History" in w.name))
            settle()
            # The second row (under the tab bar and the header) is the last past meeting:
            # click it, then show a busier one.
            x11("xdotool", "mousemove", str(history.x + 300), str(history.y + 100), "click", "1")
            x11("xdotool", "key", "Down", "Down")
            settle()
            grab_window(history, out / "history.png")
            x11("xdotool", "key", "alt+t")  # the Trends tab (loaded in the background)
            settle()
            settle()
            grab_window(history, out / "trends.png")

            app.send_signal(signal.SIGTERM)
            if app.wait(TIMEOUT_S) != 0:
                raise SystemExit(f"The app exited with {app.returncode} on SIGTERM")


def _answers(*command: str) -> bool:
    try:
        x11(*command)
    except subprocess.CalledProcessError:
        return False
    return True


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mudameter-shots-") as folder:
        data_dir = Path(folder)
        seed(data_dir)
        tour(data_dir, out)
    icon_sheet(out / "icons.png")
    print(f"Screenshots in {out}")


if __name__ == "__main__":
    main()
