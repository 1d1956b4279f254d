"""Rotating log file and the hook that routes uncaught GUI exceptions into it.

The log can outlive a session on a shared clinic computer, and folder names can
carry patient names: the file is 0600 in a 0700 folder, and every line has its
paths cut to the file name unless debugging is on (``DERMSCREEN_DEBUG=1`` or
``setup_logging(debug=True)``).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from desktop_app.core.base.paths import log_dir
from desktop_app.core.wording.text_safety import undecodable_escaped
from desktop_app.gui.shell.settings import private_dir

LOG_FILE = "dermscreen.log"
LOGGER_NAME = "dermscreen"
_HANDLER_TAG = "_dermscreen_rotating"

log = logging.getLogger(LOGGER_NAME)


def log_file_path() -> Path:
    return log_dir() / LOG_FILE


# The folders of an absolute POSIX (/a/b c/d.jpg) or Windows (C:\\a\\b.jpg) path; spaces
# count as part of a folder name, so a folder named after a patient never survives.
_PATH = re.compile(r"(?:(?<![\w.:])/(?:[^/\n'\",;:()\[\]]+/)+|\b[A-Za-z]:\\(?:[^\\\n'\",;()]+\\)+)")


def debug_enabled() -> bool:
    return os.environ.get("DERMSCREEN_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def redact_paths(text: str) -> str:
    """``text`` with every absolute path cut to its last part (the file or folder name)."""
    return _PATH.sub("", text)


class SafeFormatter(logging.Formatter):
    """Formats as usual; bytes of a file name that are not UTF-8 are shown escaped
    (a lone surrogate would make the UTF-8 log file raise and lose the line)."""

    def format(self, record: logging.LogRecord) -> str:
        return undecodable_escaped(super().format(record))


class RedactingFormatter(SafeFormatter):
    """Formats as usual, then cuts paths to file names (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_paths(super().format(record))


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are created 0600 (rotation renames, so they stay so)."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.baseFilename, 0o600)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def setup_logging(level: int = logging.INFO, *, debug: bool | None = None) -> Path:
    """Attach one private rotating file handler (1 MB x 5) to the ``dermscreen`` logger.

    Idempotent per log file: calling again with another DERMSCREEN_HOME (tests)
    swaps the handler for one writing to the new folder. ``debug`` (default:
    DERMSCREEN_DEBUG) keeps full paths in the log and logs at DEBUG level.
    """
    debug = debug_enabled() if debug is None else debug
    path = log_file_path()
    root = logging.getLogger(LOGGER_NAME)
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_TAG, False):
            if Path(getattr(handler, "baseFilename", "")) == path and \
                    getattr(handler, "_dermscreen_debug", None) == debug:
                return path
            root.removeHandler(handler)
            handler.close()
    try:
        private_dir(path.parent)
        handler = PrivateRotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:
        # A read-only home must not stop the app; log to stderr instead.
        print(f"DermScreen: cannot write log file {path}: {exc}", file=sys.stderr)
        return path
    setattr(handler, _HANDLER_TAG, True)
    handler._dermscreen_debug = debug  # type: ignore[attr-defined]
    fmt = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
    handler.setFormatter(SafeFormatter(fmt) if debug else RedactingFormatter(fmt))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else level)
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
