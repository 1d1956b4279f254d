"""DermScreen desktop_app.gui package."""
