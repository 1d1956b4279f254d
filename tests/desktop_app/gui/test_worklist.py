"""Worklist II (issue 25) through the real window: filters and the reviewed counter, the
keyboard review loop, the moving borderline band, the masked heatmap and its scales,
marks made elsewhere, the reports folder, and what must not squeeze or mislead."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop_app.core import palette
from desktop_app.core.base.paths import default_model_path
from desktop_app.core.imaging.heatmap import CASE_SCALE, FIXED_SCALE, case_vmax
from desktop_app.core.inference.decision_rules import BORDERLINE, PRIORITY_MEANING
from desktop_app.core.inference.results import DECISION_ANOMALOUS, DECISION_NORMAL
from desktop_app.core.model.operating_points import borderline_low, opening_threshold
from desktop_app.gui.panels.results_model import (
    COL_DECISION,
    COL_PRIORITY,
    COL_REVIEW,
    COL_SCORE,
    FILTER_UNREVIEWED,
)
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.shell.model_switch import window_title
from tests.desktop_app.gui.conftest import wait_batch, wait_for


def _shown(window) -> str | None:
    case = window.shown_case
    return None if case is None else case[0].path.name


def _open(window, qtbot, folder: Path) -> None:
    window.open_paths([str(folder)])
    wait_batch(qtbot, window)
    wait_for(qtbot, lambda: window.shown_case is not None, "the first case to be shown")


# ---------------------------------------------------------------- worklist + review loop
def test_keyboard_only_review_through_the_unreviewed_filter_reaches_the_counter(
        make_window, image_folder, qtbot):
    window = make_window()
    _open(window, qtbot, image_folder)
    panel = window.results_panel
    assert panel.reviewed_text == "reviewed 0 of 12"
    assert "reviewed 0 of 12" in window.summary_label.text()
    names = [panel.filter_combo.itemText(i) for i in range(panel.filter_combo.count())]
    assert names[0] == "All results (12)" and "Unreviewed (12)" in names
    assert any(n.startswith("Not flagged (") for n in names)
    window.show_unreviewed_action.trigger()  # Ctrl+4
    assert window.proxy.mode == FILTER_UNREVIEWED and window.proxy.rowCount() == 12
    window.select_row(0)
    window.table.setFocus()
    seen: list[str] = []
    for step in range(12):
        wait_for(qtbot, lambda: _shown(window) == panel.current_result().path.name,
                 f"case {step} to be shown")
        seen.append(panel.current_result().path.name)
        # Every case opens fitted: the whole image is in view, whatever the zoom before.
        height, width = window.shown_case[1].original.shape[:2]
        (x0, x1), (y0, y1) = window.case_viewer.views[0].viewRange()
        assert x0 <= 0 and x1 >= width and y0 <= 0 and y1 >= height
        window.case_viewer.zoom(4.0)  # a close look before moving on
        qtbot.keyClick(window.table, Qt.Key.Key_R)  # the window-wide shortcut
        QApplication.processEvents()
        assert panel.reviewed_text == f"reviewed {step + 1} of 12"
    assert len(set(seen)) == 12  # R moved to a new case every time
    assert window.proxy.rowCount() == 0  # the list shrank to nothing
    assert "reviewed 12 of 12" in window.summary_label.text()
    assert window.shown_case is None and not window.case_viewer.has_case  # nothing stale
    assert window.score_panel.score_label.text() == "—"
    window.show_all_action.trigger()
    reviews = [window.proxy.index(r, COL_REVIEW).data() for r in range(window.proxy.rowCount())]
    assert all(text.startswith("✓ reviewed") for text in reviews)


def test_filters_split_the_list_and_not_flagged_is_neutral(make_window, image_folder, qtbot):
    window = make_window()
    _open(window, qtbot, image_folder)
    words = window.results_model.words
    results = window.results_model.results()
    counts = {}
    for action, wanted in ((window.show_flagged_action, DECISION_ANOMALOUS),
                           (window.show_not_flagged_action, DECISION_NORMAL),
                           (window.show_borderline_action, BORDERLINE)):
        action.trigger()
        shown = window.visible_results()
        assert all(words.of(r) == wanted for r in shown)
        counts[wanted] = len(shown)
    assert sum(counts.values()) == len(results)  # no errors in this folder
    window.show_errors_action.trigger()
    assert window.proxy.rowCount() == 0
    window.show_not_flagged_action.trigger()
    assert window.proxy.rowCount() > 0, "the fixture folder should hold a not-flagged case"
    fill = window.proxy.index(0, COL_DECISION).data(Qt.ItemDataRole.BackgroundRole).color()
    assert fill.name() == palette.NOT_FLAGGED_FILL
    red, green, blue = fill.red(), fill.green(), fill.blue()
    assert max(red, green, blue) - min(red, green, blue) < 12  # grey, not a reassuring green
    # Highest score first, and the header's arrow says so (down: highest first).
    window.show_all_action.trigger()
    assert window.proxy.headerData(COL_SCORE, Qt.Orientation.Horizontal) == "Score ▼"
    window.table.sortByColumn(COL_SCORE, Qt.SortOrder.AscendingOrder)
    assert window.proxy.headerData(COL_SCORE, Qt.Orientation.Horizontal) == "Score ▲"
    scores = [r.score for r in window.visible_results()]
    assert scores == sorted(scores)
    # Priority tiers, each shown with what it means (from the benign validation figures).
    for row in range(window.proxy.rowCount()):
        r = window.visible_results()[row]
        tier = window.proxy.index(row, COL_PRIORITY).data()
        expected = ("high" if words.of(r) == DECISION_ANOMALOUS and r.percentile > 95 else
                    "elevated" if words.is_flagged(r) else "routine")
        assert tier == expected
        assert window.proxy.index(row, COL_PRIORITY).data(
            Qt.ItemDataRole.ToolTipRole) == PRIORITY_MEANING[tier]
    assert "Priority:" in window.summary_label.text()
    assert "95 of 100 benign validation images" in window.summary_label.toolTip()


def test_compact_rows_show_fourteen_cases_at_1366x768_and_columns_are_remembered(
        make_window, image_folder, tmp_path, isic9_test_files, qtbot):
    many = tmp_path / "many"
    many.mkdir()
    for src in isic9_test_files[:30]:
        shutil.copy2(src, many / src.name)
    window = make_window()
    window.showNormal()
    window.resize(1366, 768 - 28)  # a 1366x768 screen less a panel
    _open(window, qtbot, many)
    QApplication.processEvents()
    assert len(window.results_panel.visible_rows()) >= 14
    header = window.table.horizontalHeader()
    header.resizeSection(COL_REVIEW, 211)
    window.close()
    again = make_window()
    assert again.table.horizontalHeader().sectionSize(COL_REVIEW) == 211


def test_title_names_the_app_once():
    assert window_title("DermScreen CAE", "2.1.0") == "CAE 2.1.0 — DermScreen"
    assert window_title("Other model", "1.0") == "Other model 1.0 — DermScreen"


# ---------------------------------------------------------------- the borderline band
def test_the_band_moves_with_the_point_and_is_drawn_on_the_histogram(
        make_window, image_folder, qtbot):
    window = make_window(default_model_path())  # the default: it stores the 95% point
    _open(window, qtbot, image_folder)
    meta = window.model.metadata
    default, _ = opening_threshold(meta)
    band = window.score_panel.band
    assert band == (borderline_low(meta), default)
    words = window.results_model.words
    control = window.operating_point
    control.set_alpha(0.5)  # as typed: a stricter point
    t = control.threshold
    low = borderline_low(meta, t)
    assert low > default  # the band's lower edge moved up with the point
    assert window.score_panel.band == (low, t)
    for r in window.results_model.results():
        expected = (DECISION_ANOMALOUS if r.score > t else
                    BORDERLINE if r.score > low else DECISION_NORMAL)
        assert words.of(r) == expected
    window.show_borderline_action.trigger()
    assert all(low < r.score <= t for r in window.visible_results())


# ---------------------------------------------------------------- the heatmap
def test_heatmap_is_masked_outside_the_field_of_view_and_has_a_case_scale(
        make_window, tmp_path, qtbot, isic9_dir):
    folder = tmp_path / "vignette"
    folder.mkdir()
    # ISIC_0000004: a round dermoscope field in a black frame (the top case).
    src = next(isic9_dir.rglob("ISIC_0000004.jpg"))
    shutil.copy2(src, folder / src.name)
    window = make_window(default_model_path())
    _open(window, qtbot, folder)
    viewer = window.case_viewer
    _result, images = window.shown_case
    alpha = viewer.heatmap_item.image[..., 3]
    corner = alpha[:8, :8]
    assert (corner == 0).all()  # the black frame carries no colour
    assert alpha[60:68, 60:68].all()  # the lesion in the middle does
    assert viewer.scale == FIXED_SCALE and "fixed scale" in viewer.scale_text
    assert viewer.vmax == window.model.metadata.heatmap_vmax
    window.case_scale_action.trigger()
    assert viewer.scale == CASE_SCALE and "this case" in viewer.scale_text
    inside = alpha > 0
    assert viewer.vmax == case_vmax(images.error_map, inside)
    assert viewer.colorbar.getAxis("bottom").labelText == viewer.scale_text
    levels = viewer.colorbar.levels()
    assert levels[1] == viewer.vmax
    # Brightness and contrast change the display levels of the original, not the data.
    before = viewer.original_item.image.copy()
    viewer.contrast_slider.setValue(50)
    viewer.brightness_slider.setValue(20)
    low, high = viewer.original_item.levels
    assert high - low < 255 and np.array_equal(viewer.original_item.image, before)
    viewer.adjust_reset.click()
    assert tuple(viewer.original_item.levels) == (0.0, 255.0)
    # Full-screen case view: only the views; F11 again gives the worklist back.
    window.full_screen_action.trigger()
    assert not window.results_panel.isVisible() and viewer.isVisible()
    window.full_screen_action.trigger()
    assert window.results_panel.isVisible()


# ---------------------------------------------------------------- marks made elsewhere
def test_a_mark_on_a_copy_in_another_folder_is_shown_as_such(
        make_window, image_folder, tmp_path, qtbot):
    app_settings.save_report_preferences("Dr. Ada", False, False)
    window = make_window()
    _open(window, qtbot, image_folder)
    window.select_row(0)
    first = window.results_panel.current_result()
    wait_for(qtbot, lambda: _shown(window) == first.path.name, "the first case")
    window.mark_reviewed_action.trigger()
    review = window.session.reviews.get(first.image_sha256)
    assert review.reviewed and review.reviewer == "Dr. Ada" and review.reviewed_at
    other = tmp_path / "other patient"
    other.mkdir()
    shutil.copy2(first.path, other / first.path.name)
    _open(window, qtbot, other)
    copy = window.results_model.results()[0]
    assert not window.session.is_reviewed(copy)
    text = window.results_model.index(0, COL_REVIEW).data()
    assert text.startswith(f"reviewed {review.reviewed_at[:10]} in …/") and "(not here)" in text
    assert window.results_panel.reviewed_text == "reviewed 0 of 1"
    assert not window.review_panel.reviewed_box.isChecked()
    assert window.review_panel.elsewhere_label.isVisibleTo(window.review_panel)


# ---------------------------------------------------------------- exports, long errors
def test_exports_default_to_the_reports_folder_never_the_image_folder(
        make_window, image_folder, scripted_paths, isolated_user_home, tmp_path, qtbot):
    suggested: list[Path] = []
    scripted_paths.save_file = lambda _parent, _title, path, _filters: (
        suggested.append(Path(path)) or str(tmp_path / "chosen" / "mine.csv"))
    (tmp_path / "chosen").mkdir()
    window = make_window()
    _open(window, qtbot, image_folder)
    window.export_csv_action.trigger()
    default = app_settings.default_reports_dir()
    assert suggested[0].parent == default and default.is_dir()
    assert suggested[0].name.startswith("results-")
    assert isolated_user_home in default.parents  # the user's documents (here: the test home)
    assert image_folder not in (default, *default.parents)
    # The folder the user chose is offered next time.
    wait_for(qtbot, lambda: (tmp_path / "chosen" / "mine.csv").is_file(), "the CSV")
    window.export_csv_action.trigger()
    assert suggested[1].parent == tmp_path / "chosen"


def test_a_long_error_message_does_not_squeeze_the_histogram(make_window, tmp_path, qtbot):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / ("x" * 120 + ".jpg")).write_bytes(b"not an image at all " * 40)
    window = make_window()
    window.resize(1366, 740)
    window.open_paths([str(folder)])
    wait_batch(qtbot, window)
    plot_before = window.score_panel.plot.width()
    window.select_row(0)
    QApplication.processEvents()
    assert window.score_panel.decision_text.startswith("error:")
    assert window.score_panel.plot.width() >= plot_before - 2
    assert window.score_panel.plot.width() > window.score_panel.width() // 2


# ---------------------------------------------------------------- side-by-side comparison
def test_two_cases_side_by_side_on_one_scale_with_linked_zoom(make_window, image_folder, qtbot):
    window = make_window()
    _open(window, qtbot, image_folder)
    window.select_row(0)
    first = window.results_panel.current_result()
    wait_for(qtbot, lambda: _shown(window) == first.path.name, "the first case")
    window.pin_case_action.trigger()
    window.select_row(1)
    second = window.results_panel.current_result()
    wait_for(qtbot, lambda: _shown(window) == second.path.name, "the second case")
    window.case_scale_action.trigger()  # the main view on the case's scale ...
    dialog = window.views.compare_with_pinned()
    assert dialog is not None and dialog.isVisible()
    assert first.path.name in dialog.windowTitle() and second.path.name in dialog.windowTitle()
    assert dialog.vmax == window.model.metadata.heatmap_vmax  # ... the comparison on one scale
    assert len(dialog.views) == 4
    # Both images span the same width, so a linked zoom shows the same part of each.
    widths = {round(item.mapRectToParent(item.boundingRect()).width()) for item in dialog.items}
    assert widths == {1000}
    dialog.views[3].setRange(xRange=(100, 300), yRange=(100, 300), padding=0)
    QApplication.processEvents()
    for view in dialog.views:
        (x0, x1), (y0, y1) = view.viewRange()
        assert abs((x0 + x1) / 2 - 200) < 2 and abs((y0 + y1) / 2 - 200) < 2
        assert x1 - x0 < 600  # zoomed in (aspect locking may widen one axis)
    window.close()
    assert not dialog.isVisible()
