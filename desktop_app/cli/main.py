"""Entry point of ``dermscreen``: parse, then run the command (or the GUI)."""

from __future__ import annotations

from desktop_app.cli.options import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from desktop_app.cli.parser import build_parser
from desktop_app.cli.terminal import err, prepare_streams


def run_gui(open_paths: list[str], model_path: str | None) -> int:
    try:
        from desktop_app.gui.shell.app import run_gui as start
    except ImportError as exc:
        err(f"the desktop app is not available ({exc})")
        return EXIT_FAILED
    return int(start(open_paths, model_path))


def main(argv: list[str] | None = None) -> int:
    prepare_streams()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 for --help/--version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        handler = getattr(args, "handler", None)
        if handler is not None:
            return int(handler(args))
        return run_gui(list(args.open_paths), args.gui_model)
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
