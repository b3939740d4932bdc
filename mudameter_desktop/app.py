"""Wiring: paths, logging, store and service, then the GUI or the server alone.

The heavy stack (SQLAlchemy, Alembic, Litestar, uvicorn) is imported inside
functions so that the tray can show before it loads.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mudameter_desktop.paths import AppPaths, resolve_paths

if TYPE_CHECKING:
    from mudameter_desktop.services import MeterService
    from mudameter_desktop.settings import Settings
    from mudameter_desktop.store.database import OpenedStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    headless: bool = False
    host: str | None = None
    port: int | None = None
    data_dir: Path | None = None
    database_url: str | None = None
    room_key: str | None = None


@dataclass(frozen=True)
class Backend:
    """Everything below the UI and the API, opened once per process."""

    paths: AppPaths
    settings: Settings
    store: OpenedStore
    service: MeterService

    def close(self) -> None:
        self.store.close()


class StartupError(Exception):
    """The app cannot start; the message is meant for the user."""


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


def open_backend(options: Options, paths: AppPaths) -> Backend:
    """Open the store (migrating it) and the service; may raise `StoreError`."""
    import tzlocal  # noqa: PLC0415 - the imports below cost ~0.3 s; load them late

    from mudameter_desktop.services import MeterService  # noqa: PLC0415
    from mudameter_desktop.settings import load_settings  # noqa: PLC0415
    from mudameter_desktop.store.database import open_store, sqlite_url  # noqa: PLC0415

    settings = load_settings(paths.settings_file)
    if options.room_key:
        settings = settings.with_changes(room_key=options.room_key)
    store = open_store(options.database_url or sqlite_url(paths.database_file))
    if store.moved_aside is not None:
        log.warning("Started with a fresh database; the damaged one is at %s", store.moved_aside)
    service = MeterService(store.sessions, tzlocal.get_localzone())
    return Backend(paths, settings, store, service)


def run_headless(options: Options) -> int:
    """Serve the HTTP API alone (no Qt imported) until SIGINT or SIGTERM."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415
    from contextlib import closing  # noqa: PLC0415

    from mudameter_desktop.api.access import RoomAccess, is_loopback_address  # noqa: PLC0415
    from mudameter_desktop.api.server import (  # noqa: PLC0415
        ALL_INTERFACES,
        ServerStartError,
        ServerThread,
    )
    from mudameter_desktop.store.database import StoreError  # noqa: PLC0415

    stopping = threading.Event()  # set by a signal, also one that comes during start-up
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopping.set())
    paths = prepare_paths(options)
    try:
        backend = open_backend(options, paths)
    except StoreError as error:
        print(error, file=sys.stderr)
        return 1
    with closing(backend):
        settings = backend.settings
        host = options.host or (ALL_INTERFACES if settings.share_on_lan else "127.0.0.1")
        port = settings.port if options.port is None else options.port
        access = RoomAccess(settings.room_key, settings.require_room_key)
        server = ServerThread(backend.service, access, host, port)
        try:
            server.start()
        except ServerStartError as error:
            print(error, file=sys.stderr)
            return 1
        if not (is_loopback_address(host) or host == "localhost"):
            # Standard output only: the log file must never hold the room key.
            print(f"Join link: {server.join_url()}", flush=True)
        while not stopping.wait(timeout=1.0):  # a timed wait lets signals in on Windows too
            pass
        log.info("Stopping on a signal")
        server.stop()
    return 0


def run_gui(options: Options) -> int:
    """Show the tray first, then open the backend and the server behind it."""
    from mudameter_desktop.ui.application import run  # noqa: PLC0415 - Qt only for the GUI

    return run(options)
