"""What the CLI prints: one place that keeps data from steering the terminal.

File names, folder names and a model's name come from outside; printed raw, an
ANSI escape in them could recolour, hide or rewrite the terminal's text, and a
newline could forge a line of output. Data is passed through
:func:`desktop_app.core.text_safety.terminal_safe`, which shows such characters
as visible ``\\x1b``-style escapes, before it reaches :func:`say`, :func:`warn` or
:func:`err`.
"""

from __future__ import annotations

import sys
from typing import TextIO


def say(message: str, stream: TextIO | None = None) -> None:
    """A line for the user; ``message`` must already carry data through ``terminal_safe``."""
    print(message, file=stream or sys.stdout)


def warn(message: str) -> None:
    print(f"dermscreen: warning: {message}", file=sys.stderr)


def err(message: str) -> None:
    print(f"dermscreen: error: {message}", file=sys.stderr)
