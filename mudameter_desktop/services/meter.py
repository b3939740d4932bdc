"""The meter's use cases: detect and start meetings, visits, statuses, history.

Writes are serialised in-process by one lock, so they never wait on SQLite's
busy-timeout back-off; each call uses its own short-lived session. Reads run
without the lock (WAL lets them run beside a write). Open meetings keep a
`RoomTally` in memory so a click costs one short transaction.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mudameter_desktop.domain.buckets import RoomTally
from mudameter_desktop.domain.meetings import (
    MAX_TITLE_LENGTH,
    MeetingPlan,
    Span,
    expiry_after,
    is_alive,
    pick_explicit,
    plan_detected,
    plan_explicit,
    require_aware,
)
from mudameter_desktop.domain.statuses import Counts, ParticipantKind, Status
from mudameter_desktop.services.changes import ChangeHub, ChangeKind, MeetingChange
from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.views import (
    MeetingDetail,
    MeetingPage,
    MeetingSummary,
    MeetingView,
    ParticipantView,
    Sample,
    StatusRecorded,
    Visit,
)
from mudameter_desktop.store.models import EngagementSample, Meeting, Participant, StatusChange

PAGE_SIZE = 20
_TICK = timedelta(microseconds=1)
MAX_PARTICIPANT_ID_LENGTH = 64

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class MeterService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        zone: tzinfo,
        clock: Clock = utc_now,
        changes: ChangeHub | None = None,
    ) -> None:
        self._sessions = sessions
        self.zone = zone
        self._clock = clock
        self.changes = changes or ChangeHub()
        self._write_lock = threading.RLock()
        self._last_now = datetime.min.replace(tzinfo=UTC)
        self._tallies: dict[int, RoomTally] = {}  # meetings not yet complete
        self._open_loaded = False

    # -- meetings ---------------------------------------------------------

    def detect_meeting(
        self, at: datetime | None = None, title: str | None = None
    ) -> tuple[MeetingView, bool]:
        """The meeting for time `at` (default now), created if needed; True if new."""
        _check_title(title)
        with self._writing() as (session, now):
            meeting, created = self._detect(session, require_aware(at) if at else now, title)
            view = _view(meeting)
        if created:
            self.changes.publish(MeetingChange(view.id, ChangeKind.CREATED))
        return view, created

    def start_meeting(
        self,
        starts_at: datetime | None = None,
        title: str | None = None,
        duration_minutes: int = 60,
    ) -> MeetingView:
        """An explicit meeting at that exact minute (default now)."""
        _check_title(title)
        with self._writing() as (session, now):
            try:
                plan = plan_explicit(starts_at or now, self.zone, title, duration_minutes)
            except (ValueError, OverflowError) as error:
                raise InvalidInputError(str(error)) from error
            meeting = self._create(session, plan, now)
            view = _view(meeting)
        self.changes.publish(MeetingChange(view.id, ChangeKind.CREATED))
        return view

    def end_meeting(self) -> MeetingView:
        """End the meeting running now (never before its own start)."""
        with self._writing() as (session, now):
            meeting, _ = self._detect(session, now, None)
            tally = self._tally(session, meeting)
            tally.end(now)
            meeting.ends_at = tally.ends_at
            session.execute(
                delete(EngagementSample).where(
                    EngagementSample.meeting_id == meeting.id,
                    EngagementSample.minute >= meeting.ends_at,
                )
            )
            self._save_rows(session, meeting.id, tally)
            view = _view(meeting)
        self.changes.publish(MeetingChange(view.id, ChangeKind.UPDATED))
        return view

    def rename_meeting(self, meeting_id: int, title: str) -> MeetingView:
        _check_title(title)
        with self._writing() as (session, _now):
            meeting = _get_meeting(session, meeting_id)
            meeting.title = title
            view = _view(meeting)
        self.changes.publish(MeetingChange(meeting_id, ChangeKind.UPDATED))
        return view

    def delete_meeting(self, meeting_id: int) -> None:
        with self._writing() as (session, _now):
            session.delete(_get_meeting(session, meeting_id))
            self._tallies.pop(meeting_id, None)
        self.changes.publish(MeetingChange(meeting_id, ChangeKind.DELETED))

    # -- participants -----------------------------------------------------

    def visit(
        self, participant_id: str | None = None, kind: ParticipantKind = ParticipantKind.LAN
    ) -> Visit:
        """Ensure the current meeting and a live participant in it."""
        with self._writing() as (session, now):
            meeting, created = self._detect(session, now, None)
            participant = self._participant(session, meeting, participant_id, kind, now)
            self._tally(session, meeting).touch(participant.id, participant.expires_at)
            visit = Visit(participant.id, _view(meeting), participant.expires_at)
        kind_of_change = ChangeKind.CREATED if created else ChangeKind.VISIT
        self.changes.publish(MeetingChange(meeting.id, kind_of_change))
        return visit

    def record_status(
        self,
        status: Status,
        participant_id: str | None = None,
        kind: ParticipantKind = ParticipantKind.LAN,
    ) -> StatusRecorded:
        """Record a click for the meeting detected now: one short transaction."""
        with self._writing() as (session, now):
            meeting, _ = self._detect(session, now, None)
            participant = self._participant(session, meeting, participant_id, kind, now)
            participant.status = status.value
            participant.status_at = now
            session.add(
                StatusChange(
                    meeting_id=meeting.id, participant_id=participant.id, status=status, at=now
                )
            )
            tally = self._tally(session, meeting)
            tally.set_status(participant.id, status, now, participant.expires_at)
            self._save_rows(session, meeting.id, tally)
            minute, counts = tally.bucket_at(now)
            recorded = StatusRecorded(
                participant.id,
                meeting.id,
                status,
                minute,
                participant.expires_at,
                Sample.of(minute, counts),
            )
        self.changes.publish(MeetingChange(meeting.id, ChangeKind.STATUS))
        return recorded

    # -- reading ----------------------------------------------------------

    def list_meetings(self, page: int = 1) -> MeetingPage:
        """Meetings newest first (`starts_at`, then `id`, descending), 20 a page."""
        if page < 1:
            raise InvalidInputError("page must be 1 or more")
        self.settle()
        with self._sessions() as session:
            total = session.scalar(select(func.count(Meeting.id))) or 0
            meetings = session.scalars(
                select(Meeting)
                .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
                .offset((page - 1) * PAGE_SIZE)
                .limit(PAGE_SIZE)
            ).all()
            ids = [meeting.id for meeting in meetings]
            counts = _participant_counts(session, ids)
            totals = _totals(session, ids)
            items = [
                _summary(meeting, counts.get(meeting.id, 0), totals.get(meeting.id, Counts()))
                for meeting in meetings
            ]
        return MeetingPage(items, page, PAGE_SIZE, total, math.ceil(total / PAGE_SIZE))

    def meeting_detail(self, meeting_id: int) -> MeetingDetail:
        self.settle()
        with self._sessions() as session:
            meeting = _get_meeting(session, meeting_id)
            rows = session.scalars(
                select(EngagementSample)
                .where(EngagementSample.meeting_id == meeting_id)
                .order_by(EngagementSample.minute)
            ).all()
            participants = session.scalars(
                select(Participant)
                .where(Participant.meeting_id == meeting_id)
                .order_by(Participant.created_at, Participant.id)
            ).all()
            samples = [Sample(r.minute, r.speaking, r.engaged, r.disengaged) for r in rows]
            totals = sum((Counts(s.speaking, s.engaged, s.disengaged) for s in samples), Counts())
            summary = _summary(meeting, len(participants), totals)
            return MeetingDetail(
                **{field: getattr(summary, field) for field in MeetingSummary.__dataclass_fields__},
                participants=[_participant_view(p) for p in participants],
                engagement_samples=samples,
            )

    def current_meeting(self) -> MeetingView:
        """The meeting detected now (created if needed), for the tray's menu line."""
        return self.detect_meeting()[0]

    def settle(self) -> None:
        """Store the carried-forward minutes of open meetings up to now.

        Cheap when no minute boundary has passed: no transaction is opened.
        """
        changed: list[int] = []
        with self._write_lock:
            now = self._tick()
            if not self._open_loaded:
                with self._sessions() as session:
                    self._load_open_tallies(session, now)
                self._open_loaded = True
            for tally in self._tallies.values():
                tally.advance(now)
            finished = [mid for mid, tally in self._tallies.items() if tally.ends_at <= now]
            pending = [mid for mid, tally in self._tallies.items() if tally.has_changes()]
            if not (pending or finished):
                return
            with self._guarded(), self._sessions.begin() as session:
                for meeting_id in pending:
                    self._save_rows(session, meeting_id, self._tallies[meeting_id])
                for meeting_id in finished:
                    meeting = session.get(Meeting, meeting_id)
                    if meeting is not None:
                        meeting.complete = True
                    del self._tallies[meeting_id]
            changed = pending
        for meeting_id in changed:
            self.changes.publish(MeetingChange(meeting_id, ChangeKind.UPDATED))

    # -- internals --------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[tuple[Session, datetime]]:
        """One serialised write transaction, with a clock that never goes back."""
        with self._write_lock, self._guarded(), self._sessions.begin() as session:
            yield session, self._tick()

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Forget in-memory tallies when a transaction fails: they are rebuilt."""
        try:
            yield
        except BaseException:
            self._tallies.clear()
            self._open_loaded = False
            raise

    def _tick(self) -> datetime:
        """Now, strictly after the previous write: events never share an instant."""
        self._last_now = max(self._clock(), self._last_now + _TICK)
        return self._last_now

    def _detect(self, session: Session, at: datetime, title: str | None) -> tuple[Meeting, bool]:
        explicit = session.scalars(
            select(Meeting)
            .where(Meeting.slot_start.is_(None), Meeting.starts_at <= at, Meeting.ends_at > at)
            .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
        ).all()
        chosen = pick_explicit([Span(m.id, m.starts_at, m.ends_at) for m in explicit], at)
        if chosen is not None:
            return next(m for m in explicit if m.id == chosen.id), False
        try:
            plan = plan_detected(at, self.zone, title)
        except OverflowError as error:
            raise InvalidInputError("time is out of range") from error
        existing = session.scalar(select(Meeting).where(Meeting.slot_start == plan.starts_at))
        if existing is not None:
            return existing, False
        try:
            with session.begin_nested():
                meeting = self._create(session, plan, self._last_now)
        except IntegrityError:
            # Another process created this slot first: the database decided.
            meeting = session.scalars(
                select(Meeting).where(Meeting.slot_start == plan.starts_at)
            ).one()
            return meeting, False
        return meeting, True

    def _create(self, session: Session, plan: MeetingPlan, now: datetime) -> Meeting:
        meeting = Meeting(
            title=plan.title,
            starts_at=plan.starts_at,
            ends_at=plan.ends_at,
            created_at=now,
            slot_start=plan.slot_start,
        )
        session.add(meeting)
        session.flush()
        self._tallies[meeting.id] = RoomTally(meeting.starts_at, meeting.ends_at)
        return meeting

    def _participant(
        self,
        session: Session,
        meeting: Meeting,
        participant_id: str | None,
        kind: ParticipantKind,
        now: datetime,
    ) -> Participant:
        """The caller's live participant in `meeting`, or a new anonymous one."""
        participant = session.get(Participant, participant_id) if participant_id else None
        if (
            participant is None
            or participant.meeting_id != meeting.id
            or not is_alive(participant.expires_at, now)
        ):
            participant = Participant(
                id=str(uuid.uuid4()),
                meeting_id=meeting.id,
                kind=kind.value,
                created_at=now,
            )
            session.add(participant)
        participant.expires_at = expiry_after(now)
        return participant

    def _tally(self, session: Session, meeting: Meeting) -> RoomTally:
        """The meeting's tally, rebuilt from its raw status changes if not in memory."""
        tally = self._tallies.get(meeting.id)
        if tally is None:
            tally = _replay(session, meeting)
            self._tallies[meeting.id] = tally
        return tally

    def _load_open_tallies(self, session: Session, now: datetime) -> None:
        open_meetings = session.scalars(
            select(Meeting).where(Meeting.complete.is_(False), Meeting.starts_at <= now)
        ).all()
        for meeting in open_meetings:
            self._tally(session, meeting)

    def _save_rows(self, session: Session, meeting_id: int, tally: RoomTally) -> bool:
        rows = tally.drain()
        if not rows:
            return False
        existing = {
            row.minute: row
            for row in session.scalars(
                select(EngagementSample).where(
                    EngagementSample.meeting_id == meeting_id,
                    EngagementSample.minute.in_(list(rows)),
                )
            )
        }
        for minute, counts in rows.items():
            row = existing.get(minute)
            if row is None:
                row = EngagementSample(meeting_id=meeting_id, minute=minute)
                session.add(row)
            row.speaking, row.engaged, row.disengaged = (
                counts.speaking,
                counts.engaged,
                counts.disengaged,
            )
        return True


def _replay(session: Session, meeting: Meeting) -> RoomTally:
    tally = RoomTally(meeting.starts_at, meeting.ends_at)
    expires = dict(
        session.execute(
            select(Participant.id, Participant.expires_at).where(
                Participant.meeting_id == meeting.id
            )
        ).all()
    )
    changes = session.execute(
        select(StatusChange.participant_id, StatusChange.status, StatusChange.at)
        .where(StatusChange.meeting_id == meeting.id)
        .order_by(StatusChange.at, StatusChange.id)
    )
    for participant_id, status, at in changes:
        tally.set_status(participant_id, Status(status), at, expires[participant_id])
    return tally


def _check_title(title: str | None) -> None:
    if title is not None and not 1 <= len(title) <= MAX_TITLE_LENGTH:
        raise InvalidInputError(f"title must be 1-{MAX_TITLE_LENGTH} characters")


def _get_meeting(session: Session, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFoundError(f"no meeting {meeting_id}")
    return meeting


def _view(meeting: Meeting) -> MeetingView:
    return MeetingView(meeting.id, meeting.title, meeting.starts_at, meeting.ends_at)


def _summary(meeting: Meeting, participant_count: int, totals: Counts) -> MeetingSummary:
    return MeetingSummary(
        meeting.id,
        meeting.title,
        meeting.starts_at,
        meeting.ends_at,
        participant_count,
        totals,
        totals.muda,
    )


def _participant_view(participant: Participant) -> ParticipantView:
    return ParticipantView(
        participant.id,
        participant.kind,
        participant.created_at,
        participant.expires_at,
        Status(participant.status) if participant.status else None,
        participant.status_at,
    )


def _participant_counts(session: Session, ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(Participant.meeting_id, func.count(Participant.id))
        .where(Participant.meeting_id.in_(ids))
        .group_by(Participant.meeting_id)
    )
    return dict(rows.all())


def _totals(session: Session, ids: list[int]) -> dict[int, Counts]:
    rows = session.execute(
        select(
            EngagementSample.meeting_id,
            func.sum(EngagementSample.speaking),
            func.sum(EngagementSample.engaged),
            func.sum(EngagementSample.disengaged),
        )
        .where(EngagementSample.meeting_id.in_(ids))
        .group_by(EngagementSample.meeting_id)
    )
    return {
        meeting_id: Counts(int(speaking), int(engaged), int(disengaged))
        for meeting_id, speaking, engaged, disengaged in rows
    }
