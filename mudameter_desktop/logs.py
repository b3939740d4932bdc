"""Logging to a rotating file in the log dir and to stderr."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_PREFIX = "mudameter-"


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
    for name, handler in (("file", file_handler), ("stderr", stderr_handler)):
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.set_name(HANDLER_PREFIX + name)  # so a second set-up replaces, not doubles
        root.addHandler(handler)
