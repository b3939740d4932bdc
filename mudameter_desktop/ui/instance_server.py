"""The first instance's side of `ui.single_instance`: it listens for later launches."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from mudameter_desktop.ui.signals import emit
from mudameter_desktop.ui.single_instance import SHOW_HISTORY, peer_is_this_user

log = logging.getLogger(__name__)


class InstanceServer(QObject):
    """Listens for later launches; `show_history_requested` when one of the same user calls."""

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

    @property
    def full_name(self) -> str:
        return str(self._server.fullServerName())

    def close(self) -> None:
        self._server.close()

    @Slot()
    def _on_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            if not peer_is_this_user(int(socket.socketDescriptor())):
                log.warning("Hung up on a single-instance call from another user")
                socket.abort()
                socket.deleteLater()
                continue
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
