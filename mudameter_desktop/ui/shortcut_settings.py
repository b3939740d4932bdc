"""The "Keyboard shortcuts" box of the settings dialog.

Apart from `ui/shortcuts.py`, which the app imports at start: these widget
classes are loaded with the dialog only (benchmarks/README.md: every widget
class a module imports costs start-up time).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QWidget,
)

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.shortcuts import (
    DEFAULT_SHORTCUTS,
    Support,
    bindings_of,
    check_bindings,
    platform_support,
)
from mudameter_desktop.ui.state import STATUS_LABELS

FIELDS = {
    Status.SPEAKING: "shortcut_speaking",
    Status.ENGAGED: "shortcut_engaged",
    Status.DISENGAGED: "shortcut_disengaged",
}


class ShortcutSettings(QGroupBox):
    """Shortcuts on or off, the three key combinations, and what is active (or why not)."""

    def __init__(
        self,
        settings: Settings,
        note: str = "",
        support: Support | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Keyboard shortcuts", parent)
        self._settings = settings
        self.support = platform_support() if support is None else support
        self.enabled = QCheckBox("Set my status from any app with these keys")
        self.enabled.setChecked(settings.shortcuts_enabled and self.support.available)
        self.enabled.setEnabled(self.support.available)
        self.keys: dict[Status, QKeySequenceEdit] = {}
        form = QFormLayout(self)
        form.addRow(self.enabled)
        keys = QHBoxLayout()
        for status, text in bindings_of(settings).items():
            edit = QKeySequenceEdit(QKeySequence(text, QKeySequence.SequenceFormat.PortableText))
            edit.setMaximumSequenceLength(1)
            edit.setClearButtonEnabled(True)
            edit.setToolTip(f"Click, then press the keys for “{STATUS_LABELS[status]}”")
            self.keys[status] = edit
            keys.addWidget(QLabel(f"{STATUS_LABELS[status]}:"))
            keys.addWidget(edit, 1)
        self.defaults = QPushButton("Defaults")
        self.defaults.clicked.connect(self.restore_defaults)
        keys.addWidget(self.defaults)
        form.addRow(keys)
        self.note = QLabel(self.support.reason or note)
        self.note.setWordWrap(True)
        form.addRow(self.note)
        self.enabled.toggled.connect(self._sync)
        self._sync()

    def restore_defaults(self) -> None:
        for status, edit in self.keys.items():
            edit.setKeySequence(
                QKeySequence(DEFAULT_SHORTCUTS[status], QKeySequence.SequenceFormat.PortableText)
            )

    def texts(self) -> dict[Status, str]:
        return {
            status: edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
            for status, edit in self.keys.items()
        }

    def problem(self) -> str | None:
        """Why these shortcuts cannot be saved (shown in the box), or None."""
        if not self.enabled.isChecked():
            return None
        problem = check_bindings(self.texts())
        if problem is not None:
            self.note.setText(problem)
            self.note.setStyleSheet("color: #b00020;")
        return problem

    def values(self) -> dict[str, Any]:
        """The settings' fields; where keys cannot be grabbed, the saved choice is kept."""
        enabled = (
            self.enabled.isChecked() if self.support.available else self._settings.shortcuts_enabled
        )
        texts = self.texts()
        return {"shortcuts_enabled": enabled} | {
            FIELDS[status]: texts[status] or getattr(self._settings, FIELDS[status])
            for status in FIELDS
        }

    def _sync(self) -> None:
        on = self.enabled.isChecked()
        for edit in self.keys.values():
            edit.setEnabled(on)
        self.defaults.setEnabled(on)
