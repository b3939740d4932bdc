"""Run every benchmark, print the table, write benchmarks/results/latest.json.

    .venv/bin/python -m benchmarks.run            # the full set (~15 min)
    .venv/bin/python -m benchmarks.run --quick    # fewer, shorter rounds (~6 min)
    .venv/bin/python -m benchmarks.run --only startup,lan

Every figure is a median of several runs, reported beside its baseline
measured in the same run, and their ratio. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    bench_history,
    bench_idle,
    bench_lan,
    bench_qt,
    bench_startup,
    bench_team_server,
    bench_trends,
)
from benchmarks.common import RESULTS, compile_app, machine

SECTIONS = ("startup", "idle", "click", "lag", "lan", "history", "trends", "team")


@dataclass
class Row:
    figure: str
    value: float
    unit: str
    baseline: float | None  # measured in the same run
    baseline_name: str
    target: str
    met: bool
    ratio: float | None = None
    section: str = ""

    def cells(self) -> list[str]:
        ratio = f"{self.ratio:.2f}x" if self.ratio is not None else "-"
        baseline = (
            f"{_num(self.baseline)} {self.unit} ({self.baseline_name})"
            if self.baseline is not None
            else self.baseline_name or "-"
        )
        return [
            self.figure,
            f"{_num(self.value)} {self.unit}",
            baseline,
            ratio,
            self.target,
            "yes" if self.met else "**no**",
        ]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def ratio_row(
    figure: str, value: float, unit: str, baseline: float, name: str, *, limit: float
) -> Row:
    ratio = value / baseline
    return Row(figure, value, unit, baseline, name, f"≤ {limit}x", ratio <= limit, ratio)


VORTA = {"vorta_default": "Vorta 0.11.6", "vorta_tray": "Vorta 0.11.6, tray only"}


def startup(quick: bool, raw: dict[str, Any]) -> list[Row]:
    rows = []
    for platform in ("xcb", "offscreen"):
        figures = bench_startup.measure(platform, repeats=3 if quick else 7)
        raw[f"startup_{platform}"] = figures
        if platform == "xcb":
            shown = "tray icon docked"
        else:
            shown = "meter window shown (no tray offscreen)"
        rows.append(
            ratio_row(
                f"start → {shown} ({platform})",
                figures["app_tray_ms"],
                "ms",
                figures["bare_tray_ms"],
                "bare tray",
                limit=1.3,
            )
        )
        for name, label in VORTA.items():
            if f"{name}_tray_ms" not in figures:
                continue
            rows.append(
                Row(
                    f"start → tray icon docked ({platform}): {label}",
                    figures[f"{name}_tray_ms"],
                    "ms",
                    figures["bare_tray_ms"],
                    "bare tray",
                    "reference",
                    True,
                    figures[f"{name}_tray_ms"] / figures["bare_tray_ms"],
                )
            )
        rows.append(
            ratio_row(
                f"start → /health + click recorded ({platform})",
                figures["app_ready_ms"],
                "ms",
                figures["eager_shown_ms"],
                "bare tray + eager imports",
                limit=1.0,
            )
        )
        at = f"{figures['memory_at_s']:.0f} s after start"
        if "vorta_default_rss_mb" in figures:
            for name, label in VORTA.items():
                rows.append(
                    ratio_row(
                        f"RSS {at} ({platform}), app vs {label}",
                        figures["app_rss_mb"],
                        "MB",
                        figures[f"{name}_rss_mb"],
                        label,
                        limit=1.0,
                    )
                )
        extra = figures["app_rss_mb"] - figures["bare_rss_mb"]
        rows.append(
            Row(
                f"RSS {at} ({platform}), app vs bare",
                figures["app_rss_mb"],
                "MB",
                figures["bare_rss_mb"],
                "bare tray",
                f"on the way to bare + 45 MB (is +{extra:.0f})",
                extra <= 45,
                figures["app_rss_mb"] / figures["bare_rss_mb"],
            )
        )
    return rows


def memory_table(raw: dict[str, Any]) -> str:
    """Program by program: start → tray, RSS, PSS, USS (xcb run), with ratios to bare."""
    figures = raw.get("startup_xcb")
    if not figures or "bare_tray_ms" not in figures:  # none yet, or from an older harness
        return ""
    names = {"bare": "bare PySide6 tray script", "app": "**Muda Meter**", **VORTA}
    lines = [
        "| program | start → tray docked | RSS | PSS | USS |",
        "| --- | --- | --- | --- | --- |",
    ]
    bare_ms, bare_rss = figures["bare_tray_ms"], figures["bare_rss_mb"]
    for name, label in names.items():
        if f"{name}_tray_ms" not in figures:
            continue
        ms, rss = figures[f"{name}_tray_ms"], figures[f"{name}_rss_mb"]
        lines.append(
            f"| {label} | {ms:.0f} ms ({ms / bare_ms:.2f}x) | {rss:.0f} MB "
            f"(+{rss - bare_rss:.0f}) | {figures.get(f'{name}_pss_mb', 0):.0f} MB | "
            f"{figures.get(f'{name}_uss_mb', 0):.0f} MB |"
        )
    return "\n".join(lines)


def idle(quick: bool, raw: dict[str, Any]) -> list[Row]:
    figures = bench_idle.measure(seconds=20 if quick else 60)
    raw["idle"] = figures
    rows = []
    for name, label in (("app", "tray app + server"), ("headless", "--headless")):
        run = figures[name]
        busiest = max(run["wakeups_per_thread"].values(), default=0.0)
        rows.append(
            Row(
                f"idle CPU over {run['seconds']:.0f} s, {label}",
                run["cpu_percent"],
                "% of a core",
                figures["bare"]["cpu_percent"],
                "bare tray",
                "≤ 0.3 %",
                run["cpu_percent"] <= 0.3,
            )
        )
        rows.append(
            Row(
                f"idle wake-ups, {label}: busiest thread (all threads {run['wakeups_per_s']})",
                busiest,
                "/s",
                max(figures["bare"]["wakeups_per_thread"].values(), default=0),
                "bare tray (1 s timer)",
                "≤ 1 /s per thread (+5 % slack)",
                busiest <= 1.05,
            )
        )
    return rows


def _runs(kind: str, count: int, *extra: str) -> list[dict[str, Any]]:
    results = []
    for index in range(count):
        folder = Path(tempfile.mkdtemp(prefix=f"mudameter-{kind}-"))
        try:
            results.append(bench_qt.measure(kind, folder, *extra))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"  {kind} round {index + 1}: {results[-1]}", flush=True)
    return results


def click(quick: bool, raw: dict[str, Any]) -> list[Row]:
    runs = _runs("click", 3, "200" if quick else "500")
    raw["click"] = runs
    median = statistics.median(r["median_ms"] for r in runs)
    p99 = statistics.median(r["p99_ms"] for r in runs)
    return [
        Row("tray click → status committed, median", median, "ms", None, "", "≤ 2 ms", median <= 2),
        Row("tray click → status committed, p99", p99, "ms", None, "", "≤ 10 ms", p99 <= 10),
    ]


def lag(quick: bool, raw: dict[str, Any]) -> list[Row]:
    seconds = "5" if quick else "10"
    runs = _runs("lag", 3, "50", seconds)
    raw["lag"] = runs
    load = statistics.median(r["load"]["p99_ms"] for r in runs)
    quiet = statistics.median(r["idle"]["p99_ms"] for r in runs)
    served = statistics.median(r["clients"]["req_per_s"] for r in runs)
    return [
        Row(
            f"UI event-loop lag p99, 50 LAN clients for {seconds} s ({served:.0f} req/s served)",
            load,
            "ms",
            quiet,
            "no clients",
            "≤ 50 ms",
            load <= 50,
            load / quiet if quiet else None,
        )
    ]


def lan(quick: bool, raw: dict[str, Any]) -> list[Row]:
    rows = []
    for clients in (20, 50):
        figures = bench_lan.measure(clients, seconds=4 if quick else 8, repeats=3)
        raw[f"lan_{clients}"] = figures
        app, seed = figures["app"], figures["seed"]
        rows.append(
            ratio_row(
                f"POST /users/status, {clients} clients: throughput",
                app["req_per_s"],
                "req/s",
                seed["req_per_s"],
                "seed",
                limit=0,
            )
        )
        rows[-1].target, rows[-1].met = "≥ 2.0x seed", (rows[-1].ratio or 0) >= 2.0
        rows.append(
            Row(
                f"POST /users/status, {clients} clients: p99 latency",
                app["p99_ms"],
                "ms",
                seed["p99_ms"],
                "seed",
                "≤ 25 ms",
                app["p99_ms"] <= 25,
                app["p99_ms"] / seed["p99_ms"],
            )
        )
    return rows


def history(quick: bool, raw: dict[str, Any]) -> list[Row]:
    figures = bench_history.measure(repeats=3 if quick else 5, runs=2 if quick else 3)
    raw["history"] = figures
    return [
        Row(
            "history (10 000 meetings): open the window, first 20 rows (first open)",
            figures["first_open_ms"],
            "ms",
            None,
            "",
            "≤ 300 ms",
            figures["first_open_ms"] <= 300,
        ),
        Row(
            "history: open again (module loaded)",
            figures["open_ms"],
            "ms",
            None,
            "",
            "≤ 300 ms",
            figures["open_ms"] <= 300,
        ),
        Row(
            "history: select a 60-min meeting with 50 participants (detail + chart)",
            figures["select_ms"],
            "ms",
            None,
            "",
            "≤ 100 ms",
            figures["select_ms"] <= 100,
        ),
    ]


def trends(quick: bool, raw: dict[str, Any]) -> list[Row]:
    figures = bench_trends.measure(repeats=3 if quick else 7)
    raw["trends"] = figures
    baseline = figures["baseline_aggregate_ms"]
    return [
        Row(
            f"trends over 10 000 meetings: {name}",
            figures[key],
            "ms",
            baseline,
            "every meeting's sums in one GROUP BY",
            "≤ 200 ms",
            figures[key] <= 200,
        )
        for name, key in (
            ("GET /trends?by=week", "trends_week_ms"),
            ("GET /trends?by=month", "trends_month_ms"),
            ("GET /trends/heatmap", "heatmap_ms"),
            ("recurring titles that waste most", "titles_ms"),
        )
    ]


def team(quick: bool, raw: dict[str, Any]) -> list[Row]:
    """The team server on PostgreSQL: workers against one SQLite process; a company's load."""
    saturated = bench_team_server.saturation(seconds=4 if quick else 8, repeats=1 if quick else 3)
    offered = bench_team_server.company(seconds=10 if quick else 30)
    raw["team"] = {"saturation": saturated, "company": offered}
    sqlite = saturated["sqlite"]
    rows = []
    spread = f"_{bench_team_server.SPREAD_ROOMS}rooms"
    names = [f"pg_{workers}w" for workers in bench_team_server.WORKERS]
    names += [name + spread for name in names if name + spread in saturated]
    for name in names:
        case = saturated[name]
        rooms = f", {bench_team_server.SPREAD_ROOMS} rooms" if name.endswith(spread) else ""
        label = f"POST /users/status, PostgreSQL, {case['mode']}{rooms}"
        rows.append(
            Row(
                f"{label}: throughput",
                case["req_per_s"],
                "req/s",
                sqlite["req_per_s"],
                "one process on SQLite",
                "reference",
                case["errors"] == 0,
                case["req_per_s"] / sqlite["req_per_s"],
            )
        )
        rows.append(
            Row(
                f"{label}: p99 latency",
                case["p99_ms"],
                "ms",
                sqlite["p99_ms"],
                "one process on SQLite",
                "reference",
                case["errors"] == 0,
                case["p99_ms"] / sqlite["p99_ms"],
            )
        )
    for suffix, where in (("", "one room"), (spread, f"{bench_team_server.SPREAD_ROOMS} rooms")):
        if f"pg_2w{suffix}" not in saturated:
            continue
        one = saturated[f"pg_1w{suffix}"]["req_per_s"]
        two = saturated[f"pg_2w{suffix}"]["req_per_s"]
        rows.append(
            Row(
                f"POST /users/status, PostgreSQL, {where}: 2 workers vs 1, saturated throughput",
                two,
                "req/s",
                one,
                "1 worker",
                "≥ 1.5x",
                two >= 1.5 * one,
                two / one,
            )
        )
    for workers in bench_team_server.WORKERS:
        case = offered[f"pg_{workers}w"]
        rows.append(
            Row(
                f"company open loop ({case['rooms']}, {case['offered_req_per_s']:.0f} req/s "
                f"offered), {case['mode']}: p99 ({case['errors']} errors)",
                case["p99_ms"],
                "ms",
                None,
                "",
                "≤ 50 ms, no error",
                case["p99_ms"] <= 50 and case["errors"] == 0,
            )
        )
    return rows


RUNNERS: dict[str, Callable[[bool, dict[str, Any]], list[Row]]] = {
    "startup": startup,
    "idle": idle,
    "click": click,
    "lag": lag,
    "lan": lan,
    "history": history,
    "trends": trends,
    "team": team,
}


def table(rows: list[Row]) -> str:
    head = ["figure", "measured", "baseline (same run)", "ratio", "target", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def _previous(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds")
    parser.add_argument("--only", help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    sections = args.only.split(",") if args.only else list(SECTIONS)
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    started = time.monotonic()
    previous = _previous(args.output) if args.only else {}
    compile_app()
    for section in sections:
        print(f"== {section}", flush=True)
        for row in RUNNERS[section](args.quick, raw):
            row.section = section
            rows.append(row)
    # With --only, the other sections' rows and raw figures stay from the last run.
    kept = [Row(**row) for row in previous.get("rows", []) if row["section"] not in sections]
    rows = sorted(kept + rows, key=lambda row: SECTIONS.index(row.section))
    raw = {**previous.get("raw", {}), **raw}
    text = table(rows)
    programs = memory_table(raw)
    print(text)
    print()
    print(programs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join(["python -m benchmarks.run", *(argv or sys.argv[1:])]),
                "seconds": round(time.monotonic() - started),
                "machine": machine(),
                "rows": [asdict(row) for row in rows],
                "table": text,
                "programs": programs,
                "raw": raw,
            },
            indent=2,
            default=str,
        )
    )
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
