"""The desktop app: tray (or meter window) first, then the backend behind it."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSocketNotifier, Slot
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.runtime import Options, Runtime, open_runtime
from mudameter_desktop.ui.controller import MeterController
from mudameter_desktop.ui.icons import APP_ICON, icon, status_icon
from mudameter_desktop.ui.instance_server import InstanceServer
from mudameter_desktop.ui.launch import Launched, launch
from mudameter_desktop.ui.shortcuts import GlobalShortcuts
from mudameter_desktop.ui.state import MeterState, tooltip
from mudameter_desktop.ui.tasks import TaskRunner
from mudameter_desktop.ui.tray import TrayMenu

if TYPE_CHECKING:
    from mudameter_desktop.services.history_source import HistorySource
    from mudameter_desktop.ui.dialogs import QrDialog
    from mudameter_desktop.ui.history import HistoryWindow
    from mudameter_desktop.ui.meter_window import MeterWindow

# The dialogs, QMessageBox and (with a tray) the meter window are imported when
# first needed: PySide6 builds the Python enums of every widget class a module
# imports, and theirs cost ~0.15 s before the tray could show (benchmarks/README.md).

log = logging.getLogger(__name__)

MESSAGE_MS = 8000
QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DesktopApp(QObject):
    """Owns the tray, the windows and the dialogs; the controller does the work."""

    def __init__(
        self,
        quit_app: Callable[[], None] = QApplication.quit,
        tray: QSystemTrayIcon | None = None,  # one `launch` showed already: adopted
    ) -> None:
        super().__init__()
        self._quit_app = quit_app
        self.state = MeterState(self)
        self.tasks = TaskRunner(self)  # the one runner of background work
        self.controller = MeterController(self.state, self.tasks, self)
        self.shortcuts = GlobalShortcuts(self)  # Ctrl+Alt+1/2/3 where keys can be grabbed
        self.shortcuts.pressed.connect(self.set_status)
        self.controller.settings_changed.connect(self.shortcuts.apply)
        self.menu = TrayMenu()
        self.tray: QSystemTrayIcon | None = tray
        if tray is not None:
            tray.setParent(self)
        elif QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(status_icon(None), self)
        if self.tray is not None:
            self.tray.setContextMenu(self.menu)
            self.tray.activated.connect(self._on_tray_activated)
        self._meter_window: MeterWindow | None = None  # made when first shown, with a tray
        self.history: HistoryWindow | None = None  # made when first shown
        self.qr_dialog: QrDialog | None = None
        self._history_wanted = False

        menu = self.menu
        menu.statuses.triggered.connect(self._on_status_action)
        menu.start_meeting.triggered.connect(self.start_meeting)
        menu.end_meeting.triggered.connect(self.controller.end_meeting)
        menu.retry.triggered.connect(self.controller.retry)
        menu.history.triggered.connect(self.show_history)
        menu.share_on_lan.triggered.connect(self.controller.set_share_on_lan)
        menu.copy_link.triggered.connect(self.copy_join_link)
        menu.show_qr.triggered.connect(self.show_qr)
        menu.settings.triggered.connect(self.show_settings)
        menu.quit.triggered.connect(self.quit)
        self.state.changed.connect(self._sync)
        self.controller.notify.connect(self.show_message)
        self.controller.connection_changed.connect(self._on_connection_changed)
        self.controller.ready.connect(self._on_ready)
        self.controller.failed.connect(self._on_failed)
        self._sync()

    @property
    def meter_window(self) -> MeterWindow:
        """The meter window, made on first use (at once when there is no tray)."""
        if self._meter_window is None:
            from mudameter_desktop.ui.meter_window import MeterWindow  # noqa: PLC0415 - late

            window = MeterWindow(self.menu, quit_on_close=self.tray is None)
            window.setWindowIcon(icon(APP_ICON))
            window.status_chosen.connect(self.set_status)
            window.close_requested.connect(self.quit)
            window.retry_requested.connect(self.controller.retry)
            window.sync(self.state.live, self.controller.zone)
            self._meter_window = window
        return self._meter_window

    def start(self, work: Callable[[], Runtime]) -> None:
        """Show the tray (or the meter window) now; open the backend behind it."""
        if self.tray is not None:
            if not self.tray.isVisible():  # `launch` may have shown it already
                self.tray.show()
                log.info("Tray shown")
        else:
            self.meter_window.show_on_top()
            log.info("Meter window shown (no system tray)")
        self.controller.load(work)

    # -- actions ------------------------------------------------------------

    @Slot(Status)
    def set_status(self, status: Status) -> None:
        self.controller.set_status(status)

    @Slot()
    def start_meeting(self) -> None:
        from mudameter_desktop.ui.dialogs import StartMeetingDialog  # noqa: PLC0415 - late

        chosen = StartMeetingDialog.ask()
        if chosen is not None:
            self.controller.start_meeting(*chosen)

    @Slot()
    def show_history(self) -> None:
        """Show the history (as soon as the store is ready)."""
        runtime = self.controller.runtime
        if runtime is None:  # shown once the store is ready; meanwhile what is happening
            self._history_wanted = True
            self.meter_window.show_on_top()
            return
        if self.history is None:
            from mudameter_desktop.ui.history import HistoryWindow  # noqa: PLC0415 - QtCharts, late

            source: HistorySource
            if runtime.remote is not None:  # the room on the team server, over HTTP
                source = runtime.remote
            else:
                from mudameter_desktop.services.history_source import LocalHistory  # noqa: PLC0415

                source = LocalHistory(runtime.service)
            self.history = HistoryWindow(source, runtime.service.zone, runtime.settings, self.tasks)
            # The local store's changes, or the team server room's events: one path.
            self.controller.meetings_changed.connect(self.history.apply_changes)
            self.controller.resynced.connect(self.history.refresh)
            self.controller.settings_changed.connect(self.history.set_settings)
            self.history.export_folder_chosen.connect(self.controller.remember_export_folder)
        elif runtime.remote is not None:
            self.history.refresh()  # read the room again on each showing
        self.history.show_and_raise()

    @Slot()
    def copy_join_link(self) -> None:
        QGuiApplication.clipboard().setText(self.state.live.join_url)
        # Not the link itself: without tray messages this goes to the log, and the key must not.
        self.show_message("Join link copied", "Share it with colleagues on the same network.")

    @Slot()
    def show_qr(self) -> None:
        if self.qr_dialog is None:
            from mudameter_desktop.ui.dialogs import QrDialog  # noqa: PLC0415 - late

            self.qr_dialog = QrDialog()
            self.qr_dialog.new_key_requested.connect(self.confirm_new_room_key)
        self._sync_qr()
        self.qr_dialog.show()
        self.qr_dialog.raise_()

    @Slot()
    def confirm_new_room_key(self) -> None:
        """Revoke the room key, once the user has confirmed it."""
        from PySide6.QtWidgets import QMessageBox  # noqa: PLC0415 - late

        answer = QMessageBox.question(
            self.qr_dialog,
            "New room key",
            "Make a new room key? Phones and browsers that joined with the current one "
            "are shut out until they scan the new QR code.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.controller.new_room_key()

    @Slot()
    def show_settings(self) -> None:
        runtime = self.controller.runtime
        if runtime is None:
            return
        from PySide6.QtWidgets import QDialog  # noqa: PLC0415 - late

        from mudameter_desktop.ui.dialogs import SettingsDialog  # noqa: PLC0415

        dialog = SettingsDialog(
            runtime.settings, self.state.live.local_url, shortcuts_note=self.shortcuts.note
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        settings = dialog.values()
        share_changed = settings.share_on_lan != runtime.settings.share_on_lan
        team_server = settings.team_server  # connecting is more than saving: below
        self.controller.save_settings(
            settings.with_changes(team_server=runtime.settings.team_server)
        )
        self.controller.set_team_server(team_server)
        if share_changed:
            self.controller.set_share_on_lan(settings.share_on_lan)

    @Slot()
    def _on_connection_changed(self) -> None:
        """Another room, or this computer's store again: the history window is made anew
        on its source (the old one is let go once its reads in flight have answered)."""
        old, self.history = self.history, None
        if old is None:
            return
        self.controller.meetings_changed.disconnect(old.apply_changes)
        self.controller.resynced.disconnect(old.refresh)
        self.controller.settings_changed.disconnect(old.set_settings)
        shown = old.isVisible()
        old.hide()
        if shown:
            self.show_history()

    @Slot(str, str)
    def show_message(self, title: str, message: str) -> None:
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(title, message, status_icon(self.state.live.status), MESSAGE_MS)
        else:
            log.info("%s: %s", title, message)

    @Slot()
    def quit(self) -> None:
        """Stop the server, store the last minutes, close everything and leave."""
        try:
            self.shortcuts.stop()
            self.controller.shutdown()
        finally:
            if self.tray is not None:
                self.tray.hide()
            for window in self.windows():
                window.hide()
            self._quit_app()

    def windows(self) -> list[QWidget]:
        """The top-level widgets made so far (the menu too: it has no parent)."""
        made = (self._meter_window, self.history, self.qr_dialog, self.menu)
        return [window for window in made if window is not None]

    # -- keeping widgets in step ------------------------------------------

    @Slot()
    def _on_ready(self) -> None:
        self.shortcuts.apply(self.controller.settings)
        if self._history_wanted:
            self._history_wanted = False
            self.show_history()

    @Slot(str)
    def _on_failed(self, error: str) -> None:
        self.show_message("Muda Meter could not start", error)
        self.meter_window.show_on_top()

    @Slot(QAction)
    def _on_status_action(self, action: QAction) -> None:
        self.set_status(Status(action.data()))

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        """A click on the icon shows the meter window; a second click hides it again."""
        if reason != QSystemTrayIcon.ActivationReason.Trigger or self.tray is None:
            return
        window = self.meter_window
        if window.isVisible() and not window.isMinimized():
            window.hide()
        else:
            window.show_on_top(self.tray.geometry())

    @Slot()
    def _sync(self) -> None:
        live, zone = self.state.live, self.controller.zone
        self.menu.sync(live, zone)
        if self._meter_window is not None:
            self._meter_window.sync(live, zone)
        if self.tray is not None:
            self.tray.setIcon(status_icon(live.status))
            self.tray.setToolTip(tooltip(live, zone))
        self._sync_qr()

    def _sync_qr(self) -> None:
        if self.qr_dialog is not None and self.state.live.join_url:
            self.qr_dialog.show_link(self.state.live.join_url, self.state.live.joinable)


def run(options: Options, launched: Launched | None = None) -> int:
    """The tray app's main loop; 0 also when another instance was asked to show.

    `launched`: what `ui.launch.launch` did already (the tray shown before this
    module and its imports were loaded); without it, it is done here.
    """
    if launched is None:
        started = launch(options, show_tray=False)
        if isinstance(started, int):
            return started
        launched = started
    app, paths, name = launched.app, launched.paths, launched.socket_name
    instance = InstanceServer(name)
    desktop = DesktopApp(tray=launched.tray)
    instance.show_history_requested.connect(desktop.show_history)
    stop_signals = quit_on_signals(desktop)
    desktop.start(lambda: open_runtime(options, paths))
    code = app.exec()
    stop_signals()
    instance.close()
    return code


def quit_on_signals(desktop: DesktopApp) -> Callable[[], None]:
    """Quit cleanly on SIGINT/SIGTERM (Ctrl+C, logout); returns the undo.

    Python runs signal handlers only between bytecodes, which never happens
    while Qt waits for events; the wake-up socket makes Qt notice.
    """
    receiver, sender = socket.socketpair()
    sender.setblocking(False)
    receiver.setblocking(False)
    previous_fd = signal.set_wakeup_fd(sender.fileno())
    previous = {number: signal.signal(number, lambda *_: None) for number in QUIT_SIGNALS}
    notifier = QSocketNotifier(receiver.fileno(), QSocketNotifier.Type.Read, desktop)

    def on_signal() -> None:
        received = b""
        with contextlib.suppress(OSError):
            received = receiver.recv(64)
        if any(number in received for number in QUIT_SIGNALS):  # other handlers' wake-ups stay
            desktop.quit()

    notifier.activated.connect(on_signal)

    def undo() -> None:
        notifier.setEnabled(False)
        signal.set_wakeup_fd(previous_fd)
        for number, handler in previous.items():
            signal.signal(number, handler)
        receiver.close()
        sender.close()

    return undo
