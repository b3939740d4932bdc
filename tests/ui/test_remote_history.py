"""The history window on a team server's room (issue 13): the room's meetings, read in the
background, so a server that hangs never freezes the UI, and says so once it times out."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QInputDialog
from pytestqt.qtbot import QtBot

from mudameter_desktop.runtime import Runtime
from mudameter_desktop.services.remote_room import RemoteRoom
from mudameter_desktop.services.team_client import TeamClient
from mudameter_desktop.settings import Settings
from mudameter_desktop.store.database import OpenedStore
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.history import HistoryWindow
from mudameter_desktop.ui.tasks import TaskRunner
from tests.postgres import PostgresCluster
from tests.services.test_remote_history import MEETINGS, ZONE, Room_, hanging_server, seeded_room

pytestmark = [pytest.mark.pg, pytest.mark.slow]


@pytest.fixture(scope="module")
def room(
    postgres_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Room_]:
    seeded = seeded_room(postgres_cluster, tmp_path_factory.mktemp("remote-history-ui"))
    try:
        yield seeded
    finally:
        seeded.server.close()


class EventLoopLag:
    """The longest gap between ticks of a 20 ms timer: how long the UI thread was held."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(20)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def stop(self) -> None:
        self._timer.stop()


@pytest.fixture
def tasks() -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait_all(15)  # nothing left to call back into a deleted window


def test_the_window_shows_the_rooms_meetings_and_renames_there(
    room: Room_, tasks: TaskRunner, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = RemoteRoom(room.link)
    window = HistoryWindow(source, ZONE, Settings(), tasks)
    qtbot.addWidget(window)
    window.show()
    model = window.model
    qtbot.waitUntil(lambda: model.rowCount() == 20)
    first = room.truth.list_meetings(1).items
    assert [model.data(model.index(row, 1)) for row in range(20)] == [m.title for m in first]
    assert not window.status.isVisible()

    window.table.scrollToBottom()  # the second page, read in the background too
    qtbot.waitUntil(lambda: model.rowCount() == MEETINGS)

    retro = first[1]
    window.select_meeting(retro.id)
    with qtbot.waitSignal(window.detail_shown):
        pass
    assert window.detail == room.truth.meeting_detail(retro.id)
    assert window.participants.count() == 1
    assert "you (tray)" in window.participants.item(0).text()

    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: ("Retro, renamed", True))
    with qtbot.waitSignal(window.updated, timeout=10_000):
        window.rename_button.click()
    assert room.truth.summary(retro.id).title == "Retro, renamed"  # on the server
    assert model.data(model.index(1, 1)) == "Retro, renamed"
    assert window.heading.text().startswith("Retro, renamed")

    with qtbot.waitSignal(window.trends.loaded, timeout=10_000):
        window.tabs.setCurrentWidget(window.trends)
    assert window.trends.titles.rowCount() == 1  # "Retro" four times now, no longer five
    assert window.trends.data is not None
    assert sum(p.meetings for p in window.trends.data.points) == MEETINGS
    source.close()


def test_a_hanging_server_never_freezes_the_window_and_it_says_so(
    tasks: TaskRunner, qtbot: QtBot
) -> None:
    with hanging_server() as link:
        began = time.monotonic()
        window = HistoryWindow(RemoteRoom(link, read_timeout=1.5), ZONE, Settings(), tasks)
        qtbot.addWidget(window)
        window.show()
        assert time.monotonic() - began < 0.5  # the window opens at once
        lag = EventLoopLag()  # while the first page's read hangs
        with qtbot.waitSignal(window.problem, timeout=10_000) as said:
            pass
        waited = time.monotonic() - began
        lag.stop()
        assert waited >= 1.4  # the read did hang until the timeout...
        assert lag.longest < 0.5, lag.longest  # ...and the UI thread kept turning meanwhile
        assert said.args is not None and "Team server unreachable" in said.args[0]
        assert window.status.isVisible()
        assert window.status.text().startswith("Team server unreachable")
        assert window.model.rowCount() == 0
        assert not window.model.canFetchMore()  # no read again until a refresh
        tasks.wait_all(5)


def test_the_window_says_what_it_shows_when_the_server_goes_and_comes_back(
    room: Room_, tasks: TaskRunner, qtbot: QtBot
) -> None:
    window = HistoryWindow(RemoteRoom(room.link), ZONE, Settings(), tasks)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() == 20)
    room.server.stop()
    try:
        with qtbot.waitSignal(window.problem, timeout=10_000):
            window.refresh()
        assert window.status.text().startswith("Team server unreachable")
        assert window.model.rowCount() == 20  # what was last loaded stays
        with qtbot.waitSignal(window.problem, timeout=10_000):
            window.table.selectRow(3)
        assert window.heading.text() == "This meeting could not be read."
        assert window.detail is None and not window.rename_button.isEnabled()
    finally:
        room.server.resume()
    with qtbot.waitSignal(window.updated, timeout=10_000):
        window.refresh()  # the selected meeting too
    assert not window.status.isVisible()
    assert window.model.rowCount() == 20
    assert window.detail is not None and window.detail.id == window.model.meeting_id(3)


def test_the_app_connected_to_a_room_opens_its_history(
    room: Room_, desktop: DesktopApp, runtime: Runtime, store: OpenedStore, qtbot: QtBot
) -> None:
    runtime.team = TeamClient(room.link, store.engine)  # connected (not sending: no clicks)
    runtime.remote = RemoteRoom(room.link)
    desktop.menu.history.trigger()
    window = desktop.history
    assert window is not None
    qtbot.addWidget(window)
    assert isinstance(window.source, RemoteRoom)
    qtbot.waitUntil(lambda: window.model.rowCount() == 20)
    assert window.model.data(window.model.index(0, 1)) == f"Meeting {MEETINGS - 1}"
    window.hide()
    with qtbot.waitSignal(window.updated, timeout=10_000):  # read again on each showing
        desktop.menu.history.trigger()
    desktop.tasks.wait_all(10)
