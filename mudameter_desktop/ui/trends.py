"""The history window's Trends tab: is the team's meeting time getting better?

Three views of the service's read side (`MeetingHistory.trends`, `heatmap`
and `wasteful_titles`; the HTTP API answers from the same functions):

- muda and wasted person-hours per week or month (a chart, and a table with
  meetings, participant-minutes and the cost from the settings);
- muda by the weekday and local hour meetings start in (7 by 24 coloured cells);
- the recurring titles that waste the most person-hours.

The data is read in a background task when the tab is first shown, and again
after meetings changed (at most every `REFRESH_MS` while the tab shows; on the
next showing otherwise). "Export PNG" saves what the tab shows; "Export CSV"
saves all three tables in one file, one `table` column telling them apart.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCharts import (
    QBarSeries,
    QBarSet,
    QCategoryAxis,
    QChart,
    QChartView,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import QStandardPaths, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mudameter_desktop.domain.trends import Period, period_start
from mudameter_desktop.paths import as_user_file
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.signals import emit
from mudameter_desktop.ui.state import percent
from mudameter_desktop.ui.tasks import TaskRunner, Throttle

if TYPE_CHECKING:
    from mudameter_desktop.services.changes import ChangeKind
    from mudameter_desktop.services.history_source import TrendsSource
    from mudameter_desktop.services.views import HeatCell, TitleWaste, TrendPoint

DISENGAGED = QColor("#D55E00")  # the app's disengaged orange (ui/history.py, the icons)
WASTED_LINE = QColor("#2e3440")
NO_MINUTES = QColor("#e5e5e5")  # meetings in that hour, but nobody clicked
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOURS = 24
MAX_LABELS = 7  # more periods than this: every other one labelled
CHART_PERIODS = 12  # the chart shows the last 12 weeks (or months); the table all of them
TITLE_ROWS = 10
REFRESH_MS = 3000  # while the tab shows, a burst of LAN clicks reloads it at most this often
MIN_PEAK = 0.05  # the heat map's darkest shade stands for at least 5 % muda
PERIOD_COLUMNS = ("Week", "Meetings", "Participant-\nminutes", "Muda", "Wasted", "Cost")
TITLE_COLUMNS = ("Title", "Meetings", "Muda", "Wasted", "Cost")
CSV_COLUMNS = (
    "table",
    "period_start",
    "weekday",
    "hour",
    "title",
    "meetings",
    "participant_minutes",
    "muda",
    "wasted_person_hours",
    "cost",
    "currency",
)


@dataclass(frozen=True)
class TrendsData:
    """One load of the Trends tab: all three reads, made together in the background."""

    by: Period
    points: list[TrendPoint]  # newest first
    cells: list[HeatCell]  # only the weekday-hours with meetings
    titles: list[TitleWaste]  # most wasted person-hours first


def load_trends(history: TrendsSource, by: Period) -> TrendsData:
    """The three reads (run in a worker thread: nothing here touches a widget)."""
    return TrendsData(
        by, history.trends(by), history.heatmap(), history.wasteful_titles(TITLE_ROWS)
    )


# -- texts ------------------------------------------------------------------


def period_label(start: datetime, zone: tzinfo, by: Period, short: bool = False) -> str:
    """A week by its Monday ("23 Nov 2026", short "23 Nov"), a month as "Nov 2026"."""
    local = start.astimezone(zone)
    if by is Period.MONTH:
        return f"{local:%b %Y}"
    return f"{local.day} {local:%b}" if short else f"{local.day} {local:%b %Y}"


def hours_text(hours: float) -> str:
    return f"{hours:.1f} person-h"


def cost_text(hours: float, settings: Settings, currency: bool = True) -> str:
    """What the wasted hours cost, when an hourly cost is set."""
    if settings.hourly_cost <= 0:
        return "\u2014"
    cost = f"{hours * settings.hourly_cost:,.2f}"
    return f"{cost} {settings.currency}" if currency else cost


def cost_header(settings: Settings) -> str:
    return f"Cost ({settings.currency})" if settings.hourly_cost > 0 else "Cost"


def chart_periods(
    points: list[TrendPoint], zone: tzinfo, by: Period, count: int = CHART_PERIODS
) -> list[tuple[datetime, TrendPoint | None]]:
    """Up to `count` periods, from the oldest with meetings to the newest, oldest first.

    Periods without meetings between them are there too (None), so the time
    axis has no jumps; each start is the domain's `period_start`, as the
    service's are.
    """
    if not points:
        return []
    known = {point.period_start: point for point in points}
    starts = [points[0].period_start]
    while len(starts) < count and starts[-1] > points[-1].period_start:
        starts.append(period_start(starts[-1] - timedelta(days=1), zone, by))
    return [(start, known.get(start)) for start in reversed(starts)]


def heat_colour(muda: float, peak: float) -> QColor:
    """White for no muda to the disengaged orange for `peak` (the worst cell) and above."""
    share = max(0.0, min(1.0, muda / peak)) if peak > 0 else 0.0
    return QColor(
        round(255 + (DISENGAGED.red() - 255) * share),
        round(255 + (DISENGAGED.green() - 255) * share),
        round(255 + (DISENGAGED.blue() - 255) * share),
    )


def heat_peak(cells: list[HeatCell]) -> float:
    return max([MIN_PEAK, *(cell.muda for cell in cells if cell.muda is not None)])


def trends_to_csv(data: TrendsData, zone: tzinfo, settings: Settings) -> str:
    """The periods, the weekday-hour cells and the titles, one `table` column telling them apart.

    Periods by their local first day (ISO date), hours local, muda a share
    (0-1, empty without minutes); `cost` only when an hourly cost is set.
    """
    from mudameter_desktop.services.export import safe_cell  # noqa: PLC0415 - late, as the tab

    def number(value: float | None, digits: int) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    def cost(hours: float) -> tuple[str, str]:
        if settings.hourly_cost <= 0:
            return "", ""
        return f"{hours * settings.hourly_cost:.2f}", settings.currency

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for point in data.points:
        writer.writerow(
            (
                data.by.value,
                point.period_start.astimezone(zone).date().isoformat(),
                "",
                "",
                "",
                point.meetings,
                point.participant_minutes,
                number(point.muda, 4),
                number(point.wasted_person_hours, 2),
                *cost(point.wasted_person_hours),
            )
        )
    for cell in data.cells:
        writer.writerow(
            (
                "weekday_hour",
                "",
                WEEKDAYS[cell.weekday],
                cell.hour,
                "",
                cell.meetings,
                cell.participant_minutes,
                number(cell.muda, 4),
                "",
                "",
                "",
            )
        )
    for title in data.titles:
        writer.writerow(
            (
                "title",
                "",
                "",
                "",
                safe_cell(title.title),
                title.meetings,
                title.participant_minutes,
                number(title.muda, 4),
                number(title.wasted_person_hours, 2),
                *cost(title.wasted_person_hours),
            )
        )
    return buffer.getvalue()


def default_export_folder(settings: Settings) -> Path:
    """The last export's folder, else the documents folder (as the meeting export)."""
    if settings.export_folder and Path(settings.export_folder).is_dir():
        return Path(settings.export_folder)
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(documents) if documents else Path.home()


# -- widgets ----------------------------------------------------------------


def _item(text: str, number: bool = True) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table(columns: tuple[str, ...], stretch: int | None) -> QTableWidget:
    """A read-only table; column `stretch` takes the room left (None: the last one does)."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    font = table.font()
    if font.pointSizeF() > 0:  # four tables share a 960-pixel window
        font.setPointSizeF(font.pointSizeF() * 0.9)
        table.setFont(font)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    header = table.horizontalHeader()
    header.setMinimumSectionSize(24)
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch is None:
        header.setStretchLastSection(True)
    else:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


class HeatMap(QTableWidget):
    """Muda by weekday (rows, Monday first) and the local hour meetings start in (columns)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(len(WEEKDAYS), HOURS, parent)
        self.setVerticalHeaderLabels(list(WEEKDAYS))
        self.setHorizontalHeaderLabels([str(hour) for hour in range(HOURS)])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setShowGrid(True)
        font = self.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        self.setFont(font)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            header.setMinimumSectionSize(12)
            header.setFont(font)
        self.setMinimumHeight(170)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.peak = MIN_PEAK

    def show_cells(self, cells: list[HeatCell]) -> None:
        self.clearContents()
        self.peak = heat_peak(cells)
        for cell in cells:
            item = _item("\u2014" if cell.muda is None else f"{cell.muda * 100:.0f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            colour = NO_MINUTES if cell.muda is None else heat_colour(cell.muda, self.peak)
            item.setBackground(QBrush(colour))
            dark = colour.lightnessF() < 0.6
            item.setForeground(QBrush(QColor("white" if dark else "black")))
            meetings = "1 meeting" if cell.meetings == 1 else f"{cell.meetings} meetings"
            item.setToolTip(
                f"{WEEKDAYS[cell.weekday]} {cell.hour:02d}:00\u2013{cell.hour + 1:02d}:00: "
                f"{meetings}, {cell.participant_minutes} participant-min, "
                f"muda {percent(cell.muda)}"
            )
            self.setItem(cell.weekday, cell.hour, item)

    def colour_at(self, weekday: int, hour: int) -> QColor | None:
        """The shade of one cell (None: no meetings start then)."""
        item = self.item(weekday, hour)
        return None if item is None else item.background().color()


class TrendsView(QWidget):
    """Muda over time, by weekday and hour, and by recurring title; exportable."""

    loaded = Signal()  # the tab shows a fresh load
    export_folder_chosen = Signal(str)  # remembered in the settings for the next export
    exported = Signal(str)  # the path of a file an export wrote

    def __init__(
        self,
        history: TrendsSource,
        zone: tzinfo,
        settings: Settings,
        tasks: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._history = history
        self._zone = zone
        self._tasks = tasks
        self.settings = settings
        self.data: TrendsData | None = None
        self._loading = False
        self._stale = True  # loaded when first shown
        self._refresh = Throttle(self.reload, REFRESH_MS, self)

        self.by_week = QRadioButton("Weekly")
        self.by_month = QRadioButton("Monthly")
        self.by_week.setChecked(True)
        self._by = QButtonGroup(self)
        self._by.addButton(self.by_week)
        self._by.addButton(self.by_month)
        self.by_week.toggled.connect(self._on_period_toggled)
        self.export_png_button = QPushButton("Export PNG…")
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_png_button.clicked.connect(self.export_png)
        self.export_csv_button.clicked.connect(self.export_csv)
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.notice = QLabel("")
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.chart = QChart()
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(220)
        self.muda_bars: QBarSet | None = None
        self.wasted_line: QLineSeries | None = None
        self.periods = _table(PERIOD_COLUMNS, None)  # every period's text whole
        self.heatmap = HeatMap()
        self.heat_legend = QLabel("")
        self.heat_legend.setWordWrap(True)
        self.titles = _table(TITLE_COLUMNS, 0)
        self._lay_out()
        self._set_buttons()

    def _lay_out(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(self.by_week)
        controls.addWidget(self.by_month)
        controls.addWidget(self.summary, 1)
        controls.addWidget(self.export_png_button)
        controls.addWidget(self.export_csv_button)
        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.addWidget(self.chart_view)
        upper.addWidget(self.periods)
        upper.setStretchFactor(0, 3)
        upper.setStretchFactor(1, 2)
        upper.setSizes([520, 440])
        heat = QWidget()
        heat_layout = QVBoxLayout(heat)
        heat_layout.setContentsMargins(0, 0, 0, 0)
        heat_title = QLabel("Muda by weekday and the hour meetings start")
        heat_title.setStyleSheet("font-weight: bold;")
        heat_layout.addWidget(heat_title)
        heat_layout.addWidget(self.heatmap, 1)
        heat_layout.addWidget(self.heat_legend)
        titles = QWidget()
        titles_layout = QVBoxLayout(titles)
        titles_layout.setContentsMargins(0, 0, 0, 0)
        titles_title = QLabel("Recurring meetings that waste the most")
        titles_title.setStyleSheet("font-weight: bold;")
        titles_layout.addWidget(titles_title)
        titles_layout.addWidget(self.titles, 1)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(heat)
        lower.addWidget(titles)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        lower.setSizes([600, 400])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(split, 1)
        layout.addWidget(self.notice)

    # -- loading ------------------------------------------------------------

    def period(self) -> Period:
        return Period.MONTH if self.by_month.isChecked() else Period.WEEK

    @Slot()
    def reload(self) -> None:
        """Read the trends again in the background; `loaded` follows."""
        if self._loading:
            self._stale = True  # once more when this load is in
            return
        self._loading, self._stale = True, False
        history, by = self._history, self.period()
        self._tasks.run(lambda: load_trends(history, by), self._on_loaded, self._on_load_failed)

    @Slot(object)
    def apply_changes(self, _changes: dict[int, ChangeKind]) -> None:
        """Meetings changed: reload soon if the tab shows, else when it is shown next."""
        if self.isVisible():
            self._refresh()
        else:
            self._stale = True

    @Slot(object)
    def set_settings(self, settings: Settings) -> None:
        """The settings changed (the hourly cost and currency show in the tables)."""
        self.settings = settings
        if self.data is not None:
            self.show_data(self.data)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def _on_loaded(self, data: object) -> None:
        self._loading = False
        if not isinstance(data, TrendsData):
            raise TypeError(f"the trends load returned {data!r}")
        if data.by is not self.period():
            self._stale = True  # toggled meanwhile
        else:
            self.show_data(data)
            emit(self.loaded)
        if self._stale and self.isVisible():
            self.reload()

    def _on_load_failed(self, error: BaseException) -> None:
        self._loading = False
        self.notice.setText(f"The trends could not be read: {error}")

    @Slot(bool)
    def _on_period_toggled(self, _checked: bool) -> None:
        self.reload()

    # -- showing ------------------------------------------------------------

    def show_data(self, data: TrendsData) -> None:
        self.data = data
        self._draw_chart(data)
        self._fill_periods(data)
        self.heatmap.show_cells(data.cells)
        self.heat_legend.setText(
            f"Local start hour; darker is more muda (darkest: {self.heatmap.peak:.0%} or more)."
            if data.cells
            else "No meetings yet."
        )
        self._fill_titles(data.titles)
        meetings = sum(point.meetings for point in data.points)
        hours = sum(point.wasted_person_hours for point in data.points)
        cost = cost_text(hours, self.settings)
        self.summary.setText(
            f"{meetings} meetings, {hours_text(hours)} wasted"
            + ("" if self.settings.hourly_cost <= 0 else f" ({cost})")
        )
        self._set_buttons()

    def _set_buttons(self) -> None:
        for button in (self.export_png_button, self.export_csv_button):
            button.setEnabled(self.data is not None)

    def _fill_periods(self, data: TrendsData) -> None:
        first = "Week" if data.by is Period.WEEK else "Month"
        headers = [first, *PERIOD_COLUMNS[1:-1], cost_header(self.settings)]
        self.periods.setHorizontalHeaderLabels(headers)
        self.periods.setRowCount(len(data.points))
        for row, point in enumerate(data.points):
            texts = (
                period_label(point.period_start, self._zone, data.by),
                str(point.meetings),
                str(point.participant_minutes),
                percent(point.muda),
                f"{point.wasted_person_hours:.1f} h",
                cost_text(point.wasted_person_hours, self.settings, currency=False),
            )
            for column, text in enumerate(texts):
                self.periods.setItem(row, column, _item(text, number=column > 0))
            week = point.period_start.astimezone(self._zone).isocalendar().week
            if data.by is Period.WEEK:
                self.periods.item(row, 0).setToolTip(f"Week {week}")  # type: ignore[union-attr]

    def _fill_titles(self, titles: list[TitleWaste]) -> None:
        self.titles.setHorizontalHeaderLabels([*TITLE_COLUMNS[:-1], cost_header(self.settings)])
        self.titles.setRowCount(len(titles))
        for row, waste in enumerate(titles):
            texts = (
                waste.title,
                str(waste.meetings),
                percent(waste.muda),
                f"{waste.wasted_person_hours:.1f} h",
                cost_text(waste.wasted_person_hours, self.settings, currency=False),
            )
            for column, text in enumerate(texts):
                self.titles.setItem(row, column, _item(text, number=column > 0))
            self.titles.item(row, 0).setToolTip(  # type: ignore[union-attr] # set just above
                f"{waste.title}: {waste.participant_minutes} participant-min"
            )

    def _draw_chart(self, data: TrendsData) -> None:
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        self.muda_bars = self.wasted_line = None
        periods = chart_periods(data.points, self._zone, data.by)
        if not periods:
            self.chart.setTitle("No meetings yet")
            return
        word = "week" if data.by is Period.WEEK else "month"
        self.chart.setTitle(f"Muda and wasted person-hours per {word}")
        bars = QBarSet("Muda")
        bars.setColor(DISENGAGED)
        bars.append([(point.muda or 0.0) * 100 if point else 0.0 for _, point in periods])
        series = QBarSeries()
        series.append(bars)
        series.setBarWidth(0.6)
        line = QLineSeries()
        line.setName("Wasted person-hours")
        line.setPen(QPen(WASTED_LINE, 2))
        line.setPointsVisible(True)
        for number, (_, point) in enumerate(periods):
            line.append(number, point.wasted_person_hours if point else 0.0)
        self.chart.addSeries(series)
        self.chart.addSeries(line)
        # Bars stand at 0, 1, 2…; a category axis labels every period while they fit,
        # else every other one (a bar-category axis would elide them all).
        categories = QCategoryAxis()
        categories.setLabelsPosition(QCategoryAxis.AxisLabelsPosition.AxisLabelsPositionOnValue)
        categories.setRange(-0.5, len(periods) - 0.5)
        categories.setGridLineVisible(False)
        step = 1 if len(periods) <= MAX_LABELS else 2
        for number, (start, _) in enumerate(periods):
            if (len(periods) - 1 - number) % step == 0:  # the newest always labelled
                label = period_label(start, self._zone, data.by, short=True)
                categories.append(label, number)
        muda_axis = QValueAxis()
        muda_axis.setRange(0, max(10.0, *bars_values(bars)) * 1.1)
        muda_axis.applyNiceNumbers()
        muda_axis.setLabelFormat("%.0f%%")
        hours_axis = QValueAxis()
        peak_hours = max(point.wasted_person_hours if point else 0.0 for _, point in periods)
        hours_axis.setRange(0, max(1.0, peak_hours) * 1.1)
        hours_axis.applyNiceNumbers()
        hours_axis.setLabelFormat("%.1f")
        hours_axis.setGridLineVisible(False)
        self.chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(muda_axis, Qt.AlignmentFlag.AlignLeft)
        self.chart.addAxis(hours_axis, Qt.AlignmentFlag.AlignRight)
        series.attachAxis(categories)
        series.attachAxis(muda_axis)
        line.attachAxis(categories)
        line.attachAxis(hours_axis)
        self.muda_bars, self.wasted_line = bars, line

    # -- export -------------------------------------------------------------

    @Slot()
    def export_png(self) -> None:
        """Save the tab as it shows now (charts, heat map and tables) as a PNG."""
        path = self._ask_path("png", "PNG images (*.png)")
        if path is not None:
            image = self.grab().toImage()  # made here; QImage may be saved in a worker
            self._write(path, lambda: _save_image(image, path))

    @Slot()
    def export_csv(self) -> None:
        """Save the periods, the weekday-hour cells and the titles as one CSV file."""
        data = self.data
        if data is None:
            return
        path = self._ask_path("csv", "CSV files (*.csv)")
        if path is not None:
            text = trends_to_csv(data, self._zone, self.settings)
            self._write(path, lambda: path.write_text(text, encoding="utf-8"))

    def _ask_path(self, kind: str, name_filter: str) -> Path | None:
        if self.data is None:
            return None
        folder = default_export_folder(self.settings)
        suggested = folder / f"muda-trends-{self.data.by.value}.{kind}"
        chosen, _ = QFileDialog.getSaveFileName(self, "Export trends", str(suggested), name_filter)
        if not chosen:
            return None
        path = Path(chosen)
        if path.parent != folder:
            emit(self.export_folder_chosen, str(path.parent))
        return path

    def _write(self, path: Path, work: Callable[[], object]) -> None:
        self.notice.setText(f"Saving {path.name}…")

        def save() -> None:
            work()
            as_user_file(path)

        self._tasks.run(
            save,
            lambda _done: self._on_exported(path),
            lambda e: self._on_export_failed(path, e),
        )

    def _on_exported(self, path: Path) -> None:
        self.notice.setText(f"Saved to {path}")
        emit(self.exported, str(path))

    def _on_export_failed(self, path: Path, error: BaseException) -> None:
        self.notice.setText(f"Export failed: {path}")
        QMessageBox.warning(self, "Export failed", f"Could not write {path}: {error}")


def bars_values(bars: QBarSet) -> list[float]:
    return [bars.at(index) for index in range(bars.count())]


def _save_image(image: QImage, path: Path) -> None:
    saved: bool = image.save(str(path), "PNG")  # type: ignore[call-overload] # str at run time
    if not saved:
        raise OSError(f"Qt could not write the image to {path}")
