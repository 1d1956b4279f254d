"""DermScreen training package."""
