"""Runs one batch at a time in a :class:`BatchThread` and feeds the session in bursts.

Results are kept by the session as they arrive and moved into the table every
FLUSH_MS, so a fast batch does not repaint the table once per file. Every
signal carries the batch id; the session drops those of an older batch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop_app.core.inference.results import AnalysisResult
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.shell.status import BatchStatus
from desktop_app.gui.threads.workers import BatchThread, ThreadRegistry
from desktop_app.session.session import BatchEnd, Session

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import Engine, Progress

log = logging.getLogger("dermscreen.gui")

FLUSH_MS = 100  # results are added to the table in small bursts, not one by one


class BatchRunner(QObject):
    """``ended(BatchEnd)`` after the session recorded the end; ``message(text)`` when the
    engine stopped with an error (the results so far are kept)."""

    ended = Signal(object)
    message = Signal(str, str)  # text, level

    def __init__(self, session: Session, status: BatchStatus, threads: ThreadRegistry,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session, self._status, self._threads = session, status, threads
        self._batch: BatchThread | None = None
        self._recursive = False
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(session.flush)

    def start(self, engine: Engine, items: list[str], *, recursive: bool) -> int:
        """Start analysing ``items`` (the session must not be running); returns the batch id."""
        batch_id = self._session.start_batch(items)
        batch = BatchThread(engine, batch_id, items, threshold=self._session.threshold,
                            recursive=recursive)
        batch.result.connect(self._on_result)
        batch.progress.connect(self._on_progress)
        batch.failed.connect(self._on_failed)
        batch.finished_batch.connect(self._on_finished)
        self._batch, self._recursive = batch, recursive
        self._status.started()
        self._timer.start()
        log.info("batch %d started: %d inputs%s (%s)", batch_id, len(items),
                 " with subfolders" if recursive else "",
                 ", ".join(Path(p).name for p in items[:3]))
        self._threads.start(batch)
        return batch_id

    def cancel(self) -> None:
        if self._batch is not None:
            self._batch.cancel()
            self._status.cancelling()

    def stop_flushing(self) -> None:
        self._timer.stop()

    @Slot(int, object)
    def _on_result(self, batch_id: int, result: AnalysisResult) -> None:
        self._session.accept_result(batch_id, result)

    @Slot(int, object)
    def _on_progress(self, batch_id: int, progress: Progress) -> None:
        if batch_id == self._session.batch_id:
            self._status.show_progress(progress)

    @Slot(int, str)
    def _on_failed(self, batch_id: int, text: str) -> None:
        if batch_id == self._session.batch_id:
            self.message.emit(f"The analysis stopped: {text}. The results so far are kept.",
                              "error")

    @Slot(int, bool)
    def _on_finished(self, batch_id: int, cancelled: bool) -> None:
        end = self._session.finish_batch(batch_id, cancelled)
        if end is None:
            return
        self._batch = None
        self._timer.stop()
        self._status.finished()
        self._report(end)
        self.ended.emit(end)

    def _report(self, end: BatchEnd) -> None:
        counts, note = end.counts, " (cancelled)" if end.cancelled else ""
        self._status.say(f"Analysed {counts['total']} files{note}: {counts['anomalous']} "
                         f"flagged, {counts['errors']} errors")
        log.info("batch %d finished%s: %s", end.batch_id, note, counts)
        inputs = self._session.last_inputs
        folders = [p for p in inputs if Path(p).is_dir()]
        if counts["total"] == 0 and not end.cancelled:
            names = ", ".join(Path(p).name or p for p in inputs[:3])
            hint = ("" if self._recursive or not folders else
                    " Tick File ▸ Include Subfolders to look inside its subfolders.")
            self.message.emit(f"No image files found in {names}. DermScreen reads JPEG, PNG, "
                              f"TIFF, BMP and WebP files.{hint}", "warning")
        elif not end.cancelled:
            for folder in folders:  # only folders that held images are worth reopening
                app_settings.add_recent_folder(folder)
