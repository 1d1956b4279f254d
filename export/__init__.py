"""DermScreen export package."""
