"""Use cases through the service, against a real SQLite file and a fake clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from mudameter_desktop.domain.statuses import Counts, ParticipantKind, Status
from mudameter_desktop.services.changes import ChangeKind, MeetingChange
from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import OpenedStore
from mudameter_desktop.store.models import Meeting, StatusChange
from tests.conftest import FakeClock

SLOT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # 09:50 UTC rounds to 10:00 UTC


def totals_of(service: MeterService, meeting_id: int) -> Counts:
    return service.history.meeting_detail(meeting_id).totals


def test_a_visit_creates_the_detected_meeting_and_an_anonymous_participant(
    service: MeterService,
) -> None:
    visit = service.visit()
    assert visit.meeting.starts_at == SLOT
    assert visit.meeting.ends_at == SLOT + timedelta(hours=1)
    assert visit.meeting.title == "Meeting 11:00"  # Berlin local time
    assert len(visit.participant_id) == 36
    again = service.visit(visit.participant_id)
    assert again.participant_id == visit.participant_id
    assert again.meeting == visit.meeting


def test_unknown_expired_or_foreign_participant_ids_get_a_new_participant(
    service: MeterService, clock: FakeClock
) -> None:
    service.start_meeting(title="Workshop", duration_minutes=240)
    first = service.visit()
    assert service.visit("not-a-real-id").participant_id != first.participant_id
    clock.advance(minutes=59)  # still alive: the TTL slides with each visit
    assert service.visit(first.participant_id).participant_id == first.participant_id
    clock.advance(minutes=60)  # an hour without activity: expired
    expired = service.visit(first.participant_id)
    assert expired.participant_id != first.participant_id
    assert expired.meeting == first.meeting
    clock.advance(minutes=180)  # the workshop is over: another meeting, another participant
    later = service.visit(expired.participant_id)
    assert later.participant_id != expired.participant_id
    assert later.meeting.id != first.meeting.id


def test_the_ttl_slides_with_every_visit_and_status(
    service: MeterService, clock: FakeClock
) -> None:
    visit = service.visit()
    assert visit.expires_at == clock.now + timedelta(minutes=60)
    clock.advance(minutes=5)
    recorded = service.record_status(Status.ENGAGED, visit.participant_id)
    assert recorded.expires_at == clock.now + timedelta(minutes=60)


def test_an_early_status_answers_with_the_first_minute(service: MeterService) -> None:
    recorded = service.record_status(Status.SPEAKING)
    assert recorded.minute == SLOT
    assert recorded.bucket.minute == SLOT
    assert (recorded.bucket.speaking, recorded.bucket.engaged) == (1, 0)


def test_statuses_fill_buckets_with_carry_forward_and_switches(
    service: MeterService, clock: FakeClock
) -> None:
    clock.now = SLOT + timedelta(minutes=5, seconds=10)
    alice = service.record_status(Status.SPEAKING).participant_id
    for _ in range(100):  # a hundred clicks in a minute count once
        service.record_status(Status.ENGAGED, alice)
    bob = service.record_status(Status.DISENGAGED).participant_id
    clock.advance(minutes=15)
    detail = service.history.meeting_detail(service.visit(bob).meeting.id)
    samples = {sample.minute: sample for sample in detail.engagement_samples}
    assert len(samples) == 21  # minutes 0..20, zeros included
    minute5 = samples[SLOT + timedelta(minutes=5)]
    assert (minute5.speaking, minute5.engaged, minute5.disengaged) == (1, 1, 1)
    assert samples[SLOT].engaged == 0
    minute20 = samples[SLOT + timedelta(minutes=20)]
    assert (minute20.speaking, minute20.engaged, minute20.disengaged) == (0, 1, 1)
    assert detail.totals == Counts(speaking=1, engaged=16, disengaged=16)
    assert detail.muda == pytest.approx(16 / 33)
    assert detail.participant_count == 2
    assert {p.status for p in detail.participants} == {Status.ENGAGED, Status.DISENGAGED}


def test_a_restarted_service_rebuilds_the_same_buckets_from_raw_changes(
    store: OpenedStore, service: MeterService, clock: FakeClock
) -> None:
    clock.now = SLOT + timedelta(minutes=2)
    pid = service.record_status(Status.ENGAGED).participant_id
    clock.advance(minutes=3)
    service.record_status(Status.SPEAKING, pid)
    meeting_id = service.visit(pid).meeting.id
    clock.advance(minutes=10)
    before = service.history.meeting_detail(meeting_id)
    restarted = MeterService(store.engine, ZoneInfo("Europe/Berlin"), clock=clock)
    assert restarted.history.meeting_detail(meeting_id) == before
    # The switch at exactly 10:05:00 ends "engaged" before minute 5 begins.
    assert totals_of(restarted, meeting_id) == Counts(speaking=11, engaged=3)


def test_meetings_are_listed_newest_first_twenty_a_page(
    service: MeterService, clock: FakeClock
) -> None:
    created = [service.detect_meeting(SLOT - timedelta(hours=hours))[0].id for hours in range(45)]
    twin = service.start_meeting(SLOT, "Same start, higher id", 30)
    first = service.history.list_meetings(1)
    assert (first.total, first.pages, first.page_size) == (46, 3, 20)
    assert [m.id for m in first.items[:2]] == [twin.id, created[0]]
    assert [m.id for m in first.items[2:]] == created[1:19]
    third = service.history.list_meetings(3)
    assert [m.id for m in third.items] == created[39:]
    assert service.history.list_meetings(4).items == []
    with pytest.raises(InvalidInputError):
        service.history.list_meetings(0)


def test_detection_returns_the_existing_meeting_for_its_slot(service: MeterService) -> None:
    meeting, created = service.detect_meeting(SLOT - timedelta(minutes=25))
    again, created_again = service.detect_meeting(SLOT + timedelta(minutes=29, seconds=59))
    assert (created, created_again) == (True, False)
    assert again == meeting


def test_twenty_threads_detecting_the_same_slot_create_one_meeting(
    store: OpenedStore, service: MeterService
) -> None:
    barrier = threading.Barrier(20)
    results: list[int] = []

    def detect() -> None:
        barrier.wait()
        results.append(service.detect_meeting(SLOT)[0].id)

    threads = [threading.Thread(target=detect) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    with store.sessions() as session:
        assert session.scalar(select(func.count(Meeting.id))) == 1


def test_an_explicit_meeting_wins_while_it_runs(service: MeterService, clock: FakeClock) -> None:
    clock.now = SLOT + timedelta(minutes=10)
    explicit = service.start_meeting(title="Design review", duration_minutes=15)
    assert explicit.starts_at == SLOT + timedelta(minutes=10)
    assert service.record_status(Status.ENGAGED).meeting_id == explicit.id
    clock.advance(minutes=15)
    assert service.detect_meeting()[0].starts_at == SLOT  # back to the slot meeting


def test_ending_a_meeting_stops_its_samples(service: MeterService, clock: FakeClock) -> None:
    clock.now = SLOT + timedelta(minutes=3, seconds=30)
    service.record_status(Status.ENGAGED)
    ended = service.end_meeting()
    assert clock.now <= ended.ends_at < clock.now + timedelta(milliseconds=1)
    clock.advance(minutes=30)
    detail = service.history.meeting_detail(ended.id)
    assert [s.minute for s in detail.engagement_samples][-1] == SLOT + timedelta(minutes=3)
    assert detail.totals == Counts(engaged=1)


def test_ending_before_the_start_never_ends_before_it(service: MeterService) -> None:
    service.visit()  # an early arrival makes the 10:00 meeting
    ended = service.end_meeting()  # at 09:50 the current meeting starts at 10:00
    assert ended.ends_at == ended.starts_at
    assert service.history.meeting_detail(ended.id).engagement_samples == []


def test_rename_and_delete(service: MeterService, store: OpenedStore) -> None:
    meeting_id = service.record_status(Status.ENGAGED).meeting_id
    assert service.rename_meeting(meeting_id, "Planning").title == "Planning"
    with pytest.raises(InvalidInputError):
        service.rename_meeting(meeting_id, "x" * 201)
    service.delete_meeting(meeting_id)
    with pytest.raises(NotFoundError):
        service.history.meeting_detail(meeting_id)
    with store.sessions() as session:  # raw changes went with it
        assert session.scalar(select(func.count(StatusChange.id))) == 0


def test_changes_are_published_after_each_write(service: MeterService) -> None:
    seen: list[MeetingChange] = []
    service.changes.subscribe(seen.append)
    visit = service.visit()
    service.record_status(Status.ENGAGED, visit.participant_id, ParticipantKind.LOCAL)
    service.rename_meeting(visit.meeting.id, "Renamed")
    assert [change.kind for change in seen] == [
        ChangeKind.CREATED,
        ChangeKind.VISIT,
        ChangeKind.STATUS,
        ChangeKind.UPDATED,
    ]
    assert {change.meeting_id for change in seen} == {visit.meeting.id}


def test_a_failing_listener_never_breaks_a_write(service: MeterService) -> None:
    def broken(_change: MeetingChange) -> None:
        raise RuntimeError("listener bug")

    service.changes.subscribe(broken)
    assert service.record_status(Status.SPEAKING).status is Status.SPEAKING


def test_bad_titles_and_durations_are_refused(service: MeterService) -> None:
    with pytest.raises(InvalidInputError):
        service.start_meeting(title="")
    with pytest.raises(InvalidInputError):
        service.start_meeting(duration_minutes=1441)
    with pytest.raises(InvalidInputError):
        service.detect_meeting(datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
