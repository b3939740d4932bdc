"""Use cases shared by the tray and the HTTP API: one code path for both.

The package's face is empty on purpose: import from the submodules, so that
`services.errors`, `services.changes` and `services.views` stay cheap (only
`services.meter` and `services.history` load SQLAlchemy).
"""
