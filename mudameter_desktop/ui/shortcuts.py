"""Global keyboard shortcuts for Speaking / Engaged / Disengaged (default Ctrl+Alt+1/2/3).

On X11 the keys are grabbed on the root window (`XGrabKey`, through
python-xlib) by a small listener thread with its own X connection; a press
is handed to the UI thread through a Qt signal. Wayland lets no app grab keys
for the whole desktop (by design), so there the shortcuts are off and Settings
says why; so they are on Windows and macOS for now (RegisterHotKey and Carbon
hot keys would be the way there).

A shortcut needs Ctrl, Alt or Meta: a bare key grabbed for the whole desktop
would swallow the user's typing in every other app.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from PySide6.QtCore import QKeyCombination, QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication, QKeySequence

from mudameter_desktop.domain.statuses import Status
from mudameter_desktop.settings import Settings
from mudameter_desktop.ui.signals import emit
from mudameter_desktop.ui.state import STATUS_LABELS

if TYPE_CHECKING:
    from Xlib.display import Display

log = logging.getLogger(__name__)

DEFAULT_SHORTCUTS = {
    Status.SPEAKING: "Ctrl+Alt+1",
    Status.ENGAGED: "Ctrl+Alt+2",
    Status.DISENGAGED: "Ctrl+Alt+3",
}
# X11's modifier masks (X.h); the lock keys' masks are ignored when matching a press.
SHIFT, LOCK, CONTROL, MOD1, MOD2, MOD4 = 1, 2, 4, 8, 16, 64
LOCKS = (0, LOCK, MOD2, LOCK | MOD2)  # Caps Lock and Num Lock on or off
MATCHED = SHIFT | CONTROL | MOD1 | MOD4
XK_F1 = 0xFFBE
REPEAT_MS = 400  # a held key repeats every ~30 ms after ~500 ms: one press


class ShortcutError(ValueError):
    """A shortcut that cannot be grabbed; the message is one line meant for the user."""


@dataclass(frozen=True)
class Support:
    """Whether this desktop lets the app grab keys, and if not, why (shown in Settings)."""

    available: bool
    reason: str = ""


def platform_support(
    platform: str | None = None, environment: Mapping[str, str] | None = None
) -> Support:
    """What the running Qt platform (`QGuiApplication.platformName()`) allows."""
    environment = os.environ if environment is None else environment
    platform = QGuiApplication.platformName() if platform is None else platform
    on_wayland = platform.startswith("wayland") or (
        bool(environment.get("WAYLAND_DISPLAY")) and not environment.get("DISPLAY")
    )
    if on_wayland:
        return Support(
            False,
            "Wayland lets no app grab keys for the whole desktop: use the tray menu "
            "(or start Muda Meter with QT_QPA_PLATFORM=xcb under XWayland).",
        )
    if platform != "xcb":
        return Support(False, f"Global shortcuts need X11; this desktop is {platform!r}.")
    try:
        import Xlib  # noqa: F401, PLC0415 - only where X11 is
    except ImportError:
        return Support(False, "Global shortcuts need python-xlib, which is not installed.")
    return Support(True)


@cache
def _modifier_masks() -> dict[Qt.KeyboardModifier, int]:
    return {
        Qt.KeyboardModifier.ShiftModifier: SHIFT,
        Qt.KeyboardModifier.ControlModifier: CONTROL,
        Qt.KeyboardModifier.AltModifier: MOD1,
        Qt.KeyboardModifier.MetaModifier: MOD4,
    }


@cache
def _named_keysyms() -> dict[Qt.Key, int]:
    """Keys beyond ASCII and F1-F35 (a function: PySide6 builds the huge `Qt.Key` enum
    on first use, ~50 ms, which must not delay the tray)."""
    key = Qt.Key
    return {
        key.Key_Space: 0x0020,
        key.Key_Home: 0xFF50,
        key.Key_Left: 0xFF51,
        key.Key_Up: 0xFF52,
        key.Key_Right: 0xFF53,
        key.Key_Down: 0xFF54,
        key.Key_PageUp: 0xFF55,
        key.Key_PageDown: 0xFF56,
        key.Key_End: 0xFF57,
        key.Key_Insert: 0xFF63,
        key.Key_Delete: 0xFFFF,
        key.Key_Pause: 0xFF13,
        key.Key_Print: 0xFF61,
    }


def parse_shortcut(text: str) -> tuple[int, int]:
    """ "Ctrl+Alt+1" → (X keysym, X modifier mask); `ShortcutError` if unusable."""
    sequence = QKeySequence(text.strip(), QKeySequence.SequenceFormat.PortableText)
    if sequence.count() != 1:
        raise ShortcutError(f"“{text}” is not one key combination.")
    combination: QKeyCombination = sequence[0]  # type: ignore[index] # the stubs lack it
    key, modifiers = combination.key(), combination.keyboardModifiers()
    mask = 0
    for flag, bit in _modifier_masks().items():
        if modifiers & flag:
            mask |= bit
    if not mask & (CONTROL | MOD1 | MOD4):
        raise ShortcutError(f"“{text}” needs Ctrl, Alt or Meta (it would block typing).")
    code = int(key.value)
    if 0x21 <= code <= 0x7E:  # printable ASCII: the keysym is the (lower-case) character
        return ord(chr(code).lower()), mask
    if Qt.Key.Key_F1.value <= code <= Qt.Key.Key_F35.value:
        return XK_F1 + code - Qt.Key.Key_F1.value, mask
    if key in _named_keysyms():
        return _named_keysyms()[key], mask
    raise ShortcutError(f"“{text}” cannot be a global shortcut; try a digit or a letter.")


def bindings_of(settings: Settings) -> dict[Status, str]:
    return {
        Status.SPEAKING: settings.shortcut_speaking,
        Status.ENGAGED: settings.shortcut_engaged,
        Status.DISENGAGED: settings.shortcut_disengaged,
    }


def check_bindings(bindings: Mapping[Status, str]) -> str | None:
    """The first problem with a set of shortcuts (unusable, or one used twice), else None."""
    seen: dict[tuple[int, int], Status] = {}
    for status, text in bindings.items():
        try:
            parsed = parse_shortcut(text)
        except ShortcutError as error:
            return f"{STATUS_LABELS[status]}: {error}"
        if parsed in seen:
            return f"{STATUS_LABELS[status]} and {STATUS_LABELS[seen[parsed]]} use the same keys."
        seen[parsed] = status
    return None


class X11Listener:
    """Keys grabbed on the root window; presses reported from the listener thread."""

    def __init__(
        self,
        bindings: Mapping[Status, str],
        on_press: Callable[[Status], None],
        display_name: str | None = None,
    ) -> None:
        self._bindings = dict(bindings)
        self._on_press = on_press
        self._display_name = display_name
        self._display: Display | None = None
        self._keys: dict[tuple[int, int], Status] = {}  # (keycode, modifiers) → status
        self._wake_read, self._wake_write = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> list[str]:
        """Grab the keys and start listening; the shortcuts another app holds, as problems.

        Raises `ShortcutError` when there is no X display to grab keys on.
        """
        from Xlib import X, error  # noqa: PLC0415 - python-xlib only where X11 is
        from Xlib.display import Display  # noqa: PLC0415

        try:
            display = Display(self._display_name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as failure:
            raise ShortcutError(f"No X display to grab keys on: {failure}") from failure
        root = display.screen().root
        problems = []
        for status, text in self._bindings.items():
            keysym, modifiers = parse_shortcut(text)
            keycode = display.keysym_to_keycode(keysym)
            if not keycode:
                problems.append(f"{text} ({STATUS_LABELS[status]}): no such key on this keyboard")
                continue
            catcher = error.CatchError(error.BadAccess)
            for locks in LOCKS:
                root.grab_key(
                    keycode,
                    modifiers | locks,
                    True,
                    X.GrabModeAsync,
                    X.GrabModeAsync,
                    onerror=catcher,
                )
            display.sync()
            if catcher.get_error() is not None:
                for locks in LOCKS:
                    root.ungrab_key(keycode, modifiers | locks)
                problems.append(f"{text} ({STATUS_LABELS[status]}) is taken by another app")
                continue
            self._keys[(keycode, modifiers)] = status
        display.sync()
        self._display = display
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._listen, name="mudameter-keys", daemon=True)
        self._thread.start()
        return problems

    def stop(self) -> None:
        """Release the keys and end the thread (it closes its X connection)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with contextlib.suppress(OSError):  # the thread ended already (the X server went away)
            os.write(self._wake_write, b"x")
        thread.join(5)
        os.close(self._wake_write)

    def _listen(self) -> None:
        from Xlib import X  # noqa: PLC0415

        display = self._display
        if display is None:
            return
        last: tuple[int, int] = (0, 0)  # the last press's keycode and X time (ms)
        try:
            while True:
                while display.pending_events():  # also those read while waiting on a reply
                    event = display.next_event()
                    if event.type != X.KeyPress:
                        continue
                    status = self._keys.get((event.detail, event.state & MATCHED))
                    repeated = last[0] == event.detail and 0 <= event.time - last[1] < REPEAT_MS
                    last = (event.detail, event.time)
                    if status is not None and not repeated:  # a held key: one status
                        self._on_press(status)
                readable, _, _ = select.select([display.fileno(), self._wake_read], [], [])
                if self._wake_read in readable:
                    break
        except Exception:  # the X server went away: the shortcuts stop, the app goes on
            log.exception("The keyboard shortcut listener stopped")
        finally:
            os.close(self._wake_read)
            root = display.screen().root
            try:
                for keycode, modifiers in self._keys:
                    for locks in LOCKS:
                        root.ungrab_key(keycode, modifiers | locks)
                display.close()
            except Exception:  # already gone
                log.debug("Closing the X connection of the shortcuts failed", exc_info=True)


class GlobalShortcuts(QObject):
    """The shortcuts as the settings say; `pressed` arrives on the UI thread."""

    pressed = Signal(object)  # Status; emitted in the listener thread, delivered queued
    note_changed = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        display_name: str | None = None,
        support: Support | None = None,
    ) -> None:
        super().__init__(parent)
        self._display_name = display_name
        self._support = support
        self._listener: X11Listener | None = None
        self._applied: tuple[bool, tuple[str, ...]] | None = None
        self.note = ""  # what Settings shows under the shortcuts: active, off, or why not

    @property
    def support(self) -> Support:
        if self._support is None:
            self._support = platform_support()
        return self._support

    @property
    def active(self) -> bool:
        return self._listener is not None

    @Slot(object)
    def apply(self, settings: Settings) -> str:
        """Grab (or release) the keys the settings name; returns the new note."""
        bindings = bindings_of(settings)
        wanted = (settings.shortcuts_enabled, tuple(bindings.values()))
        if wanted == self._applied:
            return self.note
        self.stop()
        self._applied = wanted
        if not self.support.available:
            return self._set_note(self.support.reason)
        if not settings.shortcuts_enabled:
            return self._set_note("Global shortcuts are off.")
        return self._set_note(self._grab(bindings))

    def _grab(self, bindings: dict[Status, str]) -> str:
        """Start listening for `bindings`; what is active now, or why not."""
        problem = check_bindings(bindings)
        if problem is not None:
            return problem
        listener = X11Listener(bindings, self._on_press, self._display_name)
        try:
            problems = listener.start()
        except ShortcutError as error:
            return str(error)
        except Exception as error:  # an X11 surprise must never keep the app from starting
            log.exception("Grabbing the global shortcuts failed")
            return f"Global shortcuts could not start: {error}"
        self._listener = listener
        active = ", ".join(f"{text} {STATUS_LABELS[status]}" for status, text in bindings.items())
        log.info("Global shortcuts active: %s", active)
        if problems:
            log.warning("Some global shortcuts are not available: %s", "; ".join(problems))
            return "Not available: " + "; ".join(problems) + "."
        return f"Active on the whole desktop: {active}."

    def stop(self) -> None:
        """Release the keys (the next `apply` grabs them again)."""
        self._applied = None
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()

    def _set_note(self, note: str) -> str:
        self.note = note
        emit(self.note_changed, note)
        return note

    def _on_press(self, status: Status) -> None:
        """Called in the listener thread: the signal queues the status for the UI thread."""
        emit(self.pressed, status)
