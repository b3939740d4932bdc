"""The always-on-top meter window: the fallback without a tray, and the tray's left click."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot

from mudameter_desktop.domain.statuses import ParticipantKind, Status
from mudameter_desktop.runtime import Runtime
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.signals import emit
from tests.ui.conftest import QuitRecorder, start_app


@pytest.fixture
def no_tray(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: False))


def test_without_a_tray_the_meter_window_is_shown_and_works(
    qtbot: QtBot,
    no_tray: None,
    runtime: Runtime,
    service: MeterService,
    quit_recorder: QuitRecorder,
) -> None:
    desktop = start_app(qtbot, runtime, quit_recorder)
    window = desktop.meter_window
    assert desktop.tray is None
    assert window.isVisible()
    assert window.windowFlags() & Qt.WindowType.WindowStaysOnTopHint

    with qtbot.waitSignal(desktop.controller.refreshed):
        qtbot.mouseClick(window.buttons[Status.ENGAGED], Qt.MouseButton.LeftButton)
    meeting = desktop.state.live.meeting
    assert meeting is not None
    [participant] = service.history.meeting_detail(meeting.id).participants
    assert (participant.kind, participant.status) == (ParticipantKind.LOCAL, Status.ENGAGED)
    assert window.buttons[Status.ENGAGED].isChecked()
    assert meeting.title in window.meeting.text()
    assert "1 engaged" in window.room.text()

    window.close()  # with no tray, closing the only window quits
    assert quit_recorder.calls == 1


def test_left_click_on_the_tray_shows_the_meter_window(desktop: DesktopApp, qtbot: QtBot) -> None:
    assert desktop.tray is not None
    assert not desktop.meter_window.isVisible()
    emit(desktop.tray.activated, QSystemTrayIcon.ActivationReason.Trigger)
    assert desktop.meter_window.isVisible()
    desktop.meter_window.close()  # with a tray, closing only hides it
    assert not desktop.meter_window.isVisible()
