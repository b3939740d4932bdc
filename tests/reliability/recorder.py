"""Child process for the crash test: records statuses as fast as it can.

Usage: python recorder.py DATABASE_FILE. Each status is recorded for a new
participant through `MeterService`, and only once `record_status` returned
(committed) is its participant id printed and flushed: every printed line
is a promise that the click is stored.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import tzlocal

from mudameter_desktop.domain.statuses import ParticipantKind, Status
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.store.database import open_store, sqlite_url


def main(database: Path) -> None:
    store = open_store(sqlite_url(database))
    service = MeterService(store.engine, tzlocal.get_localzone())
    print("ready", flush=True)
    for status in itertools.cycle(Status):
        recorded = service.record_status(status, None, ParticipantKind.LOCAL)
        print(f"{recorded.participant_id} {status.value}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
