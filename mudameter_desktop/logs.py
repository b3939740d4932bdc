"""Logging to a rotating file in the log dir and to stderr.

The file gets everything, tracebacks and Alembic's migration steps included;
the console gets one line per event (an exception as its type and message).
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_PREFIX = "mudameter-"
QUIET_ON_CONSOLE = ("alembic",)  # their INFO lines go to the file only


class ConsoleFormatter(logging.Formatter):
    """One line per record: an exception is named, its traceback is left to the file."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            first = str(error).strip().splitlines()[:1]
            line += (
                f" ({type(error).__name__}{': ' + first[0] if first else ''}; details in the log)"
            )
        return line


def _console_filter(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or not record.name.startswith(QUIET_ON_CONSOLE)


PRIVATE_FILE = 0o600  # the log tells who joined and when: the user's alone


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file, the first and each after a rotation, is 0600."""

    def _open(self) -> io.TextIOWrapper:
        flags = (
            os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if self.mode.startswith("w") else os.O_APPEND)
        )
        descriptor = os.open(self.baseFilename, flags, PRIVATE_FILE)
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, PRIVATE_FILE)  # a file left by an older version
        return open(descriptor, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(log_file: Path, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if (handler.get_name() or "").startswith(HANDLER_PREFIX):
            root.removeHandler(handler)
            handler.close()
    file_handler = PrivateRotatingFileHandler(
        log_file, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    stderr_handler = logging.StreamHandler()
    file_handler.setFormatter(logging.Formatter(FORMAT))
    stderr_handler.setFormatter(ConsoleFormatter(FORMAT))
    stderr_handler.addFilter(_console_filter)
    for name, handler in (("file", file_handler), ("stderr", stderr_handler)):
        handler.set_name(HANDLER_PREFIX + name)  # so a second set-up replaces, not doubles
        root.addHandler(handler)
