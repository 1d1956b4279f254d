"""Background work for the window: the GUI thread never decodes, infers or writes files.

- :class:`BatchThread` streams ``Engine.analyze`` results and progress by signals.
- :class:`TaskThread` runs one callable (model loading, ``Engine.explain``, exports).
- :class:`ThumbnailThread` decodes small previews from a queue as results arrive.

All three are QThread subclasses that check ``isInterruptionRequested`` (or a
cancel event the engine checks) so closing the window stops them promptly.
:class:`ThreadRegistry` starts them and stops them with a deadline: a thread
stuck in a system call (a FIFO read) cannot hold the window open; it is kept
alive, parentless, in :data:`_ABANDONED` until it ends or the process exits.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import cv2
import numpy as np
from PySide6.QtCore import QDeadlineTimer, QThread, Signal, Slot
from PySide6.QtGui import QImage

from desktop_app.core.base.errors import DermScreenError
from desktop_app.core.imaging.imageio import read_image

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import Engine, Progress

log = logging.getLogger("dermscreen.gui.workers")
T = TypeVar("T")
ThumbKey = tuple[int, int]  # (batch id, result index)

THUMB_SIZE = 56


def describe_error(exc: BaseException) -> str:
    """One line for the user: our own errors already name their file and reason."""
    if isinstance(exc, DermScreenError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class TaskThread(QThread, Generic[T]):
    """Run ``fn()`` off the GUI thread; ``on_done(value)`` or ``on_error(message)`` follow
    on the GUI thread.

    The outcome also goes out as ``succeeded(value)`` / ``failed(message)``. The
    callbacks are called by slots of this object, which lives on the GUI thread,
    so they always run there whatever thread emitted.
    """

    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], T], name: str = "task", *,
                 on_done: Callable[[T], None] | None = None,
                 on_error: Callable[[str], None] | None = None) -> None:
        super().__init__(None)  # no parent: a stuck task may outlive its window
        self._fn = fn
        self._on_done = on_done
        self._on_error = on_error
        self.setObjectName(name)
        self.succeeded.connect(self._deliver_value)
        self.failed.connect(self._deliver_error)

    def run(self) -> None:
        try:
            value = self._fn()
        except DermScreenError as exc:  # expected: a bad model or image file, said in words
            log.warning("background task %s failed: %s", self.objectName(), exc)
            self.failed.emit(describe_error(exc))
            return
        except Exception as exc:
            log.exception("background task %s failed", self.objectName())
            self.failed.emit(describe_error(exc))
            return
        self.succeeded.emit(value)

    def detach(self) -> None:
        """Forget the callbacks (their owner is gone); the outcome is then dropped."""
        self._on_done = self._on_error = None

    @Slot(object)
    def _deliver_value(self, value: T) -> None:
        if self._on_done is not None:
            self._on_done(value)

    @Slot(str)
    def _deliver_error(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)


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
        engine: Engine,
        batch_id: int,
        inputs: Sequence[str | Path],
        *,
        threshold: float | None,
        recursive: bool = False,
    ) -> None:
        super().__init__(None)
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

    def _report(self, progress: Progress) -> None:
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

    def __init__(self, size: int = THUMB_SIZE) -> None:
        super().__init__(None)
        self.setObjectName("thumbnails")
        self._size = size
        self._jobs: queue.Queue[tuple[ThumbKey, Path]] = queue.Queue()
        self._since_idle = threading.Event()  # work came in since the last idle()

    def submit(self, key: ThumbKey, path: str | Path) -> None:
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


# Threads still running when their window closed: referenced here so Python does not
# destroy a running QThread (Qt aborts the process on that), forgotten once they end.
_ABANDONED: set[QThread] = set()


def abandoned_threads() -> list[QThread]:
    """Threads a window gave up waiting for that are still running."""
    for thread in [t for t in _ABANDONED if t.isFinished()]:
        _ABANDONED.discard(thread)
    return [t for t in _ABANDONED if t.isRunning()]


class ThreadRegistry:
    """The worker threads of one window: started here, all stopped by :meth:`stop_all`."""

    def __init__(self) -> None:
        self._threads: set[QThread] = set()
        self._kept: set[QThread] = set()

    def keep(self, thread: QThread) -> None:
        """Start a long-lived thread (the thumbnail worker): stopped by stop_all, never
        deleted when it finishes (it may be started again)."""
        self._kept.add(thread)
        thread.start()

    def start(self, thread: QThread) -> None:
        self._threads.add(thread)
        thread.finished.connect(lambda t=thread: self._forget(t))
        thread.start()

    def _forget(self, thread: QThread) -> None:
        if thread in self._threads:
            self._threads.discard(thread)
            thread.deleteLater()

    def running(self) -> list[QThread]:
        return [t for t in self._threads if t.isRunning()]

    def stop_all(self, timeout_s: float) -> list[str]:
        """Ask every thread to stop and wait at most ``timeout_s`` for all of them together.

        Returns the names of those still running; they are handed to
        :data:`_ABANDONED` instead of being waited for without end.
        """
        threads = list(self._threads | self._kept)
        for thread in threads:
            thread.requestInterruption()
            if isinstance(thread, BatchThread):
                thread.cancel()
        deadline = QDeadlineTimer(int(timeout_s * 1000))
        stuck = [t for t in threads if not t.wait(deadline)]
        for thread in stuck:
            log.warning("thread %s did not stop within %.1f s; left to end on its own",
                        thread.objectName(), timeout_s)
            if isinstance(thread, TaskThread):
                thread.detach()  # its window is closing: nothing may call back into it
            _ABANDONED.add(thread)
            self._threads.discard(thread)
            self._kept.discard(thread)
        return [t.objectName() for t in stuck]
