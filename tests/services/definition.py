"""The buckets by SPEC §1's definition, recomputed from a database's raw status changes.

Shared by the property tests (one service on SQLite, several services or server
processes on one PostgreSQL database): whatever wrote the rows, the stored
buckets must equal `recomputed`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Engine, func, select

from mudameter_desktop.domain.buckets import StatusChange as RawChange
from mudameter_desktop.domain.buckets import recompute
from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.services.history import MeetingHistory
from mudameter_desktop.store.tables import EngagementSample, Meeting, Participant, StatusChange

Buckets = dict[int, dict[datetime, Counts]]  # meeting id -> minute -> counts


def recomputed(engine: Engine, now: datetime) -> Buckets:
    """Every meeting's buckets up to `now`, by the definition, from the raw changes."""
    with engine.connect() as connection, connection.begin():  # one snapshot
        meetings = connection.execute(select(Meeting.id, Meeting.starts_at, Meeting.ends_at)).all()
        changes: dict[int, list[RawChange]] = defaultdict(list)
        for row in connection.execute(
            select(
                StatusChange.meeting_id,
                StatusChange.participant_id,
                StatusChange.status,
                StatusChange.at,
            ).order_by(StatusChange.at, StatusChange.id)
        ):
            changes[row.meeting_id].append(
                RawChange(row.participant_id, Status(row.status), row.at)
            )
        expires = dict(connection.execute(select(Participant.id, Participant.expires_at)).all())
    return {
        meeting.id: recompute(meeting.starts_at, meeting.ends_at, changes[meeting.id], expires, now)
        for meeting in meetings
    }


def differences(
    got: Buckets, expected: Buckets
) -> list[tuple[int, datetime, Counts | None, Counts | None]]:
    """(meeting, minute, got, expected) wherever they differ: a readable failure."""
    return [
        (meeting_id, minute, got.get(meeting_id, {}).get(minute), buckets.get(minute))
        for meeting_id in sorted(set(got) | set(expected))
        for buckets in [expected.get(meeting_id, {})]
        for minute in sorted(set(got.get(meeting_id, {})) | set(buckets))
        if got.get(meeting_id, {}).get(minute) != buckets.get(minute)
    ]


def stored(engine: Engine) -> Buckets:
    """The engagement_sample rows as they are in the database (every meeting, even none)."""
    buckets: Buckets = {}
    with engine.connect() as connection, connection.begin():
        for meeting_id in connection.scalars(select(Meeting.id)):
            buckets[meeting_id] = {}
        for row in connection.execute(
            select(
                EngagementSample.meeting_id,
                EngagementSample.minute,
                EngagementSample.speaking,
                EngagementSample.engaged,
                EngagementSample.disengaged,
            )
        ):
            buckets[row.meeting_id][row.minute] = Counts(row.speaking, row.engaged, row.disengaged)
    return buckets


def seen_by(history: MeetingHistory, meeting_ids: list[int]) -> Buckets:
    """The buckets as the history shows them (each read settles first, as the app's do)."""
    return {
        meeting_id: {
            sample.minute: Counts(sample.speaking, sample.engaged, sample.disengaged)
            for sample in history.meeting_detail(meeting_id).engagement_samples
        }
        for meeting_id in meeting_ids
    }


def meeting_ids(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(select(Meeting.id).order_by(Meeting.id)))


def lifetimes(engine: Engine) -> dict[str, tuple[datetime, datetime]]:
    """participant id -> (created_at, expires_at)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Participant.id, Participant.created_at, Participant.expires_at)
        )
        return {row.id: (row.created_at, row.expires_at) for row in rows}


def explicit_meetings(engine: Engine) -> list[tuple[int, datetime, datetime]]:
    """(id, starts_at, ends_at) of the meetings started explicitly, in start order."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Meeting.id, Meeting.starts_at, Meeting.ends_at)
            .where(Meeting.slot_start.is_(None), Meeting.calendar_key.is_(None))
            .order_by(Meeting.starts_at, Meeting.id)
        )
        return [(row.id, row.starts_at, row.ends_at) for row in rows]


def slots_with_several_meetings(engine: Engine) -> list[tuple[int, datetime]]:
    """(room id, slot) of detected slots with more than one meeting (there must be none)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Meeting.room_id, Meeting.slot_start)
            .where(Meeting.slot_start.is_not(None))
            .group_by(Meeting.room_id, Meeting.slot_start)
            .having(func.count(Meeting.id) > 1)
        )
        return [(row.room_id, row.slot_start) for row in rows]
