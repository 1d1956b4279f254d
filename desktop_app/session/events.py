"""A plain-Python event: callbacks connected to it run, in order, when it is emitted."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger("dermscreen.gui.events")


class Event(Generic[T]):
    """``connect(callback)``; ``emit(value)`` calls every callback with ``value``.

    A callback that raises is logged and the others still run: one broken view
    must not leave the rest showing stale state.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[[T], object]] = []

    def connect(self, callback: Callable[[T], object]) -> None:
        if callback not in self._callbacks:
            self._callbacks.append(callback)

    def disconnect(self, callback: Callable[[T], object]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, value: T) -> None:
        for callback in list(self._callbacks):
            try:
                callback(value)
            except Exception:
                log.exception("callback of event %s failed", self.name)

    def __len__(self) -> int:
        return len(self._callbacks)
