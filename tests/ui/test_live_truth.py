"""The UI shows the service's live view and re-derives nothing (issue 10, items 1-5)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot
from sqlalchemy import event

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.runtime import Runtime
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.dialogs import StartMeetingDialog
from mudameter_desktop.ui.signals import emit
from tests.conftest import FakeClock


@pytest.fixture
def notes(desktop: DesktopApp) -> list[tuple[str, str]]:
    received: list[tuple[str, str]] = []
    desktop.controller.notify.connect(lambda title, text: received.append((title, text)))
    return received


def click(desktop: DesktopApp, qtbot: QtBot, status: Status) -> None:
    """A tray click, and the refresh that follows the batch of changes it made."""
    with qtbot.waitSignal(desktop.controller.refreshed):
        desktop.menu.status_actions[status].trigger()


def test_a_click_in_an_explicit_meeting_on_the_hour_shows_that_meeting(
    desktop: DesktopApp, service: MeterService, clock: FakeClock, qtbot: QtBot
) -> None:
    # 10:00-11:00 local (Europe/Berlin): an explicit meeting that looks like an hourly slot.
    service.start_meeting(
        starts_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC), title="Planning", duration_minutes=60
    )
    clock.now = datetime(2026, 11, 27, 9, 40, tzinfo=UTC)  # 10:40 local
    click(desktop, qtbot, Status.ENGAGED)
    qtbot.wait(300)  # longer than a batch: nothing may reset it afterwards
    assert desktop.menu.meeting.text() == "Planning · 10:00\u201311:00"
    assert "(no clicks yet)" not in desktop.menu.meeting.text()
    assert desktop.state.live.status is Status.ENGAGED
    assert desktop.menu.status_actions[Status.ENGAGED].isChecked()
    assert desktop.tray is not None and "You: Engaged" in desktop.tray.toolTip()


def test_one_person_changing_status_inside_a_minute_is_one_person(
    desktop: DesktopApp, clock: FakeClock, qtbot: QtBot
) -> None:
    clock.now = datetime(2026, 11, 27, 10, 5, 20, tzinfo=UTC)  # the 11:00 slot is running
    for status in (Status.SPEAKING, Status.DISENGAGED, Status.ENGAGED):
        click(desktop, qtbot, status)
    assert desktop.state.live.room.total == 1
    window = desktop.meter_window
    window.sync(desktop.state.live, desktop.controller.zone)
    assert "Room now: 0 speaking · 1 engaged · 0 disengaged" in window.room.text()


def test_ending_a_meeting_started_over_another_never_brings_the_old_one_back(
    *,
    desktop: DesktopApp,
    runtime: Runtime,
    service: MeterService,
    clock: FakeClock,
    notes: list[tuple[str, str]],
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desktop.controller.save_settings(runtime.settings.with_changes(nudge_disengaged=True))
    old = service.start_meeting(title="Old", duration_minutes=60)
    for status in (Status.DISENGAGED, Status.DISENGAGED, Status.ENGAGED):
        service.record_status(status)  # three LAN people, most of them tuned out
    for _ in range(6):
        clock.advance(minutes=1)
        desktop.controller.tick()
    assert "The room has tuned out" in [title for title, _ in notes]

    monkeypatch.setattr(
        StartMeetingDialog, "ask", classmethod(lambda cls, parent=None: ("New", 30))
    )
    desktop.menu.start_meeting.trigger()
    new = desktop.state.live.meeting
    assert new is not None and new.title == "New"
    for _ in range(2):
        clock.advance(minutes=1)
        desktop.controller.tick()

    notes.clear()
    desktop.menu.end_meeting.trigger()
    for _ in range(2):
        clock.advance(minutes=1)
        desktop.controller.tick()
    assert [title for title, _ in notes] == ["New ended"]
    assert notes[0][1].startswith("2 min, 0 participants")
    live = desktop.state.live
    assert live.meeting is None or live.meeting.id != old.id
    assert "Old" not in desktop.menu.meeting.text()
    assert not desktop.menu.end_meeting.isEnabled()


def test_a_tray_click_costs_one_read_per_refresh(
    desktop: DesktopApp, service: MeterService, store: OpenedStore, qtbot: QtBot
) -> None:
    click(desktop, qtbot, Status.SPEAKING)
    desktop.menu.history.trigger()
    history = desktop.history
    assert history is not None
    qtbot.addWidget(history)
    meeting = desktop.state.live.meeting
    assert meeting is not None
    qtbot.waitUntil(lambda: history.model.row_of(meeting.id) is not None)  # read in the background
    history.select_meeting(meeting.id)
    qtbot.waitUntil(lambda: history.detail is not None)

    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with qtbot.waitSignals([history.updated, desktop.controller.refreshed]):
        desktop.menu.status_actions[Status.ENGAGED].trigger()
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    participant_lists = [s for s in selects if "FROM participant" in s and "kind" in s]
    # Before: 13 SELECTs, the meeting's detail read three times (model, window, tray).
    assert len(selects) <= 4, selects
    assert len(participant_lists) <= 1, selects
    assert history.participants.count() == 1
    assert "Engaged" in history.participants.item(0).text()

    statements.clear()
    desktop.controller.refresh_live()  # the live view is answered from memory
    assert statements == []


def test_a_second_click_on_the_tray_icon_hides_the_meter_window(desktop: DesktopApp) -> None:
    assert desktop.tray is not None
    emit(desktop.tray.activated, QSystemTrayIcon.ActivationReason.Trigger)
    assert desktop.meter_window.isVisible()
    emit(desktop.tray.activated, QSystemTrayIcon.ActivationReason.Trigger)
    assert not desktop.meter_window.isVisible()
