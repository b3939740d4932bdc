"""The tray as a client of a team server's room (issue 13): a click from the tray menu
reaches the room on a real `mudameter --headless` team server on PostgreSQL; with the
server gone the tray says it is offline and how many clicks wait, and they arrive,
each once, when it is back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

import httpx
import pytest
from pytestqt.qtbot import QtBot

from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.runtime import Runtime
from mudameter_desktop.services.history_source import LocalHistory
from mudameter_desktop.services.remote_room import RemoteRoom
from mudameter_desktop.services.room_watch import RoomWatch
from mudameter_desktop.services.team_client import Backoff, HostLink, TeamClient
from mudameter_desktop.settings import Settings
from mudameter_desktop.store.database import OpenedStore
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.dialogs import SettingsDialog
from mudameter_desktop.ui.meter_window import server_line
from mudameter_desktop.ui.state import LiveState, delivery_line, tooltip
from tests.team_server import TeamServer
from tests.ui.conftest import QuitRecorder, dispose, start_app


@pytest.fixture
def connected(
    qtbot: QtBot,
    runtime: Runtime,
    store: OpenedStore,
    room_server: TeamServer,
    quit_recorder: QuitRecorder,
) -> Iterator[DesktopApp]:
    """The tray app with its clicks going to the team server's room."""
    link = HostLink.parse(room_server.host_link)
    runtime.team = TeamClient(link, store.engine, backoff=Backoff(0.1, 0.5))
    runtime.remote = RemoteRoom(link)
    runtime.watch = RoomWatch(runtime.remote, backoff=Backoff(0.1, 0.5))
    app = start_app(qtbot, runtime, quit_recorder)
    yield app
    app.quit()
    dispose(app)


def room_now(room_server: TeamServer) -> dict[str, Any]:
    """The room's people now, as the room's host reads them over HTTP."""
    meetings = room_server.get("/meetings").json()["items"]
    if not meetings:
        return {}
    detail = room_server.get(f"/meetings/{meetings[0]['id']}")
    assert detail.status_code == 200, detail.text
    room: dict[str, Any] = detail.json()["room"]
    return room


@pytest.mark.pg
@pytest.mark.slow
@pytest.mark.usefixtures("tray_available")
def test_a_tray_click_reaches_the_room_and_offline_clicks_wait_then_arrive(
    connected: DesktopApp, room_server: TeamServer, qtbot: QtBot
) -> None:
    live = lambda: connected.state.live  # noqa: E731 - read afresh after each wait
    assert live().team_room == room_server.slug
    assert not connected.menu.share_on_lan.isChecked()

    connected.menu.status_actions[Status.ENGAGED].trigger()
    assert connected.menu.status_actions[Status.ENGAGED].isChecked()
    qtbot.waitUntil(
        lambda: room_now(room_server) == {"speaking": 0, "engaged": 1, "disengaged": 0},
        timeout=20_000,
    )
    qtbot.waitUntil(lambda: live().waiting == 0 and not live().offline, timeout=10_000)
    assert "clicks waiting" not in connected.tray.toolTip()
    # The tray shows the room as the server has it, live: another client's click too.
    qtbot.waitUntil(lambda: live().room == Counts(engaged=1), timeout=10_000)
    meeting = live().meeting
    assert meeting is not None
    assert meeting.id == room_server.get("/meetings").json()["items"][0]["id"]
    assert room_server.post("/users/status", {"status": "speaking"}).status_code == 200
    qtbot.waitUntil(lambda: live().room == Counts(speaking=1, engaged=1), timeout=10_000)
    assert live().status is Status.ENGAGED  # the app's own, in the meeting shown
    # As the room's server says (whatever the hour: before its start a slot has no muda).
    assert live().muda == room_server.get("/live").json()["muda"]
    # Phones join the room on the team server: its join link, not this computer's page.
    assert live().join_url == f"{room_server.room_url}/#key={room_server.participant_key}"
    assert server_line(live()).startswith("Join from a phone:")
    connected.show_qr()
    qr = connected.qr_dialog
    assert qr is not None
    assert qr.link.text() == live().join_url
    assert "Share on LAN" not in qr.hint.text()  # reachable: it is the team server's
    assert "(last known)" not in connected.tray.toolTip()

    room_server.stop()
    connected.menu.status_actions[Status.DISENGAGED].trigger()
    qtbot.waitUntil(lambda: live().offline and live().waiting == 1, timeout=20_000)
    assert "Offline \u2014 1 click waiting" in connected.tray.toolTip()
    assert connected.menu.delivery.isVisible()
    assert connected.menu.delivery.text() == "Offline \u2014 1 click waiting"
    assert connected.menu.status_actions[Status.DISENGAGED].isChecked()
    qtbot.waitUntil(lambda: live().stale, timeout=20_000)  # the room's view, last known
    assert live().room == Counts(speaking=1, engaged=1)
    assert "(last known)" in connected.tray.toolTip()

    room_server.resume()
    qtbot.waitUntil(lambda: live().waiting == 0 and not live().offline, timeout=30_000)
    assert not connected.menu.delivery.isVisible()
    assert "waiting" not in connected.tray.toolTip()
    qtbot.waitUntil(
        lambda: not live().stale and live().room == Counts(speaking=1, disengaged=1),
        timeout=30_000,
    )
    assert "(last known)" not in connected.tray.toolTip()
    assert room_now(room_server) == {"speaking": 1, "engaged": 0, "disengaged": 1}
    changes = room_server.status_changes()
    assert [status for _, status, _ in changes] == ["engaged", "speaking", "disengaged"]
    host = {participant for participant, status, _ in changes if status != "speaking"}
    assert len(host) == 1  # each click once, by one host participant


def test_the_tray_says_how_the_clicks_to_the_room_fare() -> None:
    connected = LiveState(ready=True, team_room="team-a")
    assert delivery_line(connected) is None  # all delivered: nothing to say
    assert delivery_line(LiveState(ready=True, offline=True, waiting=3)) is None  # not connected
    offline = LiveState(ready=True, team_room="team-a", offline=True, waiting=1)
    assert delivery_line(offline) == "Offline \u2014 1 click waiting"
    sending = LiveState(ready=True, team_room="team-a", waiting=2)
    assert delivery_line(sending) == "Sending \u2014 2 clicks waiting"
    assert tooltip(offline, UTC).splitlines()[1:] == [
        "You: no status",
        "Room muda so far: \u2014",
        "Team room: team-a",
        "Offline \u2014 1 click waiting",
    ]
    stale = LiveState(ready=True, team_room="team-a", stale=True, plan=None)
    assert tooltip(stale, UTC).splitlines()[0] == "Team room team-a"


@pytest.mark.pg
@pytest.mark.slow
@pytest.mark.usefixtures("tray_available")
def test_the_history_follows_the_rooms_changes_made_elsewhere(
    connected: DesktopApp, room_server: TeamServer, qtbot: QtBot
) -> None:
    """A meeting made and renamed through the server (another client) reaches the open
    history window from the room's event stream, without a refresh."""
    connected.show_history()
    history = connected.history
    assert history is not None
    model = history.model
    assert room_server.post("/users/status", {"status": "engaged"}).status_code == 200
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=15_000)
    meeting_id = room_server.get("/meetings").json()["items"][0]["id"]
    renamed = httpx.patch(
        f"{room_server.room_url}/meetings/{meeting_id}",
        json={"title": "Renamed elsewhere"},
        headers={"Authorization": f"Bearer {room_server.host_token}"},
        timeout=10,
    )
    assert renamed.status_code == 200, renamed.text
    qtbot.waitUntil(lambda: model.data(model.index(0, 1)) == "Renamed elsewhere", timeout=15_000)


@pytest.mark.pg
@pytest.mark.slow
@pytest.mark.usefixtures("tray_available")
def test_start_and_end_a_meeting_in_the_room_from_the_tray(
    connected: DesktopApp, room_server: TeamServer, qtbot: QtBot
) -> None:
    live = lambda: connected.state.live  # noqa: E731
    connected.controller.start_meeting("  Retro  ", 30)
    qtbot.waitUntil(lambda: live().meeting is not None and live().running, timeout=15_000)
    meeting = live().meeting
    assert meeting is not None
    assert meeting.title == "Retro"
    [stored] = room_server.get("/meetings").json()["items"]
    assert (stored["id"], stored["title"]) == (meeting.id, "Retro")
    connected.controller.end_meeting()
    qtbot.waitUntil(lambda: not live().running, timeout=15_000)
    ended = room_server.get(f"/meetings/{meeting.id}").json()
    assert ended["ends_at"] < stored["ends_at"]  # ended now, not at its planned end
    refused = "The meeting could not be started"
    with qtbot.waitSignal(  # ("Retro ended", its sum-up, may come first)
        connected.controller.notify,
        timeout=15_000,
        check_params_cb=lambda title, _message: title == refused,
    ) as told:
        connected.controller.end_meeting()  # nothing runs: the tray does not offer it
        connected.controller.start_meeting("x" * 300, 30)  # the server refuses the title
    assert "length <= 200" in told.args[1]  # what was wrong, not only "Validation failed"


@pytest.mark.pg
@pytest.mark.slow
@pytest.mark.usefixtures("tray_available")
def test_connect_and_disconnect_while_running(
    desktop: DesktopApp, room_server: TeamServer, runtime: Runtime, qtbot: QtBot
) -> None:
    """Settings → Team server: the clicks go to the room at once; emptied, back to this
    computer's store, whose history was left as it was."""
    live = lambda: desktop.state.live  # noqa: E731
    desktop.menu.status_actions[Status.SPEAKING].trigger()  # a local click first
    local_meetings = runtime.service.history.list_meetings(1).total
    assert local_meetings == 1
    desktop.show_history()
    local_window = desktop.history
    assert isinstance(local_window.source if local_window else None, LocalHistory)

    desktop.controller.set_team_server(room_server.host_link)
    assert runtime.settings.team_server == room_server.host_link  # remembered
    assert live().team_room == room_server.slug
    assert live().status is None  # the room has not heard from this app yet
    assert isinstance(desktop.history.source if desktop.history else None, RemoteRoom)
    desktop.menu.status_actions[Status.ENGAGED].trigger()
    qtbot.waitUntil(
        lambda: room_now(room_server) == {"speaking": 0, "engaged": 1, "disengaged": 0},
        timeout=20_000,
    )
    qtbot.waitUntil(lambda: live().join_url.startswith(room_server.room_url), timeout=10_000)

    desktop.controller.set_team_server("")
    assert runtime.settings.team_server == ""
    assert live().team_room == ""
    assert not live().join_url.startswith(room_server.room_url)
    desktop.menu.status_actions[Status.DISENGAGED].trigger()
    assert live().status is Status.DISENGAGED
    assert runtime.service.history.list_meetings(1).total == local_meetings  # as it was
    assert isinstance(desktop.history.source if desktop.history else None, LocalHistory)
    assert [s for _, s, _ in room_server.status_changes()] == ["engaged"]  # nothing more


def test_the_settings_say_why_a_team_link_is_refused(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.team_server.link.setText("http://server/rooms/team-a/#key=participant-key-0123456789")
    assert not dialog.team_server.check()
    assert dialog.team_server.problem.text()  # one line: a join link is not a host link
    dialog.team_server.link.setText("  ")
    assert dialog.team_server.check()  # empty: this computer
    link = "http://server/rooms/team-a/#host=host-token-0123456789abcdef"
    dialog.team_server.link.setText(f" {link} ")
    assert dialog.team_server.check()
    assert dialog.values().team_server == link
