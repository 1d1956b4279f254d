"""run_gui, the real entry point, in its own process (as `dermscreen --open PATH` runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]

DRIVER = r"""
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from desktop_app.gui.shell.app import run_gui
from desktop_app.gui.shell.main_window import MainWindow

seen = {}

def boom():
    raise RuntimeError("driver boom in a slot")

def poll():
    app = QApplication.instance()
    windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
    if windows and windows[0].engine is not None and not windows[0].busy \
            and windows[0].results_model.rowCount() > 0:
        w = windows[0]
        if "raised" not in seen:
            # An uncaught exception in a Qt callback: logged, shown, the app lives on.
            seen["raised"] = True
            QTimer.singleShot(0, boom)
            QTimer.singleShot(50, poll)
            return
        if not w.message_bar.isVisible():
            QTimer.singleShot(50, poll)
            return
        seen["message"] = w.message_bar.text
        seen["rows"] = [r.path.name for r in w.results_model.results()]
        seen["status"] = [r.status for r in w.results_model.results()]
        seen["visible"] = w.isVisible()
        seen["hook"] = type(sys.excepthook).__name__
        app.quit()
        return
    QTimer.singleShot(50, poll)

QTimer.singleShot(0, poll)
rc = run_gui(sys.argv[2:], sys.argv[1])
seen["rc"] = rc
seen["tensorflow"] = any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules)
seen["hook_after"] = type(sys.excepthook).__name__
print("RESULT " + json.dumps(seen))
"""


def test_run_gui_opens_path_at_start_and_exits_cleanly(small_model_path, isic9_test_files,
                                                       isolated_user_home):
    image = isic9_test_files[0]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(small_model_path), str(image)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    seen = json.loads(line[len("RESULT "):])
    assert seen["rc"] == 0
    assert seen["rows"] == [image.name]
    assert seen["status"] == ["ok"]
    assert seen["visible"] is True
    assert seen["hook"] == "ExceptHook"  # uncaught GUI exceptions go to the log
    assert seen["hook_after"] != "ExceptHook"
    assert seen["tensorflow"] is False  # the app never imports TensorFlow
    log = (isolated_user_home / "logs" / "dermscreen.log").read_text(encoding="utf-8")
    assert "DermScreen started" in log
    assert "model loaded" in log
    assert "RuntimeError: driver boom in a slot" in log
    assert "driver boom in a slot" in seen["message"]


def test_no_display_gives_a_message_not_a_qt_abort(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from desktop_app.gui.shell.app import display_problem, run_gui

    monkeypatch.setattr(sys, "platform", "linux")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert "dermscreen analyze" in display_problem()
    assert run_gui([], None) == 1
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_problem() == ""


def test_quit_after_ends_the_real_entry_point(small_model_path, isolated_user_home):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO),
               DERMSCREEN_HOME=str(isolated_user_home))
    proc = subprocess.run(
        [sys.executable, "-m", "desktop_app.gui.shell.app", "--quit-after", "1",
         "--model", str(small_model_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = (isolated_user_home / "logs" / "dermscreen.log").read_text(encoding="utf-8")
    assert "window closed" in log
    assert str(small_model_path.parent) not in log  # file names only, not folders
