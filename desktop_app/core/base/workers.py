"""A thread pool that never waits for a stuck worker.

``concurrent.futures.ThreadPoolExecutor`` joins its threads on ``shutdown(wait=True)``
and, whatever ``wait`` says, again when the interpreter exits: one worker blocked
in a read (a network share that stopped answering) would keep Ctrl-C, a closed
window or the process's exit waiting forever. :class:`DaemonPool` runs the same
:class:`~concurrent.futures.Future` protocol on daemon threads and its
:meth:`~DaemonPool.shutdown` returns at once: queued calls are cancelled, a
running call finishes (or not) in the background, its result dropped.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_Task = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class DaemonPool:
    """``workers`` daemon threads running submitted calls in order of submission."""

    def __init__(self, workers: int, name: str = "dermscreen-worker") -> None:
        if workers < 1:
            msg = f"workers must be at least 1, got {workers}"
            raise ValueError(msg)
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)``; its Future holds the result or the exception."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                msg = "cannot submit to a pool that was shut down"
                raise RuntimeError(msg)
            self._tasks.put((future, fn, args))
        return future

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, fn, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self) -> None:
        """Cancel queued calls and let the threads end; never waits for a running call."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            if task is not None:
                task[0].cancel()
        for _ in self._threads:
            self._tasks.put(None)

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds in all for the threads to end; True when they did."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def __enter__(self) -> DaemonPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
