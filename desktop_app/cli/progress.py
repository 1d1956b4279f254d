"""The progress bar on the terminal: one self-rewriting line, silent when not a TTY."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

from desktop_app.cli.terminal import silence

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import Progress


class ProgressBar:
    """One self-rewriting line on a terminal; silent when the stream is not a TTY."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if p.done < p.total and now - self._last < 0.1:
            return
        self._last = now
        frac = p.done / p.total if p.total else 1.0
        filled = round(frac * self.width)
        eta = f" ETA {p.eta_s:.0f}s" if p.eta_s is not None and p.done < p.total else ""
        errors = f" {p.errors} errors" if p.errors else ""
        self._write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
                    f"{p.done}/{p.total}{errors}{eta}   ")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError:  # a hung-up terminal: the bar stops, the run goes on
            self.enabled = False
            silence(self.stream)

    def close(self) -> None:
        if self.enabled:
            self._write("\n")
