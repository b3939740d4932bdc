"""The history window: a lazy table of meetings, a per-minute chart, participants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCharts import (
    QBarSet,
    QCategoryAxis,
    QChart,
    QChartView,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QStandardPaths,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mudameter_desktop import APP_NAME
from mudameter_desktop.domain.meetings import MAX_TITLE_LENGTH
from mudameter_desktop.domain.statuses import Counts, Status
from mudameter_desktop.paths import as_user_file
from mudameter_desktop.services.changes import ChangeKind
from mudameter_desktop.services.errors import NotFoundError
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.icons import icon, status_icon
from mudameter_desktop.ui.signals import emit
from mudameter_desktop.ui.state import STATUS_LABELS, length_minutes, people, percent, wasted_text
from mudameter_desktop.ui.tasks import TaskRunner
from mudameter_desktop.ui.trends import TrendsView

if TYPE_CHECKING:
    from mudameter_desktop.services.history import MeetingHistory
    from mudameter_desktop.services.meter import MeterService
    from mudameter_desktop.services.views import MeetingDetail, MeetingSummary

Index = QModelIndex | QPersistentModelIndex

COLUMNS = (
    "Date",
    "Title",
    "Length",
    "Participants",
    "Speaking",
    "Engaged",
    "Disengaged",
    "Muda",
    "Wasted",
)
TITLE_COLUMN = 1
STATUS_COLORS = {
    Status.SPEAKING: "#0072B2",
    Status.ENGAGED: "#009E73",
    Status.DISENGAGED: "#D55E00",
}
LABEL_STEPS = (1, 5, 10, 15, 30, 60, 120)  # minutes between time labels on the chart
MAX_LABELS = 8
MAX_COUNT_TICKS = 5  # more labels on a short count axis are elided to "…"
KIND_LABELS = {"local": "you (tray)", "lan": "LAN"}


def label_step(minutes: int) -> int:
    """The smallest round step that puts at most `MAX_LABELS` labels on the time axis."""
    return next((step for step in LABEL_STEPS if minutes / step <= MAX_LABELS), LABEL_STEPS[-1])


def length_text(meeting: MeetingSummary) -> str:
    minutes = length_minutes(meeting)
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def cells(meeting: MeetingSummary, zone: tzinfo, settings: Settings) -> tuple[str, ...]:
    """The table's texts for one meeting, in `COLUMNS` order."""
    totals: Counts = meeting.totals
    return (
        f"{meeting.starts_at.astimezone(zone):%a %d %b %Y %H:%M}",
        meeting.title,
        length_text(meeting),
        str(meeting.participant_count),
        *(percent(totals.share(status)) for status in STATUS_LABELS),
        percent(meeting.muda),
        wasted_text(totals, settings),
    )


class MeetingTableModel(QAbstractTableModel):
    """Meetings newest first, fetched 20 at a time as the view scrolls."""

    def __init__(self, history: MeetingHistory, zone: tzinfo, settings: Settings) -> None:
        super().__init__()
        self._history = history
        self._zone = zone
        self.settings = settings
        self._rows: list[MeetingSummary] = []
        self._pages = 0
        self._total = 0

    # -- Qt's model interface ----------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        meeting = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cells(meeting, self._zone, self.settings)[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() > TITLE_COLUMN:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and (self._pages == 0 or len(self._rows) < self._total)

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        page = self._history.list_meetings(self._pages + 1)
        self._pages, self._total = page.page, page.total
        known = {meeting.id for meeting in self._rows}
        new = [meeting for meeting in page.items if meeting.id not in known]
        if not new:
            self._total = len(self._rows)  # the list shrank meanwhile
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(new) - 1)
        self._rows.extend(new)
        self.endInsertRows()

    # -- ours ---------------------------------------------------------------

    def meeting_id(self, row: int) -> int:
        return self._rows[row].id

    def row_of(self, meeting_id: int) -> int | None:
        return next((row for row, m in enumerate(self._rows) if m.id == meeting_id), None)

    def reload(self) -> None:
        """Start again from the first page (a meeting was created)."""
        self.beginResetModel()
        self._rows, self._pages, self._total = [], 0, 0
        self.endResetModel()
        self.fetchMore(QModelIndex())

    def set_settings(self, settings: Settings) -> None:
        self.settings = settings
        if self._rows:
            last = len(COLUMNS) - 1
            emit(self.dataChanged, self.index(0, last), self.index(len(self._rows) - 1, last))

    def apply_changes(
        self,
        changes: dict[int, ChangeKind],
        known: dict[int, MeetingSummary | None] | None = None,
    ) -> None:
        """Update the rows of changed meetings; reload when a new one appeared.

        A meeting not in the table is new (a click or visit can create one),
        so the table starts again from the first page. `known` holds meetings
        the caller has just read (the selected one's detail): not read again.
        """
        known = known or {}
        if any(
            self.row_of(mid) is None and kind != ChangeKind.DELETED for mid, kind in changes.items()
        ):
            self.reload()
            return
        for meeting_id, kind in changes.items():
            row = self.row_of(meeting_id)
            if row is None:
                continue  # deleted before it was loaded
            fresh: MeetingSummary | None = None
            if kind == ChangeKind.DELETED:
                fresh = None
            elif meeting_id in known:
                fresh = known[meeting_id]
            else:
                try:
                    fresh = self._history.summary(meeting_id)  # one short read, not the detail
                except NotFoundError:
                    fresh = None
            if fresh is None:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self._total -= 1
                self.endRemoveRows()
            else:
                self._rows[row] = fresh
                emit(self.dataChanged, self.index(row, 0), self.index(row, len(COLUMNS) - 1))


class HistoryWindow(QWidget):
    updated = Signal()  # the table (and the selected meeting) reflect new changes
    export_folder_chosen = Signal(str)  # remembered in the settings for the next export
    exported = Signal(str)  # the path of a file an export wrote

    def __init__(
        self, service: MeterService, zone: tzinfo, settings: Settings, tasks: TaskRunner
    ) -> None:
        super().__init__()
        self.setWindowTitle(f"{APP_NAME} — History")
        self.setWindowIcon(icon("mudameter"))
        self.resize(960, 680)
        self._service = service
        self._history = service.history
        self._zone = zone
        self._tasks = tasks
        self.settings = settings
        self.detail: MeetingDetail | None = None
        self.model = MeetingTableModel(service.history, zone, settings)
        self.table = self._build_table()
        self.heading = QLabel("Select a meeting to see its minutes.")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)  # titles come from the LAN too
        self.heading.setStyleSheet("font-weight: bold;")
        self.chart = QChart()
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(220)
        self.series: QStackedBarSeries | None = None
        self.participants = QListWidget()
        self.participants.setMaximumWidth(320)
        self.rename_button = QPushButton("Rename…")
        self.delete_button = QPushButton("Delete…")
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_json_button = QPushButton("Export JSON…")
        self.rename_button.clicked.connect(self.rename)
        self.delete_button.clicked.connect(self.delete)
        self.export_csv_button.clicked.connect(self.export_csv)
        self.export_json_button.clicked.connect(self.export_json)
        self.notice = QLabel("")  # what the last export did
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._lay_out()
        self.model.fetchMore(QModelIndex())
        self._show(None)

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().hide()
        table.setAlternatingRowColors(True)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TITLE_COLUMN, QHeaderView.ResizeMode.Stretch)
        table.selectionModel().selectionChanged.connect(self._on_selection)
        return table

    def _lay_out(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.heading, 1)
        for button in self._meeting_buttons():
            buttons.addWidget(button)
        details = QSplitter(Qt.Orientation.Horizontal)
        details.addWidget(self.chart_view)
        details.addWidget(self.participants)
        details.setStretchFactor(0, 1)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(buttons)
        lower_layout.addWidget(details, 1)  # the chart takes the height, not the notice
        lower_layout.addWidget(self.notice)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        self.trends = TrendsView(self._history, self._zone, self.settings, self._tasks)  # issue 15
        self.trends.export_folder_chosen.connect(self.export_folder_chosen)
        self.trends.exported.connect(self.exported)
        self.tabs = QTabWidget()
        self.tabs.addTab(split, "&Meetings")  # Alt+M, Alt+T
        self.tabs.addTab(self.trends, "&Trends")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)

    def _meeting_buttons(self) -> tuple[QPushButton, ...]:
        return (
            self.rename_button,
            self.delete_button,
            self.export_csv_button,
            self.export_json_button,
        )

    def selected_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.meeting_id(rows[0].row()) if rows else None

    def select_meeting(self, meeting_id: int) -> None:
        row = self.model.row_of(meeting_id)
        if row is not None:
            self.table.selectRow(row)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Escape and Ctrl+W (the platform's Close) close the window."""
        if event.key() == Qt.Key.Key_Escape or event.matches(QKeySequence.StandardKey.Close):
            self.close()
        else:
            super().keyPressEvent(event)

    def show_and_raise(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    @Slot(object)
    def set_settings(self, settings: Settings) -> None:
        """The settings changed (the controller's `settings_changed`)."""
        self.settings = settings
        self.model.set_settings(settings)
        self.trends.set_settings(settings)

    @Slot(object)
    def apply_changes(self, changes: dict[int, ChangeKind]) -> None:
        """One read per changed meeting: the selected one's detail also updates its row."""
        selected = self.selected_id()
        detail: MeetingDetail | None = None
        known: dict[int, MeetingSummary | None] = {}
        if selected is not None and selected in changes:
            if changes[selected] != ChangeKind.DELETED:
                detail = self._load(selected)
            known[selected] = detail
        self.model.apply_changes(changes, known)
        self.trends.apply_changes(changes)
        if selected is not None and self.selected_id() != selected:
            self.select_meeting(selected)  # the model was reloaded
        if selected in known:
            if detail is None:  # deleted: no row may look selected (nor current)
                self.table.selectionModel().clear()
            self._show(detail)
        emit(self.updated)

    # -- actions ------------------------------------------------------------

    @Slot()
    def rename(self) -> None:
        detail = self.detail
        if detail is None:
            return
        title, accepted = QInputDialog.getText(self, "Rename meeting", "Title:", text=detail.title)
        if accepted and title.strip():
            self._change(
                detail.id,
                lambda: self._service.rename_meeting(detail.id, title.strip()[:MAX_TITLE_LENGTH]),
            )

    @Slot()
    def delete(self) -> None:
        detail = self.detail
        if detail is None:
            return
        answer = QMessageBox.question(
            self,
            "Delete meeting",
            f"Delete “{detail.title}” and all its minutes? This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._change(detail.id, lambda: self._service.delete_meeting(detail.id))

    def _change(self, meeting_id: int, action: Callable[[], object]) -> None:
        """Rename or delete; a meeting deleted meanwhile (from elsewhere) is not an error."""
        try:
            action()
        except NotFoundError:
            self.apply_changes({meeting_id: ChangeKind.DELETED})

    @Slot()
    def export_csv(self) -> None:
        self.export("csv")

    @Slot()
    def export_json(self) -> None:
        self.export("json")

    def export(self, kind: str) -> None:
        """Save the selected meeting as CSV (one row per minute) or JSON.

        The dialog opens in the folder of the last export (else the documents
        folder); the file is written in the background and the path shown.
        """
        from mudameter_desktop.services.export import (  # noqa: PLC0415 - loaded late
            meeting_to_csv,
            meeting_to_json,
        )

        detail = self.detail
        if detail is None:
            return
        suggested = f"meeting-{detail.id}-{detail.starts_at.astimezone(self._zone):%Y%m%d-%H%M}"
        name_filter = "CSV files (*.csv)" if kind == "csv" else "JSON files (*.json)"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export meeting", str(self.export_folder() / f"{suggested}.{kind}"), name_filter
        )
        if not path:
            return
        target = Path(path)
        if target.parent != self.export_folder():
            emit(self.export_folder_chosen, str(target.parent))
        text = meeting_to_csv(detail) if kind == "csv" else meeting_to_json(detail)
        self.notice.setText(f"Saving {target.name}…")
        self._tasks.run(
            lambda: save_export(target, text),
            lambda _written: self._on_exported(target),
            lambda error: self._on_export_failed(target, error),
        )

    def export_folder(self) -> Path:
        """Where the export dialog opens: the last export's folder, else the documents."""
        if self.settings.export_folder and Path(self.settings.export_folder).is_dir():
            return Path(self.settings.export_folder)
        documents = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation
        )
        return Path(documents) if documents else Path.home()

    def _on_exported(self, path: Path) -> None:
        self.notice.setText(f"Saved to {path}")
        emit(self.exported, str(path))

    def _on_export_failed(self, path: Path, error: BaseException) -> None:
        self.notice.setText(f"Export failed: {path}")
        QMessageBox.warning(self, "Export failed", f"Could not write {path}: {error}")

    # -- showing one meeting ----------------------------------------------

    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        meeting_id = self.selected_id()
        self._show(self._load(meeting_id) if meeting_id is not None else None)

    def _load(self, meeting_id: int) -> MeetingDetail | None:
        try:
            return self._history.meeting_detail(meeting_id)
        except NotFoundError:
            return None

    def _show(self, detail: MeetingDetail | None) -> None:
        self.detail = detail
        for button in self._meeting_buttons():
            button.setEnabled(detail is not None)
        self._draw_chart(detail)
        self.participants.clear()
        if detail is None:
            self.heading.setText("Select a meeting to see its minutes.")
            return
        self.heading.setText(
            f"{detail.title} — {people(detail.participant_count)}, muda {percent(detail.muda)}"
        )
        for participant in detail.participants:
            status = STATUS_LABELS[participant.status] if participant.status else "No status"
            joined = participant.created_at.astimezone(self._zone)
            item = QListWidgetItem(
                status_icon(participant.status),
                f"{status} · {KIND_LABELS.get(participant.kind, participant.kind)}"
                f" · joined {joined:%H:%M}",
            )
            item.setToolTip(f"Participant {participant.handle}")
            self.participants.addItem(item)

    def _draw_chart(self, detail: MeetingDetail | None) -> None:
        self.chart.removeAllSeries()
        for axis in self.chart.axes():
            self.chart.removeAxis(axis)
        self.series = None
        if detail is None or not detail.engagement_samples:
            self.chart.setTitle("No minutes recorded" if detail else "")
            return
        self.chart.setTitle("Participants per minute")
        series = QStackedBarSeries()
        samples = detail.engagement_samples
        for status, label in STATUS_LABELS.items():
            bars = QBarSet(label)
            bars.setColor(QColor(STATUS_COLORS[status]))
            bars.append([float(getattr(sample, status.value)) for sample in samples])
            series.append(bars)
        peak = max(1, *(s.speaking + s.engaged + s.disengaged for s in samples))
        series.setBarWidth(0.9)
        self.chart.addSeries(series)
        # Bars stand at 0, 1, 2…; a category axis labels round times only
        # (a bar-category axis would elide every minute's label to a bar's width).
        minutes = QCategoryAxis()
        minutes.setLabelsPosition(QCategoryAxis.AxisLabelsPosition.AxisLabelsPositionOnValue)
        minutes.setRange(-0.5, len(samples) - 0.5)
        minutes.setGridLineVisible(False)
        step = label_step(len(samples))
        for number, sample in enumerate(samples):
            local = sample.minute.astimezone(self._zone)
            if local.minute % step == 0:
                minutes.append(f"{local:%H:%M}", number)
        counts = QValueAxis()
        counts.setRange(0, peak)
        if peak <= MAX_COUNT_TICKS:
            counts.setTickCount(peak + 1)  # one tick per participant
        else:
            counts.applyNiceNumbers()
        counts.setLabelFormat("%d")
        self.chart.addAxis(minutes, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(counts, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(minutes)
        series.attachAxis(counts)
        self.series = series


def save_export(path: Path, text: str) -> None:
    """Write an export (in a worker): a document of the user's, with their usual mode."""
    path.write_text(text, encoding="utf-8")
    as_user_file(path)
