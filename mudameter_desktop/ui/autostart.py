"""Start at login: an XDG autostart entry, a Windows Run key, or a macOS LaunchAgent."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from pathlib import Path

from mudameter_desktop import APP_ID, APP_NAME

LAUNCH_AGENT_LABEL = f"org.{APP_ID}.{APP_ID}"
WINDOWS_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def launch_command() -> list[str]:
    """How this app is started: the bundle's executable, or Python with the module."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "mudameter_desktop"]


def windows_command_line(command: list[str]) -> str:
    return " ".join(f'"{part}"' for part in command)


def linux_entry_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / f"{APP_ID}.desktop"


def mac_agent_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"


def write_linux_entry(path: Path, command: list[str], enabled: bool) -> None:
    if not enabled:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={APP_NAME}\n"
        "Comment=Measure wasted meeting time from the system tray\n"
        f"Exec={shlex.join(command)}\n"
        f"Icon={APP_ID}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n",
        encoding="utf-8",
    )


def write_mac_agent(path: Path, command: list[str], enabled: bool) -> None:
    if not enabled:
        path.unlink(missing_ok=True)
        return
    import plistlib  # noqa: PLC0415 - macOS only; it loads the XML parser at every start

    path.parent.mkdir(parents=True, exist_ok=True)
    agent = {"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": command, "RunAtLoad": True}
    path.write_bytes(plistlib.dumps(agent))


def set_start_at_login(enabled: bool, command: list[str] | None = None) -> None:
    """Register (or remove) the app to start when the user logs in."""
    command = command or launch_command()
    if sys.platform == "win32":
        import winreg  # noqa: PLC0415 - Windows only

        with winreg.OpenKey(
            winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, winreg.KEY_SET_VALUE
        ) as key:
            if enabled:
                winreg.SetValueEx(key, APP_NAME, 0, winreg.REG_SZ, windows_command_line(command))
            else:
                with contextlib.suppress(FileNotFoundError):
                    winreg.DeleteValue(key, APP_NAME)
    elif sys.platform == "darwin":
        write_mac_agent(mac_agent_path(), command, enabled)
    else:
        write_linux_entry(linux_entry_path(), command, enabled)
