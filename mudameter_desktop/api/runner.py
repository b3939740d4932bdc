"""The uvicorn side of the server thread, imported only when the server starts."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import socket
import threading
from collections import Counter
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import uvicorn

from mudameter_desktop.api.gate import ASGIApp
from mudameter_desktop.api.limits import ConnectionLimits
from mudameter_desktop.hosts import is_loopback_address

if TYPE_CHECKING:
    from uvicorn.protocols.http.flow_control import FlowControl

TICK_S = 1.0  # uvicorn's own loop wakes every 0.1 s; once a second is enough when idle
_TICKS_PER_SECOND = 10  # uvicorn's on_tick counts tenths: every 10th refreshes the Date header

LINGER_S = 1.0  # after a refusal, how long the client may still send (unread) before the close
_LOOPBACK_KEY = "loopback"  # every loopback address counts as one client
_PROXY_KEY = "proxies"  # every trusted reverse proxy's connections count together

HttpParser = Literal["auto", "httptools", "h11"]


class _Phase(enum.Enum):
    WAITING = "waiting"  # for the first byte of the next request
    HEAD = "head"  # reading a request line and headers
    BODY = "body"  # reading a request body
    REFUSED = "refused"  # answered and half-closed: what still comes is dropped


class ConnectionTally:
    """One server's open connections by client address (touched by its event loop only)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.by_address: Counter[str] = Counter()
        self.from_lan: set[RequestGuard] = set()

    def admit(self, guard: RequestGuard, address: str) -> bool:
        """Count a new connection; False when it must be refused.

        A trusted reverse proxy (`--trusted-proxy`) speaks for many clients:
        its connections share one larger budget (`from_proxies`), the
        per-address rules apply to the clients it names, per request, in the gate.
        Past the LAN budget, the LAN connection that has kept us waiting
        longest is dropped for the new one: a client that holds connections
        open without finishing requests loses them first.
        """
        if address in self.limits.proxies:  # a reverse proxy's many clients share its budget
            guard.counted_as = _PROXY_KEY
            self.by_address[_PROXY_KEY] += 1
            return self.by_address[_PROXY_KEY] <= self.limits.from_proxies
        loopback = is_loopback_address(address)
        key = _LOOPBACK_KEY if loopback else address
        guard.counted_as = key
        self.by_address[key] += 1
        if loopback:
            return self.by_address[key] <= self.limits.from_loopback
        if self.by_address[key] > self.limits.per_address:
            return False
        self.from_lan.add(guard)
        if len(self.from_lan) <= self.limits.from_lan:
            return True
        waiting = [other for other in self.from_lan if other.owed_since is not None]
        waiting.remove(guard)
        if not waiting:
            self.from_lan.discard(guard)
            return False
        oldest = min(waiting, key=lambda other: other.owed_since or 0.0)
        self.from_lan.discard(oldest)
        oldest.drop()
        return True

    def release(self, guard: RequestGuard) -> None:
        key = guard.counted_as
        if key is None:
            return
        guard.counted_as = None
        self.from_lan.discard(guard)
        self.by_address[key] -= 1
        if self.by_address[key] <= 0:
            del self.by_address[key]


class RequestGuard(asyncio.Protocol):
    """What uvicorn's HTTP protocols lack against a client that holds the server.

    Mixed into the parser's protocol (httptools or h11, see `guarded_protocol`):

    - a request head over `max_head_bytes` is a 431 and the end of the
      connection, before the parser buffers more of it;
    - a head, and then a body, must each be complete within `deadline_s` of
      its first byte, however slowly it drips (a connection must also start
      its first request within that time);
    - a client that stops reading our answer is cut after `deadline_s`;
    - connections per address, and from the LAN overall, are bounded
      (`ConnectionTally`); loopback has its own budget.
    """

    limits: ClassVar[ConnectionLimits]
    tally: ClassVar[ConnectionTally]

    # Set by the uvicorn protocol this is mixed into.
    transport: asyncio.Transport
    client: tuple[str, int] | None
    loop: asyncio.AbstractEventLoop
    flow: FlowControl
    cycle: Any

    counted_as: str | None = None  # the tally's key while this connection is counted
    owed_since: float | None = None  # since when the client owes us a request (None: our turn)
    _phase = _Phase.WAITING
    _head_bytes = 0
    _deadline: asyncio.TimerHandle | None = None
    _write_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.owed_since = self.loop.time()
        if not self.tally.admit(self, self.client[0] if self.client else ""):
            self.transport.close()
            return
        self._arm()  # the first request must begin in time too

    def data_received(self, data: bytes) -> None:
        room = self.limits.max_head_bytes - self._head_bytes
        while data and not self.transport.is_closing():
            if self._phase is _Phase.REFUSED:
                return
            if self._phase is _Phase.BODY:
                super().data_received(data)
                return
            if room <= 0:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
                return
            # Never more of a head than the limit reaches the parser, which would keep it.
            part, data = data[:room], data[room:]
            self._head_begins()
            super().data_received(part)
            if self._phase is _Phase.HEAD:
                self._head_bytes += len(part)
            room = self.limits.max_head_bytes - self._head_bytes

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
        self.tally.release(self)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if self.owed_since is None and self._phase is _Phase.WAITING:
            self.owed_since = self.loop.time()  # keep-alive: the client's turn again

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_deadline is None:
            self._write_deadline = self.loop.call_later(self.limits.deadline_s, self.drop)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None

    def drop(self) -> None:
        """End the connection now, whatever is unsent (a close would wait for the client)."""
        self.transport.abort()

    # The parser's progress, reported by the subclasses.

    def _head_begins(self) -> None:
        if self._phase is _Phase.WAITING:
            self._phase = _Phase.HEAD
            self._head_bytes = 0
            if self.owed_since is None:
                self.owed_since = self.loop.time()
            self._arm()

    def _head_complete(self) -> None:
        if self._phase is _Phase.HEAD:
            self._phase = _Phase.BODY
            self._arm()  # the body has its own deadline

    def _message_complete(self) -> None:
        if self._phase in (_Phase.HEAD, _Phase.BODY):
            self._phase = _Phase.WAITING
            self._head_bytes = 0
            self.owed_since = None  # the app's turn to answer
            self._disarm()

    # Deadlines and refusals.

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.limits.deadline_s, self._on_deadline)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self._phase is _Phase.REFUSED:
            return
        if self._phase is _Phase.WAITING:
            if self.cycle is None:
                self.transport.close()  # connected and said nothing
            return
        if self.flow.read_paused and not self.flow.write_paused:
            self._arm()  # we stopped reading (a pipelined request waits): not the client's fault
            return
        if self._phase is _Phase.HEAD:
            self._refuse(HTTPStatus.REQUEST_TIMEOUT)
        else:
            self.transport.close()  # the app may be answering already: no answer of ours

    def _refuse(self, status: HTTPStatus) -> None:
        """Answer `status` and close, reading no more of the request.

        The answer is followed by a half-close, and what the client still sends
        is dropped for a moment: closing a socket with unread data resets it,
        and the client would never see the answer.
        """
        self._disarm()
        self._phase = _Phase.REFUSED
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # an earlier request is being answered on this connection
            return
        body = status.phrase.encode("ascii")
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            "content-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n"
            "content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n"
            "x-content-type-options: nosniff\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._deadline = self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()


def guarded_protocol(
    limits: ConnectionLimits, parser: HttpParser = "auto"
) -> type[asyncio.Protocol]:
    """A protocol class for one server: the parser's, guarded, with its own tally.

    "auto" is the parser uvicorn itself prefers: httptools when installed, else h11.
    """
    base = _httptools_guard() if parser != "h11" else None
    if base is None:
        if parser == "httptools":
            raise ValueError("httptools is not installed")
        base = _h11_guard()
    return type(base.__name__, (base,), {"limits": limits, "tally": ConnectionTally(limits)})


@functools.cache
def _h11_guard() -> type[RequestGuard]:
    import h11  # noqa: PLC0415 - only when h11 parses: with httptools it never loads (~7 ms)
    from uvicorn.protocols.http.h11_impl import H11Protocol  # noqa: PLC0415

    class H11Guard(RequestGuard, H11Protocol):
        """uvicorn's h11 protocol, guarded; h11 tells its progress by the client's state."""

        conn: h11.Connection

        def handle_events(self) -> None:
            super().handle_events()
            state = self.conn.their_state
            if state is h11.SEND_BODY:
                self._head_complete()
            elif state is h11.IDLE:
                if self._phase is _Phase.BODY:  # a whole request, and the next cycle began
                    self._message_complete()
                if self.conn.trailing_data[0]:
                    self._head_begins()
            elif state is not h11.ERROR:
                self._head_complete()
                self._message_complete()

    return H11Guard


@functools.cache
def _httptools_guard() -> type[RequestGuard] | None:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415
    except ImportError:
        return None

    class HttpToolsGuard(RequestGuard, HttpToolsProtocol):
        """uvicorn's httptools protocol, guarded; httptools reports by callbacks."""

        def on_message_begin(self) -> None:
            self._head_begins()
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._head_complete()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._message_complete()
            super().on_message_complete()

    return HttpToolsGuard


class ReadyServer(uvicorn.Server):
    """A uvicorn server that sets `ready` once it listens (or failed to).

    Its main loop wakes once a second (uvicorn's polls ten times a second,
    which keeps an idle tray app waking the CPU), and at once when
    `should_exit` is set from another thread.
    """

    def __init__(
        self,
        app: ASGIApp,
        ready: threading.Event,
        limits: ConnectionLimits | None = None,
        parser: HttpParser = "auto",
    ) -> None:
        limits = limits or ConnectionLimits()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._exit_requested = False
        config = uvicorn.Config(
            app,
            lifespan="off",  # the app has no start-up work
            ws="none",  # no WebSocket routes: load no WebSocket library (~0.7 MB)
            log_config=None,  # keep the app's logging as it is
            access_log=False,  # a join link's query holds the room key: never log it
            http=guarded_protocol(limits, parser),
            # The guard answers an oversized head (431) before h11's own limit would (400).
            h11_max_incomplete_event_size=2 * limits.max_head_bytes,
            proxy_headers=False,  # no proxy in front: the peer address is the client
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        super().__init__(config)
        # uvicorn's HTTP protocol logs access whenever its logger reaches a handler
        # (`hasHandlers()`), whatever `access_log` says; a logging set-up that lets
        # it propagate would write join links, keys included, to the log file.
        logging.getLogger("uvicorn.access").disabled = True
        self._ready = ready

    @property
    def should_exit(self) -> bool:
        return self._exit_requested

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit_requested = value
        loop, wake = self._loop, self._wake
        if value and loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(wake.set)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self._ready.set()

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_S)
            counter = (counter + _TICKS_PER_SECOND) % 864_000
            should_exit = await self.on_tick(counter)
