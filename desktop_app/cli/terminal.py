"""What the CLI prints: one place that keeps data from steering the terminal.

File names, folder names and a model's name come from outside; printed raw, an
ANSI escape in them could recolour, hide or rewrite the terminal's text, and a
newline could forge a line of output. :func:`printable` shows such characters
as visible ``\\x1b``-style escapes instead. Everything the CLI prints about data
goes through :func:`say`, :func:`warn` or :func:`err`.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

# C0 controls (tab kept), DEL, C1 controls, and the Unicode line/paragraph
# separators and bidi overrides that can reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``, ``\\n``), never sent raw."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def say(message: str, stream: TextIO | None = None) -> None:
    """A line for the user; ``message`` must already carry data through :func:`printable`."""
    print(message, file=stream or sys.stdout)


def warn(message: str) -> None:
    print(f"dermscreen: warning: {message}", file=sys.stderr)


def err(message: str) -> None:
    print(f"dermscreen: error: {message}", file=sys.stderr)
