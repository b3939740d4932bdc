"""A team server's room over HTTP, as the desktop app uses it when connected (SPEC §7,
last bullet; issue 13): the history window's `HistorySource`, the tray's live view
and join link (read by `services.room_watch`), and the host's start and end.

Every call is one or a few requests to the room's API with the host token
(`Authorization: Bearer`), answered as the local `MeetingHistory` and
`MeterService` answer: the same view dataclasses, `NotFoundError` for a
meeting that is not there, `InvalidInputError` for a refused title. A server
that cannot be reached, does not answer within the timeout, or answers 5xx
raises `RemoteUnavailableError`; a refused host link (401, 403, a removed
room) `RemoteRefusedError`. Both are `RemoteError`s with one line for the user.

Calls block for up to the timeouts (connect 3 s, read 10 s): the window makes
them in worker threads. One `httpx.Client` (its connection pool is
thread-safe) is made on first use and kept until `close`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from mudameter_desktop.domain.meetings import MeetingPlan
from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.domain.trends import Period
from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.team_client import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, detail_of
from mudameter_desktop.services.views import (
    HeatCell,
    LiveView,
    MeetingDetail,
    MeetingPage,
    MeetingSummary,
    MeetingView,
    ParticipantView,
    Sample,
    TitleWaste,
    TrendPoint,
)

if TYPE_CHECKING:
    import httpx

    from mudameter_desktop.services.team_client import HostLink

__all__ = [
    "RemoteError",
    "RemoteRefusedError",
    "RemoteRoom",
    "RemoteUnavailableError",
]

_RETRIED_CODES = frozenset({408, 429})
_INVALID_CODES = frozenset({400, 409, 413, 422})  # 409: not running (end), and such

T = TypeVar("T")


class RemoteError(RuntimeError):
    """The team server's room could not give an answer; the message is for the user."""


class RemoteUnavailableError(RemoteError):
    """The server cannot be reached, did not answer in time, or failed (5xx, 408, 429)."""


class RemoteRefusedError(RemoteError):
    """The server refused the host link (401, 403) or has no such room (404)."""


class RemoteRoom:
    """The meetings of a team server's room, read and changed with its host token."""

    def __init__(
        self,
        link: HostLink,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.link = link
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._transport = transport
        self._lock = threading.Lock()  # guards `_client`
        self._client: httpx.Client | None = None
        self._closed = False

    def __repr__(self) -> str:  # the link's repr holds no token
        return f"RemoteRoom({self.link!r})"

    def close(self) -> None:
        """Close the connections; a later call raises `RemoteUnavailableError`."""
        with self._lock:
            client, self._client, self._closed = self._client, None, True
        if client is not None:
            client.close()

    # -- reads ------------------------------------------------------------------

    def list_meetings(self, page: int = 1) -> MeetingPage:
        """Meetings newest first, 20 a page (`GET …/meetings?page=N`)."""
        if page < 1:
            raise InvalidInputError("page must be 1 or more")
        answer = self._json("GET", "/meetings", params={"page": page})
        return _read(_page, answer)

    def summary(self, meeting_id: int) -> MeetingSummary:
        """One meeting's line, from its detail (the room has no shorter read)."""
        detail = self.meeting_detail(meeting_id)
        return MeetingSummary(
            detail.id,
            detail.title,
            detail.starts_at,
            detail.ends_at,
            detail.participant_count,
            detail.totals,
            detail.muda,
        )

    def meeting_detail(self, meeting_id: int) -> MeetingDetail:
        """One meeting with its participants and minutes (`GET …/meetings/{id}`)."""
        answer = self._json("GET", f"/meetings/{_path_id(meeting_id)}", meeting_id=meeting_id)
        return _read(_detail, answer)

    def trends(self, by: Period) -> list[TrendPoint]:
        """Per week or month in the room's zone, newest first (`GET …/trends?by=`)."""
        answer = self._json("GET", "/trends", params={"by": Period(by).value})
        return _read(lambda data: [_trend_point(item) for item in data["items"]], answer)

    def heatmap(self) -> list[HeatCell]:
        """Muda by weekday and start hour in the room's zone (`GET …/trends/heatmap`)."""
        answer = self._json("GET", "/trends/heatmap")
        return _read(lambda data: [_heat_cell(item) for item in data["items"]], answer)

    def wasteful_titles(self, limit: int = 10) -> list[TitleWaste]:
        """Recurring titles by wasted person-hours (`GET …/trends/titles?limit=`)."""
        answer = self._json("GET", "/trends/titles", params={"limit": limit})
        return _read(lambda data: [_title_waste(item) for item in data["items"]], answer)

    # -- the host's changes -----------------------------------------------------

    def rename_meeting(self, meeting_id: int, title: str) -> MeetingView:
        """`PATCH …/meetings/{id}` with the new title."""
        answer = self._json(
            "PATCH",
            f"/meetings/{_path_id(meeting_id)}",
            meeting_id=meeting_id,
            body={"title": title},
        )
        return _read(_meeting_view, answer)

    def delete_meeting(self, meeting_id: int) -> None:
        """`DELETE …/meetings/{id}`: the meeting and all its minutes."""
        self._request("DELETE", f"/meetings/{_path_id(meeting_id)}", meeting_id=meeting_id)

    # -- the tray's ----------------------------------------------------------------

    def live(self) -> LiveView:
        """`GET …/live`: the room now. Its `status` is None: the view is the room's, not
        a person's (the app knows its own clicks)."""
        return _read(_live_view, self._json("GET", "/live"))

    def join_link(self) -> str:
        """The room's join link, from its participant key (the host's to read)."""
        answer = self._json("GET", "/participant-key")
        return self.link.join_link(_read(lambda data: _text(data["participant_key"]), answer))

    def start_meeting(self, title: str | None, duration_minutes: int) -> MeetingView:
        """`POST …/meetings` with `starts_at` now: an explicit meeting from this minute."""
        body: dict[str, Any] = {
            "starts_at": datetime.now(UTC).isoformat(),
            "duration_minutes": duration_minutes,
        }
        if title:
            body["title"] = title
        return _read(_meeting_view, self._json("POST", "/meetings", body=body))

    def end_meeting(self, meeting_id: int) -> MeetingView:
        """`POST …/meetings/{id}/end`; `NotFoundError` if it is not running any more."""
        path = f"/meetings/{_path_id(meeting_id)}/end"
        return _read(_meeting_view, self._json("POST", path, meeting_id=meeting_id))

    # -- HTTP -------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        import httpx  # noqa: PLC0415 - ~40 ms, only when connected

        with self._lock:
            if self._closed:
                raise RemoteUnavailableError("The connection to the team server was closed.")
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self._read_timeout, connect=self._connect_timeout),
                    headers={"Authorization": f"Bearer {self.link.token}"},
                    transport=self._transport,
                    follow_redirects=False,
                )
            return self._client

    def _request(
        self,
        method: str,
        path: str,
        *,
        meeting_id: int | None = None,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        import httpx  # noqa: PLC0415 - loaded by `_http`

        client = self._http()
        try:
            response = client.request(method, self.link.room_url + path, params=params, json=body)
        except httpx.TimeoutException as error:
            raise RemoteUnavailableError("The team server does not answer.") from error
        except httpx.HTTPError as error:
            raise RemoteUnavailableError(
                f"The team server cannot be reached ({error or type(error).__name__})."
            ) from error
        _check(response, meeting_id)
        return response

    def _json(self, method: str, path: str, **request: Any) -> Any:
        """`_request`'s answer as JSON (the same keyword arguments)."""
        response = self._request(method, path, **request)
        try:
            return response.json()
        except ValueError as error:
            raise RemoteError("The team server's answer is not JSON.") from error


def _path_id(meeting_id: int) -> int:
    if meeting_id < 1:
        raise NotFoundError(f"no meeting {meeting_id}")
    return meeting_id


def _check(response: httpx.Response, meeting_id: int | None) -> None:
    """Raise what the local service would for the answer's status (nothing for a 2xx)."""
    code = response.status_code
    if 200 <= code < 300:
        return
    detail = detail_of(response)
    if code == 404 and meeting_id is not None:
        raise NotFoundError(f"no meeting {meeting_id}")
    if code == 404:
        raise RemoteRefusedError(f"The team server has no such room ({detail}).")
    if code in (401, 403):
        raise RemoteRefusedError(f"The team server refused the host link ({code}: {detail}).")
    if code in _INVALID_CODES:
        raise InvalidInputError(detail)
    if code >= 500 or code in _RETRIED_CODES:
        raise RemoteUnavailableError(f"The team server answered {code}: {detail}")
    raise RemoteError(f"The team server answered {code}: {detail}")


# -- answers to views -----------------------------------------------------------


def _read(parse: Callable[[Any], T], answer: Any) -> T:
    """`parse(answer)`, or a `RemoteError` if the answer has not the expected shape."""
    try:
        return parse(answer)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RemoteError(f"The team server's answer could not be read ({error!r}).") from error


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"a time, not {value!r}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"a time without an offset: {value!r}")
    return moment


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an integer, not {value!r}")
    return value


def _share(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a number, not {value!r}")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a text, not {value!r}")
    return value


def _counts(data: Any) -> Counts:
    return Counts(_int(data["speaking"]), _int(data["engaged"]), _int(data["disengaged"]))


def _meeting_view(data: Any) -> MeetingView:
    return MeetingView(
        _int(data["id"]), _text(data["title"]), _time(data["starts_at"]), _time(data["ends_at"])
    )


def _live_view(data: Any) -> LiveView:
    meeting, plan = data["meeting"], data["plan"]
    return LiveView(
        meeting=_meeting_view(meeting) if meeting is not None else None,
        plan=MeetingPlan(
            _text(plan["title"]), _time(plan["starts_at"]), _time(plan["ends_at"]), None
        )
        if plan is not None
        else None,
        running=bool(data["running"]),
        room=_counts(data["room"]),
        status=None,
        totals=_counts(data["totals"]),
        recent=tuple(_counts(counts) for counts in data["recent"]),
    )


def _summary(data: Any) -> MeetingSummary:
    return MeetingSummary(
        _int(data["id"]),
        _text(data["title"]),
        _time(data["starts_at"]),
        _time(data["ends_at"]),
        _int(data["participant_count"]),
        _counts(data["totals"]),
        _share(data["muda"]),
    )


def _page(data: Any) -> MeetingPage:
    return MeetingPage(
        [_summary(item) for item in data["items"]],
        _int(data["page"]),
        _int(data["page_size"]),
        _int(data["total"]),
        _int(data["pages"]),
    )


def _participant(data: Any) -> ParticipantView:
    """A participant as the host reads them (everything filled: the token is the host's)."""
    status = data["status"]
    status_at = data["status_at"]
    return ParticipantView(
        _text(data["handle"]),
        _text(data["kind"]),
        _time(data["created_at"]),
        _time(data["expires_at"]),
        None if status is None else Status(status),
        None if status_at is None else _time(status_at),
    )


def _sample(data: Any) -> Sample:
    return Sample(
        _time(data["minute"]),
        _int(data["speaking"]),
        _int(data["engaged"]),
        _int(data["disengaged"]),
    )


def _detail(data: Any) -> MeetingDetail:
    summary = _summary(data)
    return MeetingDetail(
        summary.id,
        summary.title,
        summary.starts_at,
        summary.ends_at,
        summary.participant_count,
        summary.totals,
        summary.muda,
        [_participant(item) for item in data["participants"]],
        [_sample(item) for item in data["engagement_samples"]],
        _counts(data["room"]),
    )


def _trend_point(data: Any) -> TrendPoint:
    return TrendPoint(
        _time(data["period_start"]),
        _int(data["meetings"]),
        _int(data["participant_minutes"]),
        _share(data["muda"]),
        float(_share(data["wasted_person_hours"]) or 0.0),
    )


def _heat_cell(data: Any) -> HeatCell:
    return HeatCell(
        _int(data["weekday"]),
        _int(data["hour"]),
        _int(data["meetings"]),
        _int(data["participant_minutes"]),
        _share(data["muda"]),
    )


def _title_waste(data: Any) -> TitleWaste:
    return TitleWaste(
        _text(data["title"]),
        _int(data["meetings"]),
        _int(data["participant_minutes"]),
        _share(data["muda"]),
        float(_share(data["wasted_person_hours"]) or 0.0),
    )
