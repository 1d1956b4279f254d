"""What the CLI prints: one place that keeps data from steering the terminal.

File names, folder names and a model's name come from outside; printed raw, an
ANSI escape in them could recolour, hide or rewrite the terminal's text, and a
newline could forge a line of output. Data is passed through
:func:`desktop_app.core.wording.text_safety.terminal_safe`, which shows such characters
as visible ``\\x1b``-style escapes, before it reaches :func:`say`, :func:`warn` or
:func:`err`.

The terminal is not where the results live (results.csv is): a stdout or
stderr that is closed (``| head`` gone: BrokenPipeError), full (``>/dev/full``:
ENOSPC) or a hung-up terminal (EIO) never ends a run with a traceback or
changes its exit code. The first failed write points that stream at the null
device, so later lines and the interpreter's final flush cannot fail either.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TextIO


def prepare_streams() -> None:
    """Make stdout/stderr unable to raise on text: characters the locale cannot encode
    (a C locale without UTF-8 mode encodes ASCII only) are written as backslash escapes."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def silence(stream: TextIO | None) -> None:
    """Point ``stream``'s file descriptor at the null device (it cannot be written)."""
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)


def write_line(message: str, stream: TextIO | None) -> bool:
    """Print one line and flush; False (and the stream silenced) when it cannot be written."""
    if stream is None:  # started with the stream closed (``>&-``)
        return False
    try:
        print(message, file=stream, flush=True)
    except OSError:  # EPIPE, ENOSPC, EIO: the line is lost, the run is not
        silence(stream)
        return False
    return True


def say(message: str, stream: TextIO | None = None) -> None:
    """A line for the user; ``message`` must already carry data through ``terminal_safe``."""
    write_line(message, stream or sys.stdout)


def warn(message: str) -> None:
    write_line(f"dermscreen: warning: {message}", sys.stderr)


def err(message: str) -> None:
    write_line(f"dermscreen: error: {message}", sys.stderr)
