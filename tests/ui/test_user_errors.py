"""Errors and rough edges a user meets (issue 10, items 6, 9, 11 and 12)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.paths import resolve_paths
from mudameter_desktop.runtime import Options, Runtime, open_runtime
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.settings import load_settings
from mudameter_desktop.store.database import open_store, sqlite_url
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.history import HistoryWindow
from tests.conftest import FakeClock
from tests.ui.conftest import QuitRecorder, dispose

MENU_MAX_PX = 400


def open_history(desktop: DesktopApp, qtbot: QtBot) -> HistoryWindow:
    desktop.menu.history.trigger()
    history = desktop.history
    assert history is not None
    qtbot.addWidget(history)
    qtbot.waitUntil(lambda: not history.model.loading)  # the first page, read in the background
    return history


def answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    """Patch `QMessageBox.question` to answer `button`; returns the questions asked."""
    asked: list[str] = []

    def question(_parent: object, title: str, *_args: object, **_kwargs: object) -> object:
        asked.append(title)
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


# -- (6) a database another process holds ------------------------------------------


def test_a_database_in_use_is_reported_without_a_traceback_and_retried(
    qtbot: QtBot,
    tray_available: None,
    tmp_path: Path,
    quit_recorder: QuitRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    options = Options(data_dir=tmp_path / "data", port=0)
    paths = resolve_paths(options.data_dir)
    paths.create()
    other = open_store(sqlite_url(paths.database_file))  # another instance holds it

    desktop = DesktopApp(quit_app=quit_recorder)
    qtbot.addWidget(desktop.meter_window)
    with qtbot.waitSignal(desktop.controller.failed):
        desktop.start(lambda: open_runtime(options, paths))
    menu, window = desktop.menu, desktop.meter_window
    assert "in use by another Muda Meter" in (desktop.state.live.error or "")
    assert menu.sizeHint().width() <= MENU_MAX_PX  # the long message is elided
    assert "in use" in menu.meeting.toolTip()  # and whole in the tooltip
    assert menu.retry.isVisible()
    assert not any(action.isEnabled() for action in menu.status_actions.values())
    menu.status_actions[Status.ENGAGED].trigger()  # disabled: nothing pretends to record
    assert desktop.state.live.status is None
    assert window.isVisible() and window.retry.isVisible()
    assert not window.buttons[Status.ENGAGED].isEnabled()
    assert "in use by another Muda Meter" in window.problem.text()
    assert window.sizeHint().width() <= 480
    assert not [record for record in caplog.records if record.exc_info and record.levelno > 10]

    failures: list[str] = []
    desktop.controller.failed.connect(failures.append)
    menu.retry.trigger()  # still held: the same message again, told once only
    assert desktop.state.live.error == "Opening the database again…"
    qtbot.waitUntil(lambda: "in use" in (desktop.state.live.error or ""), timeout=10_000)
    assert failures == []

    other.close()  # the other instance quit
    with qtbot.waitSignal(desktop.controller.ready, timeout=10_000):
        menu.retry.trigger()
    assert not menu.retry.isVisible() and not window.retry.isVisible()
    assert menu.status_actions[Status.ENGAGED].isEnabled()
    with qtbot.waitSignal(desktop.controller.refreshed):
        menu.status_actions[Status.ENGAGED].trigger()
    assert desktop.state.live.status is Status.ENGAGED
    desktop.quit()
    dispose(desktop)


# -- (9) the join link in the meter window -------------------------------------------


def test_with_share_on_lan_the_meter_window_shows_the_join_link(
    desktop: DesktopApp, qtbot: QtBot
) -> None:
    assert "127.0.0.1" in desktop.meter_window.server.text()
    with qtbot.waitSignal(desktop.state.changed):
        desktop.menu.share_on_lan.trigger()
    text = desktop.meter_window.server.text()
    assert "http://192.168.1.20:8765/?key=first-key-0123456789abcdef" in text
    assert "127.0.0.1" not in text


# -- (11) export: documents folder, remembered, confirmed ---------------------------


def test_export_starts_in_the_documents_remembers_the_folder_and_says_where(
    *,
    desktop: DesktopApp,
    service: MeterService,
    clock: FakeClock,
    settings_file: Path,
    tmp_path: Path,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meeting = service.start_meeting(title="Retro", duration_minutes=10)
    service.record_status(Status.ENGAGED)
    clock.advance(minutes=2)
    history = open_history(desktop, qtbot)
    history.select_meeting(meeting.id)
    qtbot.waitUntil(lambda: history.detail is not None)
    chosen = tmp_path / "exports"
    chosen.mkdir()
    offered: list[Path] = []

    def save_as(_parent: object, _caption: str, suggested: str, name_filter: str) -> object:
        offered.append(Path(suggested))
        return str(chosen / Path(suggested).name), name_filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_as))
    with qtbot.waitSignal(history.exported):
        history.export_csv_button.click()
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    assert offered[0].parent == Path(documents or Path.home())  # not the working directory
    saved = chosen / offered[0].name
    assert saved.read_text(encoding="utf-8").startswith("meeting_id,")
    assert history.notice.text() == f"Saved to {saved}"
    assert load_settings(settings_file).export_folder == str(chosen)

    with qtbot.waitSignal(history.exported):
        history.export_json_button.click()
    assert offered[1].parent == chosen  # remembered


# -- (12) small things -----------------------------------------------------------


def test_after_a_delete_no_row_looks_selected(
    desktop: DesktopApp,
    service: MeterService,
    clock: FakeClock,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for number in range(3):
        service.start_meeting(
            starts_at=clock.now - timedelta(days=3 - number),
            title=f"Meeting {number}",
            duration_minutes=30,
        )
    history = open_history(desktop, qtbot)
    history.table.setFocus()
    history.table.selectRow(1)
    qtbot.waitUntil(lambda: history.detail is not None)
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(history.updated):
        history.delete_button.click()
    assert history.model.rowCount() == 2
    assert history.heading.text().startswith("Select a meeting")
    assert not history.table.selectionModel().hasSelection()
    assert not history.table.currentIndex().isValid()  # no row drawn as the current one


def test_new_room_key_asks_first(
    desktop: DesktopApp, runtime: Runtime, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    desktop.menu.show_qr.trigger()
    dialog = desktop.qr_dialog
    assert dialog is not None
    qtbot.addWidget(dialog)
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    dialog.new_key_button.click()
    assert asked == ["New room key"]
    assert runtime.access.key == "first-key-0123456789abcdef"  # not revoked without a yes

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    dialog.new_key_button.click()
    assert runtime.access.key != "first-key-0123456789abcdef"
    link = dialog.link
    dialog.adjustSize()
    assert link.text().endswith(runtime.access.key)
    assert link.width() >= link.fontMetrics().horizontalAdvance(link.text())  # all of the key


def test_escape_and_ctrl_w_close_history_and_the_meter_window(
    desktop: DesktopApp, qtbot: QtBot
) -> None:
    history = open_history(desktop, qtbot)
    qtbot.keyClick(history.table, Qt.Key.Key_Escape)
    assert not history.isVisible()
    history.show_and_raise()
    qtbot.keyClick(history.table, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert not history.isVisible()

    window = desktop.meter_window
    for key, modifier in (
        (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier),
    ):
        window.show_on_top()
        qtbot.keyClick(window.buttons[Status.ENGAGED], key, modifier)
        assert not window.isVisible()
    assert desktop.state.live.status is None  # the keys chose no status
