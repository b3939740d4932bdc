"""When a tray icon is really docked: X events from the tray host, through libX11 (ctypes).

A program's own "tray shown" line says when it *asked* for a tray icon; the
user sees the icon when the tray host (here `trayer`, under Xvfb) has
reparented the icon's window into itself and mapped it. `DockWatcher`
listens for exactly that, event-driven (no polling that would steal CPU from
the program being measured): `ReparentNotify` of a top-level window into a
descendant of the tray host's window, then that window mapped. It works the
same for any toolkit (PySide6, PyQt6, GTK), so every program is timed by the
same rule.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import select
import time
from typing import Any

_SUBSTRUCTURE_NOTIFY_MASK = 1 << 19
_STRUCTURE_NOTIFY_MASK = 1 << 17
_MAP_NOTIFY = 19
_REPARENT_NOTIFY = 21
_IS_VIEWABLE = 2

_Window = ctypes.c_ulong
_KEEP: list[object] = []


class _AnyEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("event", _Window),
        ("window", _Window),
        ("parent", _Window),  # XReparentEvent; for XMapEvent this is override_redirect
    ]


class _Event(ctypes.Union):
    _fields_ = [("any", _AnyEvent), ("pad", ctypes.c_long * 24)]


class _Attributes(ctypes.Structure):
    # XWindowAttributes, up to map_state (the rest is padding for us)
    _fields_ = [
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("border_width", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p),
        ("root", _Window),
        ("class_", ctypes.c_int),
        ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int),
        ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong),
        ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int),
        ("pad", ctypes.c_long * 16),
    ]


def _xlib() -> Any:
    lib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XDefaultRootWindow.restype = _Window
    lib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    lib.XSelectInput.argtypes = [ctypes.c_void_p, _Window, ctypes.c_long]
    lib.XConnectionNumber.argtypes = [ctypes.c_void_p]
    lib.XPending.argtypes = [ctypes.c_void_p]
    lib.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Event)]
    lib.XFlush.argtypes = [ctypes.c_void_p]
    lib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    lib.XFree.argtypes = [ctypes.c_void_p]
    lib.XQueryTree.argtypes = [
        ctypes.c_void_p,
        _Window,
        ctypes.POINTER(_Window),
        ctypes.POINTER(_Window),
        ctypes.POINTER(ctypes.POINTER(_Window)),
        ctypes.POINTER(ctypes.c_uint),
    ]
    lib.XGetWindowAttributes.argtypes = [ctypes.c_void_p, _Window, ctypes.POINTER(_Attributes)]
    # A window destroyed between an event and our question is not an error for us.
    handler = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda *_: 0)
    lib.XSetErrorHandler(handler)
    _KEEP.append(handler)  # the callback must outlive every X call
    return lib


class DockWatcher:
    """Open before the program starts; `wait_docked()` returns perf_counter() of the docking."""

    def __init__(self, display: str, hosts: set[int]) -> None:
        self._x = _xlib()
        self._display = self._x.XOpenDisplay(display.encode())
        if not self._display:
            raise RuntimeError(f"cannot open X display {display}")
        self._root = self._x.XDefaultRootWindow(self._display)
        self._hosts = hosts  # the tray host's windows (`xdotool search --classname trayer`)
        self._x.XSelectInput(self._display, self._root, _SUBSTRUCTURE_NOTIFY_MASK)
        self._x.XSync(self._display, 0)

    def close(self) -> None:
        if self._display:
            self._x.XCloseDisplay(self._display)
            self._display = None

    def __enter__(self) -> DockWatcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _parent(self, window: int) -> int:
        root, parent = _Window(), _Window()
        children = ctypes.POINTER(_Window)()
        count = ctypes.c_uint()
        if not self._x.XQueryTree(
            self._display,
            window,
            ctypes.byref(root),
            ctypes.byref(parent),
            ctypes.byref(children),
            ctypes.byref(count),
        ):
            return 0
        if children:
            self._x.XFree(children)
        return int(parent.value)

    def _inside_host(self, window: int) -> bool:
        for _ in range(16):  # the host's tree is a few levels deep
            if window in (0, self._root):
                return False
            if window in self._hosts:
                return True
            window = self._parent(window)
        return False

    def _viewable(self, window: int) -> bool:
        attributes = _Attributes()
        if not self._x.XGetWindowAttributes(self._display, window, ctypes.byref(attributes)):
            return False
        return bool(attributes.map_state == _IS_VIEWABLE)

    def wait_docked(self, timeout: float, alive: Any = None) -> float:
        """perf_counter() when an icon window was docked in the host and mapped there."""
        deadline = time.perf_counter() + timeout
        docked: set[int] = set()
        event = _Event()
        descriptor = self._x.XConnectionNumber(self._display)
        while time.perf_counter() < deadline:
            while self._x.XPending(self._display):
                self._x.XNextEvent(self._display, ctypes.byref(event))
                kind, window = event.any.type, int(event.any.window)
                if kind == _REPARENT_NOTIFY and int(event.any.event) == self._root:
                    if self._inside_host(int(event.any.parent)):
                        docked.add(window)
                        # its MapNotify goes to the window itself (StructureNotify)
                        self._x.XSelectInput(self._display, window, _STRUCTURE_NOTIFY_MASK)
                        self._x.XSync(self._display, 0)
                        if self._viewable(window):  # mapped before we asked
                            return time.perf_counter()
                elif kind == _MAP_NOTIFY and window in docked:
                    return time.perf_counter()
            if alive is not None and not alive():
                raise RuntimeError("the program ended before its tray icon docked")
            select.select([descriptor], [], [], 0.1)
        raise TimeoutError(f"no tray icon docked within {timeout} s")
