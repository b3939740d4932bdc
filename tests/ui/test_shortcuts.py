"""Global shortcuts: parsing, the platform check, the settings round trip, and real X11 grabs."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.settings import Settings, load_settings
from mudameter_desktop.ui import shortcut_settings
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.dialogs import SettingsDialog
from mudameter_desktop.ui.shortcuts import (
    CONTROL,
    MOD1,
    MOD4,
    SHIFT,
    GlobalShortcuts,
    ShortcutError,
    Support,
    check_bindings,
    parse_shortcut,
    platform_support,
)

ROOT = Path(__file__).resolve().parents[2]
X11_SOCKETS = Path("/tmp/.X11-unix")  # noqa: S108 - where every X server puts its socket
DISPLAYS = range(200, 240)  # clear of the benchmarks', the screenshots' and the bundle's


def test_parse_shortcut_gives_x11_keysyms_and_masks() -> None:
    assert parse_shortcut("Ctrl+Alt+1") == (ord("1"), CONTROL | MOD1)
    assert parse_shortcut("Meta+Shift+X") == (ord("x"), MOD4 | SHIFT)
    assert parse_shortcut("Ctrl+F5") == (0xFFC2, CONTROL)
    assert parse_shortcut("Ctrl+Alt+PgUp") == (0xFF55, CONTROL | MOD1)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1", "needs Ctrl, Alt or Meta"),  # would swallow every "1" typed anywhere
        ("Shift+A", "needs Ctrl, Alt or Meta"),
        ("", "not one key combination"),
        ("Ctrl+1, Ctrl+2", "not one key combination"),
        ("Ctrl+Alt+Tab", "cannot be a global shortcut"),
    ],
)
def test_unusable_shortcuts_say_why(text: str, why: str) -> None:
    with pytest.raises(ShortcutError, match=why):
        parse_shortcut(text)


def test_the_same_keys_twice_are_refused() -> None:
    bindings = {Status.SPEAKING: "Ctrl+Alt+1", Status.ENGAGED: "ctrl+alt+1"}
    assert check_bindings(bindings) == "Engaged and Speaking use the same keys."


@pytest.mark.parametrize(
    ("platform", "environment", "available", "reason"),
    [
        ("xcb", {"DISPLAY": ":0"}, True, ""),
        ("xcb", {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, True, ""),  # XWayland
        ("wayland", {"WAYLAND_DISPLAY": "wayland-0"}, False, "Wayland lets no app grab keys"),
        ("xcb", {"WAYLAND_DISPLAY": "wayland-0"}, False, "Wayland lets no app grab keys"),
        ("offscreen", {}, False, "need X11"),
        ("windows", {}, False, "need X11"),
    ],
)
def test_platform_support(
    platform: str, environment: dict[str, str], available: bool, reason: str
) -> None:
    support = platform_support(platform, environment)
    assert support.available is available
    assert reason in support.reason


def test_where_keys_cannot_be_grabbed_the_app_says_why(desktop: DesktopApp) -> None:
    assert not desktop.shortcuts.active
    assert desktop.shortcuts.note == "Global shortcuts need X11; this desktop is 'offscreen'."


def test_settings_round_trip(
    desktop: DesktopApp, settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shortcut_settings, "platform_support", lambda: Support(True))

    def fill_in(dialog: SettingsDialog) -> int:
        box = dialog.shortcuts
        assert box.enabled.isChecked() and box.enabled.isEnabled()
        assert box.texts() == {
            Status.SPEAKING: "Ctrl+Alt+1",
            Status.ENGAGED: "Ctrl+Alt+2",
            Status.DISENGAGED: "Ctrl+Alt+3",
        }
        box.keys[Status.ENGAGED].setKeySequence(QKeySequence("Meta+E"))
        box.keys[Status.DISENGAGED].setKeySequence(QKeySequence("Ctrl+Shift+F9"))
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(SettingsDialog, "exec", fill_in)
    desktop.show_settings()
    saved = load_settings(settings_file)
    assert (
        saved.shortcuts_enabled,
        saved.shortcut_speaking,
        saved.shortcut_engaged,
        saved.shortcut_disengaged,
    ) == (True, "Ctrl+Alt+1", "Meta+E", "Ctrl+Shift+F9")
    assert desktop.controller.settings == saved

    def turn_off(dialog: SettingsDialog) -> int:
        assert dialog.shortcuts.texts()[Status.ENGAGED] == "Meta+E"
        dialog.shortcuts.enabled.setChecked(False)
        assert not dialog.shortcuts.keys[Status.ENGAGED].isEnabled()
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(SettingsDialog, "exec", turn_off)
    desktop.show_settings()
    assert load_settings(settings_file).shortcuts_enabled is False


def test_the_dialog_refuses_the_same_keys_twice(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.shortcuts.support = Support(True)
    dialog.shortcuts.enabled.setEnabled(True)
    dialog.shortcuts.enabled.setChecked(True)
    dialog.shortcuts.keys[Status.SPEAKING].setKeySequence(QKeySequence("Ctrl+Alt+2"))
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted.value
    assert dialog.shortcuts.note.text() == "Engaged and Speaking use the same keys."


def test_on_wayland_the_box_says_why_and_keeps_the_saved_choice(qtbot: QtBot) -> None:
    wayland = platform_support("wayland", {"WAYLAND_DISPLAY": "wayland-0"})
    saved = Settings(shortcuts_enabled=True, shortcut_engaged="Ctrl+Alt+8")
    box = shortcut_settings.ShortcutSettings(saved, support=wayland)
    qtbot.addWidget(box)
    assert not box.enabled.isChecked() and not box.enabled.isEnabled()
    assert not box.keys[Status.ENGAGED].isEnabled()
    assert box.note.text().startswith("Wayland lets no app grab keys")
    assert box.values()["shortcuts_enabled"] is True  # on again under X11
    assert box.values()["shortcut_engaged"] == "Ctrl+Alt+8"


# -- under Xvfb -----------------------------------------------------------------


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    """A bare Xvfb display (no window manager: the keys go to the root window's grabs)."""
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (.ci/run installs it)")
    log = tmp_path / "xvfb.txt"
    for number in DISPLAYS:
        if (X11_SOCKETS / f"X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():  # noqa: S108
            continue
        command = ["Xvfb", f":{number}", "-screen", "0", "800x600x24", "-nolisten", "tcp"]
        with log.open("wb") as sink:
            xvfb = subprocess.Popen([*command, "-noreset"], stderr=sink)
        deadline = time.monotonic() + 15
        while xvfb.poll() is None and time.monotonic() < deadline:
            if (X11_SOCKETS / f"X{number}").exists():
                break
            time.sleep(0.05)
        if xvfb.poll() is None and (X11_SOCKETS / f"X{number}").exists():
            try:
                yield f":{number}"
            finally:
                xvfb.terminate()
                xvfb.wait(timeout=10)
            return
        xvfb.kill()
        xvfb.wait()
    pytest.fail(f"Xvfb did not start: {log.read_text()}")


def press(display: str, keys: str) -> None:
    subprocess.run(
        ["xdotool", "key", keys], env={**os.environ, "DISPLAY": display}, check=True, timeout=30
    )


@pytest.mark.xvfb
def test_grabbed_keys_reach_the_ui_thread(x_display: str, qtbot: QtBot) -> None:
    shortcuts = GlobalShortcuts(display_name=x_display, support=Support(True))
    settings = Settings(shortcut_engaged="Ctrl+Alt+9", shortcut_disengaged="Meta+F4")
    note = shortcuts.apply(settings)
    try:
        assert note.startswith("Active on the whole desktop: Ctrl+Alt+1 Speaking")
        with qtbot.waitSignal(shortcuts.pressed, timeout=10_000) as pressed:
            press(x_display, "ctrl+alt+9")
        assert pressed.args == [Status.ENGAGED]
        with qtbot.waitSignal(shortcuts.pressed, timeout=10_000) as pressed:
            press(x_display, "super+F4")
        assert pressed.args == [Status.DISENGAGED]
        with qtbot.assertNotEmitted(shortcuts.pressed, wait=300):
            press(x_display, "ctrl+9")  # without Alt: not ours
        press(x_display, "Num_Lock")  # Num Lock on: still ours
        with qtbot.waitSignal(shortcuts.pressed, timeout=10_000) as pressed:
            press(x_display, "ctrl+alt+1")
        assert pressed.args == [Status.SPEAKING]
        press(x_display, "Num_Lock")

        # A held key (auto-repeat: presses ~30 ms apart) sets the status once.
        seen: list[object] = []
        shortcuts.pressed.connect(seen.append)
        subprocess.run(
            ["xdotool", "key", "--repeat", "6", "--delay", "30", "super+F4"],
            env={**os.environ, "DISPLAY": x_display},
            check=True,
            timeout=30,
        )
        qtbot.waitUntil(lambda: seen == [Status.DISENGAGED], timeout=10_000)
        qtbot.wait(500)
        assert seen == [Status.DISENGAGED]
        shortcuts.pressed.disconnect(seen.append)

        # Another app holding the same keys: said, not silently dead.
        rival = GlobalShortcuts(display_name=x_display, support=Support(True))
        assert "Ctrl+Alt+9 (Engaged) is taken by another app" in rival.apply(settings)
        rival.stop()

        # Changing the keys in the settings re-grabs them.
        shortcuts.apply(settings.with_changes(shortcut_engaged="Ctrl+Alt+7"))
        with qtbot.waitSignal(shortcuts.pressed, timeout=10_000) as pressed:
            press(x_display, "ctrl+alt+7")
        assert pressed.args == [Status.ENGAGED]
    finally:
        shortcuts.stop()


def local_status(database: Path) -> str | None:
    """The tray user's current status, read beside the running app (test-only SQL)."""
    if not database.exists():
        return None
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        row = connection.execute(
            "SELECT status FROM participant WHERE kind = 'local' ORDER BY created_at DESC"
        ).fetchone()
    return None if row is None else str(row[0])


def wait_until(what: str, probe: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.1)
    pytest.fail(f"Timed out waiting for {what}")


@pytest.mark.xvfb
def test_ctrl_alt_2_in_the_real_app_records_engaged(x_display: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    env.pop("WAYLAND_DISPLAY", None)
    app = subprocess.Popen(
        [sys.executable, "-m", "mudameter_desktop", "--data-dir", str(data_dir), "--port", "0"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = data_dir / "logs" / "mudameter.log"
    database = data_dir / "mudameter.sqlite3"
    try:
        wait_until(
            "the shortcuts",
            lambda: log.exists() and "Global shortcuts active" in log.read_text("utf-8"),
        )
        press(x_display, "ctrl+alt+2")
        wait_until("Engaged", lambda: local_status(database) == "engaged")
        press(x_display, "ctrl+alt+3")
        wait_until("Disengaged", lambda: local_status(database) == "disengaged")
    finally:
        app.send_signal(signal.SIGTERM)
        code = app.wait(30)
    assert code == 0


@pytest.mark.xvfb
def test_an_x_server_going_away_ends_the_listener_quietly(
    x_display: str, qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    shortcuts = GlobalShortcuts(display_name=x_display, support=Support(True))
    assert shortcuts.apply(Settings()).startswith("Active")
    listener = shortcuts._listener
    assert listener is not None and listener._thread is not None
    thread = listener._thread
    lock = Path(f"/tmp/.X{x_display.lstrip(':')}-lock")  # noqa: S108 - Xvfb's own lock file
    os.kill(int(lock.read_text().strip()), signal.SIGTERM)  # logout, a crashed X server
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=10_000)
    assert "The keyboard shortcut listener stopped" in caplog.text
    shortcuts.stop()  # no error: the thread is gone, its pipe closed
    note = shortcuts.apply(Settings())
    assert note.startswith("No X display to grab keys on")
    assert not shortcuts.active
