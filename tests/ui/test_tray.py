"""Each tray action, triggered as a user would, checked in the database."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import event

from mudameter_desktop.api.network import share_host
from mudameter_desktop.domain.statuses import ParticipantKind, Status
from mudameter_desktop.runtime import LOOPBACK, Runtime
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.settings import load_settings
from mudameter_desktop.store.database import OpenedStore
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.dialogs import SettingsDialog, StartMeetingDialog
from mudameter_desktop.ui.signals import emit
from tests.conftest import FakeClock
from tests.ui.conftest import Closer, FakeServer, QuitRecorder


def local_participants(service: MeterService, meeting_id: int) -> list[tuple[str, Status | None]]:
    detail = service.history.meeting_detail(meeting_id)
    return [(p.handle, p.status) for p in detail.participants if p.kind == ParticipantKind.LOCAL]


def test_status_actions_record_one_local_participant(
    desktop: DesktopApp, service: MeterService, qtbot: QtBot
) -> None:
    with qtbot.waitSignal(desktop.controller.refreshed):
        desktop.menu.status_actions[Status.SPEAKING].trigger()
    meeting = desktop.state.live.meeting
    assert meeting is not None
    [(first_id, status)] = local_participants(service, meeting.id)
    assert status is Status.SPEAKING

    with qtbot.waitSignal(desktop.controller.refreshed):
        desktop.menu.status_actions[Status.DISENGAGED].trigger()
    assert local_participants(service, meeting.id) == [(first_id, Status.DISENGAGED)]
    assert desktop.menu.status_actions[Status.DISENGAGED].isChecked()
    assert not desktop.menu.status_actions[Status.SPEAKING].isChecked()
    assert desktop.tray is not None
    assert "You: Disengaged" in desktop.tray.toolTip()
    assert meeting.title in desktop.menu.meeting.text()


def test_click_before_the_store_is_ready_is_kept(
    qtbot: QtBot, tray_available: None, runtime: Runtime, quit_recorder: QuitRecorder
) -> None:
    release = threading.Event()

    def slow_loader() -> Runtime:
        release.wait(10)
        return runtime

    desktop = DesktopApp(quit_app=quit_recorder)
    qtbot.addWidget(desktop.meter_window)
    desktop.start(slow_loader)
    assert desktop.tray is not None and desktop.tray.isVisible()
    assert desktop.menu.meeting.text() == "Starting…"
    desktop.menu.status_actions[Status.ENGAGED].trigger()
    assert desktop.menu.status_actions[Status.ENGAGED].isChecked()
    with qtbot.waitSignal(desktop.controller.ready):
        release.set()
    meeting = runtime.service.history.list_meetings(1).items[0]
    assert [status for _, status in local_participants(runtime.service, meeting.id)] == [
        Status.ENGAGED
    ]
    desktop.quit()


def test_start_and_end_meeting_now(
    desktop: DesktopApp,
    service: MeterService,
    clock: FakeClock,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        StartMeetingDialog, "ask", classmethod(lambda cls, parent=None: ("Retro", 30))
    )
    with qtbot.waitSignal(desktop.controller.refreshed):
        desktop.menu.start_meeting.trigger()
    [retro] = service.history.list_meetings(1).items
    assert (retro.title, retro.ends_at - retro.starts_at) == ("Retro", timedelta(minutes=30))
    assert desktop.state.live.meeting is not None
    assert desktop.state.live.meeting.id == retro.id
    assert desktop.menu.end_meeting.isEnabled()

    clock.advance(minutes=12)
    with qtbot.waitSignal(desktop.controller.refreshed):
        desktop.menu.end_meeting.trigger()
    assert service.history.meeting_detail(retro.id).ends_at == clock.now
    assert desktop.state.live.meeting is None
    assert not desktop.menu.end_meeting.isEnabled()


def test_start_meeting_cancelled_creates_nothing(
    desktop: DesktopApp, service: MeterService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StartMeetingDialog, "ask", classmethod(lambda cls, parent=None: None))
    desktop.menu.start_meeting.trigger()
    assert service.history.list_meetings(1).total == 0


def test_menu_opening_runs_no_query(desktop: DesktopApp, store: OpenedStore) -> None:
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    emit(desktop.menu.aboutToShow)
    desktop.menu.popup(desktop.menu.pos())
    desktop.menu.hide()
    assert statements == []


def test_history_action_opens_the_window(desktop: DesktopApp, qtbot: QtBot) -> None:
    desktop.menu.history.trigger()
    assert desktop.history is not None
    qtbot.addWidget(desktop.history)
    assert desktop.history.isVisible()


def test_share_on_lan_rebinds_and_is_remembered(
    desktop: DesktopApp, runtime: Runtime, settings_file: Path, qtbot: QtBot
) -> None:
    server = runtime.server
    assert isinstance(server, FakeServer)
    with qtbot.waitSignal(desktop.state.changed):
        desktop.menu.share_on_lan.trigger()
    assert server.hosts == [share_host()]  # the current network's address
    assert desktop.state.live.share_on_lan and desktop.menu.share_on_lan.isChecked()
    assert load_settings(settings_file).share_on_lan

    with qtbot.waitSignal(desktop.state.changed):
        desktop.menu.share_on_lan.trigger()
    assert server.hosts == [share_host(), LOOPBACK]
    assert not load_settings(settings_file).share_on_lan


def test_sharing_stops_and_says_so_when_the_network_is_gone(
    desktop: DesktopApp, runtime: Runtime, settings_file: Path, qtbot: QtBot
) -> None:
    """The laptop woke up in a café: the office address is gone (lan-access, issue 11)."""
    server = runtime.server
    assert isinstance(server, FakeServer)
    with qtbot.waitSignal(desktop.state.changed):
        desktop.menu.share_on_lan.trigger()
    server.host = "192.0.2.77"  # TEST-NET-1: never an address of this machine
    with qtbot.waitSignal(desktop.controller.notify) as told:
        desktop.controller.check_network()
    assert told.args is not None and told.args[0] == "Sharing on the LAN stopped"
    assert "192.0.2.77" in told.args[1]
    assert server.hosts[-1] == LOOPBACK
    qtbot.waitUntil(lambda: not desktop.state.live.share_on_lan)
    assert not desktop.menu.share_on_lan.isChecked()
    assert not load_settings(settings_file).share_on_lan  # not at the next start either


def test_copy_join_link(desktop: DesktopApp) -> None:
    desktop.menu.copy_link.trigger()
    assert (
        QGuiApplication.clipboard().text()
        == "http://192.168.1.20:8765/?key=first-key-0123456789abcdef"
    )


def test_qr_code_and_new_room_key(
    desktop: DesktopApp,
    runtime: Runtime,
    settings_file: Path,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        QMessageBox, "question", staticmethod(lambda *_: QMessageBox.StandardButton.Yes)
    )
    desktop.menu.show_qr.trigger()
    dialog = desktop.qr_dialog
    assert dialog is not None
    qtbot.addWidget(dialog)
    assert dialog.link.text().endswith("key=first-key-0123456789abcdef")
    pixmap = dialog.code.pixmap()
    assert not pixmap.isNull() and pixmap.width() > 100

    emit(dialog.new_key_requested)
    new_key = runtime.access.key
    assert new_key != "first-key-0123456789abcdef"
    assert dialog.link.text().endswith(f"key={new_key}")
    assert load_settings(settings_file).room_key == new_key


def test_settings_round_trip(
    desktop: DesktopApp,
    settings_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))

    def fill_in(dialog: SettingsDialog) -> int:
        dialog.port.setValue(9100)
        dialog.hourly_cost.setValue(80)
        dialog.currency.setText("CHF")
        dialog.require_room_key.setChecked(False)
        dialog.start_at_login.setChecked(True)
        dialog.nudge_disengaged.setChecked(True)
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(SettingsDialog, "exec", fill_in)
    desktop.menu.settings.trigger()
    saved = load_settings(settings_file)
    assert (saved.port, saved.hourly_cost, saved.currency) == (9100, 80.0, "CHF")
    assert (saved.require_room_key, saved.start_at_login, saved.nudge_disengaged) == (
        False,
        True,
        True,
    )
    assert saved.room_key == "first-key-0123456789abcdef"
    entry = (tmp_path / "xdg" / "autostart" / "mudameter.desktop").read_text(encoding="utf-8")
    assert "Exec=mudameter --data-dir /portable\n" in entry

    reopened = SettingsDialog(saved)
    assert reopened.values() == saved


def test_quit_stops_the_server_and_closes_the_store(
    desktop: DesktopApp, runtime: Runtime, quit_recorder: QuitRecorder
) -> None:
    started = time.monotonic()
    desktop.menu.quit.trigger()
    assert time.monotonic() - started < 1.0
    assert isinstance(runtime.server, FakeServer) and runtime.server.stopped
    assert isinstance(runtime.close_store, Closer) and runtime.close_store.closed
    assert quit_recorder.calls == 1
    assert desktop.tray is not None and not desktop.tray.isVisible()
