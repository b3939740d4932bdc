"""The uvicorn side of the server thread, imported only when the server starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections import Counter
from typing import TYPE_CHECKING, ClassVar

import uvicorn

from mudameter_desktop.api.gate import ASGIApp

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol as HTTPProtocol
else:
    try:  # the parser uvicorn itself prefers ("auto"): httptools, else h11
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as HTTPProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as HTTPProtocol

TICK_S = 1.0  # uvicorn's own loop wakes every 0.1 s; once a second is enough when idle
_TICKS_PER_SECOND = 10  # uvicorn's on_tick counts tenths: every 10th refreshes the Date header


CLIENT_STALL_S = 10.0  # how long a client may keep us waiting for its request
CONNECTIONS_PER_CLIENT = 64  # a browser opens about six; more is someone hoarding them


class StallGuardProtocol(HTTPProtocol):
    """uvicorn's HTTP protocol, closing connections whose client stops mid-request,
    and a client's connections beyond `per_client`.

    uvicorn waits forever for a request head (or body) that never comes, and the
    rate limit counts only complete requests: anyone on the LAN, key or not,
    could hold connections and file descriptors until the app could open none.
    """

    stall_timeout = CLIENT_STALL_S
    per_client = CONNECTIONS_PER_CLIENT
    _open: ClassVar[Counter[str]] = Counter()  # open connections by client address
    _open_lock: ClassVar[threading.Lock] = threading.Lock()
    _stall: asyncio.TimerHandle | None = None
    _address: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        with self._open_lock:
            self._open[address] += 1
            crowded = self._open[address] > self.per_client
        self._address = address
        if crowded:
            self.transport.close()
            return
        self._watch()

    def data_received(self, data: bytes) -> None:
        self._watch()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._stall is not None:
            self._stall.cancel()
        if self._address is not None:
            with self._open_lock:
                self._open[self._address] -= 1
                if self._open[self._address] <= 0:
                    del self._open[self._address]
            self._address = None
        super().connection_lost(exc)

    def _watch(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
        self._stall = self.loop.call_later(self.stall_timeout, self._on_stall)

    def _on_stall(self) -> None:
        self._stall = None
        if self.transport.is_closing():
            return
        cycle = self.cycle  # the request being answered, or the last one
        if cycle is None or cycle.response_complete or cycle.more_body:
            self.transport.close()  # the client owes us a request or its body
        else:
            self._watch()  # the app is answering: not the client's fault


class ReadyServer(uvicorn.Server):
    """A uvicorn server that sets `ready` once it listens (or failed to).

    Its main loop wakes once a second (uvicorn's polls ten times a second,
    which keeps an idle tray app waking the CPU), and at once when
    `should_exit` is set from another thread.
    """

    def __init__(self, app: ASGIApp, ready: threading.Event) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._exit_requested = False
        config = uvicorn.Config(
            app,
            lifespan="off",  # the app has no start-up work
            log_config=None,  # keep the app's logging as it is
            access_log=False,  # a join link's query holds the room key: never log it
            http=StallGuardProtocol,
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
