"""Command line: `mudameter` (tray app), `mudameter --headless` (server only)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mudameter_desktop import APP_NAME, __version__
from mudameter_desktop.paths import private_files
from mudameter_desktop.runtime import Options, StartupError
from mudameter_desktop.settings import KEY_ENVIRONMENT, RoomKeyError, room_key_from


def port_number(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("port must be 0-65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mudameter",
        description=f"{APP_NAME}: measure wasted meeting time from the system tray.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--headless", action="store_true", help="run the HTTP server only, with no GUI"
    )
    parser.add_argument(
        "--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 shares on the LAN)"
    )
    parser.add_argument(
        "--port",
        type=port_number,
        help="port to listen on, exactly: refused if taken "
        "(default: the settings' port, 8765, or the first free one of the 19 after it)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep database, logs and settings in this folder"
    )
    parser.add_argument(
        "--database-url", help="any SQLAlchemy URL (default: SQLite in the data folder)"
    )
    parser.add_argument(
        "--calendar",
        metavar="PATH_OR_URL",
        help="an .ics file or calendar address: meetings take its events' titles and times",
    )
    key = parser.add_mutually_exclusive_group()
    key.add_argument(
        "--room-key",
        help="a fixed room key for LAN clients, at least 22 random characters "
        "(default: a saved random one; shown to every local user by ps: prefer the next)",
    )
    key.add_argument(
        "--room-key-file",
        type=Path,
        metavar="PATH",
        help=f"read the fixed room key from this file (or set {KEY_ENVIRONMENT})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    private_files()  # before any file is made: settings, database and logs are the user's alone
    try:
        room_key = room_key_from(args.room_key, args.room_key_file, os.environ)
    except RoomKeyError as error:
        print(f"mudameter: {error}", file=sys.stderr)
        return 2
    options = Options(
        headless=args.headless,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        database_url=args.database_url,
        room_key=room_key,
        calendar=args.calendar,
    )
    from mudameter_desktop import app  # noqa: PLC0415 - keep --help and --version instant

    try:
        return app.run_headless(options) if options.headless else app.run_gui(options)
    except StartupError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
