"""Trends at scale: `GET /trends` over 10 000 meetings (600 000 buckets) answers in ≤ 200 ms.

The database is `bench_history.generate`'s. Beside each trend call, in the
same run, the baseline: the bare aggregate query (every meeting's sums in one
GROUP BY), so the table shows what the grouping by local period adds.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import bench_history


def _median_ms(work: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure(repeats: int = 7) -> dict[str, Any]:
    import tzlocal
    from sqlalchemy import func, select

    from mudameter_desktop.domain.trends import Period
    from mudameter_desktop.runtime import Options, prepare_paths
    from mudameter_desktop.services.meter import MeterService
    from mudameter_desktop.store.database import open_store, sqlite_url
    from mudameter_desktop.store.models import EngagementSample

    folder = Path(tempfile.mkdtemp(prefix="mudameter-trends-"))
    try:
        bench_history.generate(folder)
        store = open_store(sqlite_url(prepare_paths(Options(data_dir=folder)).database_file))
        service = MeterService(store.engine, tzlocal.get_localzone())
        service.settle()
        bare = select(
            EngagementSample.meeting_id,
            func.sum(EngagementSample.speaking),
            func.sum(EngagementSample.engaged),
            func.sum(EngagementSample.disengaged),
        ).group_by(EngagementSample.meeting_id)

        def baseline() -> object:
            with store.engine.connect() as connection:
                return connection.execute(bare).all()

        figures = {
            "meetings": bench_history.MEETINGS,
            "baseline_aggregate_ms": _median_ms(baseline, repeats),
            "trends_week_ms": _median_ms(lambda: service.history.trends(Period.WEEK), repeats),
            "trends_month_ms": _median_ms(lambda: service.history.trends(Period.MONTH), repeats),
            "heatmap_ms": _median_ms(service.history.heatmap, repeats),
            "titles_ms": _median_ms(service.history.wasteful_titles, repeats),
        }
        store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return figures


if __name__ == "__main__":
    print(measure())
