"""The window's menus and tool bar (from desktop_app.gui.shell.actions), the Recent Folders and
Model menus that fill themselves when opened, and which drops the window accepts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QActionGroup, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QMenu

from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.shell.actions import MENUS, TOOLBAR, fill_menu

if TYPE_CHECKING:
    from desktop_app.gui.shell.main_window import MainWindow

log = logging.getLogger("dermscreen.gui")


def build_menus(window: MainWindow) -> None:
    """Menu bar and tool bar from the declared layout; sets ``window.recent_menu`` and
    ``window.model_menu``."""
    window.recent_menu = QMenu("&Recent Folders", window)
    window.recent_menu.aboutToShow.connect(lambda: rebuild_recent_menu(window))
    rebuild_recent_menu(window)
    for title, names in MENUS:
        menu = window.menuBar().addMenu(title)
        fill_menu(menu, names, window.actions_by_name, window.recent_menu)
        if title == "&Model":
            window.model_menu = menu
            window.model_group = QActionGroup(window)
            # Filled when opened: listing models imports ONNX Runtime (slow start-up).
            menu.aboutToShow.connect(lambda: rebuild_model_menu(window))
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("MainToolBar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    fill_menu(toolbar, TOOLBAR, window.actions_by_name)


def rebuild_recent_menu(window: MainWindow) -> None:
    menu = window.recent_menu
    menu.clear()
    folders = app_settings.recent_folders()
    enabled = window.session.engine is not None or window.session.loading_model
    for folder in folders:
        action = menu.addAction(folder)
        action.triggered.connect(lambda _c=False, f=folder: window.open_paths([f]))
        action.setEnabled(enabled)
    if not folders:
        menu.addAction("(none)").setEnabled(False)
    else:
        menu.addSeparator()
        menu.addAction("Clear Recent Folders").triggered.connect(app_settings.clear_recent_folders)


def available_models(current: Path | None) -> list[Path]:
    """Models in the bundled and user model folders (plus ``current``)."""
    from desktop_app.core.model.model_file import find_models

    found = find_models()
    if current is not None and all(p.resolve() != current.resolve() for p in found):
        found.append(current)
    return found


def rebuild_model_menu(window: MainWindow) -> None:
    menu, group = window.model_menu, window.model_group
    menu.clear()
    menu.addAction(window.open_model_action)
    menu.addAction(window.calibrate_site_action)
    window.site.fill_menu(menu)
    menu.addSeparator()
    for action in group.actions():
        group.removeAction(action)
    current = window.session.model_path
    try:
        models = available_models(current)
    except Exception:  # a broken models folder must not break the menu
        log.exception("listing models failed")
        models = []
    for path in models:
        action = menu.addAction(path.name)
        action.setToolTip(str(path))
        action.setCheckable(True)
        action.setChecked(current is not None and path.resolve() == current.resolve())
        action.triggered.connect(lambda _c=False, p=path: window.load_model(p, remember=True))
        group.addAction(action)
    if not models:
        menu.addAction("(no models found)").setEnabled(False)


def accept_local_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
    """Accept the event when it carries local files or folders; returns their paths."""
    mime = event.mimeData()
    found = [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()] \
        if mime.hasUrls() else []
    if found:
        event.acceptProposedAction()
    else:
        event.ignore()
    return found
