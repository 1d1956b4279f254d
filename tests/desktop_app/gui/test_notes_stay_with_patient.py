"""Issue 30.1 (safety) through the real window: a note written on one image never shows,
nor is exported, under a byte-identical copy opened from another patient's folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.gui.panels.results_model import COL_REVIEW
from desktop_app.reports.csv_report import read_results_csv
from tests.desktop_app.gui.conftest import wait_batch, wait_for, wait_signal
from tests.desktop_app.gui.test_report_exports import ReportPaths
from tests.desktop_app.reports.pdf_tools import pdf_text

NOTE = "refer: atypical network, Smith patient one"


@pytest.fixture
def scripted_paths() -> ReportPaths:
    return ReportPaths()


def _open_and_show(window, qtbot, folder: Path) -> None:
    window.open_paths([str(folder)])
    wait_batch(qtbot, window)
    window.select_row(0)
    wait_for(qtbot, lambda: window.shown_case is not None
             and window.shown_case[0].path.parent == folder, f"a case of {folder.name}")


def test_a_note_never_moves_to_a_copy_in_another_patients_folder(
        make_window, isic9_test_files, scripted_paths, tmp_path, qtbot):
    clinic = tmp_path / "clinic"
    one, two = clinic / "patient-1", clinic / "patient-2"
    for folder in (one, two):
        folder.mkdir(parents=True)
        shutil.copyfile(isic9_test_files[0], folder / "lesion.jpg")  # byte-identical
    window = make_window()
    _open_and_show(window, qtbot, one)
    window.review_panel.note_edit.setText(NOTE)
    window.review_panel.note_edit.editingFinished.emit()
    window.toggle_reviewed_action.trigger()
    assert NOTE in window.results_model.index(0, COL_REVIEW).data()

    # The copy in the other patient's folder: no note in the panel or the table ...
    _open_and_show(window, qtbot, two)
    QApplication.processEvents()
    assert window.review_panel.note_edit.text() == ""
    assert "note on a copy in another folder" in window.review_panel.elsewhere_label.text() \
        or "another folder" in window.review_panel.elsewhere_label.text()
    assert window.review_panel.elsewhere_label.isVisibleTo(window.review_panel)
    assert NOTE not in (window.results_model.index(0, COL_REVIEW).data() or "")
    # ... nor in its CSV or its case PDF.
    out = tmp_path / "out"
    out.mkdir()
    scripted_paths.answer = lambda d: d
    scripted_paths.save = {".csv": str(out / "two.csv"), ".pdf": str(out / "two-case.pdf")}
    with wait_signal(qtbot, window.export_finished, "the CSV of patient 2"):
        window.export_csv_action.trigger()
    with wait_signal(qtbot, window.export_finished, "the case PDF of patient 2"):
        window.export_case_pdf_action.trigger()
    (row,) = read_results_csv(out / "two.csv")
    assert row["review_note"] == "" and row["reviewed"] == "no"
    assert NOTE not in (out / "two.csv").read_text(encoding="utf-8-sig")
    text = " ".join(pdf_text(out / "two-case.pdf").split())
    assert "lesion.jpg" in text and "atypical network" not in text

    # The copy can carry its own note; patient 1's stays where it was written.
    window.review_panel.note_edit.setText("patient two: stable")
    window.review_panel.note_edit.editingFinished.emit()
    _open_and_show(window, qtbot, one)
    assert window.review_panel.note_edit.text() == NOTE

    # Both patients in one batch (one clinic folder with a subfolder each): each row gets
    # only its own note, in the CSV and in the summary PDF.
    window.include_subfolders_action.setChecked(True)
    window.open_paths([str(clinic)])
    wait_batch(qtbot, window)
    scripted_paths.save = {".csv": str(out / "both.csv"), ".pdf": str(out / "both.pdf")}
    with wait_signal(qtbot, window.export_finished, "the CSV of both"):
        window.export_csv_action.trigger()
    with wait_signal(qtbot, window.export_finished, "the PDF summary of both"):
        window.export_pdf_action.trigger()
    notes = {r["path"]: (r["review_note"], r["reviewed"])
             for r in read_results_csv(out / "both.csv")}
    assert notes == {"patient-1/lesion.jpg": (NOTE, "yes"),
                     "patient-2/lesion.jpg": ("patient two: stable", "no")}
    summary = " ".join(pdf_text(out / "both.pdf").split())
    assert summary.count("atypical network") == 1 and summary.count("stable") == 1
