"""Icons and the participant page, installed as `mudameter_desktop.resources`.

The folder sits beside `mudameter_desktop/` in the source tree; setuptools
maps the package onto it (`package-dir` in pyproject.toml), and build.spec
copies it into the bundle. Load through
`importlib.resources.files("mudameter_desktop.resources")` (the tray icons,
read before the tray shows, use the package's folder: `ui/icons.py`).
"""
