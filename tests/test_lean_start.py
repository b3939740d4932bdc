"""What the running app loads: no ORM, calendar, WebSocket stack, Alembic, plistlib or h11.

Each costs memory for as long as the tray app runs and time before the server
answers (benchmarks/README.md). The backend is opened the way the tray app
opens it (`runtime.open_runtime`, server included) on an existing database,
used (a click, the history), and the loaded modules are then checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NOT_LOADED = ("sqlalchemy.orm", "icalendar", "recurring_ical_events", "alembic", "wsproto",
              "websockets", "plistlib", "h11")  # fmt: skip

PROBE = """
import json, sys
from pathlib import Path
from mudameter_desktop.runtime import Options, open_runtime, prepare_paths
from mudameter_desktop.domain.statuses import Status
options = Options(data_dir=Path(sys.argv[1]), port=0)
runtime = open_runtime(options, prepare_paths(options))
try:
    assert runtime.server is not None, runtime.server_error
    recorded = runtime.service.record_status(Status.ENGAGED)
    runtime.service.history.list_meetings()
    runtime.service.history.meeting_detail(recorded.meeting_id)
finally:
    runtime.close()
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(data_dir: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_usual_start_loads_none_of_what_it_does_not_use(tmp_path: Path) -> None:
    loaded_modules(tmp_path)  # the first start creates the database (Alembic, the models)
    loaded = loaded_modules(tmp_path)
    assert "sqlalchemy" in loaded and "litestar" in loaded  # the probe did start it all
    found = {name for name in loaded if name.split(".")[0] in NOT_LOADED or name in NOT_LOADED}
    assert {name for name in found if name.startswith(NOT_LOADED)} == set()
