"""Background work for the window: the GUI thread never decodes, infers or writes files.

- :class:`BatchThread` streams ``Engine.analyze`` results and progress by signals.
- :class:`TaskThread` runs one callable (model loading, ``Engine.explain``, exports).
- :class:`ThumbnailThread` decodes small previews from a queue as results arrive.

All three are QThread subclasses that check ``isInterruptionRequested`` (or a
cancel event the engine checks) so closing the window stops them promptly.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QThread, Signal
from PySide6.QtGui import QImage

from desktop_app.core.errors import DermScreenError
from desktop_app.core.imageio import read_image

log = logging.getLogger("dermscreen.gui.workers")

THUMB_SIZE = 56


def describe_error(exc: BaseException) -> str:
    """One line for the user: our own errors already name their file and reason."""
    if isinstance(exc, DermScreenError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class TaskThread(QThread):
    """Run ``fn()`` off the GUI thread; emit ``succeeded(tag, value)`` or ``failed(tag, message)``.

    ``tag`` travels with the outcome so one receiver can tell requests apart
    (for example, a case that is no longer selected).
    """

    succeeded = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, fn: Callable[[], Any], tag: Any = None, name: str = "task",
                 parent: Any = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self.tag = tag
        self.setObjectName(name)

    def run(self) -> None:
        try:
            value = self._fn()
        except DermScreenError as exc:  # expected: a bad model or image file, said in words
            log.warning("background task %s failed: %s", self.objectName(), exc)
            self.failed.emit(self.tag, describe_error(exc))
            return
        except Exception as exc:
            log.exception("background task %s failed", self.objectName())
            self.failed.emit(self.tag, describe_error(exc))
            return
        self.succeeded.emit(self.tag, value)


class BatchThread(QThread):
    """Analyse ``inputs`` with ``engine`` and stream what comes out.

    Every signal carries ``batch_id`` first, so a receiver ignores a stale batch.
    ``result`` carries one AnalysisResult, ``progress`` one Progress;
    ``finished_batch(batch_id, cancelled)`` always comes last, after ``failed``
    when the engine raised (results already sent are kept by the receiver).
    """

    result = Signal(int, object)
    progress = Signal(int, object)
    failed = Signal(int, str)
    finished_batch = Signal(int, bool)

    def __init__(
        self,
        engine: Any,
        batch_id: int,
        inputs: Sequence[str | Path],
        *,
        threshold: float | None,
        recursive: bool = False,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("batch")
        self._engine = engine
        self.batch_id = batch_id
        self._inputs = list(inputs)
        self._threshold = threshold
        self._recursive = recursive
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()
        self.requestInterruption()

    def run(self) -> None:
        try:
            stream = self._engine.analyze(
                self._inputs,
                recursive=self._recursive,
                threshold=self._threshold,
                progress=self._report,
                cancel=self.cancel_event,
            )
            for res in stream:
                self.result.emit(self.batch_id, res)
                if self.cancel_event.is_set():
                    # The engine stops on its own; stop listening too.
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
                    break
        except Exception as exc:
            log.exception("batch failed")
            self.failed.emit(self.batch_id, describe_error(exc))
        finally:
            self.finished_batch.emit(self.batch_id, self.cancel_event.is_set())

    def _report(self, progress: Any) -> None:
        self.progress.emit(self.batch_id, progress)


def make_thumbnail(path: str | Path, size: int = THUMB_SIZE) -> QImage:
    """A small RGB preview of ``path``, letterboxed into ``size`` x ``size``; raises ImageError."""
    rgb = read_image(path, min_size=(size * 2, size * 2))
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    small = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return rgb_to_qimage(small)


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """Copy an (H, W, 3) uint8 array into a QImage that owns its pixels."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()


class ThumbnailThread(QThread):
    """Decode thumbnails for ``(key, path)`` jobs.

    Every job is answered, once: ``ready(key, QImage)`` or ``failed(key, reason)``,
    unless ``clear()`` drops it. ``idle()`` follows once the queue has run dry
    after new work: since signals from one thread arrive in order, a request
    still unanswered then was lost and can be asked again.
    QImage (unlike QPixmap) may be built outside the GUI thread.
    """

    ready = Signal(object, QImage)
    failed = Signal(object, str)
    idle = Signal()

    def __init__(self, size: int = THUMB_SIZE, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("thumbnails")
        self._size = size
        self._jobs: queue.Queue[tuple[Any, Path]] = queue.Queue()
        self._since_idle = threading.Event()  # work came in since the last idle()

    def submit(self, key: Any, path: str | Path) -> None:
        self._since_idle.set()
        self._jobs.put((key, Path(path)))

    def clear(self) -> None:
        """Drop queued jobs (a new batch replaces the old one)."""
        try:
            while True:
                self._jobs.get_nowait()
        except queue.Empty:
            pass

    def run(self) -> None:
        while not self.isInterruptionRequested():
            try:
                key, path = self._jobs.get(timeout=0.05)
            except queue.Empty:
                if self._since_idle.is_set():
                    self._since_idle.clear()
                    self.idle.emit()
                continue
            try:
                image = make_thumbnail(path, self._size)
            except Exception as exc:  # bad files get no thumbnail, their row says why
                log.debug("no thumbnail for %s: %s", path.name, exc)
                self.failed.emit(key, describe_error(exc))
                continue
            self.ready.emit(key, image)
