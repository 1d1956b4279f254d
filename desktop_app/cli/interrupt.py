"""Ctrl-C, SIGTERM and SIGHUP during a run: stop promptly, keep what is finished.

SIGHUP (the terminal or SSH session that started the run was closed) is
treated exactly like SIGTERM: its default action would end the process at once
with no rows at all. The first SIGINT, SIGTERM or SIGHUP only sets an event that the engine polls (every
50 ms), so the run stops between files and the caller writes the rows finished
so far. A second signal raises :class:`KeyboardInterrupt` at once, for a user
who will not wait. The exit code follows the shell's rule: 128 + signal number
(130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

_NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}
if hasattr(signal, "SIGHUP"):  # POSIX only
    _NAMES[signal.SIGHUP] = "SIGHUP (the terminal was closed)"


class StopOnSignal:
    """A context manager: SIGINT/SIGTERM/SIGHUP set :attr:`event` instead of killing the process."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def stopped(self) -> bool:
        return self.event.is_set()

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum if self.signum is not None else signal.SIGINT)

    @property
    def reason(self) -> str:
        return _NAMES.get(self.signum or signal.SIGINT, f"signal {self.signum}")

    def stop(self, signum: int = signal.SIGINT) -> None:
        """Record ``signum`` as the reason and set the event (what a signal does)."""
        if self.signum is None:
            self.signum = signum
        self.event.set()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt  # the second signal: stop waiting
        self.stop(signum)

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in _NAMES:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
