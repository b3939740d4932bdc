"""The history window: a lazy table of meetings, a per-minute chart, participants.

Everything the window reads or changes goes through its `HistorySource` (the
local store, or a team server's room over HTTP) in a background task: the UI
thread never waits for a database or a network. A read that fails leaves what
was last loaded on screen and says why in the status line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

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
from mudameter_desktop.services.remote_room import RemoteRefusedError, RemoteUnavailableError
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.icons import icon, status_icon
from mudameter_desktop.ui.signals import emit
from mudameter_desktop.ui.state import STATUS_LABELS, length_minutes, people, percent, wasted_text
from mudameter_desktop.ui.tasks import TaskRunner
from mudameter_desktop.ui.trends import TrendsView

if TYPE_CHECKING:
    from mudameter_desktop.services.history_source import HistorySource
    from mudameter_desktop.services.views import MeetingDetail, MeetingPage, MeetingSummary

Index = QModelIndex | QPersistentModelIndex
Read = TypeVar("Read", bound="MeetingSummary")

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
TRY_AGAIN = "F5 reads it again."


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


def problem_text(error: BaseException) -> str:
    """The status line for a read or change that failed (what was loaded stays shown)."""
    if isinstance(error, RemoteUnavailableError):
        return f"Team server unreachable — showing what was last loaded. {error} {TRY_AGAIN}"
    if isinstance(error, RemoteRefusedError):
        return f"{error} Showing what was last loaded. {TRY_AGAIN}"
    return f"The history could not be read — showing what was last loaded ({error}). {TRY_AGAIN}"


class MeetingTableModel(QAbstractTableModel):
    """Meetings newest first, fetched 20 at a time (in the background) as the view scrolls."""

    page_loaded = Signal()  # a page is in the table
    load_failed = Signal(object)  # the exception a page's read raised

    def __init__(
        self, source: HistorySource, zone: tzinfo, settings: Settings, tasks: TaskRunner
    ) -> None:
        super().__init__()
        self._source = source
        self._zone = zone
        self._tasks = tasks
        self.settings = settings
        self._rows: list[MeetingSummary] = []
        self._pages = 0
        self._total = 0
        self._loading = False  # a page is being read
        self._failed = False  # the last read failed: no more until `replace_rows`
        self._generation = 0  # pages read before the last `replace_rows` are dropped

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
        return (
            not parent.isValid()
            and not self._loading
            and not self._failed
            and (self._pages == 0 or len(self._rows) < self._total)
        )

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        """Read the next page in the background; its rows are added when it is in."""
        if not self.canFetchMore(parent):
            return
        self._loading = True
        number, generation, source = self._pages + 1, self._generation, self._source
        self._tasks.run(
            lambda: source.list_meetings(number),
            lambda page: self._on_page(generation, page),
            lambda error: self._on_page_failed(generation, error),
        )

    def _on_page(self, generation: int, page: object) -> None:
        if generation != self._generation:
            return  # the rows were replaced meanwhile
        self._loading = False
        self.add_page(page)  # type: ignore[arg-type] # what `list_meetings` returns
        emit(self.page_loaded)

    def _on_page_failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self._loading, self._failed = False, True
        emit(self.load_failed, error)

    # -- ours ---------------------------------------------------------------

    @property
    def loading(self) -> bool:
        return self._loading

    def meeting_id(self, row: int) -> int:
        return self._rows[row].id

    def row_of(self, meeting_id: int) -> int | None:
        return next((row for row, m in enumerate(self._rows) if m.id == meeting_id), None)

    def add_page(self, page: MeetingPage) -> None:
        """The rows of the next page that are not in the table yet."""
        self._pages, self._total = page.page, page.total
        known = {meeting.id for meeting in self._rows}
        new = [meeting for meeting in page.items if meeting.id not in known]
        if not new:
            self._total = len(self._rows)  # the list shrank meanwhile
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(new) - 1)
        self._rows.extend(new)
        self.endInsertRows()

    def replace_rows(self, first: MeetingPage) -> None:
        """Start again from a fresh first page (a meeting was created, or a refresh)."""
        self._generation += 1
        self._loading = self._failed = False
        self.beginResetModel()
        self._rows, self._pages, self._total = [], 0, 0
        self.endResetModel()
        self.add_page(first)

    def set_settings(self, settings: Settings) -> None:
        self.settings = settings
        if self._rows:
            last = len(COLUMNS) - 1
            emit(self.dataChanged, self.index(0, last), self.index(len(self._rows) - 1, last))

    def update_rows(self, fresh: dict[int, MeetingSummary | None]) -> None:
        """Show meetings read again; None: gone (its row is removed)."""
        for meeting_id, summary in fresh.items():
            row = self.row_of(meeting_id)
            if row is None:
                continue  # not loaded (yet), or deleted before it was
            if summary is None:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self._total -= 1
                self.endRemoveRows()
            else:
                self._rows[row] = summary
                emit(self.dataChanged, self.index(row, 0), self.index(row, len(COLUMNS) - 1))


@dataclass
class _Reads:
    """What one background task read for the window (see `HistoryWindow._read_changes`)."""

    first: MeetingPage | None = None  # a fresh first page, when the table starts again
    detail: MeetingDetail | None = None  # the selected meeting's, when it changed
    fresh: dict[int, MeetingSummary | None] = field(default_factory=dict)  # None: gone


def _or_none(read: Callable[[int], Read], meeting_id: int) -> Read | None:
    try:
        return read(meeting_id)
    except NotFoundError:
        return None


class HistoryWindow(QWidget):
    """Meetings of the local store or of a team server's room (whichever `source` is)."""

    updated = Signal()  # the table (and the selected meeting) reflect new changes
    detail_shown = Signal()  # the selected meeting's detail was read and is shown
    problem = Signal(str)  # a read or change failed: what the status line says
    export_folder_chosen = Signal(str)  # remembered in the settings for the next export
    exported = Signal(str)  # the path of a file an export wrote

    def __init__(
        self, source: HistorySource, zone: tzinfo, settings: Settings, tasks: TaskRunner
    ) -> None:
        super().__init__()
        self.setWindowTitle(f"{APP_NAME} — History")
        self.setWindowIcon(icon("mudameter"))
        self.resize(960, 680)
        self.source = source
        self._zone = zone
        self._tasks = tasks
        self.settings = settings
        self.detail: MeetingDetail | None = None
        self._detail_wanted = 0  # the number of the last detail read asked for
        self._pending: dict[int, ChangeKind] = {}  # changes waiting for the read in flight
        self._restart = False  # the next read starts the table again (a refresh)
        self._reading = False  # a read of changes is in flight
        self._restoring = False  # the table is being replaced: keep the selection's detail
        self.model = MeetingTableModel(source, zone, settings, tasks)
        self.model.page_loaded.connect(self._on_page_loaded)
        self.model.load_failed.connect(self._on_failed)
        self.table = self._build_table()
        self.status = QLabel("")  # why what shows may be old (a source that failed)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #B00020;")
        self.status.hide()
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
        self.trends = TrendsView(self.source, self._zone, self.settings, self._tasks)  # issue 15
        self.trends.export_folder_chosen.connect(self.export_folder_chosen)
        self.trends.exported.connect(self.exported)
        self.tabs = QTabWidget()
        self.tabs.addTab(split, "&Meetings")  # Alt+M, Alt+T
        self.tabs.addTab(self.trends, "&Trends")
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
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
        """Escape and Ctrl+W (the platform's Close) close the window; F5 reads it again."""
        if event.key() == Qt.Key.Key_Escape or event.matches(QKeySequence.StandardKey.Close):
            self.close()
        elif event.matches(QKeySequence.StandardKey.Refresh):
            self.refresh()
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
        """Meetings changed: read them again in the background, then show them.

        One read per changed meeting in the table (the selected one's detail
        also updates its row); a meeting not in the table is new, so the table
        starts again from a fresh first page. Changes that come while a read
        is in flight wait for it and go into the next one, so answers are
        shown in the order they were read. `updated` follows.
        """
        self.trends.apply_changes(changes)
        self._pending.update(changes)
        self._read_changes()

    @Slot()
    def refresh(self) -> None:
        """Read the first page, the selected meeting and the trends again (a room on a
        team server sends no changes: on showing the window, and F5)."""
        self._restart = True
        selected = self.selected_id()
        if selected is not None:
            self._pending.setdefault(selected, ChangeKind.UPDATED)
        self.trends.apply_changes({})
        self._read_changes()

    def _read_changes(self) -> None:
        if self._reading or not (self._pending or self._restart):
            return
        changes, self._pending = self._pending, {}
        restart, self._restart = self._restart, False
        selected = self.selected_id()
        restart = restart or any(
            self.model.row_of(mid) is None and kind != ChangeKind.DELETED
            for mid, kind in changes.items()
        )
        detail_id = (
            selected
            if selected is not None
            and changes.get(selected, ChangeKind.DELETED) != ChangeKind.DELETED
            else None
        )
        summary_ids = (
            []
            if restart  # the fresh first page has them
            else [
                mid
                for mid, kind in changes.items()
                if kind != ChangeKind.DELETED
                and mid != selected
                and self.model.row_of(mid) is not None
            ]
        )
        source = self.source

        def read() -> _Reads:
            reads = _Reads(first=source.list_meetings(1) if restart else None)
            if detail_id is not None:
                reads.detail = _or_none(source.meeting_detail, detail_id)
            reads.fresh = {mid: _or_none(source.summary, mid) for mid in summary_ids}
            return reads

        self._reading = True
        self._tasks.run(
            read,
            lambda reads: self._on_changes_read(changes, selected, reads),  # type: ignore[arg-type]
            lambda error: self._on_changes_failed(changes, restart, error),
        )

    def _on_changes_read(
        self, changes: dict[int, ChangeKind], selected: int | None, reads: _Reads
    ) -> None:
        self._reading = False
        self._set_problem(None)
        current = self.selected_id()  # the user may have chosen another meeting meanwhile
        self._restoring = True  # rows replaced or removed move the selection: not a choice
        try:
            if reads.first is not None:
                self.model.replace_rows(reads.first)
                if current is not None:
                    self.select_meeting(current)
            else:
                fresh = dict(reads.fresh)
                fresh.update(
                    {mid: None for mid, kind in changes.items() if kind == ChangeKind.DELETED}
                )
                if selected is not None and selected in changes:
                    fresh[selected] = reads.detail
                self.model.update_rows(fresh)
        finally:
            self._restoring = False
        if current is not None and self.model.row_of(current) is None:
            # Deleted, or no longer on the fresh first page: no row may look selected
            # (nor current), and no other meeting's detail shows.
            self.table.selectionModel().clear()
            self._detail_wanted += 1
            self._show(None)
        elif current is not None and current == selected and selected in changes:
            self._detail_wanted += 1  # an older read of the selection is out of date
            self._show(reads.detail)
        emit(self.updated)
        self._read_changes()  # what came meanwhile

    def _on_changes_failed(
        self, changes: dict[int, ChangeKind], restart: bool, error: BaseException
    ) -> None:
        self._reading = False
        self._set_problem(problem_text(error))
        # Not read again at once (a server that is away would be asked in a loop): the
        # next change, a refresh or the next showing of the window tries again.
        for meeting_id, kind in changes.items():
            self._pending.setdefault(meeting_id, kind)
        self._restart = self._restart or restart

    # -- actions ------------------------------------------------------------

    @Slot()
    def rename(self) -> None:
        detail = self.detail
        if detail is None:
            return
        title, accepted = QInputDialog.getText(self, "Rename meeting", "Title:", text=detail.title)
        if accepted and title.strip():
            new_title = title.strip()[:MAX_TITLE_LENGTH]
            source = self.source
            self._change(
                detail.id,
                lambda: source.rename_meeting(detail.id, new_title),
                ChangeKind.UPDATED,
                "rename",
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
            source = self.source
            self._change(
                detail.id, lambda: source.delete_meeting(detail.id), ChangeKind.DELETED, "delete"
            )

    def _change(
        self, meeting_id: int, action: Callable[[], object], kind: ChangeKind, verb: str
    ) -> None:
        """Rename or delete in the background, then show the meeting as it is now.

        A meeting deleted meanwhile (from elsewhere) is not an error: it goes.
        """

        def failed(error: BaseException) -> None:
            if isinstance(error, NotFoundError):
                self.apply_changes({meeting_id: ChangeKind.DELETED})
            elif isinstance(error, RemoteUnavailableError | RemoteRefusedError):
                self._set_problem(f"Could not {verb} the meeting: {error}")
            else:
                self._set_problem(f"Could not {verb} the meeting ({error}).")

        self._tasks.run(action, lambda _done: self.apply_changes({meeting_id: kind}), failed)

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
        if self._restoring:
            return
        meeting_id = self.selected_id()
        self._detail_wanted += 1
        if meeting_id is None:
            self._show(None)
            return
        if self.detail is not None and self.detail.id == meeting_id:
            return  # shown already (the same row selected again)
        self._load_detail(meeting_id)

    def _load_detail(self, meeting_id: int) -> None:
        """Read the meeting's detail in the background; the buttons wait for it."""
        wanted = self._detail_wanted
        self.detail = None
        for button in self._meeting_buttons():
            button.setEnabled(False)
        self.heading.setText("Loading…")
        source = self.source
        self._tasks.run(
            lambda: _or_none(source.meeting_detail, meeting_id),
            lambda detail: self._on_detail(wanted, meeting_id, detail),  # type: ignore[arg-type]
            lambda error: self._on_detail_failed(wanted, error),
        )

    def _on_detail(self, wanted: int, meeting_id: int, detail: MeetingDetail | None) -> None:
        if wanted != self._detail_wanted:
            return  # another meeting was selected meanwhile
        self._set_problem(None)
        self._show(detail)
        emit(self.detail_shown)
        if detail is None:  # deleted meanwhile
            self.apply_changes({meeting_id: ChangeKind.DELETED})

    def _on_detail_failed(self, wanted: int, error: BaseException) -> None:
        if wanted != self._detail_wanted:
            return
        self._show(None)  # not another meeting's chart under this one's row
        self.heading.setText("This meeting could not be read.")
        self._set_problem(problem_text(error))

    @Slot()
    def _on_page_loaded(self) -> None:
        self._set_problem(None)

    @Slot(object)
    def _on_failed(self, error: BaseException) -> None:
        self._set_problem(problem_text(error))

    def _set_problem(self, text: str | None) -> None:
        """Say in the status line why what shows may be old (None: all is well again)."""
        self.status.setText(text or "")
        self.status.setVisible(bool(text))
        if text:
            emit(self.problem, text)

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
