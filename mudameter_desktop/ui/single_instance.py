"""One app per data folder: a second launch asks the first to show its history.

This part runs before the tray shows: where the socket is, and the call to a
running instance (a plain Unix socket, so QtNetwork loads after the tray; the
listening side is `ui.instance_server`).

The socket lives in the user's runtime folder (`$XDG_RUNTIME_DIR`, 0700), not
under a predictable name in /tmp where another account could bind it first
(the app would then believe itself already running and exit) or reach it. The
server also checks who calls: on Linux, a peer of another user is hung up on.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import logging
import os
import socket as sockets
import stat
import struct
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from mudameter_desktop import APP_ID

log = logging.getLogger(__name__)

SHOW_HISTORY = b"show-history\n"
TIMEOUT_MS = 500
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
_MAX_SOCKET_PATH = 100  # sun_path holds 104 bytes on macOS, 108 on Linux


def socket_name(data_dir: Path) -> str:
    """The socket's full path: per user and data folder, in a folder only the user can enter.

    On Windows, a named pipe's name (Qt's UserAccessOption limits the pipe to the user).
    """
    digest = hashlib.sha256(f"{getpass.getuser()}\0{data_dir.resolve()}".encode()).hexdigest()
    name = f"{APP_ID}-{digest[:16]}"
    if os.name == "nt":
        return name
    path = _private_folder(data_dir) / f"{name}.sock"
    if len(str(path)) >= _MAX_SOCKET_PATH and _is_private(folder := _own_temporary_folder()):
        # (Otherwise listen() fails on the long path, and the app runs without
        # the hand-over rather than trust a folder another account made.)
        path = folder / f"{name}.sock"
    return str(path)


def _private_folder(data_dir: Path) -> Path:
    """The user's runtime folder when it is theirs alone, else the (0700) data folder."""
    if sys.platform == "darwin":
        runtime = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.RuntimeLocation)
    else:  # read directly: Qt warns on every call when XDG_RUNTIME_DIR is unset
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and _is_private(Path(runtime)):
        return Path(runtime)
    return data_dir


def _own_temporary_folder() -> Path:
    """A 0700 folder of this user's in the temporary folder, for a data folder too deep."""
    folder = Path(tempfile.gettempdir()) / f"{APP_ID}-{os.getuid()}"
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700)
    return folder


def _is_private(folder: Path) -> bool:
    if os.name != "posix":
        return True  # Windows: a named pipe, limited to the user by UserAccessOption
    try:
        info = folder.stat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def peer_is_this_user(descriptor: int) -> bool:
    """Whether the process at the other end of a local socket runs as this user.

    Linux tells (SO_PEERCRED); elsewhere the private folder is the guard.
    """
    option = getattr(sockets, "SO_PEERCRED", None)
    if option is None or descriptor < 0:
        return option is None
    try:
        with sockets.socket(fileno=os.dup(descriptor)) as peer:
            _, uid, _ = _PEERCRED.unpack(
                peer.getsockopt(sockets.SOL_SOCKET, option, _PEERCRED.size)
            )
    except OSError:
        return False
    return bool(uid == os.getuid())


def notify_running(name: str) -> bool:
    """Ask a running instance to show its history; False when none answers."""
    if os.name == "nt":
        return _notify_by_pipe(name)
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as socket:
        socket.settimeout(TIMEOUT_MS / 1000)
        try:
            socket.connect(name)
        except OSError:  # no socket file, or nobody listening on it
            return False
        if not peer_is_this_user(socket.fileno()):
            log.warning("The single-instance socket %s belongs to another user; ignored", name)
            return False
        try:
            socket.sendall(SHOW_HISTORY)
        except OSError:
            return False
    return True


def _notify_by_pipe(name: str) -> bool:
    """Windows: the same call on Qt's named pipe (limited to the user by the server)."""
    from PySide6.QtNetwork import QLocalSocket  # noqa: PLC0415 - Windows only

    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(TIMEOUT_MS):
        return False
    socket.write(SHOW_HISTORY)
    socket.waitForBytesWritten(TIMEOUT_MS)
    socket.disconnectFromServer()
    return True
