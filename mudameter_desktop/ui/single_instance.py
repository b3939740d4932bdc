"""One app per data folder: a second launch asks the first to show its history."""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from mudameter_desktop import APP_ID
from mudameter_desktop.ui.signals import emit

log = logging.getLogger(__name__)

SHOW_HISTORY = b"show-history\n"
TIMEOUT_MS = 500


def socket_name(data_dir: Path) -> str:
    """A socket name per user and data folder, so a test's tmp folder has its own."""
    digest = hashlib.sha256(f"{getpass.getuser()}\0{data_dir.resolve()}".encode()).hexdigest()
    return f"{APP_ID}-{digest[:16]}"


def notify_running(name: str) -> bool:
    """Ask a running instance to show its history; False when none answers."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(TIMEOUT_MS):
        return False
    socket.write(SHOW_HISTORY)
    socket.waitForBytesWritten(TIMEOUT_MS)
    socket.disconnectFromServer()
    return True


class InstanceServer(QObject):
    """Listens for later launches; `show_history_requested` when one calls."""

    show_history_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        # Only called when no instance answered: a socket file left by a
        # crashed run would otherwise make listen() fail.
        QLocalServer.removeServer(name)
        if not self._server.listen(name):
            log.warning("Single-instance socket unavailable: %s", self._server.errorString())

    @property
    def listening(self) -> bool:
        return self._server.isListening()

    def close(self) -> None:
        self._server.close()

    @Slot()
    def _on_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(self._on_ready_read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    @Slot()
    def _on_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if socket.canReadLine() and bytes(socket.readLine().data()) == SHOW_HISTORY:
            emit(self.show_history_requested)
