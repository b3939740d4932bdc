"""The two ways to run: the HTTP server alone (`--headless`) or the tray app.

Both open their backend through `runtime` (the Qt-free composition root);
only `run_gui` imports Qt.
"""

from __future__ import annotations

import logging
import sys

from mudameter_desktop.runtime import Options, StartupError, is_shared, open_runtime, prepare_paths

log = logging.getLogger(__name__)


def run_headless(options: Options) -> int:
    """Serve the HTTP API alone (no Qt imported) until SIGINT or SIGTERM."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    stopping = threading.Event()  # set by a signal, also one that comes during start-up
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopping.set())
    paths = prepare_paths(options)
    try:
        runtime = open_runtime(options, paths, server_required=True)
    except StartupError as error:
        print(error, file=sys.stderr)
        return 1
    server = runtime.server
    try:
        if server is not None and is_shared(server):
            # Standard output only: the log file must never hold the room key.
            print(f"Join link: {server.join_url()}", flush=True)
        while not stopping.wait(timeout=1.0):  # a timed wait lets signals in on Windows too
            pass
        log.info("Stopping on a signal")
    finally:
        runtime.close()
    return 0


def run_gui(options: Options) -> int:
    """Show the tray first, then open the backend and the server behind it."""
    from mudameter_desktop.ui.launch import launch  # noqa: PLC0415 - Qt only for the GUI

    launched = launch(options)  # the tray icon shows before the rest of the UI is imported
    if isinstance(launched, int):
        return launched
    from mudameter_desktop.ui.application import run  # noqa: PLC0415 - after the tray

    return run(options, launched)
