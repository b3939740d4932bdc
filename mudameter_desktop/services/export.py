"""A meeting as CSV (one row per minute) or JSON (the API's MeetingDetail shape)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import msgspec

from mudameter_desktop.services.views import MeetingDetail

CSV_COLUMNS = ("meeting_id", "title", "minute", "speaking", "engaged", "disengaged")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, as the HTTP API writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def meeting_to_json(detail: MeetingDetail) -> str:
    """The meeting exactly as `GET /meetings/{id}` serialises it (msgspec, as Litestar)."""
    return msgspec.json.format(msgspec.json.encode(detail), indent=2).decode() + "\n"


def meeting_to_csv(detail: MeetingDetail) -> str:
    """One row per minute bucket, times in UTC."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for sample in detail.engagement_samples:
        writer.writerow(
            (
                detail.id,
                safe_cell(detail.title),
                iso(sample.minute),
                sample.speaking,
                sample.engaged,
                sample.disengaged,
            )
        )
    return buffer.getvalue()


def safe_cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
