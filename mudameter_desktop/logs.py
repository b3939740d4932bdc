"""Logging to a rotating file in the log dir and to stderr.

The file gets everything, tracebacks and Alembic's migration steps included;
the console gets one line per event (an exception as its type and message).
"""

from __future__ import annotations

import logging
import logging.handlers
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


def setup_logging(log_file: Path, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if (handler.get_name() or "").startswith(HANDLER_PREFIX):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    stderr_handler = logging.StreamHandler()
    file_handler.setFormatter(logging.Formatter(FORMAT))
    stderr_handler.setFormatter(ConsoleFormatter(FORMAT))
    stderr_handler.addFilter(_console_filter)
    for name, handler in (("file", file_handler), ("stderr", stderr_handler)):
        handler.set_name(HANDLER_PREFIX + name)  # so a second set-up replaces, not doubles
        root.addHandler(handler)
