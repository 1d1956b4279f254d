"""Worklist III (issue 30, items 4-7) through the real window: each map its own legend, the
CAE map masked to an oval scope's field, Compare usable on a laptop screen, fit redone on
resize, the original alone, Esc leaving F11, the Model and Help menus, the filters, the
histogram label, the About box's intended use once, and the N after Esc."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop_app.core.base.paths import bundled_models_dir
from desktop_app.core.inference.decision_rules import BORDERLINE
from desktop_app.core.inference.results import DECISION_ANOMALOUS
from desktop_app.core.wording.texts import INTENDED_USE
from desktop_app.gui.shell import menus
from desktop_app.gui.shell.actions import MENUS
from desktop_app.gui.windows.shortcuts import shortcut_rows
from tests.desktop_app.gui.conftest import wait_batch, wait_for, wait_signal

COMBINED = bundled_models_dir() / "dermscreen-combined.onnx"
CAE2 = bundled_models_dir() / "dermscreen-cae2.onnx"


def _open(window, qtbot, folder: Path) -> None:
    window.open_paths([str(folder)])
    wait_batch(qtbot, window)
    wait_for(qtbot, lambda: window.shown_case is not None, "the first case to be shown")


def _show_row(window, qtbot, row: int):
    window.select_row(row)
    result = window.results_panel.current_result()
    wait_for(qtbot, lambda: window.shown_case is not None
             and window.shown_case[0] is result, f"case {result.path.name}")
    return result


# ---------------------------------------------------------------- 4: maps and legends
def test_each_map_has_its_own_legend_and_the_oval_fields_ring_is_masked(
        make_window, fullres_files, tmp_path, qtbot):
    folder = tmp_path / "scope"
    folder.mkdir()
    (src,) = [f for f in fullres_files if f.name == "ISIC_0000045.jpg"]  # a round scope field
    shutil.copy2(src, folder / src.name)
    window = make_window(COMBINED)
    _open(window, qtbot, folder)
    viewer = window.case_viewer
    assert viewer.shows_evidence
    QApplication.processEvents()  # the legends never widen a column: linked views equal
    assert len({round(v.width()) for v in viewer.views}) == 1
    cae_label = viewer.colorbar.getAxis("bottom").labelText
    evidence_label = viewer.evidence_bar.getAxis("bottom").labelText
    assert cae_label.startswith("CAE error") and "error" not in evidence_label
    assert "evidence for malignant" in evidence_label
    assert viewer.evidence_bar.levels()[1] == viewer.evidence_vmax > 0
    assert viewer.colorbar.levels()[1] == window.model.metadata.heatmap_vmax
    # The CAE map is drawn only inside the scope's field, shrunk past its vignette ring:
    # the grey ring between the black frame and the skin carries no colour.
    _result, images = window.shown_case
    alpha = viewer.heatmap_item.image[..., 3]
    value = images.model_input.max(axis=2)
    value = value / 255.0 if value.max() > 1.5 else value
    h, w = alpha.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - h / 2) / (h / 2), (xx - w / 2) / (w / 2))
    skin = np.percentile(value[h // 4:-h // 4, w // 4:-w // 4], 75)
    # The vignette: grey, not black (the old mask kept it), near the edge of the field.
    ring = (value > 0.12) & (value < 0.6 * skin) & (r > 0.75)
    assert ring.sum() > 100 and (alpha[ring] == 0).mean() > 0.95
    assert alpha[h // 2 - 10:h // 2 + 10, w // 2 - 10:w // 2 + 10].all()


# ---------------------------------------------------------------- 5: compare
def test_compare_fits_a_laptop_screen_shows_evidence_follows_opacity_and_closes(
        make_window, image_folder, qtbot):
    window = make_window(COMBINED)
    _open(window, qtbot, image_folder)
    first = _show_row(window, qtbot, 0)
    window.pin_case_action.trigger()
    # C on the pinned case itself: no comparison with itself, and it says why.
    window.compare_action.trigger()
    assert window.views.compare is None
    assert "is the pinned case" in window.message_bar.text
    second = _show_row(window, qtbot, 1)
    window.case_viewer.set_opacity(0.8)
    window.compare_action.trigger()
    dialog = window.views.compare
    assert dialog is not None and dialog.isVisible()
    assert first.path.name in dialog.windowTitle() and second.path.name in dialog.windowTitle()
    screen = window.screen().availableGeometry()
    assert screen.contains(dialog.frameGeometry()) or (
        dialog.width() <= screen.width() and dialog.height() <= screen.height())
    assert dialog.shows_evidence and len(dialog.views) == 6  # 2 cases x 3 maps
    QApplication.processEvents()
    # The views share the window: each gets a third of its width (not 85 px).
    assert min(v.width() for v in dialog.views) > dialog.graphics.width() / 3 - 40
    assert all(abs(o.opacity() - 0.8) < 1e-6 for o in dialog.overlays)
    window.case_viewer.set_opacity(0.3)  # the main slider moves the comparison's overlay
    assert all(abs(o.opacity() - 0.3) < 1e-6 for o in dialog.overlays)
    dialog.activateWindow()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    window.compare_action.trigger()
    again = window.views.compare
    qtbot.keyClick(again, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert not again.isVisible()


# ---------------------------------------------------------------- 6: views
def test_fit_follows_resizes_the_original_alone_and_esc_leaves_full_screen(
        make_window, image_folder, qtbot):
    window = make_window()
    window.resize(1000, 700)
    _open(window, qtbot, image_folder)
    viewer = window.case_viewer

    def shown_share() -> float:
        """How much of the view the image fills along its limiting side (1: edge to edge)."""
        (x0, x1), (y0, y1) = viewer.views[0].viewRange()
        h, w = viewer._images.original.shape[:2]
        return max(w / (x1 - x0), h / (y1 - y0))

    wait_for(qtbot, lambda: viewer.fitted and viewer.views[0].width() > 50, "a fitted case")
    before = viewer.views[0].viewRange()
    window.resize(1366, 740)
    QApplication.processEvents()
    wait_for(qtbot, lambda: viewer.views[0].viewRange() != before, "a refit after the resize")
    # Fitted again: the whole image is in view, as large as the view allows.
    (x0, x1), (y0, y1) = viewer.views[0].viewRange()
    h, w = viewer._images.original.shape[:2]
    assert x0 <= 0 and x1 >= w and y0 <= 0 and y1 >= h
    assert max(w / (x1 - x0), h / (y1 - y0)) > 0.9  # one side fills the view
    # A zoom by hand is kept through a resize.
    viewer.zoom_in()
    per_px = (viewer.views[0].viewRange()[0][1] - viewer.views[0].viewRange()[0][0]) \
        / viewer.views[0].width()
    window.resize(1200, 720)
    QApplication.processEvents()
    (x0, x1), (y0, y1) = viewer.views[0].viewRange()
    assert not viewer.fitted and min((x1 - x0) / w, (y1 - y0) / h) < 1  # still zoomed in
    assert abs((x1 - x0) / viewer.views[0].width() - per_px) < 0.05 * per_px  # same zoom
    # O: the original alone over the whole panel, no overlay; O again: every view.
    width_with_all = viewer.views[0].width()
    window.original_only_action.trigger()
    QApplication.processEvents()
    assert viewer.original_only and not viewer.overlay_item.isVisible()
    assert not viewer.views[2].isVisible()
    assert viewer.views[0].width() > 2 * width_with_all
    assert shown_share() > 0.9 and viewer.fitted
    window.original_only_action.trigger()
    QApplication.processEvents()
    assert viewer.views[2].isVisible() and viewer.overlay_item.isVisible()
    # Esc leaves F11's full screen.
    window.full_screen_action.trigger()
    assert window.isFullScreen() and not window.results_panel.isVisible()
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    wait_for(qtbot, lambda: not window.isFullScreen(), "full screen to end")
    assert window.results_panel.isVisible() and not window.full_screen_action.isChecked()


# ---------------------------------------------------------------- 7: menus and small things
def test_model_menu_names_models_and_a_switch_says_what_changed(
        make_window, image_folder, qtbot):
    window = make_window(COMBINED)
    _open(window, qtbot, image_folder)
    menus.rebuild_model_menu(window)
    entries = [a.text() for a in window.model_group.actions()]
    assert any(t.startswith("DermScreen Combined 1.0.0 — autoencoder + classifier")
               for t in entries), entries
    assert any(t.startswith("DermScreen CAE 2.1.0 — autoencoder trained on benign images only")
               for t in entries), entries
    assert not any(t.endswith(".onnx") for t in entries)
    with wait_signal(qtbot, window.model_ready, "the CAE model"):
        window.load_model(CAE2)
    text = window.message_bar.text
    assert text.startswith("Now using DermScreen CAE 2.1.0 (was DermScreen Combined 1.0.0)")
    assert "autoencoder's score" in text and "threshold" in text
    assert "analysed again" in text


def test_help_lists_every_shortcut_and_the_view_menu_is_in_shortcut_order(
        make_window, qtbot):
    window = make_window()
    dialog = window.views.show_shortcuts()
    rows = shortcut_rows(window.actions_by_name)
    assert dialog.table.rowCount() == len(rows)
    keys = {(r[1], r[2]) for r in rows}
    for key, text in (("F11", "Full-Screen Case View"), ("C", "Compare with Pinned Case"),
                      ("Ctrl+2", "Show Flagged Only"), ("O", "Original Alone"),
                      ("R", "Mark Reviewed and Next")):
        assert (key, text) in keys
    assert window.shortcuts_action in window.menuBar().actions()[-1].menu().actions()
    view = dict(MENUS)["&View"]
    shortcuts = [window.actions_by_name[n].shortcut().toString() for n in view
                 if window.actions_by_name.get(n) is not None
                 and window.actions_by_name[n].shortcut().toString().startswith("Ctrl+")
                 and window.actions_by_name[n].shortcut().toString()[-1].isdigit()]
    assert shortcuts == [f"Ctrl+{n}" for n in range(1, 8)]
    qtbot.keyClick(dialog, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert not dialog.isVisible()


def test_flagged_only_leaves_borderline_out(make_window, image_folder, qtbot):
    window = make_window(CAE2)  # it stores the 95% point: a borderline band
    _open(window, qtbot, image_folder)
    words = window.results_model.words
    for alpha in (0.5, 0.3, 0.2, 0.1, 0.05, 0.02):  # a point with both kinds in 12 images
        window.operating_point.set_alpha(alpha)
        decisions = {words.of(r) for r in window.results_model.results()}
        if {BORDERLINE, DECISION_ANOMALOUS} <= decisions:
            break
    assert BORDERLINE in decisions and DECISION_ANOMALOUS in decisions
    window.show_flagged_action.trigger()  # Ctrl+2 "Show Flagged Only"
    assert window.show_flagged_action.shortcut().toString() == "Ctrl+2"
    shown = window.visible_results()
    assert shown and all(words.of(r) == DECISION_ANOMALOUS for r in shown)
    window.show_anomalous_action.trigger()  # "Flagged or Borderline"
    assert {words.of(r) for r in window.visible_results()} == {BORDERLINE, DECISION_ANOMALOUS}


def test_this_case_label_stays_inside_the_histogram(make_window, image_folder, qtbot):
    window = make_window()
    window.resize(1366, 740)
    _open(window, qtbot, image_folder)
    panel = window.score_panel
    results = sorted(window.results_model.results(), key=lambda r: r.score)
    rows = window.visible_results()
    for result in (results[0], results[-1]):  # the lowest and the highest score
        _show_row(window, qtbot, rows.index(result))
        QApplication.processEvents()
        label = panel.case_line.label.sceneBoundingRect()
        plot_area = panel.plot.getPlotItem().vb.sceneBoundingRect()
        assert plot_area.left() - 1 <= label.left() and label.right() <= plot_area.right() + 1


def test_the_about_box_says_the_intended_use_once(make_window, qtbot):
    window = make_window(COMBINED)
    about = window.show_about()
    text = about.header.toPlainText() + "\n" + about.card.toPlainText()
    first_sentence = INTENDED_USE.split(". ")[0]
    assert text.count(first_sentence) == 1
    assert "Limits" in about.card.toPlainText()  # the rest of the card is there


def test_n_after_esc_from_the_name_filter_is_not_lost(make_window, image_folder, qtbot):
    window = make_window()
    _open(window, qtbot, image_folder)
    panel = window.results_panel
    _show_row(window, qtbot, 0)
    window.find_action.trigger()
    assert panel.name_filter.hasFocus() or QApplication.focusWidget() is panel.name_filter
    qtbot.keyClicks(panel.name_filter, ".jpg")
    qtbot.keyClick(panel.name_filter, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is window.table
    flagged = [r for r in window.visible_results() if window.results_model.words.is_flagged(r)]
    assert len(flagged) >= 2
    current = panel.current_result()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_N)  # the first N counts
    assert panel.current_result() is not current
    assert window.results_model.words.is_flagged(panel.current_result())
