"""Which meeting, who is in it, what counts: leaving, no overlaps, the live view.

Each test here failed before the service owned these rules (issue 10).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from mudameter_desktop.domain.participants import MAX_LIVE_PER_ADDRESS, handle_of
from mudameter_desktop.domain.statuses import Counts, ParticipantKind, Status
from mudameter_desktop.services.errors import NotFoundError, TooManyParticipantsError
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore
from mudameter_desktop.store.models import Meeting
from tests.conftest import FakeClock

LOCAL = ParticipantKind.LOCAL


@contextmanager
def counted_statements(store: OpenedStore) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def assert_answered_from_memory(store: OpenedStore, statements: list[str]) -> None:
    if store.engine.dialect.name == "sqlite":
        assert statements == []  # one process: memory is the truth
    else:  # any process may have written since: one read of the room's version
        assert len(statements) == 1
        assert statements[0].startswith("SELECT room.version")


def test_a_status_left_behind_stops_counting_when_its_owner_moves_on(
    service: MeterService, clock: FakeClock
) -> None:
    """The issue's trial: muda of Old fell from 33 % to 9 % because a status stayed."""
    slot = service.record_status(Status.ENGAGED)
    bored = service.record_status(Status.DISENGAGED)
    clock.advance(minutes=15)  # 10:05, inside the slot meeting
    new = service.start_meeting(title="New", duration_minutes=30)
    moved = service.record_status(Status.ENGAGED, slot.participant_id)
    assert moved.meeting_id == new.id
    assert moved.participant_id != slot.participant_id
    clock.advance(minutes=20)
    samples = service.history.meeting_detail(slot.meeting_id).engagement_samples
    after_move = [s for s in samples if s.minute > new.starts_at]
    assert after_move, "the slot meeting has samples after the move"
    # Only the one who stayed counts in the slot after the move.
    assert {s.counts for s in after_move} == {Counts(disengaged=1)}
    assert bored.meeting_id == slot.meeting_id


def test_the_trays_own_participant_leaves_too(service: MeterService, clock: FakeClock) -> None:
    clock.advance(minutes=12)  # 10:02
    first = service.record_status(Status.SPEAKING, None, LOCAL)
    clock.advance(minutes=3)
    new = service.start_meeting(title="Standup", duration_minutes=15)
    service.record_status(Status.ENGAGED, first.participant_id, LOCAL)
    clock.advance(minutes=10)
    old = service.history.meeting_detail(first.meeting_id)
    assert all(s.counts == Counts() for s in old.engagement_samples if s.minute > new.starts_at)
    assert service.live_view(first.participant_id).status is None  # that one has left


def test_explicit_meetings_never_overlap_and_ending_one_brings_none_back(
    service: MeterService, clock: FakeClock
) -> None:
    clock.advance(minutes=10)  # 10:00
    old = service.start_meeting(title="Old", duration_minutes=60)
    service.record_status(Status.ENGAGED)
    clock.advance(minutes=10)
    new = service.start_meeting(title="New", duration_minutes=60)
    with service._engine.connect() as connection:
        old_end = connection.scalar(select(Meeting.ends_at).where(Meeting.id == old.id))
    assert old_end == new.starts_at
    clock.advance(minutes=5)
    service.end_meeting()
    assert service.live_view().meeting != old
    assert service.detect_meeting()[0].id not in {old.id, new.id}
    assert service.history.meeting_detail(old.id).ends_at == new.starts_at


def test_a_new_explicit_meeting_ends_where_a_later_one_starts(
    service: MeterService, clock: FakeClock
) -> None:
    later = service.start_meeting(clock.now + timedelta(minutes=30), "Later", 60)
    now = service.start_meeting(title="Now", duration_minutes=60)
    assert now.ends_at == later.starts_at


def test_the_live_view_shows_the_explicit_meeting_a_click_went_to(
    service: MeterService, clock: FakeClock
) -> None:
    clock.advance(minutes=10)  # 10:00, an explicit 10:00-11:00 meeting
    explicit = service.start_meeting(title="Planning", duration_minutes=60)
    clock.advance(minutes=40)
    click = service.record_status(Status.ENGAGED, None, LOCAL)
    assert click.meeting_id == explicit.id
    view = service.live_view(click.participant_id)
    assert view.meeting == explicit
    assert view.plan is None
    assert view.running
    assert view.status == Status.ENGAGED


def test_the_live_view_creates_nothing(service: MeterService, store: OpenedStore) -> None:
    view = service.live_view()
    assert view.meeting is None
    assert view.plan is not None
    assert view.plan.title == "Meeting 11:00"
    with store.sessions() as session:
        assert session.scalar(select(func.count(Meeting.id))) == 0


def test_the_live_view_runs_no_query_but_the_room_version_once_the_meeting_is_known(
    service: MeterService, store: OpenedStore
) -> None:
    click = service.record_status(Status.ENGAGED, None, LOCAL)
    service.live_view(click.participant_id)
    with counted_statements(store) as statements:
        view = service.live_view(click.participant_id)
    assert_answered_from_memory(store, statements)
    assert view.status == Status.ENGAGED


def test_one_person_is_one_person_in_the_room_now(service: MeterService, clock: FakeClock) -> None:
    clock.advance(minutes=15)  # 10:05
    first = service.record_status(Status.SPEAKING)
    clock.advance(seconds=10)
    second = service.record_status(Status.ENGAGED, first.participant_id)
    clock.advance(seconds=10)
    third = service.record_status(Status.DISENGAGED, first.participant_id)
    assert third.bucket.counts == Counts(1, 1, 1)  # the minute's record
    assert service.live_view().room == Counts(disengaged=1)  # the room now
    detail = service.history.meeting_detail(second.meeting_id)
    assert detail.room == Counts(disengaged=1)


def test_room_now_counts_early_arrivals_and_is_empty_after_the_end(
    service: MeterService, clock: FakeClock
) -> None:
    service.record_status(Status.ENGAGED)  # 09:50, the meeting starts at 10:00
    assert service.live_view().room == Counts(engaged=1)
    clock.advance(minutes=20)
    service.end_meeting()
    view = service.live_view()
    assert view.room == Counts()
    assert not view.running


def test_the_live_view_carries_totals_and_recent_minutes(
    service: MeterService, clock: FakeClock
) -> None:
    clock.advance(minutes=10)
    service.record_status(Status.DISENGAGED)
    clock.advance(minutes=6, seconds=30)
    view = service.live_view()
    assert view.recent == (Counts(disengaged=1),) * 5
    assert view.totals == Counts(disengaged=7)
    assert view.muda == 1.0


def test_a_lan_request_can_never_act_as_the_trays_participant(service: MeterService) -> None:
    host = service.record_status(Status.ENGAGED, None, LOCAL)
    intruder = service.record_status(Status.DISENGAGED, host.participant_id)
    assert intruder.participant_id != host.participant_id
    assert service.live_view(host.participant_id).status == Status.ENGAGED


def test_one_address_holds_at_most_five_live_participants(service: MeterService) -> None:
    made = [service.record_status(Status.DISENGAGED, client="10.0.0.7") for _ in range(5)]
    assert len(made) == MAX_LIVE_PER_ADDRESS
    with pytest.raises(TooManyParticipantsError):
        service.record_status(Status.DISENGAGED, client="10.0.0.7")
    with pytest.raises(TooManyParticipantsError):
        service.visit(client="10.0.0.7")
    again = service.record_status(Status.ENGAGED, made[0].participant_id, client="10.0.0.7")
    assert again.participant_id == made[0].participant_id  # a known one is welcome back
    assert service.record_status(Status.ENGAGED, client="10.0.0.8").participant_id
    assert service.live_view().room == Counts(engaged=2, disengaged=4)


def test_participants_appear_by_handle_only(service: MeterService) -> None:
    click = service.record_status(Status.ENGAGED)
    assert click.handle == handle_of(click.participant_id)
    assert click.participant_id not in click.handle
    detail = service.history.meeting_detail(click.meeting_id)
    assert [p.handle for p in detail.participants] == [click.handle]
    assert not hasattr(detail.participants[0], "id")


def test_meeting_ids_are_never_reused(service: MeterService, clock: FakeClock) -> None:
    first = service.start_meeting(title="First")
    service.delete_meeting(first.id)
    clock.advance(minutes=1)
    second = service.start_meeting(title="Second")
    assert second.id > first.id


def test_ending_with_no_meeting_running_creates_nothing(
    service: MeterService, store: OpenedStore
) -> None:
    with pytest.raises(NotFoundError):
        service.end_meeting()
    with store.sessions() as session:
        assert session.scalar(select(func.count(Meeting.id))) == 0


def test_after_a_restart_the_live_view_knows_an_early_arrival_and_then_stays_in_memory(
    service: MeterService, store: OpenedStore, clock: FakeClock
) -> None:
    click = service.record_status(Status.SPEAKING, None, LOCAL)  # 09:50, before the 10:00 start
    restarted = MeterService(store.engine, service.zone, clock=clock)
    view = restarted.live_view(click.participant_id)
    assert view.meeting is not None
    assert view.meeting.id == click.meeting_id
    assert (view.room, view.status) == (Counts(speaking=1), Status.SPEAKING)
    with counted_statements(store) as statements:
        restarted.live_view(click.participant_id)
    assert_answered_from_memory(store, statements)
