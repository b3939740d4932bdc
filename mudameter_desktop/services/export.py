"""A meeting as CSV (one row per minute) or JSON (the API's MeetingDetail shape)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from mudameter_desktop.services.views import MeetingDetail

CSV_COLUMNS = ("meeting_id", "title", "minute", "speaking", "engaged", "disengaged")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, as the HTTP API writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def meeting_to_dict(detail: MeetingDetail) -> dict[str, Any]:
    return {
        "id": detail.id,
        "title": detail.title,
        "starts_at": iso(detail.starts_at),
        "ends_at": iso(detail.ends_at),
        "participant_count": detail.participant_count,
        "totals": {
            "speaking": detail.totals.speaking,
            "engaged": detail.totals.engaged,
            "disengaged": detail.totals.disengaged,
        },
        "muda": detail.muda,
        "participants": [
            {
                "id": participant.id,
                "kind": participant.kind,
                "created_at": iso(participant.created_at),
                "expires_at": iso(participant.expires_at),
                "status": participant.status.value if participant.status else None,
                "status_at": iso(participant.status_at),
            }
            for participant in detail.participants
        ],
        "engagement_samples": [
            {
                "minute": iso(sample.minute),
                "speaking": sample.speaking,
                "engaged": sample.engaged,
                "disengaged": sample.disengaged,
            }
            for sample in detail.engagement_samples
        ],
    }


def meeting_to_json(detail: MeetingDetail) -> str:
    return json.dumps(meeting_to_dict(detail), indent=2, ensure_ascii=False) + "\n"


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
