"""The ``dermscreen`` top-level parser: the commands' sub-parsers hung under one program.

Each command adds its own sub-parser (:mod:`desktop_app.cli.commands.analyse`,
:mod:`desktop_app.cli.commands.evaluate`) and sets ``handler`` to the function that runs it.
"""

from __future__ import annotations

import argparse

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME
from desktop_app.version import app_version

# What the window opens when no model is named (the same file `analyse` uses).
DEFAULT_MODEL_HELP = f"the bundled {DEFAULT_MODEL_NAME}, or the last model chosen in the app"

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
