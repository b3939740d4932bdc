"""The team server room's live view, kept fresh in the background (SPEC §7; issue 13).

What the tray shows of a remote room comes from `GET {room}/live`
(`RemoteRoom.live`). Two
threads keep it fresh: one follows the room's Server-Sent Events
(`GET {room}/events`, a change made through any server process) and marks the
view dirty on each; the other reads the view whenever it is dirty and at each
minute boundary (a minute passing changes the muda without an event). Events
that arrive during a read make one more read, not one each. The room's join
link (its participant key, the host's to read) is read with the first view and
again each minute, so a new key reaches the QR code.

When the server cannot be reached the last view stays, marked stale, and both
threads try again after 1 s, doubling to 30 s. Nothing here knows about Qt:
`on_change` is called from the reading thread and the UI hands it over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mudameter_desktop.domain.meetings import floor_minute
from mudameter_desktop.services.changes import ChangeKind, MeetingChange
from mudameter_desktop.services.remote_room import RemoteError, RemoteRoom
from mudameter_desktop.services.team_client import CLOSE_TIMEOUT_S, CONNECT_TIMEOUT_S, Backoff
from mudameter_desktop.services.views import LiveView

if TYPE_CHECKING:
    import httpx

__all__ = ["RoomNow", "RoomWatch", "change_of"]

log = logging.getLogger(__name__)

# The server sends a comment line every 15 s: a stream quiet for longer is dead.
EVENTS_READ_TIMEOUT_S = 40.0
AFTER_MINUTE = timedelta(milliseconds=500)  # read once the minute's carry is stored


@dataclass(frozen=True, slots=True)
class RoomNow:
    """The last live view read from the room, and whether the room answers now."""

    view: LiveView | None  # None until the first read
    stale: bool = False  # the server could not be reached since that read
    problem: str | None = None  # why, one line for the user
    join_link: str = ""  # the room's join link for phones ("" until read)


class RoomWatch:
    """The room's live view, re-read on its events and every minute (see the module doc)."""

    def __init__(
        self,
        room: RemoteRoom,
        *,
        backoff: Backoff | None = None,
        transport: httpx.BaseTransport | None = None,  # the event stream's (tests)
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.room = room
        self._backoff = backoff or Backoff()
        self._transport = transport
        self._clock = clock
        self._on_change: Callable[[RoomNow], None] | None = None
        self._on_event: Callable[[MeetingChange | None], None] | None = None
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stream: httpx.Response | None = None  # the events being followed
        self.now = RoomNow(None)

    def start(
        self,
        on_change: Callable[[RoomNow], None],
        on_event: Callable[[MeetingChange | None], None] | None = None,
    ) -> None:
        """Read the room now and follow it; `on_change` gets every new `RoomNow`, and
        `on_event` (from the events thread) each change of the room's stream, or None
        when changes may have been missed (the stream was down): read everything again."""
        if self._threads:
            return
        self._on_change = on_change
        self._on_event = on_event
        self._dirty.set()
        for target, name in ((self._read_loop, "reader"), (self._follow_loop, "events")):
            thread = threading.Thread(target=target, name=f"mudameter-room-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def refresh(self) -> None:
        """Read the view again soon (after the app's own click, say)."""
        self._dirty.set()

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop both threads within `timeout`; a request still in flight is abandoned, and
        whatever it answers is told to nobody (the UI may be gone by then)."""
        self._on_change = self._on_event = None
        self._stop.set()
        self._dirty.set()
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):  # wakes the follower blocked on a quiet stream
                stream.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- the threads ----------------------------------------------------------

    def _read_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            minute_passed = not self._dirty.wait(self._until_next_minute())
            if self._stop.is_set():
                return
            self._dirty.clear()
            join_link = self.now.join_link
            try:
                view = self.room.live()
                if minute_passed or not join_link:  # a new key reaches the QR code
                    join_link = self.room.join_link()
            except RemoteError as error:
                failures += 1
                self._publish(RoomNow(self.now.view, True, str(error), self.now.join_link))
                self._stop.wait(self._backoff.after(failures))
                self._dirty.set()  # try again at once after the wait
                continue
            failures = 0
            self._publish(RoomNow(view, join_link=join_link))

    def _follow_loop(self) -> None:
        import httpx  # noqa: PLC0415 - only when connected

        link = self.room.link
        with httpx.Client(
            timeout=httpx.Timeout(EVENTS_READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            headers={"Authorization": f"Bearer {link.token}"},
            transport=self._transport,
            follow_redirects=False,
        ) as client:
            failures = 0
            while not self._stop.is_set():
                try:
                    with client.stream("GET", f"{link.room_url}/events") as response:
                        self._stream = response
                        response.raise_for_status()
                        failures = 0
                        self._dirty.set()  # anything may have changed while not followed
                        self._tell(None)
                        for line in response.iter_lines():
                            if self._stop.is_set():
                                return
                            if line.startswith("data:"):
                                self._dirty.set()
                                self._tell(change_of(line.removeprefix("data:")))
                # StreamError: `close` closed the stream under the read (not an HTTPError).
                except (httpx.HTTPError, httpx.StreamError) as error:
                    log.debug("The room's event stream ended: %s", error)
                    self._dirty.set()  # the reader finds out whether the room still answers
                finally:
                    self._stream = None
                failures += 1
                self._stop.wait(self._backoff.after(failures))

    def _tell(self, change: MeetingChange | None) -> None:
        on_event = self._on_event
        if on_event is not None and not self._stop.is_set():
            on_event(change)

    def _publish(self, now: RoomNow) -> None:
        if now == self.now:
            return
        self.now = now
        on_change = self._on_change
        if on_change is not None and not self._stop.is_set():
            on_change(now)

    def _until_next_minute(self) -> float:
        now = self._clock()
        return (floor_minute(now) + timedelta(minutes=1) + AFTER_MINUTE - now).total_seconds()


def change_of(data: str) -> MeetingChange | None:
    """A change from an event's data (`{"meeting_id", "kind"}`); None for a resync, or
    anything not understood (which, too, means: read everything again)."""
    try:
        answer = json.loads(data)
        return MeetingChange(int(answer["meeting_id"]), ChangeKind(answer["kind"]))
    except (ValueError, TypeError, KeyError):
        return None
