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
    from desktop_app.core.model.metadata import ModelMetadata
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
    menu.setToolTipsVisible(True)
    metas = [_metadata_or_none(path) for path in models]
    texts = [model_entry(meta, path.name) for meta, path in zip(metas, models, strict=True)]
    for path, meta, text in zip(models, metas, texts, strict=True):
        # Two files of the same name and version (a copy, a retrained file): the file tells.
        shown = f"{text} ({path.name})" if meta is not None and texts.count(text) > 1 else text
        action = menu.addAction(shown)
        action.setToolTip(f"{path}\n\n{meta.description}" if meta is not None else str(path))
        action.setCheckable(True)
        action.setChecked(current is not None and path.resolve() == current.resolve())
        action.triggered.connect(lambda _c=False, p=path: window.load_model(p, remember=True))
        group.addAction(action)
    if not models:
        menu.addAction("(no models found)").setEnabled(False)


def _metadata_or_none(path: Path) -> ModelMetadata | None:
    from desktop_app.core.model.model_file import read_metadata

    try:
        return read_metadata(path)  # the file's metadata only: no inference session
    except Exception:  # an unreadable file still gets its entry (by file name)
        log.warning("no metadata read from %s", path, exc_info=True)
        return None


def is_combined(meta: ModelMetadata) -> bool:
    """A model with a labelled classifier beside the autoencoder (its card says so)."""
    return "components" in meta.extra or "combiner" in meta.extra


def model_summary(meta: ModelMetadata) -> str:
    """One line of what the model is, for the Model menu and the switch message."""
    if is_combined(meta):
        return ("autoencoder + classifier trained on labelled cancers; flags on the combined "
                "score, with an evidence map")
    return "autoencoder trained on benign images only; flags what it cannot rebuild"


def model_entry(meta: ModelMetadata | None, file_name: str) -> str:
    """"DermScreen Combined 1.0.0 — autoencoder + classifier …" (the file name if unreadable)."""
    if meta is None:
        return f"{file_name} (unreadable)"
    return f"{meta.model_name} {meta.model_version} — {model_summary(meta)}"


def switch_message(old: ModelMetadata, old_threshold: float, new: ModelMetadata,
                   new_threshold: float, rerun: bool = False) -> str:
    """What changed when the model is switched: which model, what it is, its scale."""
    what = f"Now using {new.model_name} {new.model_version} (was {old.model_name} " \
           f"{old.model_version}): {model_summary(new)}."
    if is_combined(new) != is_combined(old):
        what += (" The score column now holds the combined score and the classifier's evidence "
                 "map is shown." if is_combined(new) else
                 " The score column now holds the autoencoder's score; no evidence map.")
    return (f"{what} Scores are on this model's own scale (threshold {new_threshold:.4g}, was "
            f"{old_threshold:.4g})." + (" The open images are analysed again." if rerun else ""))


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
