"""Use cases shared by the tray and the HTTP API: one code path for both."""

from mudameter_desktop.services.changes import ChangeHub, MeetingChange
from mudameter_desktop.services.errors import InvalidInputError, NotFoundError
from mudameter_desktop.services.meter import PAGE_SIZE, MeterService
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

__all__ = [
    "PAGE_SIZE",
    "ChangeHub",
    "InvalidInputError",
    "MeetingChange",
    "MeetingDetail",
    "MeetingPage",
    "MeetingSummary",
    "MeetingView",
    "MeterService",
    "NotFoundError",
    "ParticipantView",
    "Sample",
    "StatusRecorded",
    "Visit",
]
