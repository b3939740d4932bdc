"""The desktop app as a client of a team server's room (SPEC §7, last bullet; issue 13).

A click is kept first in the local SQLite store (the `outbox` table), with its
own time, in one short transaction on the caller's thread, as a local click
is; a sender thread then posts the waiting clicks to the room, oldest first,
one at a time, each with its `at`. A row is deleted only after a 2xx, so
nothing waiting is lost when the app is quit or killed; the server records a
(meeting, local participant, at) once, so a click sent again after a lost
answer is not counted twice.

When the server cannot be reached (connection refused, timeout, a 5xx) the
client says it is offline and tries the oldest click again after 1 s, then 2,
4… up to 30 s. A 4xx about the click itself (a time too old, a bad status) is
final: that click is dropped and reported. A refused link (401, 403, 404: a
revoked token or a removed room) or a 408/429 drops nothing: it waits like
an unreachable server, so fixing the link later still delivers every click.

Callbacks are plain callables, called from the sender thread: the UI hands
them over to its own thread (Qt signals), nothing here knows about Qt.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy import delete, func, insert, select

from mudameter_desktop.domain.statuses import ParticipantKind, Status
from mudameter_desktop.store.tables import Outbox, RemoteParticipant

if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Engine

__all__ = [
    "Backoff",
    "DroppedClick",
    "HostLink",
    "OutboxItem",
    "TeamClient",
    "TeamState",
    "detail_of",
]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 10.0
FIRST_RETRY_S = 1.0
LAST_RETRY_S = 30.0
CLOSE_TIMEOUT_S = 2.0  # a request in flight is abandoned after this: sending it again is safe
MAX_SERVER_LENGTH = 512  # outbox.server
MAX_PARTICIPANT_ID_LENGTH = 36  # participant.id
# A 4xx that says the link (token, room) is wrong or the server is busy, not the click:
# the click waits, as for an unreachable server.
RETRIED_CLIENT_ERRORS = frozenset({401, 403, 404, 408, 429})

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_ROOMS = "/rooms/"
_HOST_FRAGMENT = "host="
_JOIN_FRAGMENT = "key="


@dataclass(frozen=True, slots=True)
class HostLink:
    """A room's host link, `https://server[:port][/prefix]/rooms/{slug}/#host={token}`."""

    base_url: str  # scheme, host, port and any path prefix, without a trailing slash
    slug: str
    token: str

    @classmethod
    def parse(cls, text: str) -> HostLink:
        """The link `mudameter rooms add` printed; `ValueError` (one line for the user)
        for anything else."""
        text = text.strip()
        if not text:
            raise ValueError("The host link is empty; paste the one `mudameter rooms add` printed.")
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                "A host link starts with https:// (or http://) and the server's name, "
                "e.g. https://meter.example.com/rooms/team-a/#host=…"
            )
        prefix, rooms, rest = parts.path.rpartition(_ROOMS)
        slug = rest.removesuffix("/")
        if not rooms or not _SLUG.fullmatch(slug):
            raise ValueError(
                "A host link names its room: …/rooms/<slug>/#host=… "
                f"(this one's path is {parts.path or '/'!r})."
            )
        if parts.fragment.startswith(_JOIN_FRAGMENT):
            raise ValueError(
                "That is the room's join link (for participants); "
                "paste its host link, the one ending in #host=…"
            )
        if not parts.fragment.startswith(_HOST_FRAGMENT):
            raise ValueError("A host link ends in #host=<token>; this one has no host token.")
        token = unquote(parts.fragment.removeprefix(_HOST_FRAGMENT))
        if not token or not token.isprintable() or any(c.isspace() for c in token):
            raise ValueError("The host link's token is empty or has spaces; copy it whole.")
        if parts.query:
            raise ValueError("A host link has no query (…?…); copy it as it was printed.")
        base_url = f"{parts.scheme}://{parts.netloc}{prefix}".rstrip("/")
        if len(f"{base_url}/rooms/{slug}") > MAX_SERVER_LENGTH:
            raise ValueError("The host link is too long.")
        return cls(base_url, slug, token)

    @property
    def room_url(self) -> str:
        """The room's API root: `/users/status`, `/meetings`… go below it."""
        return f"{self.base_url}/rooms/{self.slug}"

    @property
    def identity(self) -> str:
        """Which room a kept click belongs to (stored; holds no secret)."""
        return self.room_url

    @property
    def text(self) -> str:
        """The link itself, as `parse` reads it back (it holds the token: never log it)."""
        return f"{self.room_url}/#host={quote(self.token, safe='')}"

    def join_link(self, participant_key: str) -> str:
        """The room's join link (what phones open), for its participant key."""
        return f"{self.room_url}/#key={quote(participant_key, safe='')}"

    def __repr__(self) -> str:  # no token in logs or tracebacks
        return f"HostLink({self.room_url!r})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    status: Status
    at: datetime
    participant_id: str | None


@dataclass(frozen=True, slots=True)
class TeamState:
    """What the tray says about the room: reached or not, and how many clicks wait."""

    online: bool
    waiting: int
    problem: str | None = None  # why it is offline, one line for the user


@dataclass(frozen=True, slots=True)
class DroppedClick:
    """A click the server refused for good (a 4xx about the click itself)."""

    status: Status
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between tries while the server cannot be reached: first, doubling, up to last."""

    first: float = FIRST_RETRY_S
    last: float = LAST_RETRY_S

    def after(self, failures: int) -> float:
        return float(min(self.last, self.first * 2 ** max(0, failures - 1)))


class _Outcome(Enum):
    SENT = "sent"
    DROPPED = "dropped"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class _Answer:
    outcome: _Outcome
    detail: str | None = None  # the problem (RETRY) or the refusal (DROPPED)
    participant_id: str | None = None  # the one the server answered with (SENT)


class ClickOutbox:
    """The `outbox` and `remote_participant` tables of one room (Core, short transactions)."""

    def __init__(self, engine: Engine, server: str) -> None:
        self._engine = engine
        self._server = server

    def append(self, status: Status, at: datetime, participant_id: str | None) -> OutboxItem:
        with self._engine.begin() as connection:
            new_id = connection.execute(
                insert(Outbox)
                .values(
                    server=self._server, status=status.value, at=at, participant_id=participant_id
                )
                .returning(Outbox.id)
            ).scalar_one()
        return OutboxItem(new_id, status, at, participant_id)

    def oldest(self) -> OutboxItem | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(Outbox.id, Outbox.status, Outbox.at, Outbox.participant_id)
                .where(Outbox.server == self._server)
                .order_by(Outbox.id)
                .limit(1)
            ).one_or_none()
        if row is None:
            return None
        return OutboxItem(row.id, Status(row.status), row.at, row.participant_id)

    def newest_at(self) -> datetime | None:
        with self._engine.connect() as connection:
            return connection.execute(
                select(func.max(Outbox.at)).where(Outbox.server == self._server)
            ).scalar_one()

    def items(self) -> list[OutboxItem]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(Outbox.id, Outbox.status, Outbox.at, Outbox.participant_id)
                .where(Outbox.server == self._server)
                .order_by(Outbox.id)
            ).all()
        return [OutboxItem(row.id, Status(row.status), row.at, row.participant_id) for row in rows]

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count()).select_from(Outbox).where(Outbox.server == self._server)
                ).scalar_one()
            )

    def remove(self, item_id: int) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(Outbox).where(Outbox.id == item_id))

    def participant(self) -> str | None:
        with self._engine.connect() as connection:
            return connection.execute(
                select(RemoteParticipant.participant_id).where(
                    RemoteParticipant.server == self._server
                )
            ).scalar_one_or_none()

    def remember_participant(self, participant_id: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                delete(RemoteParticipant).where(RemoteParticipant.server == self._server)
            )
            connection.execute(
                insert(RemoteParticipant).values(server=self._server, participant_id=participant_id)
            )


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TeamClient:
    """Clicks to a team server's room, kept locally until delivered (see the module doc).

    `record_status` may be called from any thread (the UI's); `start` runs the
    sender thread, `close` stops it within `CLOSE_TIMEOUT_S`.
    """

    def __init__(
        self,
        link: HostLink,
        engine: Engine,
        *,
        on_state: Callable[[TeamState], None] | None = None,
        on_dropped: Callable[[DroppedClick], None] | None = None,
        clock: Callable[[], datetime] = _utc_now,
        backoff: Backoff = Backoff(),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.link = link
        self._outbox = ClickOutbox(engine, link.identity)
        self._on_state = on_state
        self._on_dropped = on_dropped
        self._clock = clock
        self._backoff = backoff
        self._transport = transport
        self._lock = threading.Lock()  # guards the two fields below
        self._participant_id = self._outbox.participant()
        self._last_at = self._outbox.newest_at()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._published: TeamState | None = None
        self.state = TeamState(online=True, waiting=self._outbox.count())

    @property
    def participant_id(self) -> str | None:
        """The room's `local` participant the server gave this app (kept across restarts)."""
        with self._lock:
            return self._participant_id

    def pending(self) -> list[OutboxItem]:
        """The clicks not delivered yet, oldest first."""
        return self._outbox.items()

    # -- the caller's thread ---------------------------------------------------

    def record_status(self, status: Status) -> OutboxItem:
        """Keep the click with its own time (one local transaction) and wake the sender."""
        with self._lock:
            at = self._clock()
            if at.tzinfo is None:
                raise ValueError("the clock gave a naive time")
            at = at.astimezone(UTC)
            # Strictly increasing: two clicks never share an instant (the server
            # records one click per (meeting, participant, at)).
            if self._last_at is not None and at <= self._last_at:
                at = self._last_at + timedelta(microseconds=1)
            self._last_at = at
            item = self._outbox.append(status, at, self._participant_id)
        self._wake.set()
        return item

    def start(
        self,
        on_state: Callable[[TeamState], None] | None = None,
        on_dropped: Callable[[DroppedClick], None] | None = None,
    ) -> None:
        """Start the sender thread; callbacks given here replace the constructor's."""
        if self._thread is not None:
            return
        self._on_state = on_state or self._on_state
        self._on_dropped = on_dropped or self._on_dropped
        self._thread = threading.Thread(target=self._run, name="mudameter-team-client", daemon=True)
        self._thread.start()

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the sender. A request still in flight is abandoned: its click stays kept and
        is sent again at the next start, which the server records once. Its outcome is
        told to nobody (the UI may be gone by then)."""
        self._on_state = self._on_dropped = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.info("The team server's answer is still awaited; the click stays kept")

    # -- the sender thread -----------------------------------------------------

    def _run(self) -> None:
        import httpx  # noqa: PLC0415 - ~40 ms, only when connected

        # httpx logs every request at INFO: one line per click in the log file, no news.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        headers = {"Authorization": f"Bearer {self.link.token}"}
        with httpx.Client(
            timeout=timeout, headers=headers, transport=self._transport, follow_redirects=False
        ) as client:
            failures = 0
            while not self._stop.is_set():
                try:
                    failures = self._step(client, failures)
                except Exception:  # the local store failed: log, wait, try again
                    if self._stop.is_set():
                        return
                    log.exception("The team client could not read or write its outbox")
                    self._stop.wait(self._backoff.last)

    def _step(self, client: httpx.Client, failures: int) -> int:
        """Send the oldest click, or wait for one; the number of failures in a row after it."""
        self._wake.clear()
        item = self._outbox.oldest()
        if item is None:
            self._publish(online=self.state.online, problem=self.state.problem)
            self._wake.wait()
            return failures
        self._publish(online=self.state.online, problem=self.state.problem)
        answer = self._send(client, item)
        if self._stop.is_set():
            return failures  # quitting: the row stays, a resend is recorded once
        if answer.outcome is _Outcome.RETRY:
            failures += 1
            self._publish(online=False, problem=answer.detail)
            self._wait_before_retry(self._backoff.after(failures))
            return failures
        self._outbox.remove(item.id)
        if answer.outcome is _Outcome.DROPPED:
            log.warning("The team server refused a click (%s): %s", item.status, answer.detail)
            on_dropped = self._on_dropped
            if on_dropped is not None:
                on_dropped(DroppedClick(item.status, item.at, answer.detail or ""))
        elif answer.participant_id is not None:
            self._remember(answer.participant_id)
        self._publish(online=True, problem=None)
        return 0

    def _send(self, client: httpx.Client, item: OutboxItem) -> _Answer:
        import httpx  # noqa: PLC0415 - already loaded by `_run`

        body: dict[str, Any] = {
            "status": item.status.value,
            "kind": ParticipantKind.LOCAL.value,
            "at": item.at.isoformat(),
        }
        participant = self.participant_id or item.participant_id
        if participant is not None:
            body["participant_id"] = participant
        try:
            response = client.post(f"{self.link.room_url}/users/status", json=body)
        except httpx.TimeoutException:
            return _Answer(_Outcome.RETRY, "The team server does not answer.")
        except httpx.HTTPError as error:
            return _Answer(_Outcome.RETRY, f"The team server cannot be reached ({error}).")
        code = response.status_code
        if 200 <= code < 300:
            return _Answer(_Outcome.SENT, participant_id=_participant_of(response))
        detail = detail_of(response)
        if code in RETRIED_CLIENT_ERRORS or code >= 500 or code < 400:
            return _Answer(_Outcome.RETRY, f"The team server answered {code}: {detail}")
        return _Answer(_Outcome.DROPPED, f"{code}: {detail}")

    def _wait_before_retry(self, seconds: float) -> None:
        """Sleep `seconds` unless stopped; a click meanwhile updates the count, not the wait."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._wake.wait(remaining) and not self._stop.is_set():
                self._wake.clear()
                self._publish(online=False, problem=self.state.problem)

    def _remember(self, participant_id: str) -> None:
        with self._lock:
            if participant_id == self._participant_id:
                return
            self._participant_id = participant_id
        self._outbox.remember_participant(participant_id)

    def _publish(self, *, online: bool, problem: str | None) -> None:
        state = TeamState(online=online, waiting=self._outbox.count(), problem=problem)
        self.state = state
        if state != self._published:
            self._published = state
            on_state = self._on_state
            if on_state is not None:
                on_state(state)


def _participant_of(response: httpx.Response) -> str | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    participant = answer.get("participant_id") if isinstance(answer, dict) else None
    if isinstance(participant, str) and 0 < len(participant) <= MAX_PARTICIPANT_ID_LENGTH:
        return participant
    return None


def detail_of(response: httpx.Response) -> str:
    """The server's one-line reason for an answer (its JSON `detail`), at most 200 characters."""
    try:
        answer = response.json()
    except ValueError:
        return response.reason_phrase or "no detail"
    if not isinstance(answer, dict) or not answer.get("detail"):
        return response.reason_phrase or "no detail"
    detail = str(answer["detail"])
    extra = answer.get("extra")  # a refused field: what was wrong with it
    if isinstance(extra, list) and extra and isinstance(extra[0], dict) and extra[0].get("message"):
        detail = f"{detail}: {extra[0]['message']}"
    return detail[:200]
