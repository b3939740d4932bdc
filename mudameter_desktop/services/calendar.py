"""Where the calendar comes from: an `.ics` file or a calendar address, kept fresh.

A background thread re-reads a file when it changes (checked every few
seconds) and an address every ten minutes; the click path only reads the
last parsed copy. An unreadable file or an unreachable address keeps the
last good copy: a warning in the log, never an error for the user.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from datetime import tzinfo
from pathlib import Path
from urllib.parse import urlsplit

from mudameter_desktop.domain.calendar import Calendar, CalendarError

log = logging.getLogger(__name__)

FILE_CHECK_SECONDS = 5.0
ADDRESS_REFRESH_SECONDS = 600.0
FETCH_TIMEOUT_SECONDS = 15.0
MAX_CALENDAR_BYTES = 20 * 1024 * 1024


def is_address(location: str) -> bool:
    return urlsplit(location).scheme.lower() in {"http", "https", "webcal"}


class CalendarSource:
    """The calendar at `location`, re-read in the background; `version` counts changes."""

    def __init__(self, location: str, zone: tzinfo) -> None:
        self.location = location
        self._zone = zone
        self._address = is_address(location)
        self._calendar: Calendar | None = None
        self._stamp: tuple[int, int] | None = None  # a file's (mtime, size) when read
        self.version = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()

    @property
    def calendar(self) -> Calendar | None:
        return self._calendar

    def start(self) -> None:
        """Keep the calendar fresh in a daemon thread until `stop`."""
        self._thread = threading.Thread(target=self._run, name="mudameter-calendar", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=FETCH_TIMEOUT_SECONDS + 1)

    def refresh(self) -> bool:
        """Read the calendar again if it changed; True when a new copy was taken."""
        try:
            data = self._fetch() if self._address else self._read_if_changed()
            if data is None:
                return False
            calendar = Calendar(data, self._zone)
        except (OSError, ValueError, CalendarError) as error:
            log.warning("Calendar not read (%s); using the last copy", error)
            return False
        self._calendar = calendar
        self.version += 1
        log.info("Calendar read (version %d)", self.version)
        return True

    def _run(self) -> None:
        interval = ADDRESS_REFRESH_SECONDS if self._address else FILE_CHECK_SECONDS
        while not self._stop.wait(interval):
            self.refresh()

    def _read_if_changed(self) -> bytes | None:
        path = Path(self.location).expanduser()
        status = path.stat()
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == self._stamp:
            return None
        if status.st_size > MAX_CALENDAR_BYTES:
            raise ValueError(f"{path} is larger than {MAX_CALENDAR_BYTES} bytes")
        data = path.read_bytes()
        self._stamp = stamp
        return data

    def _fetch(self) -> bytes:
        parts = urlsplit(self.location)
        url = parts._replace(scheme="https").geturl() if parts.scheme == "webcal" else self.location
        request = urllib.request.Request(url, headers={"User-Agent": "MudaMeter"})  # noqa: S310
        # Only http(s) reaches here: `is_address` checked the scheme.
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as answer:  # noqa: S310  # nosec B310
            data: bytes = answer.read(MAX_CALENDAR_BYTES + 1)
        if len(data) > MAX_CALENDAR_BYTES:
            raise ValueError(f"the calendar is larger than {MAX_CALENDAR_BYTES} bytes")
        return data
