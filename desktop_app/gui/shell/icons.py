"""Icons from resources/icons (SVG), looked up by name."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from desktop_app.core.base import paths


def icons_dir() -> Path:
    return paths.resources_dir() / "icons"


def load_icon(name: str) -> QIcon:
    """``resources/icons/<name>.svg`` as a QIcon (an empty icon when the file is missing)."""
    path = icons_dir() / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
