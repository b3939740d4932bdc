"""A small always-on-top window with the tray's controls (also when there is no tray)."""

from __future__ import annotations

from datetime import tzinfo

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mudameter_desktop import APP_NAME
from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.ui.icons import status_icon
from mudameter_desktop.ui.signals import emit
from mudameter_desktop.ui.state import (
    STATUS_LABELS,
    LiveState,
    delivery_line,
    live_meeting_line,
    room_line,
)
from mudameter_desktop.ui.tray import TrayMenu

ICON_SIZE = QSize(32, 32)
MAX_WIDTH = 480  # long titles, links and errors wrap instead of widening the window
GAP = 4  # pixels between the tray icon and the window


def placement(anchor: QRect, size: QSize, area: QRect) -> QPoint:
    """Below a tray icon in a top panel, above one in a bottom panel, kept on screen."""
    x = anchor.center().x() - size.width() // 2
    x = max(area.left(), min(x, area.right() - size.width()))
    if anchor.center().y() < area.center().y():
        y = max(anchor.bottom() + GAP, area.top())
    else:
        y = min(anchor.top() - GAP - size.height(), area.bottom() - size.height())
    return QPoint(x, y)


def server_line(live: LiveState) -> str:
    """Where colleagues join: the join link once shared, else this machine's page."""
    if live.joinable:
        return f"Join from a phone:\n{live.join_url}"
    return f"Participant page (this computer only):\n{live.local_url}" if live.local_url else ""


class MeterWindow(QWidget):
    status_chosen = Signal(Status)
    close_requested = Signal()  # with no tray, closing the window quits
    retry_requested = Signal()  # open the database again after it failed

    def __init__(self, menu: TrayMenu, quit_on_close: bool) -> None:
        super().__init__(None, Qt.WindowType.Window | Qt.WindowType.WindowStaysOnTopHint)
        self.setWindowTitle(APP_NAME)
        self._quit_on_close = quit_on_close
        self.meeting = QLabel("Starting…")
        self.meeting.setStyleSheet("font-weight: bold;")
        self.meeting.setWordWrap(True)
        self.room = QLabel("")
        self.server = QLabel("")
        self.problem = QLabel("")
        self.problem.setStyleSheet("color: #D55E00;")
        for text in (self.meeting, self.room, self.server, self.problem):  # titles from the LAN too
            text.setTextFormat(Qt.TextFormat.PlainText)
        for text in (self.meeting, self.problem):  # a long title or error wraps
            text.setWordWrap(True)
        self.server.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry = QPushButton("&Retry")
        self.retry.setToolTip("Open the database again")
        self.retry.clicked.connect(self.retry_requested)
        self.retry.hide()
        self.server.setStyleSheet("color: palette(placeholder-text);")
        self.group = QButtonGroup(self)
        self.buttons: dict[Status, QPushButton] = {}
        row = QHBoxLayout()
        for number, (status, label) in enumerate(STATUS_LABELS.items()):
            button = QPushButton(status_icon(status), f"&{label}")
            button.setIconSize(ICON_SIZE)
            button.setCheckable(True)
            button.setMinimumHeight(56)
            self.group.addButton(button, number)
            self.buttons[status] = button
            row.addWidget(button)
        self.group.idClicked.connect(self._on_clicked)
        more = QToolButton()
        more.setText("Menu")
        more.setToolTip("Meetings, history, sharing and settings")
        more.setMenu(menu)
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        footer = QHBoxLayout()
        footer.addWidget(self.room, 1)
        footer.addWidget(more)
        layout = QVBoxLayout(self)
        layout.addWidget(self.meeting)
        layout.addLayout(row)
        layout.addLayout(footer)
        layout.addWidget(self.server)
        problem = QHBoxLayout()
        problem.addWidget(self.problem, 1)
        problem.addWidget(self.retry)
        layout.addLayout(problem)
        self.setMaximumWidth(MAX_WIDTH)

    def sync(self, live: LiveState, zone: tzinfo) -> None:
        self.group.setExclusive(False)  # so that idle can show no button checked
        for status, button in self.buttons.items():
            button.setChecked(status == live.status)
        self.group.setExclusive(True)
        for button in self.buttons.values():
            button.setEnabled(not live.failed)
        self.meeting.setText(
            "Muda Meter could not start" if live.failed else live_meeting_line(live, zone)
        )
        self.problem.setText(live.error or "")
        self.problem.setVisible(bool(live.error))
        self.retry.setVisible(live.failed)
        if live.ready:
            delivery = delivery_line(live)
            room = room_line(live.room, live.muda)
            self.room.setText(f"{room}\n{delivery}" if delivery else room)
            self.server.setText(server_line(live))

    @Slot(int)
    def _on_clicked(self, number: int) -> None:
        emit(self.status_chosen, list(STATUS_LABELS)[number])

    def show_on_top(self, anchor: QRect | None = None) -> None:
        """Show and raise, next to `anchor` (the tray icon) when its place is known."""
        if anchor is not None and anchor.isValid():
            self.adjustSize()
            self.move(placement(anchor, self.frameSize(), self._area(anchor)))
        self.show()
        self.raise_()
        self.activateWindow()

    def _area(self, anchor: QRect) -> QRect:
        screen = QGuiApplication.screenAt(anchor.center()) or self.screen()
        return screen.availableGeometry()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Ctrl+W (the platform's Close) closes it, as any window; Escape too when a
        tray icon brings it back (without one, closing quits: Escape only minimises)."""
        if event.matches(QKeySequence.StandardKey.Close):
            self.close()
        elif event.key() == Qt.Key.Key_Escape:
            if self._quit_on_close:
                self.showMinimized()
            else:
                self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._quit_on_close:
            emit(self.close_requested)
        super().closeEvent(event)
