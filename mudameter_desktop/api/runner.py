"""The uvicorn side of the server thread, imported only when the server starts."""

from __future__ import annotations

import socket
import threading

import uvicorn

from mudameter_desktop.api.gate import ASGIApp


class ReadyServer(uvicorn.Server):
    """A uvicorn server that sets `ready` once it listens (or failed to)."""

    def __init__(self, app: ASGIApp, ready: threading.Event) -> None:
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
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self._ready.set()
