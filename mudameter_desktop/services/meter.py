"""The meter's write side of one room: detect and start meetings, visits, statuses, the live view.

Writes are serialised in-process by one lock, so they never wait on SQLite's
busy-timeout back-off. Reads run without the lock (WAL lets them run beside a
write). The hot path of a click keeps what it needs in memory — the current
meeting, its live participants, and each open meeting's `RoomTally` — so a
click costs one short transaction of three or four Core statements. With
several processes on one database, `services.coordination` makes every
transaction take the room's row and revalidate that memory first. Reads of
the history are `services.history`'s, which settles through this service.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mudameter_desktop.domain.buckets import RoomTally
from mudameter_desktop.domain.meetings import (
    MAX_TITLE_LENGTH,
    MINUTE,
    MeetingPlan,
    Span,
    expiry_after,
    floor_minute,
    is_alive,
    nearest_local_hour,
    pick_explicit,
    plan_detected,
    plan_event,
    plan_explicit,
    require_aware,
)
from mudameter_desktop.domain.participants import MAX_LIVE_PER_ADDRESS, handle_of
from mudameter_desktop.domain.statuses import Counts, ParticipantKind, Status
from mudameter_desktop.services.changes import ChangeHub, ChangeKind, MeetingChange
from mudameter_desktop.services.coordination import Peek, coordination_for
from mudameter_desktop.services.errors import (
    InvalidInputError,
    NotFoundError,
    TooManyParticipantsError,
)
from mudameter_desktop.services.history import MeetingHistory
from mudameter_desktop.services.views import LiveView, MeetingView, Sample, StatusRecorded, Visit
from mudameter_desktop.store import statements
from mudameter_desktop.store.tables import (
    DEFAULT_ROOM_ID,
    EngagementSample,
    Meeting,
    Participant,
    StatusChange,
)

if TYPE_CHECKING:  # the calendar loads icalendar (~5 MB, ~0.2 s): only where one is used
    from mudameter_desktop.services.calendar import CalendarSource

# Explicit meetings: neither a detected slot nor a calendar event.
_EXPLICIT = (Meeting.slot_start.is_(None), Meeting.calendar_key.is_(None))
RECENT_MINUTES = 5  # complete minutes the live view carries (the nudge's window)
MAX_PARTICIPANT_ID_LENGTH = 64  # longer ids are refused by the API
_TICK = timedelta(microseconds=1)
_HALF_HOUR = timedelta(minutes=30)
CLOCK_SKEW = timedelta(seconds=5)  # a client's clock this far ahead is taken as now
LATE_LIMIT = timedelta(days=7)  # a click that waited longer is refused

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Current:
    """The meeting detection gives for every moment before `until`."""

    meeting: MeetingView
    until: datetime


@dataclass(frozen=True, slots=True)
class _Live:
    """What the hot path needs of a participant."""

    meeting_id: int
    kind: ParticipantKind
    expires_at: datetime


class MeterService:
    def __init__(
        self,
        engine: Engine,
        zone: tzinfo,
        clock: Clock = utc_now,
        changes: ChangeHub | None = None,
        *,
        calendar: CalendarSource | None = None,
        room_id: int = DEFAULT_ROOM_ID,
    ) -> None:
        self._engine = engine
        self.room_id = room_id
        self._room = Meeting.room_id == room_id
        self._explicit = (self._room, *_EXPLICIT)
        self._coordination = coordination_for(engine, room_id)
        self._calendar = calendar
        self._calendar_version = calendar.version if calendar else 0
        self.zone = zone
        self._clock = clock
        self.changes = changes or ChangeHub()
        self._write_lock = threading.RLock()
        self._last_now = datetime.min.replace(tzinfo=UTC)
        # In-memory state, guarded by the write lock and rebuilt from the
        # database whenever it is missing (after a restart or a failed write).
        self._current: _Current | None = None
        self._live: dict[str, _Live] = {}
        self._tallies: dict[int, RoomTally] = {}  # meetings not yet complete
        self._open_loaded = False
        # Before this instant `settle` has nothing to store (no minute boundary
        # passed, no tally with unsaved changes), so it returns without waiting
        # for the write lock: the UI reads beside a stream of LAN clicks.
        self._settled_until: datetime | None = None
        self._pending: list[MeetingChange] = []  # published after the transaction commits
        self.history = MeetingHistory(engine, self.settle, clock, zone, room_id)

    @property
    def engine(self) -> Engine:
        """The database this room lives in (other rooms' services share it)."""
        return self._engine

    @property
    def clock(self) -> Clock:
        return self._clock

    # -- meetings ---------------------------------------------------------

    def detect_meeting(
        self, at: datetime | None = None, title: str | None = None
    ) -> tuple[MeetingView, bool]:
        """The meeting for time `at` (default now), created if needed; True if new."""
        _check_title(title)
        with self._writing() as (connection, now):
            return self._detect(connection, require_aware(at) if at else now, title)

    def start_meeting(
        self,
        starts_at: datetime | None = None,
        title: str | None = None,
        duration_minutes: int = 60,
    ) -> MeetingView:
        """An explicit meeting at that exact minute (default now).

        Explicit meetings never overlap: one running at its start ends there,
        and it ends where the next explicit meeting after it starts.
        """
        _check_title(title)
        with self._writing() as (connection, now):
            try:
                plan = plan_explicit(starts_at or now, self.zone, title, duration_minutes)
            except (ValueError, OverflowError) as error:
                raise InvalidInputError(str(error)) from error
            overlapped = connection.execute(
                select(Meeting.id).where(
                    *self._explicit,
                    Meeting.starts_at <= plan.starts_at,
                    Meeting.ends_at > plan.starts_at,
                )
            ).scalars()
            for meeting_id in list(overlapped):
                self._cut(connection, meeting_id, plan.starts_at, now)
            next_start = connection.scalar(
                select(func.min(Meeting.starts_at)).where(
                    *self._explicit,
                    Meeting.starts_at > plan.starts_at,
                    Meeting.starts_at < plan.ends_at,
                )
            )
            if next_start is not None:
                plan = replace(plan, ends_at=next_start)
            return self._create(connection, plan, now)

    def end_meeting(self) -> MeetingView:
        """End the meeting running now; NotFoundError when none is."""
        with self._writing() as (connection, now):
            meeting, _ = self._locate(connection, now, None)
            if not isinstance(meeting, MeetingView) or meeting.ends_at <= now:
                raise NotFoundError("no meeting is running")
            ends_at = self._cut(connection, meeting.id, now, now)
            return MeetingView(meeting.id, meeting.title, meeting.starts_at, ends_at)

    def end_meeting_if_running(self, meeting_id: int) -> MeetingView | None:
        """End meeting `meeting_id` now if it is the one running; None if it is not.
        NotFoundError when the room has no such meeting."""
        with self._writing() as (connection, now):
            self._get_meeting(connection, meeting_id)
            meeting, _ = self._locate(connection, now, None)
            if not isinstance(meeting, MeetingView) or meeting.id != meeting_id:
                return None
            if not meeting.starts_at <= now < meeting.ends_at:
                return None
            ends_at = self._cut(connection, meeting.id, now, now)
            return MeetingView(meeting.id, meeting.title, meeting.starts_at, ends_at)

    def rename_meeting(self, meeting_id: int, title: str) -> MeetingView:
        _check_title(title)
        with self._writing() as (connection, _now):
            meeting = self._get_meeting(connection, meeting_id)
            connection.execute(update(Meeting).where(Meeting.id == meeting_id).values(title=title))
            self._current = None
            self._note(meeting_id, ChangeKind.UPDATED)
            return MeetingView(meeting.id, title, meeting.starts_at, meeting.ends_at)

    def delete_meeting(self, meeting_id: int) -> None:
        with self._writing() as (connection, _now):
            self._get_meeting(connection, meeting_id)
            connection.execute(delete(Meeting).where(Meeting.id == meeting_id))
            self._forget(meeting_id)
            self._note(meeting_id, ChangeKind.DELETED)

    # -- participants -----------------------------------------------------

    def visit(
        self,
        participant_id: str | None = None,
        kind: ParticipantKind = ParticipantKind.LAN,
        client: str | None = None,
    ) -> Visit:
        """Ensure the current meeting and a live participant in it.

        `client` is a LAN client's address: it may hold at most
        `MAX_LIVE_PER_ADDRESS` live participants per meeting (None: no cap).
        """
        with self._writing() as (connection, now):
            meeting = self._current_meeting(connection, now)
            participant = self._participant(
                connection, meeting, participant_id, kind, now, client=client
            )
            expires_at = self._live[participant].expires_at
            self._tally(connection, meeting.id).touch(participant, expires_at)
            self._note(meeting.id, ChangeKind.VISIT)
            return Visit(participant, handle_of(participant), meeting, expires_at)

    def record_status(
        self,
        status: Status,
        participant_id: str | None = None,
        kind: ParticipantKind = ParticipantKind.LAN,
        client: str | None = None,
        at: datetime | None = None,
    ) -> StatusRecorded:
        """Record a click for the meeting detected now: one short transaction.

        `at` is when the click was made, for a click that waited (the desktop
        app's, kept while its team server was unreachable): it goes into the
        meeting of its own time (`_record_late`). Up to `CLOCK_SKEW` ahead it
        is now; more, or older than `LATE_LIMIT`, is an InvalidInputError.
        """
        made_at = self._check_made_at(at)
        with self._writing() as (connection, now):
            if made_at is not None and made_at < now:
                return self._record_late(connection, status, participant_id, kind=kind, at=made_at)
            meeting = self._current_meeting(connection, now)
            participant = self._participant(
                connection, meeting, participant_id, kind, now, client=client, status=status
            )
            expires_at = self._live[participant].expires_at
            tally = self._tally(connection, meeting.id)  # replayed without this change
            connection.execute(
                statements.INSERT_STATUS_CHANGE,
                {
                    "meeting_id": meeting.id,
                    "participant_id": participant,
                    "status": status.value,
                    "at": now,
                },
            )
            tally.set_status(participant, status, now, expires_at)
            self._save_rows(connection, meeting.id, tally)
            minute, counts = tally.bucket_at(now)
            self._note(meeting.id, ChangeKind.STATUS)
            return StatusRecorded(
                participant,
                handle_of(participant),
                meeting.id,
                status,
                minute,
                expires_at,
                Sample.of(minute, counts),
            )

    def live_view(self, participant_id: str | None = None) -> LiveView:
        """What a click would meet now, from the service's own state; creates nothing.

        Answered from memory while the current meeting is known (no SQL on the
        desktop app; one version check on a shared database); otherwise one
        short read finds it, and the answer is remembered.
        """
        peek = self._coordination.peek(self._engine)
        self._settle(peek)
        with self._write_lock:
            now = self._clock()
            self._notice_calendar_change()
            current = self._current
            memory_current = peek is None or peek.memory_current
            if current is not None and now < current.until and memory_current:
                return self._view(current.meeting, now, participant_id, None)
            with self._guarded(), self._engine.begin() as connection:
                if not self._coordination.enter(connection).memory_current:
                    self._drop_memory()
                target, until = self._locate(connection, now, None)
                if isinstance(target, MeetingPlan):
                    return LiveView(None, target, False, Counts(), None, Counts(), ())
                self._current = _Current(target, until)
                return self._view(target, now, participant_id, connection)

    # -- reading ----------------------------------------------------------

    def settle(self) -> None:
        """Store the carried-forward minutes of open meetings up to now.

        Cheap when no minute boundary has passed: no transaction is opened,
        and the write lock is not even taken.
        """
        self._settle(self._coordination.peek(self._engine))

    def _settle(self, peek: Peek | None) -> None:
        settled_until = self._settled_until if peek is None else peek.settled_until
        if settled_until is not None and self._clock() < settled_until:
            return
        with self._writing():
            pass  # a write stores what is carried up to its instant

    # -- internals --------------------------------------------------------

    def _check_made_at(self, at: datetime | None) -> datetime | None:
        if at is None:
            return None
        made_at, now = require_aware(at), self._clock()
        if made_at > now + CLOCK_SKEW:
            raise InvalidInputError("a status cannot be recorded at a time in the future")
        if made_at < now - LATE_LIMIT:
            raise InvalidInputError(f"a status older than {LATE_LIMIT.days} days is not recorded")
        return made_at

    def _record_late(
        self,
        connection: Connection,
        status: Status,
        participant_id: str | None,
        *,
        kind: ParticipantKind,
        at: datetime,
    ) -> StatusRecorded:
        """A click made at `at`, before now, recorded into the meeting of its time.

        Sent again (its answer was lost on the way), it is recorded once: a
        change by a participant of this kind at that very instant of that
        meeting is this click. The meeting's buckets from the click's minute on
        are then rebuilt from its raw changes (`_replay_from`).
        """
        meeting, _ = self._detect(connection, at, None)
        participant = connection.scalar(
            select(StatusChange.participant_id)
            .join(Participant, Participant.id == StatusChange.participant_id)
            .where(
                StatusChange.meeting_id == meeting.id,
                StatusChange.at == at,
                Participant.kind == kind.value,
            )
        )
        if participant is None:
            participant = self._late_participant(
                connection, meeting, participant_id, kind=kind, status=status, at=at
            )
            connection.execute(
                statements.INSERT_STATUS_CHANGE,
                {
                    "meeting_id": meeting.id,
                    "participant_id": participant,
                    "status": status.value,
                    "at": at,
                },
            )
            self._replay_from(connection, meeting.id, at)
            self._note(meeting.id, ChangeKind.STATUS)
        expires_at = connection.scalar(
            select(Participant.expires_at).where(Participant.id == participant)
        )
        minute = max(floor_minute(at), floor_minute(meeting.starts_at))
        counts = (
            self._tally(connection, meeting.id).bucket(minute) if at < meeting.ends_at else Counts()
        )
        return StatusRecorded(
            participant,
            handle_of(participant),
            meeting.id,
            status,
            minute,
            expires_at or expiry_after(at),
            Sample.of(minute, counts),
        )

    def _late_participant(
        self,
        connection: Connection,
        meeting: MeetingView,
        participant_id: str | None,
        *,
        kind: ParticipantKind,
        status: Status,
        at: datetime,
    ) -> str:
        """The caller's participant alive at `at` in `meeting` (renewed from then), or a new one.

        Alive then in another meeting, it left that one at `at` (SPEC §1, Leaving).
        """
        row = None
        if participant_id:
            row = connection.execute(
                select(
                    Participant.meeting_id,
                    Participant.kind,
                    Participant.expires_at,
                    Participant.status_at,
                ).where(Participant.id == participant_id)
            ).first()
        if participant_id and row and row.kind == kind.value and is_alive(row.expires_at, at):
            self._live.pop(participant_id, None)  # reloaded when next needed
            if row.meeting_id == meeting.id:
                values: dict[str, object] = {"expires_at": max(row.expires_at, expiry_after(at))}
                if row.status_at is None or row.status_at <= at:
                    values.update(status=status.value, status_at=at)
                connection.execute(
                    update(Participant).where(Participant.id == participant_id).values(**values)
                )
                return participant_id
            connection.execute(
                update(Participant).where(Participant.id == participant_id).values(expires_at=at)
            )
            self._replay_from(connection, row.meeting_id, at)
        return _insert_participant(
            connection, meeting.id, kind=kind, client=None, at=at, status=status
        )

    def _replay_from(self, connection: Connection, meeting_id: int, at: datetime) -> None:
        """Rebuild the meeting's buckets from `at`'s minute on, as a restart would.

        The stored buckets from there are dropped; the tally, resumed from the
        ones before, replays every raw change since, and `_writing` stores its
        minutes up to now before it commits.
        """
        connection.execute(
            delete(EngagementSample).where(
                EngagementSample.meeting_id == meeting_id,
                EngagementSample.minute >= floor_minute(at),
            )
        )
        self._tallies.pop(meeting_id, None)
        self._tally(connection, meeting_id)
        self._note(meeting_id, ChangeKind.UPDATED)

    @contextmanager
    def _writing(self) -> Iterator[tuple[Connection, datetime]]:
        """One serialised write transaction, with a clock that never goes back.

        It takes the room (see `services.coordination`), and before it
        commits, every open meeting's minutes up to its instant are stored.
        The changes noted during it are published once it has committed,
        outside the lock, so a listener may call the service again.
        """
        with self._write_lock:
            self._pending = []
            with self._guarded(), self._engine.begin() as connection:
                entry = self._coordination.enter(connection)
                if not entry.memory_current:
                    self._drop_memory()
                shared = self._coordination.shared
                stored_until = entry.settled_until if shared else self._settled_until
                now = self._tick(entry.last_event_at)
                yield connection, now
                # Past a minute boundary every open meeting carries into a new
                # minute; before it, only the meetings this write touched changed.
                self._store_carried(connection, now, stored_until is None or now >= stored_until)
                settled_until = floor_minute(now) + MINUTE
                self._coordination.leave(connection, now, settled_until)
                self._coordination.announce(connection, self._pending)
            self._settled_until = settled_until
            pending, self._pending = self._pending, []
        for change in pending:
            self.changes.publish(change)

    def _store_carried(self, connection: Connection, now: datetime, every_open: bool) -> None:
        """Store the buckets of the meetings in memory (or `every_open`) up to `now`.

        The meetings that have ended are marked complete.
        """
        if every_open and not self._open_loaded:
            self._load_open_tallies(connection, now)
            self._open_loaded = True
        for tally in self._tallies.values():
            tally.advance(now)
        finished = [mid for mid, tally in self._tallies.items() if tally.ends_at <= now]
        for meeting_id, tally in self._tallies.items():
            if tally.has_changes():
                self._save_rows(connection, meeting_id, tally)
                self._note(meeting_id, ChangeKind.UPDATED)
        if finished:
            connection.execute(statements.COMPLETE_MEETINGS, {"ids": finished})
        for meeting_id in finished:
            del self._tallies[meeting_id]

    def _note(self, meeting_id: int, kind: ChangeKind) -> None:
        self._pending.append(MeetingChange(meeting_id, kind))

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Forget the in-memory state when a transaction fails: it is rebuilt.

        A refusal (bad input, unknown meeting, too many participants) is
        raised before anything changes, so the state stays.
        """
        try:
            yield
        except (InvalidInputError, NotFoundError, TooManyParticipantsError):
            raise
        except BaseException:
            self._drop_memory()
            self._coordination.forget()
            raise

    def _drop_memory(self) -> None:
        """Forget everything kept between transactions; it is rebuilt from the database."""
        self._settled_until = None
        self._current = None
        self._live.clear()
        self._tallies.clear()
        self._open_loaded = False

    def _tick(self, last_event_at: datetime | None) -> datetime:
        """Now, strictly after the room's previous event: events never share an instant."""
        last = self._last_now if last_event_at is None else max(self._last_now, last_event_at)
        self._last_now = max(self._clock(), last + _TICK)
        return self._last_now

    def _current_meeting(self, connection: Connection, now: datetime) -> MeetingView:
        self._notice_calendar_change()
        current = self._current
        if current is None or now >= current.until:
            meeting, _ = self._detect(connection, now, None)
            return meeting
        return current.meeting

    def _notice_calendar_change(self) -> None:
        """A calendar read anew may change the current meeting: detect it again."""
        if self._calendar is not None and self._calendar.version != self._calendar_version:
            self._calendar_version = self._calendar.version
            self._current = None

    def _detect(
        self, connection: Connection, at: datetime, title: str | None
    ) -> tuple[MeetingView, bool]:
        """Detection by the rules, remembering the answer while it cannot change."""
        target, until = self._locate(connection, at, title)
        if isinstance(target, MeetingView):
            meeting, created = target, False
        else:
            meeting, created = self._planned_meeting(connection, target)
        if at == self._last_now:  # only remember detections of the present
            self._current = _Current(meeting, until)
        return meeting, created

    def _locate(
        self, connection: Connection, at: datetime, title: str | None
    ) -> tuple[MeetingView | MeetingPlan, datetime]:
        """The meeting for `at` if it exists, else the slot to create; and until when.

        Creates nothing: `_detect` creates, the live view only looks.
        """
        meeting, next_explicit = self._explicit_at(connection, at)
        if meeting is not None:
            return meeting, min(meeting.ends_at, next_explicit or meeting.ends_at)
        calendar = self._calendar.calendar if self._calendar else None
        event = calendar.event_at(at) if calendar else None
        try:
            if event is not None:
                plan = plan_event(event, title)
                until = event.ends_at
            else:
                plan = plan_detected(at, self.zone, title)
                until = _slot_boundary(plan.starts_at, self.zone)
        except OverflowError as error:
            raise InvalidInputError("time is out of range") from error
        next_event = calendar.next_start_after(at) if calendar else None
        until = min(moment for moment in (until, next_explicit, next_event) if moment is not None)
        return self._planned_row(connection, plan) or plan, until

    def _view(
        self,
        meeting: MeetingView,
        now: datetime,
        participant_id: str | None,
        connection: Connection | None,
    ) -> LiveView:
        tally = self._tallies.get(meeting.id)
        if tally is None and now < meeting.ends_at:  # a later slot someone arrived early for
            if connection is None:
                with self._engine.connect() as opened:
                    tally = self._tally(opened, meeting.id)
            else:
                tally = self._tally(connection, meeting.id)
        if tally is None:  # complete: ended, and every minute is stored
            return LiveView(
                meeting, None, False, Counts(), None, self._stored_totals(meeting.id), ()
            )
        return LiveView(
            meeting,
            None,
            now < meeting.ends_at,
            tally.room_now(now),
            tally.status_at(participant_id, now) if participant_id else None,
            tally.totals(),
            tally.recent(floor_minute(now), RECENT_MINUTES),
        )

    def _explicit_at(
        self, connection: Connection, at: datetime
    ) -> tuple[MeetingView | None, datetime | None]:
        """The explicit meeting running at `at`, and the next explicit start after it."""
        explicit = [
            Span(row.id, row.starts_at, row.ends_at)
            for row in connection.execute(
                select(Meeting.id, Meeting.starts_at, Meeting.ends_at).where(
                    *self._explicit, Meeting.starts_at <= at, Meeting.ends_at > at
                )
            )
        ]
        next_explicit = connection.scalar(
            select(func.min(Meeting.starts_at)).where(*self._explicit, Meeting.starts_at > at)
        )
        chosen = pick_explicit(explicit, at)
        return (self._get_meeting(connection, chosen.id) if chosen else None), next_explicit

    def _planned_meeting(
        self, connection: Connection, plan: MeetingPlan
    ) -> tuple[MeetingView, bool]:
        """The slot's or calendar event's meeting, created if it does not exist yet."""
        existing = self._planned_row(connection, plan)
        if existing is not None:
            return existing, False
        try:
            with connection.begin_nested():
                return self._create(connection, plan, self._last_now), True
        except IntegrityError:
            # Another process created it first: the database decided.
            return self._planned_meeting(connection, plan)

    def _create(self, connection: Connection, plan: MeetingPlan, now: datetime) -> MeetingView:
        meeting_id = connection.execute(
            insert(Meeting)
            .values(
                title=plan.title,
                starts_at=plan.starts_at,
                ends_at=plan.ends_at,
                created_at=now,
                slot_start=plan.slot_start,
                calendar_key=plan.calendar_key,
                room_id=self.room_id,
            )
            .returning(Meeting.id)
        ).scalar_one()
        self._tallies[meeting_id] = RoomTally(plan.starts_at, plan.ends_at)
        self._current = None
        self._note(meeting_id, ChangeKind.CREATED)
        return MeetingView(meeting_id, plan.title, plan.starts_at, plan.ends_at)

    def _participant(
        self,
        connection: Connection,
        meeting: MeetingView,
        participant_id: str | None,
        kind: ParticipantKind,
        now: datetime,
        *,
        client: str | None,
        status: Status | None = None,
    ) -> str:
        """The caller's live participant in `meeting` (TTL renewed, status set), or a new one.

        An id of another kind (a LAN request naming the tray's participant)
        is treated as unknown. A live participant of another meeting leaves
        it now (SPEC §1, Leaving) and gets a new participant here.
        """
        live = self._live.get(participant_id) if participant_id else None
        if participant_id and live is None:
            live = self._load_live(connection, participant_id)
        expires_at = expiry_after(now)
        status_values = {"status": status.value, "status_at": now} if status else {}
        if not (participant_id and live and live.kind == kind and is_alive(live.expires_at, now)):
            live = None
        if participant_id and live is not None and live.meeting_id == meeting.id:
            renew = statements.RENEW_WITH_STATUS if status else statements.RENEW_PARTICIPANT
            connection.execute(
                renew, {"pid": participant_id, "expires_at": expires_at, **status_values}
            )
            self._live[participant_id] = live = _Live(meeting.id, kind, expires_at)
            return participant_id
        if client is not None:
            self._check_room_for(connection, meeting.id, client, now)
        if participant_id and live is not None:
            self._leave(connection, participant_id, live.meeting_id, now)
        new_id = _insert_participant(
            connection, meeting.id, kind=kind, client=client, at=now, status=status
        )
        self._live[new_id] = _Live(meeting.id, kind, expires_at)
        return new_id

    def _check_room_for(
        self, connection: Connection, meeting_id: int, client: str, now: datetime
    ) -> None:
        """Refuse a new participant beyond the per-address cap (before any change)."""
        live_count = connection.scalar(
            select(func.count(Participant.id)).where(
                Participant.meeting_id == meeting_id,
                Participant.client == client,
                Participant.expires_at > now,
            )
        )
        if (live_count or 0) >= MAX_LIVE_PER_ADDRESS:
            raise TooManyParticipantsError(
                f"at most {MAX_LIVE_PER_ADDRESS} participants per address in a meeting"
            )

    def _leave(
        self, connection: Connection, participant_id: str, meeting_id: int, now: datetime
    ) -> None:
        """The participant leaves its meeting now: its status counts in no later minute."""
        connection.execute(statements.RENEW_PARTICIPANT, {"pid": participant_id, "expires_at": now})
        self._tally(connection, meeting_id).touch(participant_id, now)
        del self._live[participant_id]
        self._note(meeting_id, ChangeKind.UPDATED)

    def _load_live(self, connection: Connection, participant_id: str) -> _Live | None:
        row = connection.execute(
            select(Participant.meeting_id, Participant.kind, Participant.expires_at).where(
                Participant.id == participant_id
            )
        ).first()
        if row is None:
            return None
        live = _Live(row.meeting_id, ParticipantKind(row.kind), row.expires_at)
        self._live[participant_id] = live
        return live

    def _cut(
        self, connection: Connection, meeting_id: int, at: datetime, now: datetime
    ) -> datetime:
        """End a meeting at `at` (now, or a later meeting's start); returns its new end."""
        tally = self._tally(connection, meeting_id)
        tally.advance(now)
        tally.cut(at)
        connection.execute(
            update(Meeting).where(Meeting.id == meeting_id).values(ends_at=tally.ends_at)
        )
        connection.execute(
            delete(EngagementSample).where(
                EngagementSample.meeting_id == meeting_id,
                EngagementSample.minute >= tally.ends_at,
            )
        )
        self._save_rows(connection, meeting_id, tally)
        self._current = None
        self._note(meeting_id, ChangeKind.UPDATED)
        return tally.ends_at

    def _stored_totals(self, meeting_id: int) -> Counts:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(
                    func.coalesce(func.sum(EngagementSample.speaking), 0),
                    func.coalesce(func.sum(EngagementSample.engaged), 0),
                    func.coalesce(func.sum(EngagementSample.disengaged), 0),
                ).where(EngagementSample.meeting_id == meeting_id)
            ).one()
        return Counts(int(row[0]), int(row[1]), int(row[2]))

    def _tally(self, connection: Connection, meeting_id: int) -> RoomTally:
        """The meeting's tally, restored from the database if not in memory."""
        tally = self._tallies.get(meeting_id)
        if tally is None:
            tally = _restore(connection, self._get_meeting(connection, meeting_id))
            self._tallies[meeting_id] = tally
            self._settled_until = None
        return tally

    def _load_open_tallies(self, connection: Connection, now: datetime) -> None:
        open_ids = connection.scalars(
            select(Meeting.id).where(
                self._room, Meeting.complete.is_(False), Meeting.starts_at <= now
            )
        ).all()
        for meeting_id in open_ids:
            self._tally(connection, meeting_id)

    def _save_rows(self, connection: Connection, meeting_id: int, tally: RoomTally) -> None:
        """Write the tally's changed buckets: an UPDATE, or an INSERT for a new minute."""
        for minute, counts in tally.drain().items():
            counts_values = {
                "speaking": counts.speaking,
                "engaged": counts.engaged,
                "disengaged": counts.disengaged,
            }
            updated = connection.execute(
                statements.UPDATE_SAMPLE,
                {"meeting": meeting_id, "at_minute": minute, **counts_values},
            )
            if updated.rowcount == 0:
                connection.execute(
                    statements.INSERT_SAMPLE,
                    {"meeting_id": meeting_id, "minute": minute, **counts_values},
                )

    def _planned_row(self, connection: Connection, plan: MeetingPlan) -> MeetingView | None:
        """The meeting of a detected slot or a calendar occurrence, if it exists."""
        key = (
            Meeting.calendar_key == plan.calendar_key
            if plan.calendar_key
            else Meeting.slot_start == plan.slot_start
        )
        row = connection.execute(
            select(Meeting.id, Meeting.title, Meeting.starts_at, Meeting.ends_at).where(
                self._room, key
            )
        ).first()
        return MeetingView(row.id, row.title, row.starts_at, row.ends_at) if row else None

    def _get_meeting(self, connection: Connection, meeting_id: int) -> MeetingView:
        """A meeting of this room; NotFoundError for any other id."""
        row = connection.execute(
            select(Meeting.id, Meeting.title, Meeting.starts_at, Meeting.ends_at).where(
                Meeting.id == meeting_id, self._room
            )
        ).first()
        if row is None:
            raise NotFoundError(f"no meeting {meeting_id}")
        return MeetingView(row.id, row.title, row.starts_at, row.ends_at)

    def _forget(self, meeting_id: int) -> None:
        self._tallies.pop(meeting_id, None)
        self._live = {
            pid: live for pid, live in self._live.items() if live.meeting_id != meeting_id
        }
        self._current = None


def _slot_boundary(slot: datetime, zone: tzinfo) -> datetime:
    """When detection stops answering `slot`: half an hour after it starts.

    Checked against the rule itself, so an odd zone (a 30-minute DST shift)
    just means the answer is not remembered.
    """
    boundary = slot + _HALF_HOUR
    return boundary if nearest_local_hour(boundary - _TICK, zone) == slot else slot


def _restore(connection: Connection, meeting: MeetingView) -> RoomTally:
    """The meeting's tally from what is stored, in a few rows however long it ran.

    Its stored buckets, the status each participant carried into the last
    stored minute, and the raw changes from that minute on (see
    `RoomTally.resumed`). Read in this order, a commit by another process in
    between only makes the answer newer: every change read finds its
    participant, which is committed with its first change.
    """
    stored = {
        row.minute: Counts(row.speaking, row.engaged, row.disengaged)
        for row in connection.execute(
            select(*statements.SAMPLE_COLUMNS).where(EngagementSample.meeting_id == meeting.id)
        )
    }
    minute = max(stored, default=None)
    in_meeting = StatusChange.meeting_id == meeting.id
    later = () if minute is None else (StatusChange.at >= minute,)
    changes = connection.execute(
        select(StatusChange.participant_id, StatusChange.status, StatusChange.at)
        .where(in_meeting, *later)
        .order_by(StatusChange.at, StatusChange.id)
    ).all()
    carried = {} if minute is None else _statuses_before(connection, meeting.id, minute)
    expires: dict[str, datetime] = {
        row.id: row.expires_at
        for row in connection.execute(
            select(Participant.id, Participant.expires_at).where(
                Participant.meeting_id == meeting.id
            )
        )
    }
    if minute is None:
        tally = RoomTally(meeting.starts_at, meeting.ends_at)
    else:
        tally = RoomTally.resumed(
            meeting.starts_at,
            meeting.ends_at,
            minute,
            carried=carried,
            expires=expires,
            stored=stored,
        )
    for participant_id, status, at in changes:
        tally.set_status(participant_id, Status(status), at, expires[participant_id])
    return tally


def _statuses_before(connection: Connection, meeting_id: int, at: datetime) -> dict[str, Status]:
    """Each participant's last status set before `at` in the meeting."""
    ranked = (
        select(
            StatusChange.participant_id,
            StatusChange.status,
            func.row_number()
            .over(
                partition_by=StatusChange.participant_id,
                order_by=(StatusChange.at.desc(), StatusChange.id.desc()),
            )
            .label("rank"),
        )
        .where(StatusChange.meeting_id == meeting_id, StatusChange.at < at)
        .subquery()
    )
    return {
        row.participant_id: Status(row.status)
        for row in connection.execute(
            select(ranked.c.participant_id, ranked.c.status).where(ranked.c.rank == 1)
        )
    }


def _insert_participant(
    connection: Connection,
    meeting_id: int,
    *,
    kind: ParticipantKind,
    client: str | None,
    at: datetime,
    status: Status | None,
) -> str:
    """A new participant of the meeting, made at `at` (with its first status, if any)."""
    participant_id = str(uuid.uuid4())
    connection.execute(
        statements.INSERT_PARTICIPANT,
        {
            "id": participant_id,
            "meeting_id": meeting_id,
            "kind": kind.value,
            "client": client,
            "created_at": at,
            "expires_at": expiry_after(at),
            "status": status.value if status else None,
            "status_at": at if status else None,
        },
    )
    return participant_id


def _check_title(title: str | None) -> None:
    if title is not None and not 1 <= len(title) <= MAX_TITLE_LENGTH:
        raise InvalidInputError(f"title must be 1-{MAX_TITLE_LENGTH} characters")
