"""`mudameter rooms …`: add, list, remove rooms and renew their keys (SPEC §7).

    mudameter rooms add NAME [--timezone ZONE] [--json]
    mudameter rooms list [--json]
    mudameter rooms remove SLUG
    mudameter rooms new-key SLUG

Each takes `--database-url` (default: the desktop app's own database, or
`MUDAMETER_DATABASE_URL`, exactly as `mudameter` itself finds it), `--data-dir`
(where that default database is) and `--public-url`, the address people reach
the server at, which the links start with (default `http://<this host's
FQDN>:8765`; behind a reverse proxy, say `https://meter.example.com`).
Opening the database migrates it, like a server start does.

Errors are one line on standard error: exit code 2 for a bad argument (an
unknown time zone, an empty name, a database URL that cannot be used), 1 for
anything else (no such room, the database unreachable or in use).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from mudameter_desktop.services.rooms import RoomDirectory, RoomRecord

PROG = "mudameter rooms"
USAGE_ERROR = 2
FAILURE = 1


class UsageError(Exception):
    """A bad argument; the message is one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (no usage block) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def default_public_url() -> str:
    """`http://<this host's fully qualified name>:<the app's default port>`."""
    from mudameter_desktop.settings import DEFAULT_PORT  # noqa: PLC0415

    return f"http://{socket.getfqdn()}:{DEFAULT_PORT}"


def public_url(text: str) -> str:
    from urllib.parse import urlsplit  # noqa: PLC0415

    given = text.strip()
    try:
        parts = urlsplit(given)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) address (e.g. https://meter.example.com)"
        )
    if parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{text!r}: the public URL takes no query or fragment")
    return given.rstrip("/")


def build_parser(url_variable: str) -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--database-url",
        help="the server's SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db "
        f"(default: {url_variable}, else the desktop app's own database)",
    )
    common.add_argument(
        "--data-dir", type=Path, help="the desktop app's data folder (for its own database)"
    )
    common.add_argument(
        "--public-url",
        type=public_url,
        help="where people reach the server, which the links start with "
        "(default: http://<this host's FQDN>:8765)",
    )
    output = _Parser(add_help=False)
    output.add_argument("--json", action="store_true", help="print JSON (with the secrets)")

    parser = _Parser(
        prog=PROG,
        description="The rooms of a team server: each has its own meetings, time zone, "
        "participant key (in its join link) and host token (in its host link).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = commands.add_parser(
        "add",
        parents=[common, output],
        help="add a room and print its slug, join link and host link",
    )
    add.add_argument("name", help="the room's name (1-200 characters); its slug comes from it")
    add.add_argument(
        "--timezone",
        metavar="ZONE",
        help="IANA zone for its hourly meetings, e.g. Europe/Berlin (default: the server's)",
    )
    commands.add_parser(
        "list", parents=[common, output], help="every room, 'default' included, with its links"
    )
    remove = commands.add_parser(
        "remove", parents=[common], help="delete a room and all its meetings"
    )
    remove.add_argument("slug")
    new_key = commands.add_parser(
        "new-key",
        parents=[common],
        help="give a room a new participant key (old join links stop working); "
        "print the new join link",
    )
    new_key.add_argument("slug")  # the subcommands are `_Parser`s too (argparse's default)
    return parser


def main(argv: Sequence[str] | None, url_variable: str) -> int:
    """Run `mudameter rooms` with these arguments (those after `rooms`); the exit code.

    `url_variable` is the environment variable `mudameter` reads the database URL
    from (its `DATABASE_URL_ENVIRONMENT`), passed in so that this module does not
    import the entry point back.
    """
    try:
        args = build_parser(url_variable).parse_args(argv)
    except UsageError as error:
        return _fail(str(error), USAGE_ERROR)
    from mudameter_desktop.paths import private_files  # noqa: PLC0415

    private_files()  # a database made here is the user's alone, as the app's is
    try:
        return _run(args, os.environ.get(url_variable))
    except UsageError as error:
        return _fail(str(error), USAGE_ERROR)
    except _Failure as error:
        return _fail(str(error), FAILURE)


class _Failure(Exception):
    """Anything but a bad argument; the message is one line."""


def _run(args: argparse.Namespace, environment_url: str | None) -> int:
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from mudameter_desktop.services.errors import InvalidInputError, NotFoundError  # noqa: PLC0415
    from mudameter_desktop.services.rooms import RoomDirectory  # noqa: PLC0415
    from mudameter_desktop.store.database import StoreError, open_store  # noqa: PLC0415

    url = _database_url(args, environment_url)
    try:
        store = open_store(url)
    except StoreError as error:
        raise _Failure(str(error)) from None
    except SQLAlchemyError as error:
        raise _Failure(f"Cannot open the database: {_reason(error)}") from None
    try:
        directory = RoomDirectory(store.engine)
        base = args.public_url or default_public_url()
        return _COMMANDS[args.command](directory, args, base)
    except InvalidInputError as error:
        raise UsageError(str(error)) from None
    except NotFoundError as error:
        raise _Failure(str(error)) from None
    except SQLAlchemyError as error:
        raise _Failure(f"The database failed: {_reason(error)}") from None
    finally:
        store.close()


def _database_url(args: argparse.Namespace, environment_url: str | None) -> str:
    """The app's own rule (`runtime.database_url`) and its one-line errors."""
    from mudameter_desktop.paths import resolve_paths  # noqa: PLC0415
    from mudameter_desktop.runtime import Options, StartupError, database_url  # noqa: PLC0415

    options = Options(
        headless=True,
        data_dir=args.data_dir,
        database_url=args.database_url or environment_url or None,
    )
    try:
        return database_url(options, resolve_paths(options.data_dir))
    except StartupError as error:
        raise UsageError(str(error)) from None


def _add(directory: RoomDirectory, args: argparse.Namespace, base: str) -> int:
    room = directory.add(args.name, args.timezone)
    if args.json:
        _print_json(_as_json(room, base))
    else:
        from mudameter_desktop.services.rooms import host_link, join_link  # noqa: PLC0415

        print(f"Slug: {room.slug}")
        print(f"Join link: {join_link(base, room)}")
        print(f"Host link: {host_link(base, room)}")
    return 0


def _list(directory: RoomDirectory, args: argparse.Namespace, base: str) -> int:
    rooms = [_as_json(room, base) for room in directory.rooms()]
    if args.json:
        _print_json(rooms)
        return 0
    headers = ("SLUG", "NAME", "TIME ZONE", "JOIN LINK", "HOST LINK")
    table = [
        (
            room["slug"],
            room["name"],
            room["timezone"] or "(server's)",
            room["join_link"] or "(the desktop app's key)",
            room["host_link"] or "-",
        )
        for room in rooms
    ]
    widths = [max(len(row[column]) for row in [headers, *table]) for column in range(4)]
    for row in [headers, *table]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]).rstrip())
    return 0


def _remove(directory: RoomDirectory, args: argparse.Namespace, _base: str) -> int:
    directory.remove(args.slug)
    print(f"Removed the room {args.slug} and all its meetings.")
    return 0


def _new_key(directory: RoomDirectory, args: argparse.Namespace, base: str) -> int:
    from mudameter_desktop.services.rooms import join_link  # noqa: PLC0415

    room = directory.new_key(args.slug)
    print(f"Join link: {join_link(base, room)}")
    return 0


_COMMANDS = {"add": _add, "list": _list, "remove": _remove, "new-key": _new_key}


def _as_json(room: RoomRecord, base: str) -> dict[str, Any]:
    from mudameter_desktop.services.rooms import host_link, join_link  # noqa: PLC0415

    return {
        "slug": room.slug,
        "name": room.name,
        "timezone": room.timezone,
        "join_link": join_link(base, room) if room.participant_key else None,
        "host_link": host_link(base, room) if room.host_token else None,
        "participant_key": room.participant_key,
        "host_token": room.host_token,
    }


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False))


def _reason(error: Exception) -> str:
    cause = getattr(error, "orig", None) or error
    return " ".join(str(cause).split())


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: {' '.join(message.split())}", file=sys.stderr)
    return code
