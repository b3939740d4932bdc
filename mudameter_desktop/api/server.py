"""The HTTP server in a background thread: started, stopped and rebound by the app.

The socket is bound here, before uvicorn runs, so a taken port is found at
once and the next one tried; uvicorn then serves on that socket. Litestar and
uvicorn are imported on the first start, never at import time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import threading
from typing import TYPE_CHECKING
from urllib.parse import quote

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.api.limits import (
    RATE_LIMIT,
    ConnectionLimits,
    ForwardedClients,
    RateLimiter,
    TrustedProxies,
    raise_open_file_limit,
)
from mudameter_desktop.hosts import LOOPBACK, WILDCARD_HOSTS, is_loopback_address
from mudameter_desktop.settings import DEFAULT_PORT

if TYPE_CHECKING:
    from mudameter_desktop.api.gate import ASGIApp
    from mudameter_desktop.api.runner import HttpParser, ReadyServer
    from mudameter_desktop.services.meter import MeterService

log = logging.getLogger(__name__)

PORT_ATTEMPTS = 20  # a default port and the next 19 (an explicit port: that one only)
STOP_GRACE = 0.4  # seconds for open requests to finish before they are cut
_PROBE_ADDRESS = ("192.0.2.1", 9)  # TEST-NET-1: a UDP connect() to it sends nothing


class ServerStartError(Exception):
    """The server could not listen; the message is meant for the user."""


class ServerThread:
    """The app's HTTP server on `host`, on `port` or (unless `exact_port`) the next free one."""

    def __init__(
        self,
        service: MeterService,
        access: RoomAccess,
        host: str = LOOPBACK,
        port: int = DEFAULT_PORT,
        exact_port: bool = False,
        *,
        limits: ConnectionLimits | None = None,
        http_parser: HttpParser = "auto",
        proxies: TrustedProxies | None = None,
        rate_limit: int = RATE_LIMIT,
        team: bool = False,
    ) -> None:
        """`limits` and `http_parser` exist for tests (shorter deadlines, the other parser).

        `proxies` are the reverse proxies whose `X-Forwarded-For` names the client
        (`--trusted-proxy`); `rate_limit` is requests per minute per client, 0 for none;
        `team`: a team server, where no address is trusted (see `build_app`).
        """
        self._service = service
        self._team = team
        self._proxies = proxies or TrustedProxies()
        self._rate_limit = rate_limit
        self._limits = dataclasses.replace(limits or ConnectionLimits(), proxies=self._proxies)
        self._http_parser: HttpParser = http_parser
        self._access = access
        self._host = host
        self._port = port
        self._exact_port = exact_port
        self._app: ASGIApp | None = None
        self._server: ReadyServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()  # the UI may rebind in a worker while quitting

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The bound port once started (before that, the preferred one)."""
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def local_url(self) -> str:
        """The address to open on this machine."""
        host = LOOPBACK if self._host in WILDCARD_HOSTS else self._host
        return f"http://{_url_host(host)}:{self._port}/"

    def join_url(self) -> str:
        """The link for other machines: `http://<lan-ip>:<port>/#key=…`.

        The key rides in the fragment, which browsers send to no server or
        proxy; the page trades it for a device cookie (the older `/?key=…`
        form still works).
        """
        return join_link(self._host, self._port, self._access.key)

    def start(self, timeout: float = 10.0) -> None:
        """Listen and serve; returns once requests are answered. Raises `ServerStartError`."""
        with self._lock:
            if not self.running:
                self._start(timeout)

    def stop(self) -> None:
        """Stop serving: open requests get a moment to finish, then are cut."""
        with self._lock:
            self._stop()

    def rebind(self, host: str) -> None:
        """Serve on `host` instead, on the same port if it is still free.

        If `host` cannot be served, the server goes back to the previous host
        (when it can) and the error is raised.
        """
        with self._lock:
            previous = self._host
            self._stop()
            self._host = host
            try:
                self._start()
            except ServerStartError:
                self._host = previous
                with contextlib.suppress(ServerStartError):
                    self._start()
                raise

    def _start(self, timeout: float = 10.0) -> None:
        from mudameter_desktop.api.runner import ReadyServer  # noqa: PLC0415 - lazy stack

        listener = _listen(self._host, self._port, self._exact_port)
        ready = threading.Event()
        raise_open_file_limit()  # every connection is a file descriptor
        server = ReadyServer(self._asgi_app(), ready, self._limits, self._http_parser)
        thread = threading.Thread(
            target=_serve, args=(server, listener, ready), name="mudameter-http", daemon=True
        )
        thread.start()
        if not ready.wait(timeout) or not server.started:
            server.should_exit = True
            thread.join(timeout=1.0)
            listener.close()
            raise ServerStartError(f"The HTTP server did not start on {self._host}")
        self._port = listener.getsockname()[1]
        self._server, self._thread = server, thread
        log.info("HTTP server listening on %s (bound to %s)", self.local_url, self._host)

    def _stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=STOP_GRACE)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=1.0)
        log.info("HTTP server stopped")

    def _asgi_app(self) -> ASGIApp:
        """One app for the thread's life, so rate limits survive a rebind."""
        if self._app is None:
            self._app = build_app(
                self._service, self._access, self._proxies, self._rate_limit, team=self._team
            )
        return self._app


def build_app(
    service: MeterService,
    access: RoomAccess,
    proxies: TrustedProxies | None = None,
    rate_limit: int = RATE_LIMIT,
    *,
    team: bool = False,
) -> ASGIApp:
    """The app one server process serves: the gate and Litestar, with the rate limit,
    and behind trusted proxies the client their `X-Forwarded-For` names."""
    from mudameter_desktop.api.app import create_app  # noqa: PLC0415 - lazy stack

    # A team server trusts no address: behind a reverse proxy every client
    # would look local (SPEC §7). The desktop app's user is the host.
    app = create_app(service, access, RateLimiter(limit=rate_limit), trust_loopback=not team)
    return ForwardedClients(app, proxies) if proxies else app


def join_link(host: str, port: int, key: str) -> str:
    """The join link of a server listening on `host` and `port` (see `join_url`)."""
    if host in WILDCARD_HOSTS or is_loopback_address(host):
        host = lan_address()
    return f"http://{_url_host(host)}:{port}/#key={quote(key, safe='')}"


def listen(host: str, port: int, exact: bool = False) -> socket.socket:
    """The listening socket a server uses: `port`, or (unless `exact`) the next free one;
    raises `ServerStartError` with one line for the user."""
    return _listen(host, port, exact)


def lan_address() -> str:
    """This machine's address on its default route, or 127.0.0.1 without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_PROBE_ADDRESS)
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _serve(server: ReadyServer, listener: socket.socket, ready: threading.Event) -> None:
    try:
        server.run(sockets=[listener])
    except BaseException:  # uvicorn ends a failed start with SystemExit
        log.exception("The HTTP server stopped on an error")
    finally:
        ready.set()
        listener.close()


def _listen(host: str, port: int, exact: bool = False) -> socket.socket:
    """A listening socket on `port`, or (unless `exact`) the next free one of `PORT_ATTEMPTS`."""
    ports = [port] if port == 0 or exact else range(port, min(port + PORT_ATTEMPTS, 65536))
    last_error: OSError | None = None
    for candidate in ports:
        try:
            return _bind(host, candidate)
        except socket.gaierror as error:
            raise ServerStartError(f"Cannot listen on {host!r}: {error}") from error
        except OSError as error:
            last_error = error
    reason = (last_error.strerror if last_error else None) or last_error
    if len(ports) == 1:
        raise ServerStartError(
            f"Cannot listen on {host} port {port} ({reason}); choose another --port, "
            f"or leave --port out to use the first free one from {DEFAULT_PORT}."
        ) from last_error
    raise ServerStartError(
        f"No free port on {host}: {port} and the {len(ports) - 1} after it are taken ({reason})."
    ) from last_error


def _bind(host: str, port: int) -> socket.socket:
    family, kind, protocol, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, protocol)
    try:
        if os.name != "nt":  # on Windows it would let two servers share the port
            # A restart must not wait for the old connections' TIME_WAIT.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
