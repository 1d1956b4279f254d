"""Loads a model in a worker for the window: ``loaded`` or ``failed`` come back on the GUI
thread, and only one load runs at a time (the session keeps that rule)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop_app.gui.threads.model_loading import ModelPreload, load_model_and_engine
from desktop_app.gui.threads.workers import TaskThread, ThreadRegistry
from desktop_app.session.session import Session

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import Engine
    from desktop_app.core.model.model_file import LoadedModel

log = logging.getLogger("dermscreen.gui")


class ModelLoader(QObject):
    """``loaded(path, (model, engine))`` or ``failed(path, message)`` per :meth:`load`."""

    loaded = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, session: Session, threads: ThreadRegistry,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session, self._threads = session, threads

    def load(self, path: Path, *, preload: ModelPreload | None, remember: bool) -> bool:
        """Start loading ``path``; False when another load still runs.

        ``preload``: a load of the same file already started (by run_gui); the
        worker then only waits for it. ``remember``: open this model next time too.
        """
        if not self._session.begin_model_load(path, remember=remember):
            return False
        load: Callable[[], tuple[LoadedModel, Engine]] = (
            preload.result if preload is not None and preload.path == path
            else lambda: load_model_and_engine(path))
        self._threads.start(TaskThread(load, "load-model",
                                       on_done=lambda value: self._done(path, value),
                                       on_error=lambda message: self._failed(path, message)))
        return True

    def _done(self, path: Path, value: tuple[LoadedModel, Engine]) -> None:
        log.info("model loaded: %s (%s, %s)", path.name, value[0].short_sha, value[0].provider)
        self.loaded.emit(path, value)

    def _failed(self, path: Path, message: str) -> None:
        log.error("model %s could not be loaded: %s", path.name, message)
        self._session.fail_model_load(message)
        self.failed.emit(path, message)
