"""The small dialogs on their own: start a meeting, copy the join link."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog
from pytestqt.qtbot import QtBot

from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.dialogs import QrDialog, SettingsDialog, StartMeetingDialog


def test_start_meeting_dialog_returns_title_and_minutes(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fill_in(dialog: StartMeetingDialog) -> int:
        dialog.title.setText("  Retro  ")
        dialog.duration.setValue(45)
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(StartMeetingDialog, "exec", fill_in)
    assert StartMeetingDialog.ask() == ("Retro", 45)


def test_start_meeting_dialog_cancelled(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StartMeetingDialog, "exec", lambda _: QDialog.DialogCode.Rejected.value)
    assert StartMeetingDialog.ask() is None


def test_qr_dialog_copies_the_link(qtbot: QtBot) -> None:
    dialog = QrDialog()
    qtbot.addWidget(dialog)
    dialog.show_link("http://192.168.1.20:8765/?key=abc", shared=True)
    assert "Scan" in dialog.hint.text()
    dialog.copy_link()
    assert QGuiApplication.clipboard().text() == "http://192.168.1.20:8765/?key=abc"


def test_settings_dialog_keeps_a_chosen_calendar(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dialog = SettingsDialog(Settings(calendar="https://example.invalid/team.ics"))
    qtbot.addWidget(dialog)
    assert dialog.calendar.text() == "https://example.invalid/team.ics"
    chosen = tmp_path / "work.ics"
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *_: (str(chosen), "*.ics"))
    )
    dialog._choose_calendar()
    assert dialog.values().calendar == str(chosen)
    dialog.calendar.setText("  ")
    assert dialog.values().calendar == ""
