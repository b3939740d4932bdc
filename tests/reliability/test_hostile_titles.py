"""Meeting titles come from anyone on the LAN: the desktop shows them as plain text.

A QLabel guesses rich text from the text itself, so a title such as `<img src=...>`
would be rendered as HTML (local images loaded, the window restyled).
"""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from mudameter_desktop.services.history_source import LocalHistory
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.history import HistoryWindow
from mudameter_desktop.ui.meter_window import MeterWindow
from mudameter_desktop.ui.state import LiveState
from mudameter_desktop.ui.tasks import TaskRunner
from mudameter_desktop.ui.tray import TrayMenu
from tests.conftest import FakeClock

HOSTILE = "<img src='file:///etc/hostname'><b style='font-size:90px'>Pay now</b>"


def assert_plain(label: QLabel, expected: str) -> None:
    assert GuiQt.mightBeRichText(label.text())  # Qt would have rendered it as HTML...
    assert label.textFormat() == Qt.TextFormat.PlainText  # ...but shows it as typed
    assert expected in label.text()


def test_the_history_shows_a_hostile_title_as_typed(
    qtbot: QtBot, service: MeterService, clock: FakeClock
) -> None:
    meeting = service.start_meeting(clock.now - timedelta(hours=2), HOSTILE, 30)
    tasks = TaskRunner()
    history = HistoryWindow(LocalHistory(service), service.zone, Settings(), tasks)
    qtbot.addWidget(history)
    qtbot.waitUntil(lambda: history.model.rowCount() == 1)  # read in the background
    history.select_meeting(meeting.id)
    qtbot.waitUntil(lambda: history.detail is not None)
    assert_plain(history.heading, HOSTILE)
    tasks.wait_all(5)


def test_the_meter_window_shows_a_hostile_title_as_typed(
    qtbot: QtBot, service: MeterService
) -> None:
    meeting = service.start_meeting(title=HOSTILE)
    window = MeterWindow(TrayMenu(), quit_on_close=False)
    qtbot.addWidget(window)
    window.sync(LiveState(ready=True, meeting=meeting), service.zone)
    assert_plain(window.meeting, HOSTILE)
