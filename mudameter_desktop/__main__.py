"""Command line: `mudameter` (tray app), `mudameter --headless` (server only)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mudameter_desktop import APP_NAME, __version__
from mudameter_desktop.paths import private_files
from mudameter_desktop.runtime import Options, StartupError, serve_workers, workers_refusal
from mudameter_desktop.settings import KEY_ENVIRONMENT, room_key_from

DATABASE_URL_ENVIRONMENT = "MUDAMETER_DATABASE_URL"
MAX_WORKERS = 64


def port_number(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("port must be 0-65535")
    return port


def worker_count(text: str) -> int:
    workers = int(text)
    if not 1 <= workers <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"workers must be 1-{MAX_WORKERS}")
    return workers


def requests_per_minute(text: str) -> int:
    limit = int(text)
    if limit < 0:
        raise argparse.ArgumentTypeError("rate limit must be 0 (off) or more")
    return limit


def proxy_address(text: str) -> str:
    """An IP address or CIDR network, kept as typed (checked here, parsed by the server)."""
    import ipaddress  # noqa: PLC0415

    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
        ) from None
    return text.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mudameter",
        description=f"{APP_NAME}: measure wasted meeting time from the system tray.",
        epilog="A team server's rooms: mudameter rooms --help",
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
        "--database-url",
        help="any SQLAlchemy URL (default: SQLite in the data folder; "
        f"or set {DATABASE_URL_ENVIRONMENT}, which keeps a password out of ps)",
    )
    parser.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        metavar="N",
        help="with --headless on PostgreSQL: serve with N uvicorn worker processes (default 1)",
    )
    parser.add_argument(
        "--trusted-proxy",
        type=proxy_address,
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy (IP or CIDR; repeatable) whose X-Forwarded-For names the client; "
        "requests through it are never this machine's own user",
    )
    parser.add_argument(
        "--rate-limit",
        type=requests_per_minute,
        metavar="N",
        help="requests per minute per client address (default 600; 0: off, "
        "when the proxy limits); loopback is never limited",
    )
    parser.add_argument(
        "--calendar",
        metavar="PATH_OR_URL",
        help="an .ics file or calendar address: meetings take its events' titles and times",
    )
    team = parser.add_mutually_exclusive_group()
    team.add_argument(
        "--connect",
        metavar="HOST_LINK",
        help="send your clicks to a team server's room from now on: its host link, "
        "as `mudameter rooms add` prints it (remembered in the settings)",
    )
    team.add_argument(
        "--disconnect",
        action="store_true",
        help="forget the team server: clicks go to this computer's own database again",
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
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["rooms"]:  # `mudameter rooms …`: a team server's rooms
        from mudameter_desktop import rooms_cli  # noqa: PLC0415

        raise SystemExit(rooms_cli.main(arguments[1:], DATABASE_URL_ENVIRONMENT))
    args = build_parser().parse_args(argv)
    private_files()  # before any file is made: settings, database and logs are the user's alone
    try:
        room_key = room_key_from(args.room_key, args.room_key_file, os.environ)
        if args.connect is not None or args.disconnect:
            remember_team_server(args.connect, args.data_dir, headless=args.headless)
    except ValueError as error:  # RoomKeyError, or a host link that is not one
        print(f"mudameter: {error}", file=sys.stderr)
        return 2
    options = Options(
        headless=args.headless,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        database_url=args.database_url or os.environ.get(DATABASE_URL_ENVIRONMENT) or None,
        room_key=room_key,
        calendar=args.calendar,
        workers=args.workers,
        trusted_proxies=tuple(args.trusted_proxy),
        rate_limit=args.rate_limit,
    )
    if options.workers > 1:  # a team server: uvicorn's worker processes, no server thread
        refusal = workers_refusal(options)
        if refusal is not None:
            print(f"mudameter: {refusal}", file=sys.stderr)
            return 2
        try:
            return serve_workers(options)
        except StartupError as error:
            print(error, file=sys.stderr)
            return 1
    from mudameter_desktop import app  # noqa: PLC0415 - keep --help and --version instant

    try:
        return app.run_headless(options) if options.headless else app.run_gui(options)
    except StartupError as error:
        print(error, file=sys.stderr)
        return 1


def remember_team_server(link: str | None, data_dir: Path | None, *, headless: bool) -> None:
    """`--connect HOST_LINK` (checked) or `--disconnect` (None), saved in the settings for
    this start and the next ones; `ValueError` (one line) when it cannot be."""
    if headless:
        raise ValueError("--connect and --disconnect are for the tray app, not --headless.")
    from mudameter_desktop.paths import resolve_paths  # noqa: PLC0415
    from mudameter_desktop.settings import load_settings, save_settings  # noqa: PLC0415

    team_server = ""
    if link is not None:
        from mudameter_desktop.services.team_client import HostLink  # noqa: PLC0415 - SQLAlchemy

        try:
            team_server = HostLink.parse(link).text
        except ValueError as error:
            raise ValueError(f"--connect: {error}") from None
    settings_file = resolve_paths(data_dir).settings_file
    try:
        settings = load_settings(settings_file)
        save_settings(settings_file, settings.with_changes(team_server=team_server))
    except OSError as error:
        reason = error.strerror or error
        raise ValueError(f"Cannot save the settings in {settings_file} ({reason}).") from None


if __name__ == "__main__":
    sys.exit(main())
