"""Hardening II (issue 24) in the window: Qt's dialog history, an unknown platform plugin,
file names that are not UTF-8 in the table and the log."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop_app.core.inference.results import ok_result
from desktop_app.core.model.score_stats import BenignStats
from desktop_app.gui.panels.results_model import COL_FILE, ResultsModel
from desktop_app.gui.shell.qt_platform import (
    EXIT_NO_WINDOW,
    available_platforms,
    requested_platforms,
    unknown_platform_problem,
)

REPO = Path(__file__).resolve().parents[3]
CHILD_TIMEOUT_S = 120  # a hang guard, not a timing assertion

# Opens the app's real folder dialog (Qt's own widgets under offscreen), looks at the
# patient's folder, and accepts: what a user does with File > Open Folder.
_DIALOG_CHILD = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from desktop_app.gui.shell.app import create_application
from desktop_app.gui.windows.common import DialogPathProvider

app = create_application()

def accept():
    dialog = QApplication.activeModalWidget()
    if dialog is None:
        QTimer.singleShot(50, accept)
        return
    dialog.accept()

QTimer.singleShot(0, accept)
print(DialogPathProvider().open_folder(None, sys.argv[1]))
"""


def _child_env(home: Path, dermscreen_home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home),
           "DERMSCREEN_HOME": str(dermscreen_home), "QT_QPA_PLATFORM": "offscreen", **extra}
    for key in ("XDG_CONFIG_HOME", "DERMSCREEN_MODEL"):
        env.pop(key, None)
    return env


def test_file_dialog_history_stays_in_the_private_folder(tmp_path: Path) -> None:
    home, private = tmp_path / "home", tmp_path / "dermscreen"
    patient = home / "Patient_Jane_DOE_1961-02-03"
    patient.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", _DIALOG_CHILD, str(patient)], cwd=REPO,
                          env=_child_env(home, private), capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(patient)  # the dialog ran and answered
    assert not (home / ".config" / "QtProject.conf").exists()  # Qt's default, 0644
    kept = private / "QtProject.conf"
    assert "Patient_Jane_DOE_1961-02-03" in kept.read_text(encoding="utf-8")  # Qt wrote here
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(private.stat().st_mode) == 0o700


def test_an_unknown_platform_plugin_is_refused_before_qt_aborts(tmp_path: Path) -> None:
    env = _child_env(tmp_path / "home", tmp_path / "dermscreen", QT_QPA_PLATFORM="nosuch")
    done = subprocess.run([sys.executable, "-m", "desktop_app.cli"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    assert done.returncode == EXIT_NO_WINDOW == 1, (done.returncode, done.stderr)  # not SIGABRT
    assert "QT_QPA_PLATFORM='nosuch' names no installed Qt platform plugin" in done.stderr
    assert "offscreen" in done.stderr and "xcb" in done.stderr  # what can be used instead
    assert "This application failed to start" not in done.stderr  # Qt never got to abort


def test_platform_names_are_read_as_qt_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    assert requested_platforms("wayland;xcb") == ["wayland", "xcb"]
    assert requested_platforms("offscreen:fontengine=freetype") == ["offscreen"]
    assert requested_platforms("") == []
    installed = available_platforms()
    assert {"offscreen", "minimal", "xcb"} <= installed
    for value, refused in (("nosuch", True), ("nosuch;offscreen", False), ("", False),
                           ("XCB", False)):
        monkeypatch.setenv("QT_QPA_PLATFORM", value)
        assert bool(unknown_platform_problem()) is refused, value


def test_an_undecodable_name_is_shown_escaped_in_the_table(qtbot) -> None:
    stats = BenignStats.from_scores(np.linspace(0.1, 0.3, 50), alpha=1.0)
    path = Path(os.fsdecode(b"/clinic/Pat_J\xe9r\xf4me/bad\xffname.jpg"))
    info = {"model_name": "m", "model_version": "1", "model_sha256": "0" * 64, "provider": "CPU"}
    result = ok_result(index=0, path=path, score=0.2, threshold=stats.threshold(), stats=stats,
                       image_sha256="a" * 64, model_info=info, seconds=0.01)
    model = ResultsModel()
    model.add_results([result])
    cell = model.index(0, COL_FILE)
    # Qt would silently drop the bytes ("badname.jpg"): the escape keeps the name findable.
    assert model.data(cell, Qt.ItemDataRole.DisplayRole) == "bad\\xffname.jpg"
    tooltip = model.data(cell, Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("/clinic/Pat_J\\xe9r\\xf4me/bad\\xffname.jpg")
    assert result.path == path  # the row still points at the file itself


def test_an_undecodable_name_is_logged_escaped(isolated_user_home: Path) -> None:
    from desktop_app.gui.shell.logging_setup import LOGGER_NAME, log_file_path, setup_logging

    setup_logging()
    logging.getLogger(LOGGER_NAME).info("opened %s", os.fsdecode(b"bad\xffname.jpg"))
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        handler.flush()
    text = log_file_path().read_text(encoding="utf-8")  # whole UTF-8: the line was written
    assert "opened bad\\xffname.jpg" in text


def test_sighup_closes_the_window_like_sigterm(qapp) -> None:
    """A closed terminal (SIGHUP, a real signal to this process) quits the app's loop cleanly
    (settings saved on the way out) instead of killing it."""
    import signal

    from desktop_app.gui.shell.app import install_quit_signals

    class Loop:
        quits = 0

        def quit(self) -> None:
            self.quits += 1

    loop = Loop()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    wake = install_quit_signals(loop)  # type: ignore[arg-type]
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        # Python runs a pending handler in the main thread at its next bytecode boundary.
        signal.getsignal(signal.SIGHUP)
        assert loop.quits == 1
    finally:
        wake.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
