"""One app per data folder: a second launch shows the first one's history and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QDir
from pytestqt.qtbot import QtBot

from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.instance_server import InstanceServer
from mudameter_desktop.ui.single_instance import _notify_by_pipe, notify_running, socket_name

LAUNCH_TIMEOUT_S = 60


def launch(data_dir: Path) -> subprocess.Popen[bytes]:
    """The real app, as `mudameter --data-dir` (offscreen, from the test's environment)."""
    return subprocess.Popen(
        [sys.executable, "-m", "mudameter_desktop", "--data-dir", str(data_dir), "--port", "0"],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_socket_names_differ_per_data_folder(tmp_path: Path) -> None:
    assert socket_name(tmp_path / "a") != socket_name(tmp_path / "b")
    assert socket_name(tmp_path / "a") == socket_name(tmp_path / "a")


def test_second_launch_shows_the_first_ones_history(
    desktop: DesktopApp, tmp_path: Path, qtbot: QtBot
) -> None:
    first = InstanceServer(socket_name(tmp_path), desktop)
    first.show_history_requested.connect(desktop.show_history)
    with qtbot.waitSignal(first.show_history_requested, timeout=LAUNCH_TIMEOUT_S * 1000):
        second = launch(tmp_path)
    assert second.wait(LAUNCH_TIMEOUT_S) == 0
    assert desktop.history is not None and desktop.history.isVisible()
    qtbot.addWidget(desktop.history)
    first.close()


def test_a_stale_socket_from_a_crash_does_not_block(tmp_path: Path, qtbot: QtBot) -> None:
    name = socket_name(tmp_path)
    leftover = Path(QDir.tempPath()) / name
    leftover.write_bytes(b"")  # what a killed run leaves behind
    assert not notify_running(name)
    server = InstanceServer(name)
    assert server.listening
    with qtbot.waitSignal(server.show_history_requested):
        assert notify_running(name)
    server.close()


def test_the_windows_call_through_qt_reaches_the_server_too(tmp_path: Path, qtbot: QtBot) -> None:
    """`notify_running` uses Qt's QLocalSocket on Windows (a named pipe); here a Unix socket."""
    name = socket_name(tmp_path)
    assert not _notify_by_pipe(name)
    server = InstanceServer(name)
    with qtbot.waitSignal(server.show_history_requested):
        assert _notify_by_pipe(name)
    server.close()


def test_the_real_app_starts_answers_a_second_launch_and_quits_cleanly(
    tmp_path: Path, qtbot: QtBot
) -> None:
    app = launch(tmp_path)
    try:
        qtbot.waitUntil(lambda: notify_running(socket_name(tmp_path)), timeout=30_000)
        assert launch(tmp_path).wait(LAUNCH_TIMEOUT_S) == 0
        assert app.poll() is None  # the first one still runs
    finally:
        app.send_signal(signal.SIGTERM)
        assert app.wait(LAUNCH_TIMEOUT_S) == 0
    assert (tmp_path / "mudameter.sqlite3").exists()


def test_an_unusable_data_folder_is_reported_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    from mudameter_desktop.app import Options
    from mudameter_desktop.ui import application

    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    assert application.run(Options(data_dir=blocker / "data")) == 1
    assert len(shown) == 1 and str(blocker) in shown[0]
