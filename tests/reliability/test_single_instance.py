"""The single-instance socket belongs to the user alone (issue 11, finding 6).

Another local account is played by `nobody` (`runuser`), with the system's
Python (the project's virtualenv is not readable by other accounts).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from mudameter_desktop import APP_ID
from mudameter_desktop.ui.instance_server import InstanceServer
from mudameter_desktop.ui.single_instance import notify_running, socket_name
from tests.reliability.conftest import BIN, App, answers_health, free_port, gui_env, wait_for

Start = Callable[..., App]
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None or SYSTEM_PYTHON is None,
    reason="needs root, runuser and a system python3",
)


def gui_args(data_dir: Path, port: int) -> list[str]:
    return [str(BIN / "mudameter"), "--data-dir", str(data_dir), "--port", str(port)]


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """The user's runtime folder, as a session manager makes it (0700, the user's)."""
    folder = Path(tempfile.mkdtemp(prefix="mm-run-"))
    folder.chmod(0o700)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def old_socket_path(data_dir: Path) -> Path:
    """Where the socket used to be: a name anyone could compute, in /tmp."""
    digest = hashlib.sha256(f"{getpass.getuser()}\0{data_dir.resolve()}".encode()).hexdigest()
    return Path("/tmp") / f"{APP_ID}-{digest[:16]}"  # noqa: S108 - the old, predictable place


def test_the_socket_is_in_the_runtime_folder(
    runtime_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    name = Path(socket_name(tmp_path))
    assert name.parent == runtime_dir
    assert name != old_socket_path(tmp_path)


@pytest.mark.slow
def test_a_squatter_at_the_old_place_does_not_stop_the_app(
    runtime_dir: Path, tmp_path: Path, apps: Start
) -> None:
    """Found: a socket bound first at the predictable name made the app exit 0."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    squat_path = old_socket_path(data_dir)
    squat_path.unlink(missing_ok=True)
    squatter = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    squatter.bind(str(squat_path))
    squat_path.chmod(0o777)
    squatter.listen(8)
    port = free_port()
    try:
        app = apps(gui_args(data_dir, port), {**gui_env(), "XDG_RUNTIME_DIR": str(runtime_dir)})
        wait_for(lambda: answers_health(f"http://127.0.0.1:{port}"), timeout=60, what="the app")
        assert app.process.poll() is None
        assert "already running" not in app.stderr.text
        app.signal(signal.SIGTERM)
        assert app.wait() == 0
    finally:
        squatter.close()
        squat_path.unlink(missing_ok=True)


NOBODY_CALLS = """
import socket, sys
try:
    caller = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    caller.settimeout(2)
    caller.connect(sys.argv[1])
    caller.sendall(b"show-history\\n")
    print("sent")
except OSError as error:
    print("refused", error)
"""


def call_as_nobody(path: str) -> subprocess.Popen[str]:
    assert SYSTEM_PYTHON is not None
    return subprocess.Popen(
        ["runuser", "-u", "nobody", "--", SYSTEM_PYTHON, "-c", NOBODY_CALLS, path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@needs_root
def test_another_user_is_hung_up_on_even_where_the_socket_is_reachable(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The peer check, alone: a socket other accounts can reach still answers only the user."""
    shared = Path(tempfile.mkdtemp(prefix="mudameter-shared-"))
    try:
        shared.chmod(0o777)
        name = str(shared / "instance.sock")
        server = InstanceServer(name)
        assert server.listening
        os.chmod(name, 0o777)  # noqa: S103 - deliberately reachable by everyone
        shown: list[bool] = []
        server.show_history_requested.connect(lambda: shown.append(True))
        caller = call_as_nobody(name)
        qtbot.waitUntil(lambda: caller.poll() is not None, timeout=10_000)
        qtbot.wait(300)  # time for a message to arrive, if it were read
        assert shown == [], caller.communicate()
        with qtbot.waitSignal(server.show_history_requested, timeout=5000):
            assert notify_running(name)  # the user itself still gets through
        server.close()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@needs_root
@pytest.mark.slow
def test_another_user_cannot_reach_the_running_app(
    runtime_dir: Path, tmp_path: Path, apps: Start
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {**gui_env(), "XDG_RUNTIME_DIR": str(runtime_dir)}
    app = apps(gui_args(data_dir, port), env)
    wait_for(lambda: answers_health(f"http://127.0.0.1:{port}"), timeout=60, what="the app")
    (path,) = [entry for entry in runtime_dir.iterdir() if stat.S_ISSOCK(entry.lstat().st_mode)]
    caller = call_as_nobody(str(path))
    out, _ = caller.communicate(timeout=20)
    assert out.startswith("refused"), out
    assert stat.S_IMODE(runtime_dir.stat().st_mode) == 0o700
    assert app.process.poll() is None
    app.signal(signal.SIGTERM)
    assert app.wait() == 0
