"""The history window's Trends tab, on a real service with meetings made through its API."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.domain.trends import Period
from mudameter_desktop.services.meter import MeterService
from mudameter_desktop.services.views import TrendPoint
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.application import DesktopApp
from mudameter_desktop.ui.history import HistoryWindow
from mudameter_desktop.ui.tasks import TaskRunner
from mudameter_desktop.ui.trends import (
    DISENGAGED as ORANGE,
)
from mudameter_desktop.ui.trends import (
    TrendsView,
    bars_values,
    chart_periods,
    load_trends,
    trends_to_csv,
)
from tests.conftest import FakeClock

# Europe/Berlin (the service fixture's zone) is UTC+1 in November: 09:00 UTC is 10:00 local.
MONDAY_16 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # week of 16 Nov
TUESDAY_24 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # week of 23 Nov
WEDNESDAY_25 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 15:00 local
ENGAGED, DISENGAGED = Status.ENGAGED, Status.DISENGAGED


def hold(
    service: MeterService,
    clock: FakeClock,
    title: str,
    starts: datetime,
    minutes: int,
    *,
    people: list[Status],
) -> int:
    """A meeting with one new participant per status, kept for its whole length."""
    clock.now = starts
    meeting = service.start_meeting(starts_at=starts, title=title, duration_minutes=minutes)
    for status in people:
        service.record_status(status)
    clock.now = starts + timedelta(minutes=minutes)
    return meeting.id


@pytest.fixture
def seeded(service: MeterService, clock: FakeClock) -> list[int]:
    """Two weeks: Standup twice (muda 1/2, then 1/4), Budget once (no muda)."""
    ids = [
        hold(service, clock, "Standup", MONDAY_16, 10, people=[ENGAGED] * 2 + [DISENGAGED] * 2),
        hold(service, clock, "Standup", TUESDAY_24, 10, people=[ENGAGED] * 3 + [DISENGAGED]),
        hold(service, clock, "Budget", WEDNESDAY_25, 30, people=[Status.SPEAKING] * 2),
    ]
    clock.now = datetime(2026, 11, 27, 9, 50, tzinfo=UTC)
    return ids


def open_trends(desktop: DesktopApp, qtbot: QtBot) -> HistoryWindow:
    desktop.menu.history.trigger()
    history = desktop.history
    assert history is not None
    qtbot.addWidget(history)
    with qtbot.waitSignal(history.trends.loaded, timeout=5000):
        history.tabs.setCurrentWidget(history.trends)
    return history


def texts(view: TrendsView, table: str) -> list[list[str]]:
    widget = getattr(view, table)
    return [
        [widget.item(row, column).text() for column in range(widget.columnCount())]
        for row in range(widget.rowCount())
    ]


def test_the_tab_agrees_with_the_meetings_own_totals(
    seeded: list[int], desktop: DesktopApp, service: MeterService, qtbot: QtBot
) -> None:
    trends = open_trends(desktop, qtbot).trends
    own = [service.history.summary(meeting_id).totals for meeting_id in seeded]
    late_week = own[1] + own[2]
    assert late_week == Counts(speaking=60, engaged=30, disengaged=10)
    assert texts(trends, "periods") == [
        ["23 Nov 2026", "2", "100", "10%", "0.2 h", "\u2014"],
        ["16 Nov 2026", "1", "40", "50%", "0.3 h", "\u2014"],
    ]
    assert trends.periods.item(0, 0).toolTip() == "Week 48"  # type: ignore[union-attr]
    assert trends.summary.text() == "3 meetings, 0.5 person-h wasted"
    # Only Standup recurs; Budget met once.
    assert texts(trends, "titles") == [["Standup", "2", "38%", "0.5 h", "\u2014"]]


def test_the_chart_shows_muda_bars_and_a_wasted_hours_line(
    seeded: list[int], desktop: DesktopApp, qtbot: QtBot
) -> None:
    trends = open_trends(desktop, qtbot).trends
    assert trends.muda_bars is not None and trends.wasted_line is not None
    assert bars_values(trends.muda_bars) == [50.0, 10.0]
    hours = [point.y() for point in trends.wasted_line.points()]
    assert hours == pytest.approx([20 / 60, 10 / 60])
    labels = trends.chart.axes()[0].categoriesLabels()  # type: ignore[attr-defined]
    assert labels == ["16 Nov", "23 Nov"]


def test_the_chart_keeps_empty_weeks_between_meetings(
    service: MeterService, clock: FakeClock
) -> None:
    hold(service, clock, "Early", MONDAY_16 - timedelta(weeks=3), 5, people=[DISENGAGED])
    hold(service, clock, "Late", MONDAY_16, 5, people=[ENGAGED])
    points = service.history.trends(Period.WEEK)
    periods = chart_periods(points, service.zone, Period.WEEK)
    assert [point is not None for _, point in periods] == [True, False, False, True]
    assert [start.astimezone(service.zone).day for start, _ in periods] == [26, 2, 9, 16]
    assert len(chart_periods(points, service.zone, Period.WEEK, count=2)) == 2  # the newest


def test_the_heat_map_shades_weekday_hours_by_muda(
    seeded: list[int], desktop: DesktopApp, qtbot: QtBot
) -> None:
    heat = open_trends(desktop, qtbot).trends.heatmap
    assert (heat.rowCount(), heat.columnCount()) == (7, 24)
    monday_ten, tuesday_ten = heat.colour_at(0, 10), heat.colour_at(1, 10)
    assert monday_ten == ORANGE  # the worst cell: the darkest shade
    assert tuesday_ten is not None and tuesday_ten.lightness() > ORANGE.lightness()
    assert heat.colour_at(2, 15) == QColor("white")  # Budget: nobody disengaged
    assert heat.colour_at(3, 10) is None  # no meeting starts then
    monday, tuesday = heat.item(0, 10), heat.item(1, 10)
    assert monday is not None and tuesday is not None
    assert monday.text() == "50"
    assert tuesday.toolTip().startswith("Tue 10:00\u201311:00: 1 meeting, 40")


def test_monthly_toggle(seeded: list[int], desktop: DesktopApp, qtbot: QtBot) -> None:
    trends = open_trends(desktop, qtbot).trends
    with qtbot.waitSignal(trends.loaded):
        trends.by_month.click()
    assert trends.period() is Period.MONTH
    assert texts(trends, "periods") == [["Nov 2026", "3", "140", "21%", "0.5 h", "\u2014"]]
    header = trends.periods.horizontalHeaderItem(0)
    assert header is not None and header.text() == "Month"
    assert trends.chart.title() == "Muda and wasted person-hours per month"


def test_cost_follows_the_settings_without_a_reload(
    seeded: list[int], desktop: DesktopApp, qtbot: QtBot
) -> None:
    history = open_trends(desktop, qtbot)
    settings = desktop.controller.settings.with_changes(hourly_cost=60.0, currency="CHF")
    desktop.controller.save_settings(settings)  # shown at once: no read, no event loop turn
    assert texts(history.trends, "periods")[0][-1] == "10.00"
    assert texts(history.trends, "titles")[0][-1] == "30.00"
    header = history.trends.titles.horizontalHeaderItem(4)
    assert header is not None and header.text() == "Cost (CHF)"
    assert history.trends.summary.text() == "3 meetings, 0.5 person-h wasted (30.00 CHF)"


def test_new_minutes_reload_the_shown_tab_and_a_hidden_tab_on_showing(
    seeded: list[int], desktop: DesktopApp, service: MeterService, clock: FakeClock, qtbot: QtBot
) -> None:
    history = open_trends(desktop, qtbot)
    trends = history.trends
    retro = service.start_meeting(title="Retro", duration_minutes=30)
    service.record_status(Status.DISENGAGED)
    clock.advance(minutes=5)
    service.record_status(Status.DISENGAGED)
    # The controller's batch of changes, then a (throttled) load in the background:
    qtbot.waitUntil(lambda: texts(trends, "periods")[0][1] == "3", timeout=5000)

    history.tabs.setCurrentIndex(0)  # the meetings: changes only mark the trends stale
    with qtbot.assertNotEmitted(trends.loaded, wait=500):
        service.record_status(Status.ENGAGED)
        clock.advance(minutes=1)
        service.record_status(Status.ENGAGED)
    with qtbot.waitSignal(trends.loaded, timeout=5000):
        history.tabs.setCurrentWidget(trends)
    retro_minutes = service.history.summary(retro.id).totals.total
    assert retro_minutes > 7
    assert texts(trends, "periods")[0][2] == str(100 + retro_minutes)


def test_an_empty_history(desktop: DesktopApp, qtbot: QtBot) -> None:
    trends = open_trends(desktop, qtbot).trends
    assert trends.chart.title() == "No meetings yet"
    assert trends.periods.rowCount() == trends.titles.rowCount() == 0
    assert trends.heatmap.colour_at(0, 9) is None


def test_export_csv_holds_all_three_tables(
    seeded: list[int],
    desktop: DesktopApp,
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = open_trends(desktop, qtbot)
    desktop.controller.save_settings(desktop.controller.settings.with_changes(hourly_cost=60.0))
    target = tmp_path / "out" / "trends.csv"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with (
        qtbot.waitSignal(history.exported) as exported,
        qtbot.waitSignal(history.export_folder_chosen) as folder,
    ):
        history.trends.export_csv_button.click()
    assert exported.args == [str(target)] and folder.args == [str(target.parent)]
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    weeks = [row for row in rows if row["table"] == "week"]
    assert [(r["period_start"], r["meetings"], r["muda"], r["cost"]) for r in weeks] == [
        ("2026-11-23", "2", "0.1000", "10.00"),
        ("2026-11-16", "1", "0.5000", "20.00"),
    ]
    cells = {(r["weekday"], r["hour"]): r["muda"] for r in rows if r["table"] == "weekday_hour"}
    assert cells == {("Mon", "10"): "0.5000", ("Tue", "10"): "0.2500", ("Wed", "15"): "0.0000"}
    titles = [r for r in rows if r["table"] == "title"]
    assert [(r["title"], r["wasted_person_hours"], r["currency"]) for r in titles] == [
        ("Standup", "0.50", "EUR")
    ]


def test_csv_defuses_formula_titles(service: MeterService, clock: FakeClock) -> None:
    for starts in (MONDAY_16, TUESDAY_24):
        hold(service, clock, "=HYPERLINK(evil)", starts, 5, people=[DISENGAGED])
    data = load_trends(service.history, Period.WEEK)
    text = trends_to_csv(data, service.zone, Settings())
    titles = [row for row in csv.DictReader(io.StringIO(text)) if row["table"] == "title"]
    assert [row["title"] for row in titles] == ["'=HYPERLINK(evil)"]


def test_export_png_is_what_the_tab_shows(
    seeded: list[int],
    desktop: DesktopApp,
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = open_trends(desktop, qtbot)
    history.resize(1100, 760)
    target = tmp_path / "trends.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(history.exported):
        history.trends.export_png_button.click()
    image = QImage(str(target))
    assert image.size() == history.trends.size()
    orange = sum(
        image.pixelColor(x, y) == ORANGE
        for x in range(0, image.width(), 3)
        for y in range(0, image.height(), 3)
    )
    assert orange > 100  # the muda bars and the worst heat-map cell


def test_loads_in_a_worker_thread(
    seeded: list[int], service: MeterService, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = service.history.trends

    def spy(by: Period) -> list[TrendPoint]:
        threads.append(threading.current_thread().name)
        return real(by)

    monkeypatch.setattr(service.history, "trends", spy)
    tasks = TaskRunner()
    view = TrendsView(service.history, service.zone, Settings(), tasks)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded):
        view.show()
    assert threads == ["mudameter-task"]
    assert view.periods.rowCount() == 2
