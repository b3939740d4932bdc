"""The desktop app on a test database, with a fake HTTP server unless a test needs the real one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot

from mudameter_desktop.api.access import RoomAccess
from mudameter_desktop.runtime import Runtime
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.application import DesktopApp
from tests.conftest import FakeClock

UI_TESTS = Path(__file__).parent
# What Qt's offscreen platform cannot do (a tray, raising or grabbing), it logs.
OFFSCREEN_LIMITS = ("systemTrayWindowChanged", "This plugin does not support")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if UI_TESTS in item.path.parents:
            item.add_marker(pytest.mark.qt_log_ignore(*OFFSCREEN_LIMITS))


class FakeServer:
    """Stands in for `api.server.ServerThread` (start is done by the loader)."""

    def __init__(self, access: RoomAccess) -> None:
        self.access = access
        self.host = "127.0.0.1"
        self.hosts: list[str] = []
        self.stopped = False

    @property
    def local_url(self) -> str:
        return "http://127.0.0.1:8765/"

    def join_url(self) -> str:
        return f"http://192.168.1.20:8765/?key={self.access.key}"

    def rebind(self, host: str) -> None:
        self.host = host
        self.hosts.append(host)

    def stop(self) -> None:
        self.stopped = True


class Closer:
    def __init__(self) -> None:
        self.closed = False

    def __call__(self) -> None:
        self.closed = True


class QuitRecorder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "settings.json"


@pytest.fixture
def runtime(service: MeterService, clock: FakeClock, settings_file: Path) -> Runtime:
    access = RoomAccess("first-key-0123456789abcdef")
    return Runtime(
        service=service,
        settings=Settings(room_key="first-key-0123456789abcdef"),
        settings_file=settings_file,
        access=access,
        server=FakeServer(access),
        clock=clock,
        close_store=Closer(),
        login_command=["mudameter", "--data-dir", "/portable"],
    )


@pytest.fixture
def tray_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))


@pytest.fixture
def quit_recorder() -> QuitRecorder:
    return QuitRecorder()


def start_app(qtbot: QtBot, runtime: Runtime, quit_recorder: QuitRecorder) -> DesktopApp:
    desktop = DesktopApp(quit_app=quit_recorder)
    qtbot.addWidget(desktop.meter_window)
    with qtbot.waitSignal(desktop.controller.ready):
        desktop.start(lambda: runtime)
    return desktop


@pytest.fixture
def desktop(
    qtbot: QtBot, tray_available: None, runtime: Runtime, quit_recorder: QuitRecorder
) -> Iterator[DesktopApp]:
    app = start_app(qtbot, runtime, quit_recorder)
    yield app
    app.quit()
    dispose(app)


def dispose(app: DesktopApp) -> None:
    """Delete the app's widgets now, not in the garbage collector at exit."""
    for window in app.windows():
        window.deleteLater()
    app.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
