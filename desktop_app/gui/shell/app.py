"""Start the DermScreen window: ``run_gui(open_paths, model_path) -> exit code``."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop_app.gui.shell.icons import load_icon
from desktop_app.gui.shell.logging_setup import install_excepthook, setup_logging
from desktop_app.gui.shell.qt_platform import EXIT_NO_WINDOW, unknown_platform_problem
from desktop_app.gui.shell.settings import initial_model_path
from desktop_app.gui.threads.model_loading import ModelPreload, start_preload

if TYPE_CHECKING:
    from desktop_app.gui.shell.main_window import MainWindow

log = logging.getLogger("dermscreen.gui")

APP_NAME = "DermScreen"
ORG_NAME = "DermScreen"


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (created once; an existing one is reused)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv else [sys.argv[0] if sys.argv else "dermscreen"])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setWindowIcon(load_icon("dermscreen"))
    return app  # type: ignore[return-value]


def create_window(
    open_paths: Sequence[str | Path] = (),
    model_path: str | Path | None = None,
    preload: ModelPreload | None = None,
) -> MainWindow:
    """A main window loading ``model_path`` (None: saved or default model), then ``open_paths``."""
    # Imported here: pyqtgraph and the widgets load while a preload already runs.
    from desktop_app.gui.shell.main_window import MainWindow

    return MainWindow(model_path, open_paths=open_paths, preload=preload)


def window_notifier(window: MainWindow) -> Callable[[str], None]:
    """A message callback that holds the window weakly (the hook outlives it)."""
    ref = weakref.ref(window)

    def notify(text: str) -> None:
        target = ref()
        if target is not None:
            target.show_message(text, "error")

    return notify


def install_quit_signals(app: QApplication) -> QTimer:
    """Ctrl+C / SIGTERM / SIGHUP (the terminal closed) close the window cleanly (settings saved).

    Python only runs signal handlers between bytecodes, so a timer wakes the
    interpreter a few times a second while Qt's loop runs.
    """
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            with contextlib.suppress(ValueError):  # only possible in the main thread
                signal.signal(getattr(signal, name), lambda *_args: app.quit())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    return wake


NO_WINDOW_HINT = ("Start it from a desktop session, or analyse without a window:\n"
                  "  dermscreen analyze FOLDER --out RESULTS [--pdf]")
DISPLAY_TIMEOUT_S = 5.0
# Platforms that need no display server at all.
_HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")


def _xcb_reachable(display: str, timeout_s: float = DISPLAY_TIMEOUT_S) -> str:
    """"" when libxcb can open ``display`` (as Qt's xcb plugin will), else why not.

    Runs in a daemon thread: a display on an unreachable host would otherwise block
    for the whole TCP timeout.
    """
    lib_name = ctypes.util.find_library("xcb")
    if lib_name is None:
        return ""  # cannot check here; let Qt try
    try:
        xcb = ctypes.CDLL(lib_name)
    except OSError:
        return ""
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    outcome: dict[str, int] = {}

    def probe() -> None:
        conn = xcb.xcb_connect(display.encode(), None)
        outcome["error"] = int(xcb.xcb_connection_has_error(conn)) if conn else -1
        if conn:
            xcb.xcb_disconnect(conn)

    worker = threading.Thread(target=probe, name="display-probe", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if "error" not in outcome:
        return f"the X display {display!r} did not answer within {timeout_s:.0f} s"
    if outcome["error"]:
        return f"cannot connect to the X display {display!r}"
    return ""


def _wayland_reachable(name: str) -> str:
    path = Path(name) if name.startswith("/") else \
        Path(os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")) / name
    if path.is_socket():
        return ""
    return f"the Wayland display {name!r} does not exist ({path})"


def display_problem() -> str:
    """Why no window can be shown here, or "" when one can (checked before Qt starts:
    Qt aborts the process when its platform plugin finds no display, or when
    QT_QPA_PLATFORM names a plugin that is not installed)."""
    unknown = unknown_platform_problem()
    if unknown:
        return unknown
    if sys.platform != "linux":
        return ""
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    display, wayland = os.environ.get("DISPLAY", ""), os.environ.get("WAYLAND_DISPLAY", "")
    if platform in _HEADLESS_PLATFORMS:
        return ""
    reasons = []
    if platform in ("", "xcb") and display:
        why = _xcb_reachable(display)
        if not why:
            return ""
        reasons.append(why)
    if platform in ("", "wayland", "wayland-egl") and wayland:
        why = _wayland_reachable(wayland)
        if not why:
            return ""
        reasons.append(why)
    if not reasons and platform not in ("", "xcb", "wayland", "wayland-egl"):
        return ""  # another platform plugin: let Qt judge
    if not reasons:
        unset = "DISPLAY is" if platform == "xcb" else \
            "WAYLAND_DISPLAY is" if platform.startswith("wayland") else \
            "DISPLAY and WAYLAND_DISPLAY are"
        reasons.append(f"no display found ({unset} unset)")
    return f"dermscreen: {'; '.join(reasons)}.\n{NO_WINDOW_HINT}"


def run_gui(open_paths: list[str], model_path: str | None, *,
            quit_after_s: float | None = None) -> int:
    """Open the window (``open_paths`` analysed at start) and run until it closes
    (or ``quit_after_s`` seconds have passed: for smoke tests of the real entry point)."""
    problem = display_problem()
    if problem:
        # Qt would abort the process with a platform-plugin error instead.
        print(problem, file=sys.stderr)
        return EXIT_NO_WINDOW
    log_path = setup_logging()
    path = Path(model_path) if model_path else initial_model_path()
    # ONNX Runtime opens the model while Qt, pyqtgraph and the window are set up.
    preload = start_preload(path)
    app = create_application()
    window = create_window(open_paths, path, preload)
    hook = install_excepthook(window_notifier(window))
    log.info("DermScreen started (log %s, model %s, open %s)", log_path, path, open_paths)
    # However the loop ends (last window closed, or QApplication.quit()), stop the workers.
    app.aboutToQuit.connect(window.shutdown)
    wake = install_quit_signals(app)
    if quit_after_s is not None:
        # Scheduled once the application exists: a timer made before it never fires.
        QTimer.singleShot(int(quit_after_s * 1000), app.quit)
    window.show()
    try:
        rc = int(app.exec())
    finally:
        wake.stop()
        window.shutdown()
        hook.uninstall()
    from desktop_app.gui.threads.workers import abandoned_threads  # loaded by the window already

    stuck = abandoned_threads()
    if stuck:
        # A worker blocked in a system call (a FIFO read) cannot be stopped, and Python
        # would wait for it (or Qt abort on it) at exit: leave now, everything is saved.
        log.warning("exiting with %d worker(s) still blocked: %s", len(stuck),
                    ", ".join(t.objectName() for t in stuck))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m desktop_app.gui.shell.app [--open PATH ...] [--model FILE]``."""
    parser = argparse.ArgumentParser(prog="dermscreen-gui", description="DermScreen window")
    parser.add_argument("--open", dest="open_paths", action="append", default=[],
                        metavar="PATH", help="folder or image to analyse at start (repeatable)")
    parser.add_argument("--model", default=None, help="ONNX model file (default: bundled)")
    parser.add_argument("--quit-after", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return run_gui(args.open_paths, args.model, quit_after_s=args.quit_after)


if __name__ == "__main__":
    sys.exit(main())
