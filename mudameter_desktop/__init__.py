"""Muda Meter Desktop: measure wasted meeting time from the system tray."""

__version__ = "0.1.0"
APP_NAME = "Muda Meter"
APP_ID = "mudameter"
