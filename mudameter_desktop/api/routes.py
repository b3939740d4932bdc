"""Thin handlers: validate, call one `MeterService` method, return its answer."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.params import JSONBody, PathParameter, QueryParameter

from mudameter_desktop import __version__
from mudameter_desktop.api.events import EVENT_ROUTES
from mudameter_desktop.api.gate import Caller
from mudameter_desktop.api.rooms import room_of
from mudameter_desktop.api.schemas import (
    Health,
    Live,
    MeetingDetail,
    MeetingRequest,
    ParticipantKey,
    RenameRequest,
    StatusRequest,
    VisitRequest,
    parse_time,
)
from mudameter_desktop.api.trends import TREND_ROUTES
from mudameter_desktop.api.web import WebAssets
from mudameter_desktop.domain.meetings import MEETING_LENGTH, MINUTE
from mudameter_desktop.domain.statuses import ParticipantKind
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.services.views import (
    MeetingPage,
    MeetingView,
    StatusRecorded,
    Visit,
)

MAX_ID = 2**63 - 1  # SQLite's largest integer: any id above it is unknown
MAX_PAGE = 10**15  # keeps the row offset within SQLite's integers
_DIGITS = re.compile(r"[0-9]+")


@get("/meetings", sync_to_thread=True, operation_id="listMeetings", summary="List meetings")
def list_meetings(
    service: NamedDependency[MeterService],
    page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="1-based, 20 a page")] = 1,
) -> MeetingPage:
    """Meetings newest first, 20 a page."""
    return service.history.list_meetings(page)


@post(
    "/meetings",
    sync_to_thread=True,
    operation_id="createMeeting",
    summary="Detect or start a meeting",
)
def create_meeting(
    service: NamedDependency[MeterService],
    caller: NamedDependency[Caller],
    data: JSONBody[MeetingRequest | None] = None,
) -> Response[MeetingView]:
    """The meeting detected at `at` (200 if it existed, 201 if new), or start one (201).

    An explicit start (`starts_at`) is the host's: it ends the running meeting
    and sends everyone's clicks to the new one, so a LAN client gets a 403.
    """
    request = data or MeetingRequest()
    if request.starts_at is not None:
        if not caller.is_host:
            raise PermissionDeniedException("Only the host can start a meeting")
        meeting = service.start_meeting(
            parse_time(request.starts_at),
            request.title,
            request.duration_minutes or MEETING_LENGTH // MINUTE,
        )
        return Response(meeting, status_code=201)
    meeting, created = service.detect_meeting(parse_time(request.at), request.title)
    return Response(meeting, status_code=201 if created else 200)


@get(
    "/meetings/{meeting_id:str}",
    sync_to_thread=True,
    operation_id="getMeeting",
    summary="Get a meeting",
)
def meeting_detail(
    service: NamedDependency[MeterService],
    caller: NamedDependency[Caller],
    meeting_id: Annotated[
        str, PathParameter(description="a positive integer", pattern="^[0-9]*[1-9][0-9]*$")
    ],
) -> MeetingDetail:
    """One meeting with its participants (by handle), per-minute samples and the room now."""
    detail = service.history.meeting_detail(_meeting_id(meeting_id))
    return MeetingDetail.for_reader(detail, caller.is_host)


# The click handlers run on the event loop, not in a worker thread: the
# service call is ~1 ms and serialised by the write lock anyway, and the hop
# to a thread and back cost more than the call (benchmarks/README.md).
@post(
    "/users/status",
    status_code=200,
    sync_to_thread=False,
    operation_id="recordStatus",
    summary="Record a status",
)
def record_status(
    service: NamedDependency[MeterService],
    caller: NamedDependency[Caller],
    data: JSONBody[StatusRequest],
) -> StatusRecorded:
    """Record a status for the meeting detected now.

    `"kind": "local"` is the room's host participant (the person at the tray):
    the host's only (the host token on a team server), a 403 otherwise. Its
    `at` is a click's own time (one that waited while the host was offline).
    """
    if data.kind is not ParticipantKind.LAN and not caller.is_host:
        raise PermissionDeniedException("Only the host can post as the local participant")
    if data.at is not None and data.kind is not ParticipantKind.LOCAL:
        raise PermissionDeniedException(
            'Only the host\'s own clicks ("kind": "local") may say when they were made'
        )
    try:
        made_at = parse_time(data.at)
    except ValueError as error:
        raise ValidationException(str(error)) from error
    return service.record_status(
        data.status, data.participant_id, kind=data.kind, client=caller.address, at=made_at
    )


@get("/live", sync_to_thread=True, operation_id="live", summary="The room now")
def live(service: NamedDependency[MeterService]) -> Live:
    """The meeting a click goes to now (or the slot it would create), the room and the muda.

    What the desktop app's tray shows; it reads nothing personal and creates nothing.
    """
    return Live.of(service.live_view())


@get(
    "/participant-key",
    sync_to_thread=False,
    operation_id="participantKey",
    summary="The room's participant key (host)",
)
def participant_key(
    request: Request[Any, Any, Any], caller: NamedDependency[Caller]
) -> ParticipantKey:
    """What the room's join link carries: the desktop app connected to a team server shows
    that link and its QR code. The host's only."""
    _host_only(caller, "read the room's participant key")
    room = room_of(request.scope)
    if room is None:
        raise NotFoundException("no room")
    return ParticipantKey(room.access.key)


@post(
    "/visit",
    status_code=200,
    sync_to_thread=False,
    operation_id="visit",
    summary="Join the current meeting",
)
def visit(
    service: NamedDependency[MeterService],
    caller: NamedDependency[Caller],
    data: JSONBody[VisitRequest | None] = None,
) -> Visit:
    """Ensure the current meeting and a live participant in it."""
    participant_id = (data or VisitRequest()).participant_id
    return service.visit(participant_id, kind=ParticipantKind.LAN, client=caller.address)


MeetingId = Annotated[
    str, PathParameter(description="a positive integer", pattern="^[0-9]*[1-9][0-9]*$")
]


@patch(
    "/meetings/{meeting_id:str}",
    sync_to_thread=True,
    operation_id="renameMeeting",
    summary="Rename a meeting (host)",
)
def rename_meeting(
    service: NamedDependency[MeterService],
    caller: NamedDependency[Caller],
    meeting_id: MeetingId,
    data: JSONBody[RenameRequest],
) -> MeetingView:
    """Give a meeting a new title: the host's (loopback, or the room's host token)."""
    _host_only(caller, "rename a meeting")
    number = _meeting_id(meeting_id)
    return service.rename_meeting(number, data.title)


@post(
    "/meetings/{meeting_id:str}/end",
    status_code=200,
    sync_to_thread=True,
    operation_id="endMeeting",
    summary="End the running meeting (host)",
)
def end_meeting(
    service: NamedDependency[MeterService],
    caller: NamedDependency[Caller],
    meeting_id: MeetingId,
) -> MeetingView:
    """End the meeting now, if it is the one running (409 if it is not)."""
    _host_only(caller, "end a meeting")
    number = _meeting_id(meeting_id)
    ended = service.end_meeting_if_running(number)
    if ended is None:
        raise HTTPException(status_code=409, detail=f"meeting {number} is not running")
    return ended


@delete(
    "/meetings/{meeting_id:str}",
    status_code=204,
    sync_to_thread=True,
    operation_id="deleteMeeting",
    summary="Delete a meeting (host)",
)
def delete_meeting(
    service: NamedDependency[MeterService],
    caller: NamedDependency[Caller],
    meeting_id: MeetingId,
) -> None:
    """Delete a meeting with everything measured in it."""
    _host_only(caller, "delete a meeting")
    number = _meeting_id(meeting_id)
    service.delete_meeting(number)


@get("/health", sync_to_thread=False, operation_id="health", summary="Health check")
def health() -> Health:
    return Health("ok", __version__)


@get("/", include_in_schema=False, sync_to_thread=False)
def participant_page(assets: NamedDependency[WebAssets]) -> Response[bytes]:
    return assets.response("index.html")


@get("/static/{name:str}", include_in_schema=False, sync_to_thread=False)
def static_file(
    assets: NamedDependency[WebAssets], name: Annotated[str, PathParameter()]
) -> Response[bytes]:
    """The page's script and style; only known names, so no path ever escapes."""
    return assets.response(name)


def _host_only(caller: Caller, action: str) -> None:
    if not caller.is_host:
        raise PermissionDeniedException(f"Only the host can {action}")


def _meeting_id(text: str) -> int:
    """A path id: 400 unless a positive integer; 404 beyond the database's range."""
    digits = text.lstrip("0")
    if not (_DIGITS.fullmatch(text) and digits):
        raise ValidationException(f"meeting id must be a positive integer, not {text[:30]!r}")
    # Compared by length first: int() refuses strings of thousands of digits.
    if len(digits) > len(str(MAX_ID)) or int(digits) > MAX_ID:
        raise NotFoundException("no such meeting")
    return int(digits)


# A room's paths: served at `/` for the room `default` and at `/rooms/{slug}` for any.
ROOM_ROUTES = [
    list_meetings,
    create_meeting,
    meeting_detail,
    rename_meeting,
    end_meeting,
    delete_meeting,
    record_status,
    visit,
    live,
    participant_key,
    participant_page,
    static_file,
    *TREND_ROUTES,
    *EVENT_ROUTES,
]
ROUTES = [*ROOM_ROUTES, health]
