"""Start at login: the Linux entry is tested for real, the macOS agent as a file."""

from __future__ import annotations

import plistlib
import shlex
from pathlib import Path

import pytest

from mudameter_desktop.ui import autostart


def test_linux_entry_is_written_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    command = ["/opt/muda meter/python", "-m", "mudameter_desktop"]
    autostart.set_start_at_login(True, command)
    entry = tmp_path / "autostart" / "mudameter.desktop"
    lines = entry.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    [exec_line] = [line for line in lines if line.startswith("Exec=")]
    assert shlex.split(exec_line.removeprefix("Exec=")) == command
    autostart.set_start_at_login(False, command)
    assert not entry.exists()
    autostart.set_start_at_login(False, command)  # already off: nothing to do


def test_default_command_starts_this_app() -> None:
    assert autostart.launch_command()[-2:] == ["-m", "mudameter_desktop"]


def test_mac_launch_agent(tmp_path: Path) -> None:
    path = tmp_path / "agent.plist"
    autostart.write_mac_agent(path, ["/Applications/Muda Meter.app/Contents/MacOS/mudameter"], True)
    agent = plistlib.loads(path.read_bytes())
    assert agent["RunAtLoad"] is True
    assert agent["ProgramArguments"] == ["/Applications/Muda Meter.app/Contents/MacOS/mudameter"]
    autostart.write_mac_agent(path, [], False)
    assert not path.exists()


def test_windows_command_line_quotes_each_part() -> None:
    assert autostart.windows_command_line(["C:\\Program Files\\Muda\\mudameter.exe"]) == (
        '"C:\\Program Files\\Muda\\mudameter.exe"'
    )
