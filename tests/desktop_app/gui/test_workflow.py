"""Clinician workflow and hardening, through the real window (issues 14 and 15).

Every wait is named and fails within 60 s; the model/view is driven explicitly
(no reliance on what the offscreen platform painted).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QToolBar

from desktop_app.core.inference.decision_rules import BORDERLINE
from desktop_app.core.model.operating_points import opening_threshold
from desktop_app.gui.panels.results_model import COL_FOLDER, COL_REVIEW, COL_SCORE
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.shell.window_geometry import first_size
from desktop_app.gui.threads.workers import TaskThread, abandoned_threads
from tests.desktop_app.gui.conftest import wait_batch, wait_for, wait_signal

REPO = Path(__file__).resolve().parents[3]


def _with_points(src: Path, dst: Path, points: list[dict], name: str = "9.9.8") -> Path:
    """A copy of ``src`` whose metadata stores ``points`` (another file and SHA-256)."""
    import onnx

    from export.convert import write_model_files

    proto = onnx.load(str(src))
    for prop in proto.metadata_props:
        if prop.key == "dermscreen.operating_points":
            prop.value = json.dumps(points)
        if prop.key == "dermscreen.model_version":
            prop.value = name
    write_model_files(proto.SerializeToString(), dst)
    return dst


# ---------------------------------------------------------------- 14.1 triage default
def test_window_opens_at_the_screening_point_and_shows_a_borderline_band(
        make_window, image_folder, small_model_path, isolated_user_home, qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    scores = sorted(r.score for r in window.results_model.results())
    # Validation points placed between this batch's scores: 90% -> screening threshold,
    # 95% -> the lower edge of the borderline band.
    t90 = (scores[7] + scores[8]) / 2
    t95 = (scores[3] + scores[4]) / 2
    points = [
        {"label": "validation sensitivity 80%", "alpha": None, "threshold": scores[-1] + 1,
         "val_sensitivity": 0.8, "test_sensitivity": 0.7, "test_specificity": 0.6},
        {"label": "validation sensitivity 90%", "alpha": None, "threshold": t90,
         "val_sensitivity": 0.91, "test_sensitivity": 0.86, "test_specificity": 0.37},
        {"label": "validation sensitivity 95%", "alpha": None, "threshold": t95,
         "val_sensitivity": 0.96, "test_sensitivity": 0.93, "test_specificity": 0.2},
    ]
    screening = _with_points(small_model_path, isolated_user_home / "screening.onnx", points)
    with wait_signal(qtbot, window.model_ready, "the screening model to load"):
        window.load_model(screening)
    wait_for(qtbot, lambda: not window.busy and window.results_model.rowCount() == 12,
             "the batch re-analysed with the screening model")
    control = window.operating_point
    assert window.threshold == t90 == opening_threshold(window.model.metadata)[0]
    assert control.at_model_default
    assert "screening point" in control.state_label.text()
    assert control.expected_label.text().startswith("Flags about 86 of 100 cancers")
    assert "benign" in control.validation_label.text()
    assert "Figures from" in control.data_label.text()  # names the data
    results = window.results_model.results()
    words = window.results_model.words
    decisions = [words.of(r) for r in results]
    assert decisions.count("anomalous") == 4
    assert decisions.count(BORDERLINE) == 4  # between the 95% and the 90% points
    shown = {window.proxy.index(row, 3).data() for row in range(window.proxy.rowCount())}
    assert "borderline" in shown
    assert "borderline" in window.summary_label.text()
    # "Next flagged" walks through flagged and borderline cases alike.
    window.select_row(window.proxy.rowCount() - 1)
    seen = set()
    for _ in range(8):
        window.next_flagged_action.trigger()
        seen.add(window.results_panel.current_result().index)
    assert len(seen) == 8 and all(words.is_flagged(r) for r in results if r.index in seen)


# ---------------------------------------------------------------- 14.2 folders
def test_open_folder_includes_subfolders_with_a_relative_path_column(
        make_window, image_folder, scripted_paths, qtbot):
    nested = image_folder / "left arm" / "2026"
    nested.mkdir(parents=True)
    moved = sorted(image_folder.glob("*.jpg"))[:3]
    for path in moved:
        path.rename(nested / path.name)
    window = make_window()
    assert window.include_subfolders_action.isChecked()  # on by default, visible in File
    toolbar = window.findChild(QToolBar, "MainToolBar")
    assert window.include_subfolders_action in toolbar.actions()  # and on the tool bar
    scripted_paths.folder = str(image_folder)
    window.open_folder_action.trigger()
    wait_batch(qtbot, window)
    assert window.results_model.rowCount() == 12
    folders = {window.results_model.index(row, COL_FOLDER).data()
               for row in range(window.results_model.rowCount())}
    assert folders == {"", "left arm/2026"}
    # Switched off (and remembered), only the top folder is read.
    window.include_subfolders_action.setChecked(False)
    assert app_settings.include_subfolders() is False
    window.open_folder_action.trigger()
    wait_batch(qtbot, window)
    assert window.results_model.rowCount() == 9
    window.close()
    assert not make_window().include_subfolders_action.isChecked()


def test_a_folder_with_images_only_in_subfolders_says_how_to_see_them(
        make_window, image_folder, tmp_path, qtbot):
    top = tmp_path / "Test"
    (top / "melanoma").mkdir(parents=True)
    for path in sorted(image_folder.glob("*.jpg"))[:2]:
        shutil.copy2(path, top / "melanoma" / path.name)
    window = make_window()
    window.include_subfolders_action.setChecked(False)
    window.open_paths([str(top)])
    wait_batch(qtbot, window)
    assert "Include Subfolders" in window.message_bar.text
    assert str(top) not in app_settings.recent_folders()  # an empty result is not "recent"
    window.include_subfolders_action.setChecked(True)
    window.open_paths([str(top)])
    wait_batch(qtbot, window)
    assert window.results_model.rowCount() == 2
    assert app_settings.recent_folders()[0] == str(top)


# ---------------------------------------------------------------- 14.3 operating-point entry
def test_typed_alpha_is_kept_and_a_non_default_point_is_visible_and_resettable(
        make_window, image_folder, qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    control, stats = window.operating_point, window.model.metadata.benign_stats
    for typed in ("0.5", "-0.5"):
        control.alpha_edit.selectAll()
        qtbot.keyClicks(control.alpha_edit, typed)
        qtbot.keyClick(control.alpha_edit, Qt.Key.Key_Return)
        assert control.alpha_edit.text() == typed
        assert window.threshold == stats.threshold(float(typed))
        assert all(r.threshold == window.threshold for r in window.results_model.results())
    assert "Not the model's default" in control.state_label.text()
    assert app_settings.saved_alpha(window.model.sha256) == -0.5
    control.alpha_edit.setText("0.5.1")
    qtbot.keyClick(control.alpha_edit, Qt.Key.Key_Return)
    assert control.entry_error.isVisibleTo(control)
    assert control.alpha_edit.text() == "0.5.1" and control.alpha == -0.5
    control.reset_button.click()
    assert control.at_model_default and window.threshold == control.default_threshold
    assert app_settings.saved_alpha(window.model.sha256) is None  # nothing kept silently


# ---------------------------------------------------------------- 14.4 review
def test_review_mark_and_note_survive_a_restart_and_next_unreviewed(
        make_window, image_folder, qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    window.select_row(0)
    first = window.results_panel.current_result()
    window.toggle_reviewed_action.trigger()  # R
    window.review_panel.note_edit.setText("asymmetric; refer")
    window.review_panel.note_edit.editingFinished.emit()
    row = window.table.currentIndex().row()
    assert window.proxy.index(row, COL_REVIEW).data() == "✓ reviewed · asymmetric; refer"
    # U jumps to a case that is not reviewed yet.
    window.next_unreviewed_action.trigger()
    assert window.results_panel.current_result().index != first.index
    window.close()

    again = make_window()
    again.open_paths([str(image_folder)])
    wait_batch(qtbot, again)
    rows = [r for r in range(again.proxy.rowCount())
            if again.visible_results()[r].image_sha256 == first.image_sha256]
    assert len(rows) == 1
    assert again.proxy.index(rows[0], COL_REVIEW).data() == "✓ reviewed · asymmetric; refer"
    again.select_row(rows[0])
    assert again.review_panel.reviewed_box.isChecked()
    assert again.review_panel.note_edit.text() == "asymmetric; refer"
    for _ in range(again.proxy.rowCount()):
        assert again.next_unreviewed_action.isEnabled()
        again.next_unreviewed_action.trigger()
        assert again.results_panel.current_result().image_sha256 != first.image_sha256


# ---------------------------------------------------------------- 14.6 keyboard and layout
def test_tab_leaves_the_table_and_keys_zoom_the_case(make_window, image_folder, qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    wait_for(qtbot, lambda: window.shown_case is not None, "the first case on screen")
    window.activateWindow()
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Tab)
    assert not window.table.hasFocus()
    assert window.table.currentIndex().row() == 0  # Tab did not change the case
    view = window.case_viewer.views[0]
    (x0, x1), _ = view.viewRange()
    window.zoom_in_action.trigger()
    (z0, z1), _ = view.viewRange()
    assert (z1 - z0) < (x1 - x0) * 0.9
    window.zoom_out_action.trigger()
    window.zoom_out_action.trigger()
    (o0, o1), _ = view.viewRange()
    assert (o1 - o0) > (z1 - z0)
    # Arrow keys pan the case views when they have the focus.
    window.case_viewer.setFocus()
    (p0, p1), _ = view.viewRange()
    qtbot.keyClick(window.case_viewer, Qt.Key.Key_Right)
    (r0, r1), _ = view.viewRange()
    assert r0 > p0 and abs((r1 - r0) - (p1 - p0)) < 0.01 * (p1 - p0)  # moved, same zoom
    assert window.zoom_in_action.shortcut().toString() == "+"
    assert window.zoom_reset_action.shortcut().toString() == "0"


def test_a_batch_ends_sorted_by_score_highest_first(make_window, image_folder, qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    scores = [r.score for r in window.visible_results()]
    assert scores == sorted(scores, reverse=True)
    assert window.table.horizontalHeader().sortIndicatorSection() == COL_SCORE
    assert window.table.currentIndex().row() == 0  # the highest score is on screen


def test_a_long_error_does_not_widen_the_window(make_window, tmp_path, qtbot):
    name = "a-very-long-file-name-" * 6 + ".jpg"
    bad = tmp_path / name
    bad.write_bytes(b"\xff\xd8 not really a jpeg " * 20)
    window = make_window()
    window.resize(1000, 700)
    QApplication.processEvents()
    before = window.width()
    window.open_paths([str(bad)])
    wait_batch(qtbot, window)
    window.select_row(0)
    QApplication.processEvents()
    assert window.width() == before
    label = window.case_viewer.case_label
    assert label.text().startswith(name) and label.toolTip() == label.text()
    assert label.is_elided()
    decision = window.score_panel.decision_label
    assert decision.toolTip().startswith("error: ")


def test_the_first_window_fits_the_available_screen(make_window):
    assert first_size(QRect(0, 0, 1366, 728)) <= (1366, 728)
    width, height = first_size(QRect(0, 0, 1366, 728))
    assert width <= 1366 and height <= 728
    assert first_size(QRect(0, 0, 2560, 1400)) == (1400, 900)
    window = make_window()
    available = window.screen().availableGeometry()
    assert window.width() <= available.width() and window.height() <= available.height()
    assert window.minimumSizeHint().width() <= 1366
    assert window.minimumSizeHint().height() <= 728


# ---------------------------------------------------------------- 15 hardening
def test_window_close_returns_while_a_worker_is_stuck_on_a_fifo(make_window, image_folder,
                                                                 qtbot):
    fifo = image_folder / "stuck.jpg"
    os.mkfifo(fifo)
    window = make_window()
    window.open_paths([str(image_folder)])
    # Also a worker blocked for certain, whatever the engine does with the FIFO.
    reader: TaskThread[bytes] = TaskThread(fifo.read_bytes, "fifo-reader")
    window.threads.start(reader)
    wait_for(qtbot, reader.isRunning, "the FIFO reader to start")
    window.close()  # returns: waits at most CLOSE_TIMEOUT_S for its workers
    assert not window.threads.running()
    assert reader in abandoned_threads()

    def feed() -> bool:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # no reader right now
            pass
        else:
            os.close(fd)
        return not abandoned_threads()

    wait_for(qtbot, feed, "the abandoned workers to end once the FIFO is fed")


def test_gui_on_an_unreachable_display_exits_with_a_message(isolated_user_home):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":987", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "desktop_app.gui.shell.app"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "cannot connect to the X display ':987'" in proc.stderr
    assert "dermscreen analyze" in proc.stderr


@pytest.mark.parametrize(("env", "expected"), [
    ({"QT_QPA_PLATFORM": "offscreen"}, ""),
    ({"QT_QPA_PLATFORM": "xcb"}, "DISPLAY is unset"),
    ({"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "no-such-wayland"}, "does not exist"),
    ({}, "DISPLAY and WAYLAND_DISPLAY are unset"),
])
def test_display_problem_names_the_reason(monkeypatch, env, expected):
    from desktop_app.gui.shell.app import display_problem

    monkeypatch.setattr(sys, "platform", "linux")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    problem = display_problem()
    assert (problem == "") if not expected else (expected in problem)
