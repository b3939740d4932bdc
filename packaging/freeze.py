"""What `build.spec` (and the baseline spec) keep of Qt, and what they leave out.

PyInstaller's Qt hooks collect every plugin of a type a module *might* use
(`imageformats/libqpdf` drags in QtPdf, `platforminputcontexts` the virtual
keyboard and with it Qt Quick and QML, `tls` OpenSSL back-ends...) and every
translation. These functions filter the Analysis' tables afterwards, by name,
so the same rules apply on Linux, macOS and Windows and to both specs.

Imported by the spec files only (not part of the app).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import PurePosixPath

from PyInstaller.depend.bindepend import get_imports

# Qt libraries the app needs: its own imports (QtCore, QtGui, QtWidgets, QtSvg,
# QtCharts, QtNetwork), what those link to (QtCharts → QtOpenGL, QtOpenGLWidgets)
# and what the kept plugins need (xcb → XcbQpa, DBus for the tray's
# StatusNotifierItem; macOS/Windows have no extra ones).
APP_QT_MODULES = frozenset(
    {"Core", "Gui", "Widgets", "Svg", "Charts", "Network", "OpenGL", "OpenGLWidgets"}
)
BARE_QT_MODULES = frozenset({"Core", "Gui", "Widgets", "Svg"})  # Svg: the tray's SVG icon
PLATFORM_QT_MODULES = frozenset({"DBus", "XcbQpa"})

# Plugins kept, by type folder: `None` keeps the folder, a set keeps those file
# stems (the name without "lib" and extension, the same on every OS: "qxcb").
KEPT_PLUGINS: dict[str, frozenset[str] | None] = {
    # xcb (X11 and XWayland), offscreen (headless tests), cocoa, windows.
    "platforms": frozenset({"qxcb", "qoffscreen", "qcocoa", "qwindows", "qdirect2d"}),
    # The XDG portal theme (file dialogs under Flatpak/GNOME); not GTK3, which
    # would pull GTK into the bundle.
    "platformthemes": frozenset({"qxdgdesktopportal"}),
    "platforminputcontexts": frozenset(
        {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"}
    ),
    "xcbglintegrations": None,  # GLX/EGL glue the xcb platform loads
    "iconengines": frozenset({"qsvgicon"}),  # the tray and window icons are SVG
    "imageformats": frozenset({"qsvg"}),  # PNG is built into QtGui
    "styles": None,  # the native Windows 11 / macOS styles
}


def _plugin_of(dest: str) -> tuple[str, str] | None:
    """(type, stem) for a Qt plugin's destination path, else None."""
    parts = PurePosixPath(dest.replace("\\", "/")).parts
    if "plugins" not in parts:
        return None
    index = parts.index("plugins")
    if index + 2 >= len(parts):  # not plugins/<type>/<file>
        return None
    return parts[index + 1], parts[-1].split(".")[0].removeprefix("lib")


_QT_LIBRARY = re.compile(
    r"^(?:lib)?Qt6(?P<name>[A-Za-z0-9]+)\.(?:so(?:\.\d+)*|dll)$"  # Linux, Windows
    r"|^Qt(?P<framework>[A-Za-z0-9]+)(?:\.framework)?$"  # macOS framework folder/binary
)


def _qt_module_of(dest: str) -> str | None:
    """The Qt module name ('Core', 'Quick', ...) of a Qt shared library, else None."""
    for part in PurePosixPath(dest.replace("\\", "/")).parts:
        match = _QT_LIBRARY.match(part)
        if match and "PySide6" not in part:
            return match.group("name") or match.group("framework")
    return None


# Qt's software OpenGL for Windows (20 MB): a fallback for Qt Quick on machines
# without a GL driver; widgets never need it.
DROPPED_FILES = frozenset({"opengl32sw.dll"})


def keep(dest: str, qt_modules: frozenset[str]) -> bool:
    """Whether a collected file belongs in the bundle."""
    path = dest.replace("\\", "/")
    if PurePosixPath(path).name.lower() in DROPPED_FILES:
        return False
    if "/translations/" in f"/{path}" and path.endswith(".qm"):
        return False  # the UI is English only and installs no QTranslator
    plugin = _plugin_of(path)
    if plugin is not None and "PySide6" in path:
        kind, stem = plugin
        if kind not in KEPT_PLUGINS:
            return False
        wanted = KEPT_PLUGINS[kind]
        return wanted is None or stem in wanted
    module = _qt_module_of(path)
    if module is not None:
        return module in qt_modules or module in PLATFORM_QT_MODULES
    return True


def filter_toc(toc: Iterable[tuple[str, str, str]], qt_modules: frozenset[str]) -> list:
    """The entries of an Analysis table (binaries or datas) that `keep` accepts."""
    return [entry for entry in toc if keep(entry[0], qt_modules)]


# Python packages installed beside the app's dependencies but never imported
# when it runs: optional extras of litestar (OpenAPI example generation via
# polyfactory → faker is 13 MB, the `litestar` CLI via rich/click), test and
# dev tools, and GUI toolkits PyInstaller would otherwise consider. (httpx and
# httpcore stay: the app is a team server's client, services.team_client.)
EXCLUDED_MODULES = [
    # Python bindings the Qt hooks add because QtCharts *links* to QtOpenGL
    # (the libraries stay), but which nothing imports: QtOpenGL's alone is 8.5 MB.
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtDBus",
    "faker",
    "polyfactory",
    "litestar.cli",
    "litestar.testing",
    "rich",
    "rich_click",
    "pygments",
    "markdown_it",
    "mdurl",
    "hypothesis",
    "pytest",
    "_pytest",
    "pytestqt",
    "mypy",
    "ruff",
    "bandit",
    "tox",
    "PyInstaller",
    # The PostgreSQL driver is the team server's (`[server]` extra), never the
    # desktop bundle's: SQLAlchemy's dialect imports it inside functions.
    "psycopg",
    "psycopg_binary",
    "psycopg_c",
    "psycopg_pool",
    "setuptools",
    "pip",
    "tkinter",
    "_tkinter",
    "IPython",
    "numpy",
]


def prune_orphan_libraries(binaries: list, log=print) -> list:
    """Drop system libraries that only the filtered-out plugins needed (Linux).

    PyInstaller resolved each collected plugin's shared-library dependencies
    before `filter_toc` ran, so dropping e.g. the GTK 3 theme plugin leaves
    GTK, cairo, pango and friends (about 20 MB) behind. Keep a library copied
    from the system only if something kept still links to it (ELF NEEDED,
    transitively); everything else in the table is kept as it is.
    """
    if not sys.platform.startswith("linux"):
        return binaries

    def is_system_dependency(entry) -> bool:
        dest, src, _ = entry  # top level, from outside the venv, not Python itself
        return (
            "/" not in dest
            and "site-packages" not in src
            and not src.startswith(sys.prefix)
            and not dest.startswith("libpython")
        )

    by_name = {PurePosixPath(entry[0]).name: entry for entry in binaries}
    queue = [entry for entry in binaries if not is_system_dependency(entry)]
    reached = {id(entry) for entry in queue}
    while queue:
        entry = queue.pop()
        for name, _path in get_imports(entry[1]):
            needed = by_name.get(PurePosixPath(name).name)
            if needed is not None and id(needed) not in reached:
                reached.add(id(needed))
                queue.append(needed)
    dropped = sorted(entry[0] for entry in binaries if id(entry) not in reached)
    if dropped:
        log(f"freeze: dropped {len(dropped)} libraries nothing kept links to: {' '.join(dropped)}")
    return [entry for entry in binaries if id(entry) in reached]
