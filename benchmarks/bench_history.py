"""History at scale: 10 000 meetings and 600 000 buckets in a temporary data folder.

The database is made by the app's own migrations, then filled with Core
`executemany` (complete meetings of 60 one-minute buckets, a few
participants each; one meeting has 50). The window is then opened and a
meeting selected in a fresh process (see `bench_qt.history`).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import bench_qt

MEETINGS = 10_000
MINUTES = 60
BIG_MEETING_PARTICIPANTS = 50
BIG_MEETING_ROW = 3  # on the first page, as a user would click a recent meeting


def generate(data_dir: Path, meetings: int = MEETINGS) -> int:
    """Fill a fresh database; returns the id of the meeting with 50 participants."""
    from sqlalchemy import insert

    from mudameter_desktop.runtime import Options, prepare_paths
    from mudameter_desktop.store.database import open_store, sqlite_url
    from mudameter_desktop.store.models import EngagementSample, Meeting, Participant

    options = Options(data_dir=data_dir)
    store = open_store(sqlite_url(prepare_paths(options).database_file))
    rng = random.Random(7)  # noqa: S311 - test data
    top = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    meeting_rows, participant_rows, sample_rows = [], [], []
    big_id = 0
    for number in range(meetings):
        meeting_id = number + 1
        starts = top - timedelta(hours=meetings - number)  # the last id is the newest
        meeting_rows.append(
            {
                "id": meeting_id,
                "title": f"Meeting {number}",
                "starts_at": starts,
                "ends_at": starts + timedelta(minutes=MINUTES),
                "created_at": starts,
                "slot_start": starts,
                "complete": True,
            }
        )
        big = number == meetings - 1 - BIG_MEETING_ROW
        people = BIG_MEETING_PARTICIPANTS if big else rng.randint(2, 8)
        if big:
            big_id = meeting_id
        for _ in range(people):
            status = rng.choice(("speaking", "engaged", "disengaged"))
            participant_rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "meeting_id": meeting_id,
                    "kind": "lan",
                    "created_at": starts,
                    "expires_at": starts + timedelta(hours=1),
                    "status": status,
                    "status_at": starts,
                }
            )
        totals = meeting_rows[-1]
        for minute in range(MINUTES):
            speaking = rng.randint(0, min(3, people))
            engaged = rng.randint(0, people - speaking)
            for column, count in zip(
                ("speaking", "engaged", "disengaged"),
                (speaking, engaged, people - speaking - engaged),
                strict=True,
            ):
                totals[f"total_{column}"] = int(totals.get(f"total_{column}", 0)) + count
            sample_rows.append(
                {
                    "meeting_id": meeting_id,
                    "minute": starts + timedelta(minutes=minute),
                    "speaking": speaking,
                    "engaged": engaged,
                    "disengaged": people - speaking - engaged,
                }
            )
    with store.engine.begin() as connection:
        connection.execute(insert(Meeting), meeting_rows)
        connection.execute(insert(Participant), participant_rows)
        connection.execute(insert(EngagementSample), sample_rows)
    store.close()
    return big_id


def measure(repeats: int = 5, runs: int = 3) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="mudameter-history-"))
    try:
        started = time.perf_counter()
        big = generate(folder)
        print(f"  history: generated in {time.perf_counter() - started:.1f} s", flush=True)
        rounds = []
        for index in range(runs):
            result = bench_qt.measure("history", folder, str(big), str(repeats))
            print(f"  history round {index + 1}: {result}", flush=True)
            rounds.append(result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "meetings": MEETINGS,
        "buckets": MEETINGS * MINUTES,
        "first_open_ms": bench_qt.statistics.median(r["first_open_ms"] for r in rounds),
        "open_ms": bench_qt.statistics.median(r["open"]["median_ms"] for r in rounds),
        "select_ms": bench_qt.statistics.median(r["select"]["median_ms"] for r in rounds),
        "rounds": rounds,
    }


if __name__ == "__main__":
    print(measure())
