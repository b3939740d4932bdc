"""The composition root, without Qt: paths, store, service, settings and server.

`mudameter --headless` (`app.run_headless`) and the tray app
(`ui.application.run`) both open their backend here, in one sequence:
`prepare_paths` (folders and logging), then `open_runtime` (settings, the
store with its migrations, the service, the server). The UI receives the
`Runtime`; it never imports `app.py`.

The heavy stack (SQLAlchemy, Alembic, Litestar, uvicorn) is imported inside
functions so that the tray can show before it loads. The server and the room
key are reached through small protocols, so UI tests can pass fakes.

`--headless --workers N` (a team server on PostgreSQL) runs `serve_workers`
instead: the parent migrates, binds and supervises; each of N uvicorn workers
builds its own store, service and app in `worker_app`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from mudameter_desktop.api.network import share_host
from mudameter_desktop.hosts import ALL_INTERFACES, LOOPBACK, is_loopback_name
from mudameter_desktop.paths import AppPaths, resolve_paths

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mudameter_desktop.api.access import RoomAccess
    from mudameter_desktop.api.gate import ASGIApp
    from mudameter_desktop.services.calendar import CalendarSource
    from mudameter_desktop.services.meter import MeterService
    from mudameter_desktop.services.remote_room import RemoteRoom
    from mudameter_desktop.services.room_watch import RoomWatch
    from mudameter_desktop.services.team_client import TeamClient
    from mudameter_desktop.settings import Settings

__all__ = [
    "ALL_INTERFACES",
    "LOOPBACK",
    "Access",
    "Options",
    "Runtime",
    "Server",
    "StartupError",
    "connect",
    "disconnect",
    "host_for",
    "is_shared",
    "open_runtime",
    "prepare_paths",
    "serve_workers",
    "start_server",
    "worker_app",
    "workers_refusal",
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
    workers: int = 1  # server processes (`--headless` on PostgreSQL only); 1: the server thread
    trusted_proxies: tuple[str, ...] = ()  # whose X-Forwarded-For names the client
    rate_limit: int | None = None  # requests per minute per client address; 0: off; None: 600


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
    # Connected to a team server's room (`settings.team_server`): the tray's clicks go
    # there, kept in this store's outbox until delivered. Built here, started by the UI.
    team: TeamClient | None = None
    remote: RemoteRoom | None = None  # that room over HTTP: history, live view, host actions
    watch: RoomWatch | None = None  # that room's live view, read in the background

    def close(self) -> None:
        """Stop the team client and the server, store the last minutes, close the store."""
        try:
            disconnect(self)()
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
        if options.workers > 1:
            log_to_stderr()  # N processes cannot share one rotating file: the journal's
        else:
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
    give_default_room_secrets(store.engine, settings.room_key)
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
    if not options.headless:
        connect(runtime, settings.team_server)
    if not serve:
        return runtime
    # While connected, phones join the team server's page: this one stays on loopback.
    host = options.host or host_for(settings.share_on_lan and runtime.team is None)
    try:
        runtime.server = start_server(
            service,
            access,
            host,
            options.port,
            settings.port,
            trusted_proxies=options.trusted_proxies,
            rate_limit=options.rate_limit,
            team=is_team_server(service),
        )
    except Exception as failure:  # the tray must keep working without the server
        if server_required:
            runtime.close()
            raise StartupError(str(failure)) from failure
        log.warning("The HTTP server did not start: %s", failure)
        runtime.server_error = str(failure)
    return runtime


def connect(runtime: Runtime, host_link: str) -> None:
    """Make the clients of the team server room `host_link` names (not started): its
    clicks' sender, the room over HTTP and its live view. With "" none: the app works on
    its own store; so too with a saved link that no longer reads as one (edited by
    hand), which is logged: the app starts rather than not at all."""
    runtime.team = runtime.remote = runtime.watch = None
    if not host_link:
        return
    from mudameter_desktop.services.remote_room import RemoteRoom  # noqa: PLC0415
    from mudameter_desktop.services.room_watch import RoomWatch  # noqa: PLC0415
    from mudameter_desktop.services.team_client import HostLink, TeamClient  # noqa: PLC0415

    try:
        link = HostLink.parse(host_link)
    except ValueError as error:
        log.warning("The saved team server link is not used: %s", error)
        return
    log.info("Connected to the team server room %s", link.room_url)
    runtime.team = TeamClient(link, runtime.service.engine)
    runtime.remote = RemoteRoom(link)
    runtime.watch = RoomWatch(runtime.remote)


def disconnect(runtime: Runtime) -> Callable[[], None]:
    """Forget the room's clients; returns what stops them (up to a few seconds while a
    request is in flight: a worker's job, or the app's last step)."""
    clients = (runtime.watch, runtime.remote, runtime.team)
    runtime.team = runtime.remote = runtime.watch = None

    def stop() -> None:
        for client in clients:
            if client is not None:
                client.close()

    return stop


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


def is_team_server(service: MeterService) -> bool:
    """A server on PostgreSQL is a team server; the desktop app's store is SQLite."""
    return service.engine.dialect.name != "sqlite"


def give_default_room_secrets(engine: Engine, room_key: str) -> None:
    """On a team server the room `default` keeps its key and host token in the database.

    The key is `--room-key` (or the settings' one), so the seed's paths and the
    room's paths take the same key; `mudameter rooms list` shows the host token.
    The desktop app's SQLite database keeps its key in the settings only.
    """
    if engine.dialect.name == "sqlite":
        return
    from mudameter_desktop.services.rooms import DEFAULT_SLUG, RoomDirectory  # noqa: PLC0415

    RoomDirectory(engine).ensure_secrets(DEFAULT_SLUG, room_key)


def start_server(
    service: MeterService,
    access: RoomAccess,
    host: str,
    port: int | None,
    default_port: int,
    *,
    trusted_proxies: tuple[str, ...] = (),
    rate_limit: int | None = None,
    team: bool = False,
) -> Server:
    """The port rule: an explicit `port` exactly (or refused), else `default_port` or next."""
    from mudameter_desktop.api.limits import RATE_LIMIT, TrustedProxies  # noqa: PLC0415
    from mudameter_desktop.api.server import ServerThread  # noqa: PLC0415 - heavy, loaded late

    server = ServerThread(
        service,
        access,
        host=host,
        port=default_port if port is None else port,
        exact_port=port is not None,
        proxies=TrustedProxies.parse(trusted_proxies),
        rate_limit=RATE_LIMIT if rate_limit is None else rate_limit,
        team=team,
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


WORKER_APP = f"{__name__}:worker_app"  # what each uvicorn worker imports and calls


def workers_refusal(options: Options) -> str | None:
    """Why `--workers` cannot be used with these options (one line), or None."""
    if options.workers <= 1:
        return None
    if not options.headless:
        return "--workers needs --headless: the tray app runs one server in its own process."
    backend = "sqlite"
    if options.database_url:
        from sqlalchemy.engine import make_url  # noqa: PLC0415
        from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

        try:
            backend = make_url(options.database_url).get_backend_name()
        except ArgumentError:
            return None  # not a URL at all: `database_url` says so in its own words
    if backend == "sqlite":
        return (
            f"--workers {options.workers} needs a PostgreSQL --database-url: SQLite is the "
            "desktop's single-process store (leave --workers out, or use postgresql+psycopg://…)."
        )
    return None


def serve_workers(options: Options) -> int:
    """`--headless --workers N`: migrate once, bind the port, run N uvicorn workers.

    The parent opens the store once before any worker starts (the migrations
    run here, and an unreachable database is one line and exit 1), makes the
    room key if there is none yet (so every worker has the same), binds the
    port with the usual rule, then leaves the serving to uvicorn's supervisor
    until SIGINT or SIGTERM. Raises `StartupError`.
    """
    from mudameter_desktop.api.limits import raise_open_file_limit  # noqa: PLC0415
    from mudameter_desktop.api.server import ServerStartError, join_link, listen  # noqa: PLC0415
    from mudameter_desktop.api.workers import WorkerSettings, serve  # noqa: PLC0415
    from mudameter_desktop.settings import load_settings  # noqa: PLC0415
    from mudameter_desktop.store.database import StoreError, open_store  # noqa: PLC0415

    refusal = workers_refusal(options)
    if refusal is not None:
        raise StartupError(refusal)
    paths = prepare_paths(options)
    url = database_url(options, paths)
    settings = load_settings(paths.settings_file)
    room_key = options.room_key or settings.room_key
    try:
        store = open_store(url)
    except StoreError as error:
        raise StartupError(" ".join(str(error).split())) from error
    try:
        give_default_room_secrets(store.engine, room_key)
    finally:
        store.close()
    host = options.host or host_for(settings.share_on_lan)
    port = settings.port if options.port is None else options.port
    try:
        listener = listen(host, port, exact=options.port is not None)
    except ServerStartError as error:
        raise StartupError(str(error)) from error
    bound = listener.getsockname()[1]
    raise_open_file_limit()  # every connection is a file descriptor; the workers inherit it
    if not is_loopback_name(host):
        # Standard output only: the log must never hold the room key.
        print(f"Join link: {join_link(host, bound, room_key)}", flush=True)
    log.info("HTTP server listening on %s port %d with %d workers", host, bound, options.workers)
    worker_settings = WorkerSettings(
        workers=options.workers,
        database_url=url,
        data_dir=str(options.data_dir) if options.data_dir else None,
        room_key=room_key,
        calendar=options.calendar,
        trusted_proxies=options.trusted_proxies,
        rate_limit=_rate_limit(options),
    )
    return serve(WORKER_APP, listener, worker_settings)


def worker_app() -> ASGIApp:
    """One uvicorn worker's app (uvicorn calls it by name, `factory=True`): its own store,
    service and app on the database the parent migrated. A worker that cannot open
    them exits with uvicorn's start-up failure code, which stops the parent too."""
    import atexit  # noqa: PLC0415

    from mudameter_desktop.api.server import build_app  # noqa: PLC0415
    from mudameter_desktop.api.workers import STARTUP_FAILURE, WorkerSettings  # noqa: PLC0415

    settings = WorkerSettings.from_environment(os.environ)
    options = Options(
        headless=True,
        data_dir=Path(settings.data_dir) if settings.data_dir else None,
        database_url=settings.database_url,
        room_key=settings.room_key,
        calendar=settings.calendar,
        workers=settings.workers,
        trusted_proxies=settings.trusted_proxies,
        rate_limit=settings.rate_limit,
    )
    try:
        runtime = open_runtime(options, prepare_paths(options), serve=False)
    except StartupError as error:
        log.error("This worker cannot start: %s", error)
        sys.exit(STARTUP_FAILURE)
    atexit.register(runtime.close)  # the worker's normal exit: store the last minutes, close
    _follow_parent()
    logging.getLogger("uvicorn.access").disabled = True  # never log a join link's key
    access = cast("RoomAccess", runtime.access)  # open_runtime makes a RoomAccess
    return build_app(
        runtime.service,
        access,
        settings.proxies,
        settings.rate_limit,
        team=is_team_server(runtime.service),
    )


def _follow_parent() -> None:
    """Stop this worker (gracefully, as uvicorn does on SIGTERM) when its parent is gone:
    a killed parent must not leave workers serving with nobody to supervise them."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415
    import time  # noqa: PLC0415

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        log.warning("The parent process %d is gone; this worker stops", parent)
        signal.raise_signal(signal.SIGTERM)

    threading.Thread(target=watch, name="mudameter-parent-watch", daemon=True).start()


def log_to_stderr(level: int = logging.INFO) -> None:
    """Logging for `--workers`: everything, tracebacks included, to standard error only
    (the journal under systemd), one line per record with the process id."""
    from mudameter_desktop.logs import HANDLER_PREFIX  # noqa: PLC0415

    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if (handler.get_name() or "").startswith(HANDLER_PREFIX):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
    )
    handler.addFilter(_quiet_alembic)
    handler.set_name(HANDLER_PREFIX + "stderr")
    root.addHandler(handler)


def _quiet_alembic(record: logging.LogRecord) -> bool:
    """Alembic's steps are not news in the journal (the app logs one line per migration)."""
    return record.levelno >= logging.WARNING or not record.name.startswith("alembic")


def _rate_limit(options: Options) -> int:
    from mudameter_desktop.api.limits import RATE_LIMIT  # noqa: PLC0415

    return RATE_LIMIT if options.rate_limit is None else options.rate_limit
