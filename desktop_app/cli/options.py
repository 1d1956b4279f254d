"""What every ``dermscreen`` command shares: exit codes, argument types and option helpers.

A leaf of the CLI: commands and the top-level parser import it, it imports no command.
"""

from __future__ import annotations

import argparse
import math

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_OUTPUT = 4
EXIT_INTERRUPTED = 130  # Ctrl-C; a stopped run exits 128 + the signal's number
MIN_RESAMPLES = 100
MAX_RESAMPLES = 100_000


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        msg = f"not a number: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(value):
        msg = f"must be a finite number, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def folder_name(text: str) -> str:
    """argparse type for an output folder: not empty (``--out ''`` would silently mean the
    current folder)."""
    if not text.strip():
        msg = "needs a folder name (an empty name would write into the current folder)"
        raise argparse.ArgumentTypeError(msg)
    return text


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        msg = f"not a whole number: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def workers_count(text: str) -> int:
    """argparse type for ``--workers``: at least 1 (capped at the core count when run)."""
    value = _int(text)
    if value < 1:
        msg = f"must be at least 1, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def resamples_count(text: str) -> int:
    """argparse type for ``--resamples``: enough for a percentile CI, not unbounded."""
    value = _int(text)
    if not MIN_RESAMPLES <= value <= MAX_RESAMPLES:
        msg = (f"must be between {MIN_RESAMPLES} and {MAX_RESAMPLES} (fewer resamples give "
               f"meaningless 95% intervals), got {value}")
        raise argparse.ArgumentTypeError(msg)
    return value


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=workers_count, default=None, metavar="N",
                        help="preprocessing threads (default and maximum: one per CPU core)")


def specificity_value(text: str) -> float:
    """argparse type: a specificity strictly between 0 and 1."""
    value = finite_float(text)
    if not 0 < value < 1:
        msg = f"must lie between 0 and 1 (e.g. 0.5 for 50%), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value
