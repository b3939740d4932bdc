"""The tray menu, built once and kept in step with `LiveState` (no query on open)."""

from __future__ import annotations

from datetime import tzinfo

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.ui.icons import status_icon
from mudameter_desktop.ui.state import STATUS_LABELS, LiveState, delivery_line, live_meeting_line

MAX_LINE_PX = 320  # a long title or error is elided: the menu never grows wider than this


class TrayMenu(QMenu):
    """The tray's menu; each entry has a keyboard mnemonic (the underlined letter)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.statuses = QActionGroup(self)
        self.statuses.setExclusive(True)
        self.status_actions: dict[Status, QAction] = {}
        for status, label in STATUS_LABELS.items():
            action = self.addAction(status_icon(status), f"&{label}")
            action.setCheckable(True)
            action.setData(status.value)
            self.statuses.addAction(action)
            self.status_actions[status] = action
        self.addSeparator()
        self.meeting = self.addAction("Starting…")
        self.meeting.setEnabled(False)
        self.delivery = self.addAction("")  # a team server's room: "Offline — 2 clicks waiting"
        self.delivery.setEnabled(False)
        self.delivery.setVisible(False)
        self.retry = self.addAction("&Retry opening the database")
        self.retry.setVisible(False)
        self.start_meeting = self.addAction("S&tart meeting now…")
        self.end_meeting = self.addAction("E&nd meeting now")
        self.addSeparator()
        self.history = self.addAction("&History…")
        self.addSeparator()
        self.share_on_lan = self.addAction("Share on &LAN")
        self.share_on_lan.setCheckable(True)
        self.copy_link = self.addAction("&Copy join link")
        self.show_qr = self.addAction("Show Q&R code…")
        self.addSeparator()
        self.settings = self.addAction("Settin&gs…")
        self.quit = self.addAction("&Quit")
        self._needs_backend = (
            self.start_meeting,
            self.history,
            self.share_on_lan,
            self.copy_link,
            self.show_qr,
            self.settings,
        )

    def sync(self, live: LiveState, zone: tzinfo) -> None:
        for status, action in self.status_actions.items():
            action.setChecked(status == live.status)
            font = action.font()
            font.setBold(status == live.status)  # the style's check frame alone is faint
            action.setFont(font)
        if live.status is None and (checked := self.statuses.checkedAction()) is not None:
            self.statuses.setExclusive(False)  # an exclusive group cannot go back to none
            checked.setChecked(False)
            self.statuses.setExclusive(True)
        line = live_meeting_line(live, zone)
        shown = self.fontMetrics().elidedText(
            " ".join(line.split()), Qt.TextElideMode.ElideRight, MAX_LINE_PX
        )
        self.meeting.setText(shown.replace("&", "&&"))  # "&" is not a mnemonic
        self.meeting.setToolTip(line if shown != line else "")
        self.setToolTipsVisible(shown != line)
        for action in self.status_actions.values():
            action.setEnabled(not live.failed)  # nowhere to keep a click without a store
        self.retry.setVisible(live.failed)
        delivery = delivery_line(live)
        self.delivery.setText(delivery or "")
        self.delivery.setVisible(delivery is not None)
        for action in self._needs_backend:
            action.setEnabled(live.ready)
        self.end_meeting.setEnabled(live.ready and live.meeting is not None and live.running)
        self.share_on_lan.setChecked(live.share_on_lan)
        has_link = bool(live.join_url)
        self.copy_link.setEnabled(has_link)
        self.show_qr.setEnabled(has_link)
