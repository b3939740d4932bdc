"""Rooms (services.rooms) and meetings kept apart by room, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import ColumnElement, Select, func, select

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.services.rooms import (
    RoomDirectory,
    RoomRecord,
    host_link,
    join_link,
    slug_base,
)
from mudameter_desktop.store.database import OpenedStore, make_engine
from mudameter_desktop.store.tables import (
    DEFAULT_ROOM_ID,
    EngagementSample,
    Meeting,
    Participant,
    StatusChange,
)
from tests.conftest import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def rooms(store: OpenedStore, clock: FakeClock) -> RoomDirectory:
    return RoomDirectory(store.engine, clock)


def count(store: OpenedStore, table: type, *where: ColumnElement[bool]) -> int:
    statement: Select[int] = select(func.count()).select_from(table).where(*where)
    with store.engine.connect() as connection:
        return int(connection.scalar(statement) or 0)


def test_default_is_there_without_secrets(rooms: RoomDirectory) -> None:
    assert rooms.rooms() == [RoomRecord(DEFAULT_ROOM_ID, "default", "Default", None, None, None)]
    assert rooms.get("default") == rooms.get_by_id(DEFAULT_ROOM_ID)


def test_an_added_room_is_listed_with_the_same_secrets(rooms: RoomDirectory) -> None:
    added = rooms.add("Team A", "Europe/Berlin")
    assert (added.slug, added.name, added.timezone) == ("team-a", "Team A", "Europe/Berlin")
    assert added.participant_key is not None and len(added.participant_key) >= 22
    assert added.host_token is not None and len(added.host_token) >= 43
    assert added.participant_key != added.host_token
    assert rooms.get("team-a") == added == rooms.get_by_id(added.id)
    assert [room.slug for room in rooms.rooms()] == ["default", "team-a"]
    assert rooms.rooms()[1] == added


def test_duplicate_names_get_distinct_slugs_and_secrets(rooms: RoomDirectory) -> None:
    made = [rooms.add(name) for name in ("Team A", "team a", " Team  A ", "Default")]
    assert [room.slug for room in made] == ["team-a", "team-a-2", "team-a-3", "default-2"]
    assert made[2].name == "Team  A"  # trimmed, not squeezed
    assert len({room.participant_key for room in made}) == len({room.host_token for room in made})
    assert len({room.participant_key for room in made}) == 4


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Équipe Café #2", "equipe-cafe-2"),
        ("--Ops / SRE--", "ops-sre"),
        ("Привет", "room"),
        ("x" * 200, "x" * 48),
    ],
)
def test_slugs_are_lowercase_ascii_digits_and_hyphens(name: str, slug: str) -> None:
    assert slug_base(name) == slug


def test_a_slug_taken_by_another_process_meanwhile_takes_the_next_suffix(
    rooms: RoomDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    rooms.add("Team A")
    real = RoomDirectory._free_slug
    offered: list[str] = []

    def stale_then_real(directory: RoomDirectory, base: str) -> str:
        slug = "team-a" if not offered else real(directory, base)  # the first read is stale
        offered.append(slug)
        return slug

    monkeypatch.setattr(RoomDirectory, "_free_slug", stale_then_real)
    assert rooms.add("Team A").slug == "team-a-2"
    assert offered == ["team-a", "team-a-2"]  # the unique constraint refused the first


def test_concurrent_adds_of_one_name_all_succeed_with_distinct_slugs(
    store: OpenedStore, store_url: str
) -> None:
    engines = [make_engine(store_url) for _ in range(4)]
    try:
        directories = [RoomDirectory(engine) for engine in engines]
        with ThreadPoolExecutor(len(directories)) as pool:
            slugs = list(pool.map(lambda directory: directory.add("Race").slug, directories))
    finally:
        for engine in engines:
            engine.dispose()
    assert sorted(slugs) == ["race", "race-2", "race-3", "race-4"]
    assert len(RoomDirectory(store.engine).rooms()) == 5


@pytest.mark.parametrize(
    ("name", "zone", "message"),
    [
        ("", None, "1-200 characters"),
        ("   ", None, "1-200 characters"),
        ("x" * 201, None, "1-200 characters"),
        ("a\x00b", None, "control characters"),
        ("a\nb", None, "control characters"),
        ("Team", "Mars/Olympus", "not a time zone"),
        ("Team", "", "not a time zone"),
        ("Team", "../../etc/passwd", "not a time zone"),
        ("Team", "Europe/Berlin\x00", "not a time zone"),
    ],
)
def test_bad_names_and_zones_are_refused(
    rooms: RoomDirectory, name: str, zone: str | None, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        rooms.add(name, zone)
    assert len(rooms.rooms()) == 1


def test_unknown_rooms_are_not_found(rooms: RoomDirectory) -> None:
    for call in (
        lambda: rooms.get("nope"),
        lambda: rooms.get_by_id(99),
        lambda: rooms.remove("nope"),
        lambda: rooms.new_key("nope"),
        lambda: rooms.ensure_secrets("nope"),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_links_carry_the_slug_and_the_secret_in_the_fragment(rooms: RoomDirectory) -> None:
    room = rooms.add("Team A")
    for base in ("https://meter.example.com", "https://meter.example.com/"):
        assert join_link(base, room) == (
            f"https://meter.example.com/rooms/team-a/#key={room.participant_key}"
        )
        assert host_link(base, room) == (
            f"https://meter.example.com/rooms/team-a/#host={room.host_token}"
        )
    with pytest.raises(ValueError, match="no participant key"):
        join_link("http://x", rooms.get("default"))


def test_a_new_key_changes_the_participant_key_only(rooms: RoomDirectory) -> None:
    before = rooms.add("Team A")
    after = rooms.new_key("team-a")
    assert after.participant_key != before.participant_key
    assert after == RoomRecord(
        before.id, "team-a", "Team A", None, after.participant_key, before.host_token
    )
    assert rooms.get("team-a") == after
    assert before.participant_key is not None
    assert rooms.find_by_secret(before.participant_key) is None  # the old one stops working


def test_secrets_find_their_room_and_say_whether_host(rooms: RoomDirectory) -> None:
    first, second = rooms.add("One"), rooms.add("Two")
    assert first.participant_key is not None and second.host_token is not None
    assert rooms.find_by_secret(first.participant_key) == (first, False)
    assert rooms.find_by_secret(second.host_token) == (second, True)
    for wrong in ("", "x" * 32, first.participant_key[:-1], "é" * 32, "\x00", "\udcff"):
        assert rooms.find_by_secret(wrong) is None


def test_ensure_secrets_gives_default_a_key_and_a_token_once(rooms: RoomDirectory) -> None:
    made = rooms.ensure_secrets("default")
    assert made.participant_key is not None and len(made.participant_key) >= 22
    assert made.host_token is not None
    assert rooms.ensure_secrets("default") == made == rooms.get("default")  # kept
    given = "k" * 22 + "-given-key"
    fixed = rooms.ensure_secrets("default", given)
    assert (fixed.participant_key, fixed.host_token) == (given, made.host_token)
    assert rooms.find_by_secret(given) == (fixed, False)
    for bad in ("short", "with space " * 3, "k" * 129, "k" * 30 + "\x00"):
        with pytest.raises(InvalidInputError):
            rooms.ensure_secrets("default", bad)
    assert rooms.get("default") == fixed


def test_removing_a_room_deletes_its_meetings_and_nothing_else(
    store: OpenedStore, rooms: RoomDirectory, clock: FakeClock
) -> None:
    gone = rooms.add("Gone")
    services = [
        MeterService(store.engine, BERLIN, clock=clock, room_id=room_id)
        for room_id in (DEFAULT_ROOM_ID, gone.id)
    ]
    clock.advance(minutes=15)  # into the slot: minutes get samples
    for service in services:
        service.record_status(Status.SPEAKING)
        clock.advance(minutes=2)
        service.record_status(Status.ENGAGED)
        service.start_meeting(title="Later", starts_at=clock.now.replace(hour=15))
        service.settle()
    assert count(store, Meeting, Meeting.room_id == gone.id) == 2
    rooms.remove("gone")
    assert [room.slug for room in rooms.rooms()] == ["default"]
    assert count(store, Meeting) == 2  # the default room's
    assert count(store, Meeting, Meeting.room_id == DEFAULT_ROOM_ID) == 2
    kept = select(Meeting.id).where(Meeting.room_id == DEFAULT_ROOM_ID)
    for child in (Participant, StatusChange, EngagementSample):
        assert count(store, child) == count(store, child, child.meeting_id.in_(kept)) > 0
    assert services[0].history.list_meetings().total == 2


def test_default_cannot_be_removed(rooms: RoomDirectory) -> None:
    with pytest.raises(InvalidInputError, match="cannot be removed"):
        rooms.remove("default")
    assert rooms.get("default").id == DEFAULT_ROOM_ID


def test_meetings_of_two_rooms_stay_apart(
    store: OpenedStore, rooms: RoomDirectory, clock: FakeClock
) -> None:
    other = rooms.add("Other", "Europe/Berlin")
    home = MeterService(store.engine, BERLIN, clock=clock)
    away = MeterService(store.engine, BERLIN, clock=clock, room_id=other.id)
    home_meeting, home_new = home.detect_meeting()
    away_meeting, away_new = away.detect_meeting()
    assert home_new and away_new  # the same slot, one meeting in each room
    assert home_meeting.id != away_meeting.id
    assert home_meeting.starts_at == away_meeting.starts_at
    assert home.detect_meeting() == (home_meeting, False)
    home.record_status(Status.SPEAKING)
    away.record_status(Status.DISENGAGED)
    away.record_status(Status.DISENGAGED)
    clock.advance(minutes=20)
    for service, meeting, mine, theirs in (
        (home, home_meeting, "speaking", "disengaged"),
        (away, away_meeting, "disengaged", "speaking"),
    ):
        page = service.history.list_meetings()
        assert [item.id for item in page.items] == [meeting.id]
        assert page.total == 1
        totals = page.items[0].totals
        assert getattr(totals, mine) > 0
        assert getattr(totals, theirs) == 0
    assert away.history.list_meetings().items[0].participant_count == 2
    assert home.history.list_meetings().items[0].participant_count == 1
    with pytest.raises(NotFoundError):
        home.history.meeting_detail(away_meeting.id)
