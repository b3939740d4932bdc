"""The composition root, without Qt: paths, store, service, settings and server.

`mudameter --headless` (`app.run_headless`) and the tray app
(`ui.application.run`) both open their backend here, in one sequence:
`prepare_paths` (folders and logging), then `open_runtime` (settings, the
store with its migrations, the service, the server). The UI receives the
`Runtime`; it never imports `app.py`.

The heavy stack (SQLAlchemy, Alembic, Litestar, uvicorn) is imported inside
functions so that the tray can show before it loads. The server and the room
key are reached through small protocols, so UI tests can pass fakes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mudameter_desktop.api.network import share_host
from mudameter_desktop.hosts import ALL_INTERFACES, LOOPBACK, is_loopback_name
from mudameter_desktop.paths import AppPaths, resolve_paths

if TYPE_CHECKING:
    from mudameter_desktop.api.access import RoomAccess
    from mudameter_desktop.services.calendar import CalendarSource
    from mudameter_desktop.services.meter import MeterService
    from mudameter_desktop.settings import Settings

__all__ = [
    "ALL_INTERFACES",
    "LOOPBACK",
    "Access",
    "Options",
    "Runtime",
    "Server",
    "StartupError",
    "host_for",
    "is_shared",
    "open_runtime",
    "prepare_paths",
    "start_server",
]

log = logging.getLogger(__name__)

SERVER_EXTRA = "pip install 'mudameter-desktop[server]'"
# A bare `postgresql://` means psycopg2 to SQLAlchemy; the `server` extra installs psycopg 3.
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg"}


@dataclass(frozen=True)
class Options:
    """The command line, parsed (`__main__`)."""

    headless: bool = False
    host: str | None = None
    port: int | None = None  # given: exactly this port; None: the settings' port or the next free
    data_dir: Path | None = None
    database_url: str | None = None
    room_key: str | None = None
    calendar: str | None = None  # an .ics file or address for this run (else the settings')


class StartupError(Exception):
    """The app cannot start; the message (one line) is meant for the user."""


class Server(Protocol):
    """What the app needs of `api.server.ServerThread`."""

    @property
    def host(self) -> str: ...

    @property
    def local_url(self) -> str: ...

    def join_url(self) -> str: ...

    def rebind(self, host: str) -> None: ...

    def stop(self) -> None: ...


class Access(Protocol):
    """What the app needs of `api.access.RoomAccess`."""

    @property
    def key(self) -> str: ...

    @property
    def require_key(self) -> bool: ...

    @require_key.setter
    def require_key(self, value: bool) -> None: ...

    def regenerate(self) -> str: ...


@dataclass
class Runtime:
    """Everything opened below the UI and the API, once per process."""

    service: MeterService
    settings: Settings
    settings_file: Path
    access: Access
    server: Server | None  # None when it could not start (the tray still works)
    clock: Callable[[], datetime]
    close_store: Callable[[], None]
    server_error: str | None = None
    store_notice: str | None = None  # a damaged database was moved aside: tell the user
    login_command: list[str] | None = None  # how "start at login" starts this app

    def close(self) -> None:
        """Stop the server, store the last minutes, close the store."""
        try:
            if self.server is not None:
                self.server.stop()
            self.service.settle()
        finally:
            self.close_store()


def host_for(share_on_lan: bool) -> str:
    """The address the server binds: this machine's address on its network when shared
    (`--host 0.0.0.0` still binds every interface), else loopback only."""
    return share_host() if share_on_lan else LOOPBACK


def is_shared(server: Server) -> bool:
    """Whether the server listens beyond this machine (`--host` can say so too)."""
    return not is_loopback_name(server.host)


def prepare_paths(options: Options) -> AppPaths:
    """Resolve and create the folders, and start logging there; may raise `StartupError`."""
    from mudameter_desktop.logs import setup_logging  # noqa: PLC0415

    paths = resolve_paths(options.data_dir)
    try:
        paths.create()
        setup_logging(paths.log_file)
    except OSError as error:  # a read-only or full disk, a file where a folder should be
        raise StartupError(
            f"Cannot use the data folder {paths.data_dir} ({error.strerror or error}); "
            "choose another --data-dir."
        ) from error
    return paths


def open_runtime(
    options: Options, paths: AppPaths, server_required: bool = False, serve: bool = True
) -> Runtime:
    """Open settings, store, service and server (the GUI calls it in a worker thread).

    Raises `StartupError` (one line for the user) when the store cannot be
    opened. A server that fails to start leaves the tray working (clicks are
    still recorded, and the user is told why LAN clients cannot join), unless
    `server_required` (headless), where it raises `StartupError` too.
    Without `serve` no server is started (benchmarks, tests).
    """
    import tzlocal  # noqa: PLC0415 - the imports below cost ~0.3 s; load them late

    from mudameter_desktop.api.access import RoomAccess  # noqa: PLC0415
    from mudameter_desktop.services.meter import MeterService, utc_now  # noqa: PLC0415
    from mudameter_desktop.settings import load_settings  # noqa: PLC0415
    from mudameter_desktop.store.database import StoreError, open_store  # noqa: PLC0415
    from mudameter_desktop.ui.autostart import launch_command  # noqa: PLC0415 - Qt-free

    settings = load_settings(paths.settings_file)
    if options.room_key:
        settings = settings.with_changes(room_key=options.room_key)
    try:
        store = open_store(database_url(options, paths))
    except StoreError as error:
        raise StartupError(" ".join(str(error).split())) from error
    if store.moved_aside is not None:
        log.warning("Started with a fresh database; the damaged one is at %s", store.moved_aside)
    zone = tzlocal.get_localzone()
    calendar = open_calendar(options.calendar or settings.calendar, zone)
    service = MeterService(store.engine, zone, calendar=calendar)
    access = RoomAccess(settings.room_key, require_key=settings.require_room_key)

    def close_store() -> None:
        if calendar is not None:
            calendar.stop()
        store.close()

    runtime = Runtime(
        service=service,
        settings=settings,
        settings_file=paths.settings_file,
        access=access,
        server=None,
        clock=utc_now,
        close_store=close_store,
        store_notice=(
            f"The database was damaged; it is kept at {store.moved_aside}."
            if store.moved_aside
            else None
        ),
        login_command=launch_command()
        + (["--data-dir", str(paths.data_dir)] if options.data_dir else []),
    )
    if not serve:
        return runtime
    host = options.host or host_for(settings.share_on_lan)
    try:
        runtime.server = start_server(service, access, host, options.port, settings.port)
    except Exception as failure:  # the tray must keep working without the server
        if server_required:
            runtime.close()
            raise StartupError(str(failure)) from failure
        log.warning("The HTTP server did not start: %s", failure)
        runtime.server_error = str(failure)
    return runtime


def open_calendar(location: str, zone: tzinfo) -> CalendarSource | None:
    """The calendar kept fresh in the background, or None when none is set.

    An unreadable calendar is not an error: detection uses the hourly slots
    until a good copy is read (the log says why).
    """
    if not location:
        return None
    from mudameter_desktop.services.calendar import CalendarSource  # noqa: PLC0415 - icalendar

    source = CalendarSource(location, zone)
    source.start()
    return source


def start_server(
    service: MeterService,
    access: RoomAccess,
    host: str,
    port: int | None,
    default_port: int,
) -> Server:
    """The port rule: an explicit `port` exactly (or refused), else `default_port` or next."""
    from mudameter_desktop.api.server import ServerThread  # noqa: PLC0415 - heavy, loaded late

    server = ServerThread(
        service,
        access,
        host=host,
        port=default_port if port is None else port,
        exact_port=port is not None,
    )
    server.start()
    return server


def database_url(options: Options, paths: AppPaths) -> str:
    """The SQLAlchemy URL to open, checked so a mistake is one line; may raise `StartupError`."""
    from mudameter_desktop.store.database import sqlite_url  # noqa: PLC0415

    if not options.database_url:
        return sqlite_url(paths.database_file)
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError  # noqa: PLC0415

    given = options.database_url
    try:
        url = make_url(given)
    except ArgumentError:
        raise StartupError(
            f"--database-url {given!r} is not a database URL; "
            "expected e.g. sqlite:///path/to/file.sqlite3 or "
            "postgresql+psycopg://user:password@host/database."
        ) from None
    url = url.set(drivername=DEFAULT_DRIVERS.get(url.drivername, url.drivername))
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        raise StartupError(
            f"--database-url: {url.drivername!r} is not a database this app can use "
            "(SQLite or PostgreSQL)."
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError as error:
        hint = ""
        if url.drivername == DEFAULT_DRIVERS["postgresql"]:
            hint = f"; install it with {SERVER_EXTRA}"
        elif url.get_backend_name() == "postgresql":
            hint = f"; or use postgresql+psycopg://… after {SERVER_EXTRA}"
        raise StartupError(
            f"--database-url needs the {url.drivername} driver ({error.name or error}), "
            f"which is not installed{hint}."
        ) from None
    return url.render_as_string(hide_password=False)
