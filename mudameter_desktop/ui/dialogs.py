"""Small dialogs: start a meeting, settings, the join link as a QR code."""

from __future__ import annotations

import io

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mudameter_desktop.domain.meetings import MAX_DURATION_MINUTES, MAX_TITLE_LENGTH
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.shortcut_settings import ShortcutSettings

QR_SCALE = 8
LINK_MIN_WIDTH = 320
LINK_PADDING = 16  # the line edit's frame and inner margins


def _ok_cancel(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class StartMeetingDialog(QDialog):
    """Title and duration of a meeting that starts now."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Start meeting now")
        self.title = QLineEdit()
        self.title.setMaxLength(MAX_TITLE_LENGTH)
        self.title.setPlaceholderText("Meeting HH:MM")
        self.duration = QSpinBox()
        self.duration.setRange(1, MAX_DURATION_MINUTES)
        self.duration.setValue(60)
        self.duration.setSuffix(" min")
        form = QFormLayout(self)
        form.addRow("Title:", self.title)
        form.addRow("Duration:", self.duration)
        form.addRow(_ok_cancel(self))

    @classmethod
    def ask(cls, parent: QWidget | None = None) -> tuple[str, int] | None:
        """The title and minutes chosen, or None when cancelled."""
        dialog = cls(parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.title.text().strip(), dialog.duration.value()


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        serving: str = "",
        parent: QWidget | None = None,
        shortcuts_note: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Muda Meter settings")
        self._settings = settings
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(settings.port)
        self.share_on_lan = QCheckBox("Share on the LAN at start")
        self.share_on_lan.setChecked(settings.share_on_lan)
        self.require_room_key = QCheckBox("LAN clients need the room key")
        self.require_room_key.setChecked(settings.require_room_key)
        self.hourly_cost = QDoubleSpinBox()
        self.hourly_cost.setRange(0, 1_000_000)
        self.hourly_cost.setDecimals(2)
        self.hourly_cost.setValue(settings.hourly_cost)
        self.hourly_cost.setSpecialValueText("not set")
        self.currency = QLineEdit(settings.currency)
        self.currency.setMaxLength(8)
        self.start_at_login = QCheckBox("Start Muda Meter when I log in")
        self.start_at_login.setChecked(settings.start_at_login)
        self.notify_meetings = QCheckBox("Notify when a meeting starts and ends")
        self.notify_meetings.setChecked(settings.notify_meetings)
        self.nudge_disengaged = QCheckBox(
            "Nudge me when over half the room is disengaged for 5 minutes"
        )
        self.nudge_disengaged.setChecked(settings.nudge_disengaged)
        cost = QHBoxLayout()
        cost.addWidget(self.hourly_cost, 1)
        cost.addWidget(self.currency)
        self.calendar = QLineEdit(settings.calendar)
        self.calendar.setPlaceholderText("an .ics file or https://… address")
        self.calendar.setToolTip(
            "Meetings take the titles and times of this calendar's events "
            "(Outlook, Google and Thunderbird export one). Applies at the next start."
        )
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose_calendar)
        calendar = QHBoxLayout()
        calendar.addWidget(self.calendar, 1)
        calendar.addWidget(choose)
        self.team_server = TeamServerField(settings.team_server)
        form = QFormLayout(self)
        form.addRow("Port (after a restart):", self.port)
        if serving:
            form.addRow("", QLabel(f"Now serving on {serving}"))
        form.addRow("", self.share_on_lan)
        form.addRow("", self.require_room_key)
        form.addRow("Hourly cost per person:", cost)
        form.addRow("", self.start_at_login)
        form.addRow("", self.notify_meetings)
        form.addRow("", self.nudge_disengaged)
        form.addRow("Calendar (after a restart):", calendar)
        form.addRow("Team server:", self.team_server)
        self.shortcuts = ShortcutSettings(settings, shortcuts_note)  # ui/shortcut_settings.py
        form.addRow(self.shortcuts)
        form.addRow(_ok_cancel(self))

    def accept(self) -> None:
        team_server = self.team_server.check()  # both say what is wrong, if anything
        if team_server and self.shortcuts.problem() is None:
            super().accept()

    def values(self) -> Settings:
        return self._settings.with_changes(
            port=self.port.value(),
            share_on_lan=self.share_on_lan.isChecked(),
            require_room_key=self.require_room_key.isChecked(),
            hourly_cost=self.hourly_cost.value(),
            currency=self.currency.text().strip() or self._settings.currency,
            start_at_login=self.start_at_login.isChecked(),
            notify_meetings=self.notify_meetings.isChecked(),
            nudge_disengaged=self.nudge_disengaged.isChecked(),
            calendar=self.calendar.text().strip(),
            team_server=self.team_server.link.text().strip(),
            **self.shortcuts.values(),
        )

    def _choose_calendar(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a calendar", self.calendar.text(), "Calendars (*.ics);;All files (*)"
        )
        if path:
            self.calendar.setText(path)


class TeamServerField(QWidget):
    """A team server room's host link (empty: this computer), and why it is refused."""

    def __init__(self, link: str) -> None:
        super().__init__()
        self.link = QLineEdit(link)
        self.link.setPlaceholderText("a room's host link; empty: this computer")
        self.link.setToolTip(
            "Paste the host link `mudameter rooms add` printed: your clicks, the meter and the "
            "history then work on that room of the team server. Empty it to come back to "
            "this computer's own meetings, which stay as they were."
        )
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020")
        self.problem.setWordWrap(True)
        self.problem.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.link)
        layout.addWidget(self.problem)

    def check(self) -> bool:
        """Whether the link is usable; if not, the field says why."""
        problem = team_link_problem(self.link.text())
        self.problem.setText(problem or "")
        self.problem.setVisible(problem is not None)
        return problem is None


def team_link_problem(text: str) -> str | None:
    """Why `text` is not a host link (None: it is one, or empty: not connected)."""
    if not text.strip():
        return None
    from mudameter_desktop.services.team_client import HostLink  # noqa: PLC0415 - late

    try:
        HostLink.parse(text.strip())
    except ValueError as error:
        return str(error)
    return None


def qr_pixmap(text: str) -> QPixmap:
    import segno  # noqa: PLC0415 - only when the QR code is shown

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=QR_SCALE, border=2)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


class QrDialog(QDialog):
    """The join link as a QR code and as text; "New room key" revokes the old one."""

    new_key_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Join this meeting room")
        self._shown: tuple[str, bool] | None = None
        self.code = QLabel()
        self.code.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.link = QLineEdit()
        self.link.setReadOnly(True)
        self.link.setMinimumWidth(LINK_MIN_WIDTH)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        copy = QPushButton("Copy link")
        copy.clicked.connect(self.copy_link)
        new_key = self.new_key_button = QPushButton("New room key")
        new_key.setToolTip("Revoke the current key: phones that joined with it must scan again")
        new_key.clicked.connect(self.new_key_requested)  # DesktopApp asks for confirmation
        row = QHBoxLayout()
        row.addWidget(self.link, 1)
        row.addWidget(copy)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        close.addButton(new_key, QDialogButtonBox.ButtonRole.ResetRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.code)
        layout.addLayout(row)
        layout.addWidget(self.hint)
        layout.addWidget(close)

    def show_link(self, url: str, shared: bool) -> None:
        if (url, shared) == self._shown:
            return  # the live state changes often; the link seldom
        self._shown = (url, shared)
        self.link.setText(url)
        self.link.setCursorPosition(0)  # the address first, not the end of the key
        # Wide enough for the whole link: a cut-off key reads as a wrong one.
        margins = self.link.textMargins()
        self.link.setMinimumWidth(
            max(
                LINK_MIN_WIDTH,
                self.link.fontMetrics().horizontalAdvance(url)
                + margins.left()
                + margins.right()
                + LINK_PADDING,
            )
        )
        self.code.setPixmap(qr_pixmap(url))
        self.hint.setText(
            "Scan with a phone on the same network."
            if shared
            else "Turn on “Share on LAN” in the tray menu so that other devices can reach it."
        )

    def copy_link(self) -> None:
        QGuiApplication.clipboard().setText(self.link.text())
