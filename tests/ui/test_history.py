"""The history window: lazy paging, the chart, live updates, rename, delete, export."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.dialogs import SettingsDialog
from mudameter_desktop.ui.history import HistoryWindow
from tests.conftest import FakeClock


def open_history(desktop: DesktopApp, qtbot: QtBot) -> HistoryWindow:
    """The window, once its first page is in (read in the background)."""
    desktop.menu.history.trigger()
    history = desktop.history
    assert history is not None
    qtbot.addWidget(history)
    qtbot.waitUntil(lambda: not history.model.loading)
    return history


def select(history: HistoryWindow, qtbot: QtBot, meeting_id: int) -> None:
    """Select a meeting and wait for its detail (read in the background)."""
    history.select_meeting(meeting_id)
    qtbot.waitUntil(lambda: history.detail is not None and history.detail.id == meeting_id)


def seed_meetings(service: MeterService, clock: FakeClock, count: int) -> None:
    for number in range(count):
        service.start_meeting(
            starts_at=clock.now - timedelta(days=count - number),
            title=f"Meeting {number}",
            duration_minutes=30,
        )


def record_minutes(service: MeterService, clock: FakeClock) -> int:
    """A meeting with three people over four minutes; returns its id."""
    meeting = service.start_meeting(title="Planning", duration_minutes=30)
    alice = service.record_status(Status.SPEAKING).participant_id
    bob = service.record_status(Status.ENGAGED).participant_id
    clock.advance(minutes=1)
    service.record_status(Status.DISENGAGED, bob)
    carol = service.record_status(Status.DISENGAGED).participant_id
    clock.advance(minutes=2)
    service.record_status(Status.ENGAGED, alice)
    service.record_status(Status.ENGAGED, carol)
    clock.advance(minutes=1)
    return meeting.id


def test_fetches_twenty_then_more_on_scroll(
    desktop: DesktopApp, service: MeterService, clock: FakeClock, qtbot: QtBot
) -> None:
    seed_meetings(service, clock, 45)
    history = open_history(desktop, qtbot)
    model = history.model
    assert model.rowCount() == 20
    assert model.data(model.index(0, 1)) == "Meeting 44"  # newest first
    assert model.canFetchMore()

    scroll = history.table.verticalScrollBar()

    def scrolled_to_the_end(rows: int) -> bool:
        """Scroll to the end (again: a scroll while a page is being read asks for nothing
        more, as a person would scroll again) until `rows` are there."""
        scroll.setValue(scroll.maximum())
        return model.rowCount() == rows

    for loaded in (40, 45):
        bottom = scroll.maximum()
        qtbot.waitUntil(lambda loaded=loaded: scrolled_to_the_end(loaded))
        qtbot.waitUntil(lambda bottom=bottom: scroll.maximum() > bottom)  # laid out again
    assert not model.canFetchMore()
    assert model.data(model.index(44, 1)) == "Meeting 0"


def test_selecting_a_meeting_charts_its_minutes(
    desktop: DesktopApp, service: MeterService, clock: FakeClock, qtbot: QtBot
) -> None:
    meeting_id = record_minutes(service, clock)
    history = open_history(desktop, qtbot)
    select(history, qtbot, meeting_id)
    samples = service.history.meeting_detail(meeting_id).engagement_samples
    assert history.series is not None
    charted = [
        [int(bars.at(minute)) for minute in range(bars.count())]
        for bars in history.series.barSets()
    ]
    assert charted == [
        [s.speaking for s in samples],
        [s.engaged for s in samples],
        [s.disengaged for s in samples],
    ]
    assert [bars.label() for bars in history.series.barSets()] == [
        "Speaking",
        "Engaged",
        "Disengaged",
    ]
    assert history.participants.count() == 3
    row = history.model.row_of(meeting_id)
    assert row is not None
    texts = [history.model.data(history.model.index(row, column)) for column in range(9)]
    assert texts[1:4] == ["Planning", "30 min", "3"]


def test_wasted_cost_follows_the_hourly_cost_setting(
    desktop: DesktopApp,
    service: MeterService,
    clock: FakeClock,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    meeting_id = record_minutes(service, clock)
    wasted_minutes = service.history.meeting_detail(meeting_id).totals.disengaged
    history = open_history(desktop, qtbot)
    row = history.model.row_of(meeting_id)
    assert row is not None
    assert 0 < wasted_minutes < 60
    minutes = f"{wasted_minutes} person-min"
    assert history.model.data(history.model.index(row, 8)) == minutes

    def set_cost(dialog: SettingsDialog) -> int:
        dialog.hourly_cost.setValue(60)
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(SettingsDialog, "exec", set_cost)
    desktop.menu.settings.trigger()
    cost = f"{minutes} = {wasted_minutes:.2f} EUR"  # 60 an hour: one per wasted minute
    assert history.model.data(history.model.index(row, 8)) == cost


def test_a_status_from_another_thread_updates_the_open_window(
    desktop: DesktopApp, service: MeterService, clock: FakeClock, qtbot: QtBot
) -> None:
    meeting_id = record_minutes(service, clock)
    history = open_history(desktop, qtbot)
    select(history, qtbot, meeting_id)
    before = history.detail
    assert before is not None

    writer = threading.Thread(target=service.record_status, args=(Status.SPEAKING,))
    with qtbot.waitSignal(history.updated):
        writer.start()
    writer.join()
    assert history.detail is not None
    assert history.detail.participant_count == before.participant_count + 1
    row = history.model.row_of(meeting_id)
    assert row is not None
    assert history.model.data(history.model.index(row, 3)) == "4"


@pytest.fixture
def planning(service: MeterService, clock: FakeClock) -> int:
    return record_minutes(service, clock)


@pytest.fixture
def history(desktop: DesktopApp, qtbot: QtBot, planning: int) -> HistoryWindow:
    window = open_history(desktop, qtbot)
    select(window, qtbot, planning)
    return window


def test_rename(
    history: HistoryWindow,
    planning: int,
    service: MeterService,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("Sprint review", True))
    with qtbot.waitSignal(history.updated):
        history.rename_button.click()
    assert service.history.meeting_detail(planning).title == "Sprint review"
    assert history.heading.text().startswith("Sprint review")
    row = history.model.row_of(planning)
    assert row is not None
    assert history.model.data(history.model.index(row, 1)) == "Sprint review"


def test_delete_asks_first(
    history: HistoryWindow,
    service: MeterService,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    history.delete_button.click()
    assert service.history.list_meetings(1).total == 1
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(history.updated):
        history.delete_button.click()
    assert service.history.list_meetings(1).total == 0
    assert history.model.rowCount() == 0
    assert history.detail is None
    assert not history.delete_button.isEnabled()


def test_export_csv_and_json(
    *,
    history: HistoryWindow,
    planning: int,
    service: MeterService,
    tmp_path: Path,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    csv_path, json_path = tmp_path / "m.csv", tmp_path / "m.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(csv_path), ""))
    with qtbot.waitSignal(history.exported):  # written in the background
        history.export_csv_button.click()
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "meeting_id,title,minute,speaking,engaged,disengaged"
    assert len(lines) == 1 + len(service.history.meeting_detail(planning).engagement_samples)
    assert lines[1].startswith(f"{planning},Planning,")

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(json_path), ""))
    with qtbot.waitSignal(history.exported):
        history.export_json_button.click()
    exported = json.loads(json_path.read_text(encoding="utf-8"))
    assert (exported["id"], exported["title"], exported["participant_count"]) == (
        planning,
        "Planning",
        3,
    )
    assert len(exported["engagement_samples"]) == len(lines) - 1

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    history.export_json_button.click()  # cancelled: nothing written, no error


def test_a_meeting_deleted_elsewhere_is_dropped_on_rename(
    history: HistoryWindow,
    planning: int,
    service: MeterService,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service.delete_meeting(planning)  # its notification waits in the batch: not shown yet
    assert history.model.row_of(planning) is not None
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("Too late", True))
    with qtbot.waitSignal(history.updated):
        history.rename_button.click()
    assert history.model.row_of(planning) is None
    assert history.detail is None
