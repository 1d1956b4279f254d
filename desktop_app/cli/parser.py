"""The ``dermscreen`` command line: exit codes, argument types and the top-level parser.

Each command adds its own sub-parser (:mod:`desktop_app.cli.commands.analyse`,
:mod:`desktop_app.cli.commands.evaluate`) and sets ``handler`` to the function that runs it.
"""

from __future__ import annotations

import argparse
import math

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME
from desktop_app.version import app_version

# What the window opens when no model is named (the same file `analyse` uses).
DEFAULT_MODEL_HELP = f"the bundled {DEFAULT_MODEL_NAME}, or the last model chosen in the app"

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


def build_parser() -> argparse.ArgumentParser:
    from desktop_app.cli.commands import analyse, calibrate, evaluate, send

    parser = argparse.ArgumentParser(
        prog="dermscreen",
        description="DermScreen: triage aid for dermoscopic images (not a diagnosis). "
        "Without a command, starts the desktop app.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dermscreen {app_version()}")
    parser.add_argument("--open", dest="open_paths", action="append", default=[], metavar="PATH",
                        help="image file or folder to open in the app (repeatable)")
    parser.add_argument("--model", dest="gui_model", metavar="FILE",
                        help=f"ONNX model for the app (default: {DEFAULT_MODEL_HELP})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    analyse.add_parser(sub)
    evaluate.add_parser(sub)
    send.add_parser(sub)
    calibrate.add_parser(sub)
    return parser
