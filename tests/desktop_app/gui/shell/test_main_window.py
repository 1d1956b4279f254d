"""The real window, offscreen, on the real small model and real isic9 images."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from desktop_app.core.inference.results import redecide
from desktop_app.core.model.operating_points import opening_threshold
from desktop_app.gui.panels.results_model import COL_STATUS, FILTER_ANOMALOUS, FILTER_ERRORS
from desktop_app.gui.shell import menus
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.threads.workers import THUMB_SIZE
from tests.desktop_app.gui.conftest import wait_batch, wait_for, wait_signal


def test_open_folder_shows_every_image_with_thumbnails(make_window, image_folder, scripted_paths,
                                                       qtbot):
    window = make_window()
    assert window.analysis_enabled
    scripted_paths.folder = str(image_folder)
    window.open_folder_action.trigger()
    assert window.busy
    wait_batch(qtbot, window)

    results = window.results_model.results()
    assert [r.path.name for r in results] == sorted(p.name for p in image_folder.iterdir())
    assert all(r.status == "ok" and r.decision in ("anomalous", "normal") for r in results)
    assert window.summary_label.text().startswith("12 files")
    # Rows in view get previews whatever the platform painted: at the bottom, then the top.
    _assert_rows_in_view_get_thumbnails(window, qtbot, window.table.scrollToBottom,
                                        must_include=window.visible_results()[-1].index)
    _assert_rows_in_view_get_thumbnails(window, qtbot, window.table.scrollToTop,
                                        must_include=window.visible_results()[0].index)
    thumb = window.proxy.index(0, 0).data(Qt.ItemDataRole.DecorationRole)
    assert max(thumb.width(), thumb.height()) == THUMB_SIZE
    assert app_settings.recent_folders()[0] == str(image_folder)
    # The first row is selected once the batch ends, so a case is on screen.
    wait_for(qtbot, lambda: window.shown_case is not None,
             "window.shown_case is not None")
    # File > Recent Folders re-opens it.
    window.recent_menu.aboutToShow.emit()
    recent = [a for a in window.recent_menu.actions() if a.text() == str(image_folder)]
    assert len(recent) == 1
    with wait_signal(qtbot, window.batch_finished, "batch_finished"):
        recent[0].trigger()
    assert window.results_model.rowCount() == 12


def _keys_in_view(window) -> list[int]:
    shown = window.visible_results()
    return [shown[row].index for row in window.results_panel.visible_rows()]


def _assert_rows_in_view_get_thumbnails(window, qtbot, move, must_include: int) -> None:
    move()
    keys = _keys_in_view(window)
    assert must_include in keys
    wait_for(qtbot, lambda: all(window.results_model.has_thumbnail(k) for k in keys),
             f"thumbnails of the rows in view {keys}")


def test_lost_thumbnail_requests_are_asked_again(make_window, image_folder, qtbot):
    window = make_window()
    # Stop the preview worker, so the requests of the batch stay queued ...
    window.thumbnails.worker.requestInterruption()
    assert window.thumbnails.worker.wait(5000)
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    keys = _keys_in_view(window)
    assert keys and set(keys) <= window.results_model.pending_thumbnails()
    # ... then lose them: the queue is emptied while the rows still count as asked for.
    window.thumbnails.worker.clear()
    window.thumbnails.worker.start()
    wait_for(qtbot, lambda: all(window.results_model.has_thumbnail(k) for k in keys),
             "the lost preview requests to be asked again and answered")
    assert not window.results_model.pending_thumbnails()


def test_a_file_without_preview_says_why_and_a_transient_failure_recovers(
        make_window, image_folder, tmp_path, qtbot):
    window = make_window()
    window.thumbnails.worker.requestInterruption()  # previews only once the files have gone
    assert window.thumbnails.worker.wait(5000)
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    shown = window.visible_results()
    gone, back = shown[0], shown[1]
    saved = tmp_path / "saved.jpg"
    gone.path.unlink()
    back.path.rename(saved)  # gone for now: the first attempt fails, the retry works
    window.thumbnails.worker.start()
    model = window.results_model
    wait_for(qtbot, lambda: model.thumbnail_attempts_failed(back.index) == 1,
             "the first preview attempt of the moved file to fail")
    saved.rename(back.path)
    wait_for(qtbot, lambda: model.has_thumbnail(back.index), "the retried preview")
    wait_for(qtbot, lambda: model.thumbnail_failure(gone.index) is not None,
             "the deleted file's preview to be given up")
    row = window.proxy.mapFromSource(model.index(model.row_of(gone.index), 0)).row()
    tooltip = window.proxy.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "No preview:" in tooltip and gone.path.name in tooltip
    assert not model.has_thumbnail(gone.index)
    assert not model.pending_thumbnails()


def test_results_arrive_while_the_event_loop_keeps_turning(make_window, isic9_test_files, qtbot):
    window = make_window()
    inputs = [str(p) for p in isic9_test_files] * 2  # long enough to watch it run
    ticks = {"n": 0}
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.__setitem__("n", ticks["n"] + 1))
    seen: list[tuple[int, int]] = []  # (ticks, rows) at each table update during the batch

    def on_rows(*_args: object) -> None:
        if window.busy:
            seen.append((ticks["n"], window.results_model.rowCount()))

    window.results_model.rowsInserted.connect(on_rows)
    timer.start()
    assert window.open_paths(inputs)
    wait_batch(qtbot, window)
    timer.stop()

    assert window.results_model.rowCount() == len(inputs)
    # Rows were added in several bursts while the batch was still running ...
    assert len(seen) >= 2
    assert seen[0][1] < len(inputs)
    # ... and the GUI timer kept firing between those bursts.
    tick_counts = [t for t, _ in seen]
    assert tick_counts == sorted(tick_counts)
    assert tick_counts[-1] > tick_counts[0]


def test_cancel_keeps_partial_results(make_window, isic9_test_files, qtbot):
    window = make_window()
    inputs = [str(p) for p in isic9_test_files] * 4
    window.open_paths(inputs)
    wait_for(qtbot, lambda: window.results_model.rowCount() > 0,
             "window.results_model.rowCount() > 0")
    with wait_signal(qtbot, window.batch_finished, "batch_finished") as finished:
        window.cancel_action.trigger()
    assert finished.args == [True]
    kept = window.results_model.rowCount()
    assert 0 < kept < len(inputs)
    assert not window.busy
    assert not window.progress_bar.isVisible()
    # The partial results stay usable: exportable and selectable.
    assert window.export_csv_action.isEnabled()
    assert all(r.status == "ok" for r in window.results_model.results())


def _drop(window, paths: list[Path]) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPoint(window.width() // 2, window.height() // 2)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    # QMimeData must outlive the event delivery.
    drop.mime_keepalive = mime  # type: ignore[attr-defined]
    return drop


def test_dropping_a_file_analyses_it(make_window, isic9_test_files, qtbot):
    window = make_window()
    dropped = isic9_test_files[0]
    event = _drop(window, [dropped])
    assert event.isAccepted()
    wait_batch(qtbot, window)
    results = window.results_model.results()
    assert len(results) == 1
    assert results[0].path == dropped
    assert results[0].status == "ok"


def test_dropping_non_files_is_refused(make_window):
    window = make_window()
    mime = QMimeData()
    mime.setText("just some text")
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()
    assert not window.busy


def test_selected_case_fills_three_linked_views(make_window, image_folder, qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    window.select_row(3)
    expected = window.visible_results()[3]
    wait_for(qtbot, lambda: window.shown_case is not None and
                    window.shown_case[0].path == expected.path,
             "window.shown_case is not None and window.shown_case[0].path == expected.path")
    result, images = window.shown_case
    viewer = window.case_viewer
    assert viewer.original_item.image.shape == images.original.shape
    size = window.model.input_size
    with Image.open(expected.path) as img:
        width, height = img.size
    assert viewer.original_item.image.shape == (height, width, 3)
    assert viewer.reconstruction_item.image.shape == (size, size, 3)
    # RGBA: the heatmap is transparent outside the dermoscope's field of view.
    assert viewer.heatmap_item.image.shape == (size, size, 4)
    assert viewer.overlay_item.image.shape == (size, size, 4)
    assert viewer.original_item.image.dtype == np.uint8
    # All three views cover the same rectangle, so one zoom moves all of them.
    rects = [item.mapRectToParent(item.boundingRect())
             for item in (viewer.original_item, viewer.reconstruction_item, viewer.heatmap_item)]
    assert all(r == rects[0] for r in rects)
    assert result.score == expected.score
    # Zooming one view zooms the others (setXLink / setYLink).
    viewer.views[0].setRange(xRange=(10, 60), yRange=(20, 70), padding=0)
    QApplication.processEvents()
    for view in viewer.views[1:]:
        # Aspect locking may widen one axis; the centre and the zoom follow the first view.
        (x0, x1), (y0, y1) = view.viewRange()
        assert abs((x0 + x1) / 2 - 35) < 1 and abs((y0 + y1) / 2 - 45) < 1
        assert x1 - x0 < width / 2
    # F fits the whole image again.
    qtbot.keyClick(viewer, Qt.Key.Key_F)
    (x0, x1), _ = viewer.views[2].viewRange()
    assert x0 <= 0 and x1 >= width
    # The score panel shows the same case.
    assert window.score_panel.score_label.text() == f"{expected.score:.5g}"
    assert window.score_panel.case_line.value() == expected.score


def test_keyboard_moves_through_cases(make_window, image_folder, qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    window.select_row(0)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Down)
    assert window.table.currentIndex().row() == 1
    second = window.visible_results()[1]
    wait_for(qtbot, lambda: window.shown_case is not None and
                    window.shown_case[0].path == second.path,
             "window.shown_case is not None and window.shown_case[0].path == second.path")
    # The view shortcuts (F, 1) do not steal letters typed into the name filter.
    window.name_filter.setFocus()
    qtbot.keyClicks(window.name_filter, "f1")
    assert window.name_filter.text() == "f1"
    assert window.proxy.rowCount() == sum("f1" in r.path.name.lower()
                                          for r in window.results_model.results())


def test_opacity_slider_changes_overlay_and_persists(make_window, image_folder, qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    wait_for(qtbot, lambda: window.shown_case is not None,
             "window.shown_case is not None")
    slider = window.case_viewer.opacity_slider
    slider.setValue(20)
    assert window.case_viewer.overlay_item.opacity() == 0.2
    slider.setValue(85)
    assert window.case_viewer.overlay_item.opacity() == 0.85
    assert window.case_viewer.opacity_label.text() == "85%"
    assert app_settings.saved_opacity() == 0.85


def test_alpha_control_redecides_every_row_without_inference(make_window, image_folder, qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    before = window.results_model.results()
    stats = window.model.metadata.benign_stats
    scores = sorted(r.score for r in before)
    # An alpha whose threshold falls between the scores splits the batch.
    middle = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
    control = window.operating_point

    control.set_alpha(stats.alpha_for(middle))
    after = window.results_model.results()
    assert [r.score for r in after] == [r.score for r in before]  # no re-inference
    assert [r.decision for r in after] == [redecide(r, stats, control.threshold).decision
                                          for r in before]
    assert {r.decision for r in after} == {"anomalous", "normal"}
    assert all(r.threshold == control.threshold for r in after)

    control.slider.setValue(control.slider.minimum())
    low = window.results_model.results()
    assert sum(r.decision == "anomalous" for r in low) >= sum(
        r.decision == "anomalous" for r in after)
    assert app_settings.saved_alpha(window.model.sha256) == control.alpha
    # The anomalous-only filter follows the new decisions.
    window.results_panel.set_filter_mode(FILTER_ANOMALOUS)
    assert window.proxy.rowCount() == sum(window.results_model.words.is_flagged(r) for r in low)
    assert window.score_panel.threshold_line.value() == control.threshold
    assert window.operating_point.expected_label.text() != "—"


def test_saved_alpha_is_used_by_the_next_window(make_window, qtbot):
    window = make_window()
    window.operating_point.set_alpha(2.5)
    window.close()
    again = make_window()
    assert again.operating_point.alpha == 2.5
    assert again.threshold == again.model.metadata.benign_stats.threshold(2.5)


def test_export_csv_and_pdfs_from_the_gui(make_window, image_folder, scripted_paths, tmp_path,
                                          qtbot):
    from desktop_app.reports.csv_report import read_results_csv

    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    out = tmp_path / "out"
    out.mkdir()
    scripted_paths.save = {".csv": str(out / "batch.csv"), ".pdf": str(out / "summary.pdf")}
    with wait_signal(qtbot, window.export_finished, "export_finished") as csv_done:
        window.export_csv_action.trigger()
    assert csv_done.args == [str(out / "batch.csv")]
    rows = read_results_csv(out / "batch.csv")
    assert [row["file_name"] for row in rows] == sorted(p.name for p in image_folder.iterdir())
    assert {row["triage"] for row in rows} <= {"flagged", "borderline", "not flagged"}
    assert "decision" not in rows[0]  # one vocabulary: no anomalous/normal column

    with wait_signal(qtbot, window.export_finished, "export_finished"):
        window.export_pdf_action.trigger()
    assert (out / "summary.pdf").read_bytes()[:5] == b"%PDF-"

    window.select_row(0)
    case_pdf = out / "case.pdf"
    scripted_paths.save = {".pdf": str(case_pdf)}
    with wait_signal(qtbot, window.export_finished, "export_finished"):
        window.export_case_pdf_action.trigger()
    assert case_pdf.read_bytes()[:5] == b"%PDF-"
    assert case_pdf.stat().st_size > 10_000  # holds the case images


def test_export_to_unwritable_place_reports_and_lives_on(make_window, image_folder, tmp_path,
                                                         qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with wait_signal(qtbot, window.export_failed, "export_failed"):
        assert window.exporter.export_csv(blocker / "results.csv")
    assert window.message_bar.isVisible()
    assert "results.csv" in window.message_bar.text
    assert window.analysis_enabled


def test_bad_files_become_error_rows_with_reasons(make_window, tmp_path, qtbot):
    from tests.support.data import make_bad_files

    bad = make_bad_files(tmp_path / "bad")
    window = make_window()
    files = [str(p) for key, p in bad.items() if key != "unreadable"]
    window.open_paths(files)
    wait_batch(qtbot, window)
    results = window.results_model.results()
    assert len(results) == len(files)
    assert all(r.status == "error" and r.error for r in results)
    window.results_panel.set_filter_mode(FILTER_ERRORS)
    assert window.proxy.rowCount() == len(files)
    status_texts = {window.proxy.index(row, COL_STATUS).data()
                    for row in range(window.proxy.rowCount())}
    assert all(text.startswith("error: ") and len(text) > len("error: ") for text in status_texts)
    window.select_row(0)
    assert "could not be analysed" in window.case_viewer.case_label.text()
    assert window.score_panel.decision_text.startswith("error: ")


def test_failing_case_worker_shows_a_message_and_the_app_lives_on(make_window, image_folder,
                                                                  qtbot):
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    wait_for(qtbot, lambda: window.shown_case is not None,
             "window.shown_case is not None")
    victim = window.visible_results()[5]
    victim.path.unlink()  # gone after analysis: Engine.explain now fails in its worker
    window.select_row(5)
    wait_for(qtbot, lambda: window.message_bar.isVisible(),
             "window.message_bar.isVisible()")
    assert victim.path.name in window.message_bar.text or "file not found" in \
        window.message_bar.text
    assert not window.case_viewer.has_case
    # Still alive: another case shows.
    window.select_row(6)
    other = window.visible_results()[6]
    wait_for(qtbot, lambda: window.shown_case is not None and
                    window.shown_case[0].path == other.path,
             "window.shown_case is not None and window.shown_case[0].path == other.path")


def test_broken_model_opens_with_banner_and_analysis_disabled(make_window, tmp_path,
                                                              image_folder):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an onnx model" * 100)
    window = make_window(broken)
    assert window.engine is None
    assert window.banner.isVisible()
    assert "could not be loaded" in window.banner.text
    assert "Open Model File" in window.banner.text  # says what to do
    for action in (window.open_folder_action, window.open_images_action,
                   window.export_csv_action, window.export_pdf_action):
        assert not action.isEnabled()
    assert not window.open_paths([str(image_folder)])
    assert window.results_model.rowCount() == 0
    assert window.model_label.text() == "No model"


def test_missing_model_then_choosing_a_good_one(make_window, tmp_path, small_model_path,
                                                scripted_paths, qtbot):
    window = make_window(tmp_path / "absent.onnx")
    assert window.banner.isVisible()
    assert "not found" in window.banner.text
    scripted_paths.model = str(small_model_path)
    with wait_signal(qtbot, window.model_ready, "model_ready"):
        window.banner.action_button.click()
    assert not window.banner.isVisible()
    assert window.analysis_enabled
    # A model the user chose is opened again next time.
    assert app_settings.saved_model_path() == str(small_model_path)


def test_status_bar_names_model_and_provider(make_window):
    window = make_window()
    meta = window.model.metadata
    assert meta.model_name in window.model_label.text()
    assert meta.model_version in window.model_label.text()
    assert window.model.short_sha in window.model_label.text()
    assert window.provider_label.text() == f"Runs on {window.model.provider_label}"
    assert window.model.provider_label in ("CPU", "CUDA")


def test_a_model_without_its_sha256_file_opens_marked_unverified(make_window, small_model_path,
                                                                   tmp_path):
    bare = tmp_path / "bare.onnx"
    shutil.copy2(small_model_path, bare)  # the model alone: no .sha256 beside it
    window = make_window(bare)
    assert window.engine is not None
    assert not window.model.verified
    assert "UNVERIFIED MODEL" in window.model_label.text()
    assert window.banner.isVisible() and "Unverified model" in window.banner.text
    verified = make_window()  # the session's model has its sidecar
    assert verified.model.verified
    assert "UNVERIFIED" not in verified.model_label.text()
    assert not verified.banner.isVisible()


def test_about_shows_intended_use_and_model_card(make_window, small_model_path, tmp_path):
    model = tmp_path / "carded.onnx"
    shutil.copy2(small_model_path, model)
    model.with_suffix(".md").write_text("# Model card: carded\n\n**Bold** claim.\n",
                                        encoding="utf-8")
    window = make_window(model)
    about = window.show_about()
    assert "triage aid" in about.header.toPlainText()
    assert "not a diagnosis" in about.header.toPlainText()
    assert "Model card: carded" in about.card.toPlainText()
    assert about.card_path == model.with_suffix(".md")
    assert not about.isModal()


def test_model_menu_lists_user_models_and_switches(make_window, small_model_path,
                                                   isolated_user_home, image_folder, qtbot):
    user_models = isolated_user_home / "models"
    user_models.mkdir()
    other = user_models / "second-model.onnx"
    shutil.copy2(small_model_path, other)
    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    menus.rebuild_model_menu(window)
    names = [a.text() for a in window.model_menu.actions()]
    # Named by the model's name and version; a second file of the same model by its file too.
    assert sum(n.endswith("(second-model.onnx)") for n in names) == 1
    action = next(a for a in window.model_menu.actions()
                  if a.text().endswith("(second-model.onnx)"))
    with wait_signal(qtbot, window.model_ready, "model_ready"):
        action.trigger()
    assert window.session.model_path == other
    # The shown folder is analysed again with the new model.
    wait_for(qtbot, lambda: window.results_model.rowCount() == 12 and not window.busy,
             "window.results_model.rowCount() == 12 and not window.busy")
    assert app_settings.saved_model_path() == str(other)


def _variant_model(src: Path, dst: Path, threshold: float) -> Path:
    """A copy of ``src`` with another default threshold (so another file and SHA-256)."""
    import onnx

    from export.convert import write_model_files

    proto = onnx.load(str(src))
    for prop in proto.metadata_props:
        if prop.key == "dermscreen.threshold":
            prop.value = repr(threshold)
        if prop.key == "dermscreen.model_version":
            prop.value = "9.9.9"
    write_model_files(proto.SerializeToString(), dst)
    return dst


def test_each_model_keeps_its_own_operating_point(make_window, small_model_path,
                                                  isolated_user_home, qtbot):
    user_models = isolated_user_home / "models"
    user_models.mkdir()
    window = make_window()
    first = window.model
    stats_threshold = first.metadata.benign_stats.threshold(0.2)
    other = _variant_model(small_model_path, user_models / "variant.onnx", stats_threshold)
    window.operating_point.set_alpha(2.5, emit=True)
    assert app_settings.saved_alpha(first.sha256) == 2.5
    with wait_signal(qtbot, window.model_ready, "model_ready"):
        window.load_model(other, remember=True)
    # The new model starts at ITS default point, not at the alpha chosen for the other one.
    assert window.model.sha256 != first.sha256
    assert window.model.metadata.threshold == pytest.approx(stats_threshold)
    assert window.threshold == opening_threshold(window.model.metadata)[0]
    assert window.operating_point.at_model_default
    with wait_signal(qtbot, window.model_ready, "model_ready"):
        window.load_model(small_model_path, remember=True)
    assert window.operating_point.alpha == 2.5


def test_window_geometry_persists(make_window):
    window = make_window()
    # Within the offscreen screen (restoreGeometry clamps to it) and above the minimum size.
    available = window.screen().availableGeometry()
    size = ((window.minimumSizeHint().width() + available.width()) // 2, 703)
    window.resize(*size)
    window.close()
    again = make_window()
    assert (again.width(), again.height()) == size


def test_uncaught_exception_is_logged_and_shown(make_window):
    from desktop_app.gui.shell.app import window_notifier
    from desktop_app.gui.shell.logging_setup import ExceptHook, log_file_path, setup_logging

    setup_logging()
    window = make_window()
    hook = ExceptHook(window_notifier(window))
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError as exc:
        hook(type(exc), exc, exc.__traceback__)
    assert window.message_bar.isVisible()
    assert "boom in a slot" in window.message_bar.text
    log_text = log_file_path().read_text(encoding="utf-8")
    assert "RuntimeError: boom in a slot" in log_text
    assert "Traceback" in log_text


def test_full_resolution_original_maps_onto_the_model_views(make_window, fullres_files, qtbot):
    window = make_window()
    original = max(fullres_files, key=lambda p: p.stat().st_size)
    window.open_paths([str(original)])
    wait_batch(qtbot, window)
    wait_for(qtbot, lambda: window.shown_case is not None,
             "window.shown_case is not None")
    viewer = window.case_viewer
    height, width = viewer.original_item.image.shape[:2]
    with Image.open(original) as img:
        full_w, full_h = img.size
    assert max(height, width) == min(1024, max(full_w, full_h))  # downscaled for display
    assert abs(width / height - full_w / full_h) < 0.01  # aspect kept
    # The square model images are stretched over the same non-square rectangle.
    for item in (viewer.reconstruction_item, viewer.heatmap_item, viewer.overlay_item):
        rect = item.mapRectToParent(item.boundingRect())
        assert (round(rect.width()), round(rect.height())) == (width, height)


def test_folder_without_images_says_so(make_window, tmp_path, qtbot):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here", encoding="utf-8")
    window = make_window()
    window.open_paths([str(empty)])
    wait_batch(qtbot, window)
    assert window.results_model.rowCount() == 0
    assert window.message_bar.isVisible()
    assert "No image files found" in window.message_bar.text
    assert window.analysis_enabled
