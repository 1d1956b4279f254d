"""Rotating log file and the hook that routes uncaught GUI exceptions into it."""

from __future__ import annotations

import logging
import logging.handlers
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from desktop_app.core.paths import log_dir

LOG_FILE = "dermscreen.log"
LOGGER_NAME = "dermscreen"
_HANDLER_TAG = "_dermscreen_rotating"

log = logging.getLogger(LOGGER_NAME)


def log_file_path() -> Path:
    return log_dir() / LOG_FILE


def setup_logging(level: int = logging.INFO) -> Path:
    """Attach one rotating file handler (1 MB x 5) to the ``dermscreen`` logger.

    Idempotent per log file: calling again with another DERMSCREEN_HOME (tests)
    swaps the handler for one writing to the new folder.
    """
    path = log_file_path()
    root = logging.getLogger(LOGGER_NAME)
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_TAG, False):
            if Path(getattr(handler, "baseFilename", "")) == path:
                return path
            root.removeHandler(handler)
            handler.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:
        # A read-only home must not stop the app; log to stderr instead.
        print(f"DermScreen: cannot write log file {path}: {exc}", file=sys.stderr)
        return path
    setattr(handler, _HANDLER_TAG, True)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
    return path


def format_exception(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> str:
    return "".join(traceback.format_exception(exc_type, exc, tb))


class ExceptHook:
    """``sys.excepthook`` replacement: log the traceback, then tell the user without blocking.

    ``notify`` receives a one-line message; it must not open a modal dialog.
    """

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self.notify = notify
        self.previous = sys.excepthook

    def __call__(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self.previous(exc_type, exc, tb)
            return
        log.error("Uncaught exception:\n%s", format_exception(exc_type, exc, tb))
        if self.notify is not None:
            try:
                self.notify(
                    f"Unexpected error: {exc_type.__name__}: {exc}. "
                    f"Details were written to {log_file_path()}."
                )
            except Exception:  # the notifier itself must never re-enter the hook
                log.exception("could not show the error message")

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self.previous


def install_excepthook(notify: Callable[[str], None] | None = None) -> ExceptHook:
    hook = ExceptHook(notify)
    sys.excepthook = hook
    return hook
