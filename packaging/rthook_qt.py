"""Run-time hook standing in for PyInstaller's `pyi_rth_pyside6` (see build.spec).

The stock hook imports PySide6.QtCore at every start, to register a qt.conf
that PyPI's PySide6 wheels already embed themselves: that loads Qt and ICU
even for `--headless` and `--version`, which never touch Qt (about 0.15 s of
a 0.3 s `--version`). Only its cheap part is kept: pointing Qt at the bundled
plugins.
"""

import os
import sys

_qt = os.path.join(sys._MEIPASS, "PySide6")  # the bundle folder, set by the bootloader
if sys.platform != "win32":
    _qt = os.path.join(_qt, "Qt")
os.environ["QT_PLUGIN_PATH"] = os.path.join(_qt, "plugins")
