"""Live behaviour: LAN clicks over real HTTP, minute ticks, notifications, failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from pytestqt.qtbot import QtBot

from mudameter_desktop.api.server import ServerThread
from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.runtime import Runtime
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.ui.application import DesktopApp
from tests.conftest import FakeClock
from tests.ui.conftest import QuitRecorder, dispose, start_app


@pytest.fixture
def served(runtime: Runtime, service: MeterService) -> Iterator[Runtime]:
    """The runtime with the real HTTP server on a free loopback port."""
    server = ServerThread(service, runtime.access, port=0)
    server.start()
    runtime.server = server
    yield runtime
    server.stop()


@pytest.fixture
def notes(desktop: DesktopApp) -> list[tuple[str, str]]:
    received: list[tuple[str, str]] = []
    desktop.controller.notify.connect(lambda title, text: received.append((title, text)))
    return received


def test_a_status_posted_over_http_updates_the_open_history(
    qtbot: QtBot,
    tray_available: None,
    served: Runtime,
    service: MeterService,
    quit_recorder: QuitRecorder,
) -> None:
    desktop = start_app(qtbot, served, quit_recorder)
    assert served.server is not None
    assert desktop.state.live.local_url == served.server.local_url
    assert served.server.local_url in desktop.meter_window.server.text()  # the real port
    desktop.menu.history.trigger()
    history = desktop.history
    assert history is not None
    qtbot.addWidget(history)
    assert history.model.rowCount() == 0

    # The history updates first, the tray's live state in the next turn of the event loop.
    with qtbot.waitSignals([history.updated, desktop.controller.refreshed]):
        answer = httpx.post(
            f"{served.server.local_url}users/status", json={"status": "disengaged"}, timeout=10
        )
    assert answer.status_code == 200
    meeting_id = answer.json()["meeting_id"]
    assert history.model.row_of(meeting_id) == 0
    history.select_meeting(meeting_id)
    qtbot.waitUntil(lambda: history.detail is not None)  # read in the background
    assert history.participants.count() == 1
    assert "disengaged" in history.participants.item(0).text().lower()
    assert desktop.state.live.room.disengaged == 1  # the tray's room counts too
    desktop.quit()
    assert not served.server.running
    dispose(desktop)


def test_meeting_start_and_end_are_announced(
    desktop: DesktopApp,
    notes: list[tuple[str, str]],
    service: MeterService,
    clock: FakeClock,
    qtbot: QtBot,
) -> None:
    with qtbot.waitSignal(desktop.controller.refreshed):
        service.start_meeting(title="Standup", duration_minutes=15)
    assert notes == [("Standup started", "Standup · 10:50\u201311:05")]
    service.record_status(Status.DISENGAGED)
    clock.advance(minutes=15)
    desktop.controller.tick()
    assert notes[1][0] == "Standup ended"
    assert notes[1][1] == "15 min, 1 participant, muda 100%, wasted 15 person-min"
    assert desktop.state.live.meeting is None


def test_nudge_when_most_of_the_room_is_disengaged_for_five_minutes(
    desktop: DesktopApp,
    runtime: Runtime,
    notes: list[tuple[str, str]],
    service: MeterService,
    clock: FakeClock,
) -> None:
    desktop.controller.save_settings(
        runtime.settings.with_changes(nudge_disengaged=True, notify_meetings=False)
    )
    service.start_meeting(title="Long one", duration_minutes=60)
    service.record_status(Status.DISENGAGED)
    service.record_status(Status.DISENGAGED)
    service.record_status(Status.ENGAGED)
    for _ in range(4):
        clock.advance(minutes=1)
        desktop.controller.tick()
    assert notes == []
    clock.advance(minutes=1)
    desktop.controller.tick()
    assert [title for title, _ in notes] == ["The room has tuned out"]
    clock.advance(minutes=1)
    desktop.controller.tick()
    assert len(notes) == 1  # once, not every minute


def test_the_minute_tick_keeps_the_local_status_alive(
    desktop: DesktopApp, service: MeterService, clock: FakeClock, qtbot: QtBot
) -> None:
    service.start_meeting(title="Workshop", duration_minutes=180)
    with qtbot.waitSignal(desktop.controller.refreshed):
        desktop.set_status(Status.ENGAGED)
    for _ in range(90):  # longer than the participant TTL of 60 minutes
        clock.advance(minutes=1)
        desktop.controller.tick()
    assert desktop.state.live.status is Status.ENGAGED
    assert desktop.state.live.room.engaged == 1


def test_a_backend_that_fails_to_open_is_reported(
    qtbot: QtBot, tray_available: None, quit_recorder: QuitRecorder
) -> None:
    def broken() -> Runtime:
        raise OSError("disk full")

    desktop = DesktopApp(quit_app=quit_recorder)
    qtbot.addWidget(desktop.meter_window)
    with qtbot.waitSignal(desktop.controller.failed):
        desktop.start(broken)
    assert desktop.menu.meeting.text() == "disk full"
    assert desktop.meter_window.isVisible()
    desktop.quit()
    assert quit_recorder.calls == 1


def test_a_burst_of_lan_clicks_costs_few_refreshes(
    desktop: DesktopApp, service: MeterService, qtbot: QtBot
) -> None:
    clicks = 200
    refreshes: list[None] = []
    desktop.controller.refreshed.connect(lambda: refreshes.append(None))

    def lan_clients() -> None:
        people = [service.record_status(Status.ENGAGED).participant_id for _ in range(10)]
        for number in range(clicks - len(people)):
            status = (Status.SPEAKING, Status.ENGAGED, Status.DISENGAGED)[number % 3]
            service.record_status(status, people[number % len(people)])

    writer = threading.Thread(target=lan_clients)
    writer.start()
    qtbot.waitUntil(lambda: not writer.is_alive(), timeout=30_000)
    with qtbot.waitSignal(desktop.controller.refreshed):
        service.record_status(Status.ENGAGED, None)  # one more, to wait for the last batch
    assert len(refreshes) <= clicks // 4
    meeting = desktop.state.live.meeting
    assert meeting is not None
    assert service.history.meeting_detail(meeting.id).participant_count == 11
