"""Help > Keyboard Shortcuts: a table of every action that has a shortcut, grouped by the menu
it sits in, read from the actions themselves (desktop_app.gui.shell.actions), so it never drifts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.gui.shell.actions import MENUS, SEP

# Keys handled by the views themselves, not by an action.
VIEW_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Case views", "Arrow keys", "Pan the case views"),
    ("Case views", "Mouse wheel / drag", "Zoom at the cursor / pan"),
    ("Case views", "Esc", "Leave full screen (F11)"),
    ("Worklist", "Enter / Esc in the name filter", "Back to the table"),
    ("Compare window", "Esc, Ctrl+W", "Close it"),
)


def is_close_key(event: QKeyEvent) -> bool:
    """Esc, Ctrl+W or the platform's Close key: what closes a DermScreen side window."""
    ctrl_w = (event.key() == Qt.Key.Key_W
              and event.modifiers() & Qt.KeyboardModifier.ControlModifier)
    return (event.key() == Qt.Key.Key_Escape or bool(ctrl_w)
            or event.matches(QKeySequence.StandardKey.Close))


def shortcut_rows(actions: dict[str, QAction]) -> list[tuple[str, str, str]]:
    """(menu, keys, what it does) for every action with a shortcut, in menu order."""
    rows: list[tuple[str, str, str]] = []
    for title, names in MENUS:
        for name in names:
            action = actions.get(name) if name != SEP else None
            if action is None or action.shortcut().isEmpty():
                continue
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            text = action.text().replace("&", "").rstrip("…")
            rows.append((title.replace("&", ""), keys, text))
    return rows + list(VIEW_KEYS)


class ShortcutsDialog(QDialog):
    """The shortcut table; Esc or Ctrl+W closes it."""

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts — DermScreen")
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Where", "Keys", "What it does"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(560, 520)
        self.setWindowModality(Qt.WindowModality.NonModal)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if is_close_key(event):
            self.close()
        else:
            super().keyPressEvent(event)
