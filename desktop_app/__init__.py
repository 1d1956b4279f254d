"""DermScreen desktop_app package."""
