"""The uvicorn side of the server thread, imported only when the server starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading

import uvicorn

from mudameter_desktop.api.gate import ASGIApp

TICK_S = 1.0  # uvicorn's own loop wakes every 0.1 s; once a second is enough when idle
_TICKS_PER_SECOND = 10  # uvicorn's on_tick counts tenths: every 10th refreshes the Date header


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
