"""The window's menus and tool bar (from desktop_app.gui.shell.actions), the Recent Folders and
Model menus that fill themselves when opened, and which drops the window accepts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QMenu, QMenuBar, QToolBar

from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.shell.actions import MENUS, TOOLBAR, fill_menu

if TYPE_CHECKING:
    from desktop_app.gui.panels.site_calibration import SiteCalibration
    from desktop_app.session.session import Session

log = logging.getLogger("dermscreen.gui")


class MenuHost(Protocol):
    """What the menus need of the window (the main window is one); the window builds its
    menus through this, so menus never import the window back."""

    session: Session
    site: SiteCalibration
    actions_by_name: dict[str, QAction]
    recent_menu: QMenu
    model_menu: QMenu
    model_group: QActionGroup
    open_model_action: QAction
    calibrate_site_action: QAction

    def menuBar(self) -> QMenuBar: ...  # noqa: N802 (Qt's name)
    def addToolBar(self, title: str) -> QToolBar: ...  # noqa: N802 (Qt's name)
    def load_model(self, path: str | Path) -> None: ...
    def open_paths(self, inputs: Sequence[str | Path]) -> bool: ...


def build_menus(window: MenuHost) -> None:
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


def rebuild_recent_menu(window: MenuHost) -> None:
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


def rebuild_model_menu(window: MenuHost) -> None:
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
