"""The Qt desktop app: tray, meter window, history, settings and QR dialogs."""
