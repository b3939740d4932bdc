"""The backend the UI drives, opened in a worker thread, and that worker.

The server and the room key are reached through small protocols, so tests
can pass fakes; `open_runtime` builds the real ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal

from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.autostart import launch_command
from mudameter_desktop.ui.signals import emit

if TYPE_CHECKING:
    from mudameter_desktop.api.access import RoomAccess
    from mudameter_desktop.app import Options
    from mudameter_desktop.paths import AppPaths
    from mudameter_desktop.services import MeterService

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  # nosec B104 - "Share on LAN" means exactly this


class Server(Protocol):
    """What the UI needs of `api.server.ServerThread`."""

    @property
    def host(self) -> str: ...

    @property
    def local_url(self) -> str: ...

    def join_url(self) -> str: ...

    def rebind(self, host: str) -> None: ...

    def stop(self) -> None: ...


class Access(Protocol):
    """What the UI needs of `api.access.RoomAccess`."""

    @property
    def key(self) -> str: ...

    @property
    def require_key(self) -> bool: ...

    @require_key.setter
    def require_key(self, value: bool) -> None: ...

    def regenerate(self) -> str: ...


@dataclass
class Runtime:
    """Everything opened behind the tray: service, settings, server."""

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


def is_shared(server: Server) -> bool:
    """Whether the server listens beyond this machine (`--host` can say so too)."""
    return server.host not in {LOOPBACK, "localhost", "::1"}


def host_for(share_on_lan: bool) -> str:
    return ALL_INTERFACES if share_on_lan else LOOPBACK


def open_runtime(options: Options, paths: AppPaths) -> Runtime:
    """Open the store, the service and the server (call it in a worker thread).

    A server that fails to start leaves the tray working: clicks are still
    recorded, and the user is told why LAN clients cannot join.
    """
    from mudameter_desktop.api.access import RoomAccess  # noqa: PLC0415 - heavy, loaded late
    from mudameter_desktop.app import open_backend  # noqa: PLC0415
    from mudameter_desktop.services.meter import utc_now  # noqa: PLC0415

    backend = open_backend(options, paths)
    settings = backend.settings
    access = RoomAccess(settings.room_key, require_key=settings.require_room_key)
    server: Server | None = None
    error = None
    try:
        server = start_server(
            backend.service,
            access,
            options.host or host_for(settings.share_on_lan),
            settings.port if options.port is None else options.port,
        )
    except Exception as failure:  # the tray must keep working without the server
        log.exception("The HTTP server did not start")
        error = str(failure)
    return Runtime(
        service=backend.service,
        settings=settings,
        settings_file=paths.settings_file,
        access=access,
        server=server,
        clock=utc_now,
        close_store=backend.close,
        server_error=error,
        store_notice=(
            f"The database was damaged; it is kept at {backend.store.moved_aside}."
            if backend.store.moved_aside
            else None
        ),
        login_command=launch_command()
        + (["--data-dir", str(paths.data_dir)] if options.data_dir else []),
    )


def start_server(service: MeterService, access: RoomAccess, host: str, port: int) -> Server:
    from mudameter_desktop.api.server import ServerThread  # noqa: PLC0415 - heavy, loaded late

    server = ServerThread(service, access, host=host, port=port)
    server.start()
    return server


class Task(QObject):
    """Run one function in a worker thread; its result comes back by signal.

    The function must not touch widgets. Connect `succeeded`/`failed` to
    slots of objects living in the UI thread: Qt queues the call there.
    Exactly one of them is emitted, as the thread's last act; `wait()` for
    the thread before deleting the task.
    """

    succeeded = Signal(object)
    failed = Signal(object)  # the exception

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__()
        self._work = work
        self.result: object = None
        self._thread = threading.Thread(target=self._run, name="mudameter-task", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            result = self._work()
        except Exception as error:  # reported to the UI, which tells the user
            log.exception("Background task failed")
            emit(self.failed, error)
        else:
            self.result = result
            emit(self.succeeded, result)
