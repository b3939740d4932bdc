"""A room's changes as they happen: `GET /events` (`/rooms/{slug}/events`), Server-Sent Events.

Each event's data is `{"meeting_id", "kind"}` (created, updated, deleted,
status, visit), the `MeetingChange` the service published after a commit.
A client refetches what it shows: the event says what changed, not how.

Where changes come from depends on who writes the database:

- SQLite (the desktop app, one process): the room service's `ChangeHub`.
- PostgreSQL (a team server, any number of processes and machines): every
  commit sends `NOTIFY mudameter_changes 'ROOM MEETING KIND'`
  (`services.coordination`); one thread per process holds one dedicated
  connection that LISTENs while anybody is subscribed, and hands each
  notification to the subscribers of that room. A change made through any
  process thus reaches the clients of every process. After a lost connection
  it reconnects, and tells its subscribers `{"meeting_id": null, "kind":
  "resync"}`: what happened meanwhile is not known, so refetch everything.

Streams are bounded (`MAX_PER_ROOM`, `MAX_PER_PROCESS`: a 429 beyond), and a
comment line every `HEARTBEAT_S` keeps proxies from closing a quiet one. The
server's request deadlines end with the request (a GET has no body): they
never cut an answer that streams, only a client that stops reading it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import Engine

from mudameter_desktop.services.changes import ChangeKind, MeetingChange
from mudameter_desktop.services.coordination import CHANGES_CHANNEL
from mudameter_desktop.services.meter import MeterService

log = logging.getLogger(__name__)

MAX_PER_ROOM = 64  # open streams of one room in one process
MAX_PER_PROCESS = 256  # open streams of all rooms in one process
HEARTBEAT_S = 15.0  # a comment line this often keeps proxies (and their timeouts) at bay
QUEUE_SIZE = 256  # changes a stream may fall behind by before it is closed (the client reconnects)
LISTEN_READY_S = 5.0  # how long a new stream waits for the LISTEN before it opens anyway
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 30.0
NOTIFY_POLL_S = 1.0  # the listening thread looks whether it should stop this often
RESYNC = "resync"  # sent after missed notifications: refetch everything

_Event = tuple[int | None, str] | None  # (meeting id, kind); None: the stream must end


class Subscriber:
    """One open stream: a bounded queue on the event loop of its request."""

    def __init__(self, room_id: int, loop: asyncio.AbstractEventLoop) -> None:
        self.room_id = room_id
        self._loop = loop
        self.queue: asyncio.Queue[_Event] = asyncio.Queue(QUEUE_SIZE + 1)

    def deliver(self, event: _Event) -> None:
        """Hand `event` to the stream (from any thread)."""
        with contextlib.suppress(RuntimeError):  # a closed loop: the stream is gone
            self._loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: _Event) -> None:
        if self.queue.qsize() >= QUEUE_SIZE:
            event = None  # too far behind: end the stream, the client reconnects and refetches
        with contextlib.suppress(asyncio.QueueFull):  # full: it is ending already
            self.queue.put_nowait(event)


class EventHub:
    """The open streams of one process, by room, and where their changes come from."""

    def __init__(
        self,
        engine: Engine,
        *,
        per_room: int = MAX_PER_ROOM,
        per_process: int = MAX_PER_PROCESS,
        heartbeat: float = HEARTBEAT_S,
    ) -> None:
        self._engine = engine
        self._shared = engine.dialect.name != "sqlite"  # as `coordination_for` decides
        self.per_room = per_room
        self.per_process = per_process
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        self._rooms: dict[int, set[Subscriber]] = {}
        self._hubs: dict[int, Callable[[], None]] = {}  # SQLite: room -> leave its ChangeHub
        self._listener: _Listener | None = None

    def subscribe(self, service: MeterService, loop: asyncio.AbstractEventLoop) -> Subscriber:
        """A new stream of the room's changes; an `HTTPException` 429 when full."""
        subscriber = Subscriber(service.room_id, loop)
        with self._lock:
            room = self._rooms.setdefault(service.room_id, set())
            total = sum(len(subscribers) for subscribers in self._rooms.values())
            if len(room) >= self.per_room or total >= self.per_process:
                if not room:
                    del self._rooms[service.room_id]
                raise HTTPException(
                    status_code=429,
                    detail="Too many open event streams; retry later",
                    headers={"Retry-After": "30"},
                )
            room.add(subscriber)
            if self._shared:
                if self._listener is None or not self._listener.is_alive():
                    self._listener = _Listener(self._engine, self.dispatch, self._everyone)
                    self._listener.start()
            elif service.room_id not in self._hubs:
                room_id = service.room_id
                self._hubs[room_id] = service.changes.subscribe(
                    lambda change: self.dispatch(room_id, change)
                )
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """End a stream's subscription (again: nothing); the last one stops the LISTEN."""
        with self._lock:
            room = self._rooms.get(subscriber.room_id)
            if room is None or subscriber not in room:
                return
            room.discard(subscriber)
            if not room:
                del self._rooms[subscriber.room_id]
            listener = self._listener if not self._rooms else None
            if listener is not None:
                self._listener = None
        if listener is not None:
            listener.stop()

    def open_streams(self) -> int:
        with self._lock:
            return sum(len(subscribers) for subscribers in self._rooms.values())

    def wait_ready(self, timeout: float = LISTEN_READY_S) -> bool:
        """Whether changes are being received (on PostgreSQL: the LISTEN is in place)."""
        with self._lock:
            listener = self._listener
        return listener is None or listener.ready.wait(timeout)

    def dispatch(self, room_id: int, change: MeetingChange) -> None:
        """Hand a committed change to the room's streams (from any thread)."""
        with self._lock:
            subscribers = list(self._rooms.get(room_id, ()))
        for subscriber in subscribers:
            subscriber.deliver((change.meeting_id, change.kind.value))

    def close(self) -> None:
        """End every stream and the LISTEN (the app is stopping)."""
        with self._lock:
            subscribers = [s for room in self._rooms.values() for s in room]
            self._rooms.clear()
            listener, self._listener = self._listener, None
            hubs = list(self._hubs.values())
            self._hubs.clear()
        for subscriber in subscribers:
            subscriber.deliver(None)
        for leave in hubs:
            leave()
        if listener is not None:
            listener.stop()

    def _everyone(self, event: _Event) -> None:
        with self._lock:
            subscribers = [s for room in self._rooms.values() for s in room]
        for subscriber in subscribers:
            subscriber.deliver(event)


class _Listener(threading.Thread):
    """`LISTEN mudameter_changes` on a connection of its own, reconnecting when it fails."""

    def __init__(
        self,
        engine: Engine,
        dispatch: Callable[[int, MeetingChange], None],
        everyone: Callable[[_Event], None],
    ) -> None:
        super().__init__(name="mudameter-events", daemon=True)
        self._engine = engine
        self._dispatch = dispatch
        self._everyone = everyone
        self._stopping = threading.Event()
        self.ready = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        delay = RECONNECT_MIN_S
        connected_before = False
        while not self._stopping.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {CHANGES_CHANNEL}")
                    if connected_before:  # notifications may have been missed meanwhile
                        self._everyone((None, RESYNC))
                    connected_before = True
                    self.ready.set()
                    delay = RECONNECT_MIN_S
                    while not self._stopping.is_set():
                        for notify in connection.notifies(timeout=NOTIFY_POLL_S):
                            self._handle(notify.payload)
            except Exception as error:  # any failure of the connection: wait, then again
                if self._stopping.is_set():
                    return
                log.warning("Live events: lost the database connection (%s); reconnecting", error)
                self._stopping.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)

    def _connect(self) -> Any:
        import psycopg  # noqa: PLC0415 - the `server` extra; only PostgreSQL gets here

        args, kwargs = self._engine.dialect.create_connect_args(self._engine.url)
        return psycopg.connect(*args, **{**kwargs, "autocommit": True})

    def _handle(self, payload: str) -> None:
        try:
            room, meeting, kind = payload.split(" ")
            change = MeetingChange(int(meeting), ChangeKind(kind))
            room_id = int(room)
        except ValueError:
            log.warning("Live events: ignored a notification %r", payload[:80])
            return
        self._dispatch(room_id, change)


@get(
    "/events",
    media_type="text/event-stream",
    operation_id="events",
    summary="Live changes of the room (Server-Sent Events)",
    description=(
        'A `text/event-stream`; each event\'s data is `{"meeting_id", "kind"}`, kind one of '
        "created, updated, deleted, status, visit (or resync: refetch everything)."
    ),
)
async def events(
    request: Request[Any, Any, Any],
    service: NamedDependency[MeterService],
    event_hub: NamedDependency[EventHub],
) -> ServerSentEvent:
    """The room's changes as they are committed, through any server process."""
    subscriber = event_hub.subscribe(service, asyncio.get_running_loop())
    stream = _stream(event_hub, subscriber)
    # A stream never started (the client left at once) still gives its place back.
    weakref.finalize(stream, event_hub.unsubscribe, subscriber)
    return ServerSentEvent(stream)


async def _stream(hub: EventHub, subscriber: Subscriber) -> AsyncIterator[ServerSentEventMessage]:
    try:
        await anyio.to_thread.run_sync(hub.wait_ready)
        yield ServerSentEventMessage(data=None, comment="connected")
        while True:
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), hub.heartbeat)
            except TimeoutError:
                yield ServerSentEventMessage(data=None, comment="keep-alive")
                continue
            if event is None:
                return
            meeting_id, kind = event
            yield ServerSentEventMessage(data=json.dumps({"meeting_id": meeting_id, "kind": kind}))
    finally:
        hub.unsubscribe(subscriber)


EVENT_ROUTES = [events]
