"""The first window fits the screen it opens on (a 1366x768 laptop included)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect
from PySide6.QtWidgets import QMainWindow

PREFERRED_SIZE = (1400, 900)
SCREEN_MARGIN = 0.94  # leave room for window frames and panels the screen reports badly


def first_size(available: QRect) -> tuple[int, int]:
    """The preferred size, shrunk to fit ``available`` (the screen minus task bars)."""
    width = min(PREFERRED_SIZE[0], int(available.width() * SCREEN_MARGIN))
    height = min(PREFERRED_SIZE[1], int(available.height() * SCREEN_MARGIN))
    return max(640, width), max(480, height)


def fit_to_screen(window: QMainWindow, saved: QByteArray | None) -> None:
    """Restore ``saved`` geometry if any; else open at a size that fits, centred.

    Either way the window never ends up larger than the available screen.
    """
    screen = window.screen()
    available = screen.availableGeometry() if screen is not None else QRect(0, 0, 1366, 768)
    if saved is not None and window.restoreGeometry(saved) and \
            window.width() <= available.width() and window.height() <= available.height():
        return
    width, height = first_size(available)
    window.resize(width, height)
    window.move(available.x() + (available.width() - width) // 2,
                available.y() + (available.height() - height) // 2)
