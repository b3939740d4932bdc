"""The embedded HTTP server: Litestar app, LAN access rules, uvicorn thread.

Nothing here imports Litestar or uvicorn at package import time: the tray
shows first and the server stack loads behind it.
"""
