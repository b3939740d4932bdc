"""What the history window reads and changes, wherever the meetings live.

`HistorySource` is the history window's view of a room's meetings: the local
store (`LocalHistory`, over `MeterService`) or a team server's room
(`services.remote_room.RemoteRoom`, over HTTP). The window calls these
methods from worker threads only, so a slow source never holds up the UI.
`TrendsSource` is the part the Trends tab reads (`MeetingHistory` has it too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mudameter_desktop.domain.trends import Period
    from mudameter_desktop.services.meter import MeterService
    from mudameter_desktop.services.views import (
        HeatCell,
        MeetingDetail,
        MeetingPage,
        MeetingSummary,
        MeetingView,
        TitleWaste,
        TrendPoint,
    )

__all__ = ["HistorySource", "LocalHistory", "TrendsSource"]


class TrendsSource(Protocol):
    """The Trends tab's three reads."""

    def trends(self, by: Period) -> list[TrendPoint]: ...

    def heatmap(self) -> list[HeatCell]: ...

    def wasteful_titles(self, limit: int = 10) -> list[TitleWaste]: ...


class HistorySource(TrendsSource, Protocol):
    """Pages of meetings, one meeting, trends; rename and delete (the host's actions).

    A meeting that is not there raises `NotFoundError`; a bad title
    `InvalidInputError`, as the local service does.
    """

    def list_meetings(self, page: int = 1) -> MeetingPage: ...

    def summary(self, meeting_id: int) -> MeetingSummary: ...

    def meeting_detail(self, meeting_id: int) -> MeetingDetail: ...

    def rename_meeting(self, meeting_id: int, title: str) -> MeetingView: ...

    def delete_meeting(self, meeting_id: int) -> None: ...


class LocalHistory:
    """The local store as a `HistorySource`: reads from `MeterService.history`, writes
    through the service (which notifies the window of the change as of any other)."""

    def __init__(self, service: MeterService) -> None:
        self._service = service
        self._history = service.history

    def list_meetings(self, page: int = 1) -> MeetingPage:
        return self._history.list_meetings(page)

    def summary(self, meeting_id: int) -> MeetingSummary:
        return self._history.summary(meeting_id)

    def meeting_detail(self, meeting_id: int) -> MeetingDetail:
        return self._history.meeting_detail(meeting_id)

    def trends(self, by: Period) -> list[TrendPoint]:
        return self._history.trends(by)

    def heatmap(self) -> list[HeatCell]:
        return self._history.heatmap()

    def wasteful_titles(self, limit: int = 10) -> list[TitleWaste]:
        return self._history.wasteful_titles(limit)

    def rename_meeting(self, meeting_id: int, title: str) -> MeetingView:
        return self._service.rename_meeting(meeting_id, title)

    def delete_meeting(self, meeting_id: int) -> None:
        self._service.delete_meeting(meeting_id)
