"""DermScreen desktop_app.reports package."""
