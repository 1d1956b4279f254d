"""Previews for the rows in view: asked by geometry, re-asked when lost, retried once.

A row in view gets its thumbnail whatever was painted (offscreen, minimised or
scrolled past): :meth:`ThumbnailLoader.request_visible` runs whenever what is
in view may change. The worker says ``idle`` when its queue runs dry; a request
still unanswered then was lost and is asked again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QImage

from desktop_app.gui.panels.results_model import RESULT_ROLE, THUMB_RETRY_S
from desktop_app.gui.panels.results_panel import ResultsPanel
from desktop_app.gui.threads.workers import THUMB_SIZE, ThumbKey, ThumbnailThread

log = logging.getLogger("dermscreen.gui")


class ThumbnailLoader(QObject):
    """Connects the table's rows in view to a :class:`ThumbnailThread`."""

    def __init__(self, panel: ResultsPanel, batch_id: Callable[[], int],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._model = panel.results_model
        self._batch_id = batch_id
        self.worker = ThumbnailThread(THUMB_SIZE)
        self.worker.ready.connect(self._on_ready)
        self.worker.failed.connect(self._on_failed)
        self.worker.idle.connect(self._on_idle)
        self._model.thumbnail_wanted.connect(self._submit)
        scroll = panel.table.verticalScrollBar()
        scroll.valueChanged.connect(self.request_visible)
        scroll.rangeChanged.connect(self.request_visible)
        proxy = panel.proxy
        for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.layoutChanged,
                       proxy.modelReset):
            signal.connect(self.request_visible)

    def request_visible(self, *_args: object) -> None:
        """Ask for the previews of every row in view that has none and none on its way."""
        keys = []
        for row in self._panel.visible_rows():
            result = self._panel.proxy.index(row, 0).data(RESULT_ROLE)
            if result is not None:
                keys.append(result.index)
        self._model.want_thumbnails(keys)

    def clear(self) -> None:
        """A new batch: drop the queued requests of the old one."""
        self.worker.clear()

    def _submit(self, index: int, path: Path) -> None:
        self.worker.submit((self._batch_id(), index), path)

    def _on_idle(self) -> None:
        # Every answer the worker sent has arrived before this: what is still pending was
        # lost (dropped with a cleared queue, or asked under an older batch). Ask again.
        pending = self._model.pending_thumbnails()
        if pending:
            log.info("re-asking %d lost preview requests", len(pending))
            self._model.forget_requests()
            self.request_visible()

    def _on_ready(self, key: ThumbKey, image: QImage) -> None:
        batch_id, index = key
        if batch_id == self._batch_id():
            self._model.set_thumbnail(index, image)

    def _on_failed(self, key: ThumbKey, reason: str) -> None:
        batch_id, index = key
        if batch_id == self._batch_id():
            self._model.set_thumbnail_failed(index, reason)
            # Another try once the retry delay has passed (a file still being copied).
            QTimer.singleShot(int(THUMB_RETRY_S * 1000) + 50, self, self.request_visible)
