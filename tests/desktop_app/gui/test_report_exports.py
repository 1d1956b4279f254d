"""Clinical reports from the real window (issue 14.1, 14.2, 14.4, 14.5): report details per
batch, reviews and the borderline decision in the CSV and PDFs, Export All Reports through
the CLI's own writer, relative paths, default names never taken, unsupported images as rows.

Every wait is named and fails within 60 s.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox

from desktop_app.gui.panels.results_model import COL_STATUS
from desktop_app.gui.windows.exports import CSV, new_default_path, suggested_name
from desktop_app.gui.windows.report_details import ReportDetails, ReportDetailsDialog
from desktop_app.reports.csv_report import read_results_csv
from desktop_app.version import app_version
from tests.desktop_app.gui.conftest import ScriptedPaths, wait_batch, wait_signal
from tests.desktop_app.reports.pdf_tools import pdf_cells_text, pdf_text

LABELS = {"anomalous": "flagged", "borderline": "borderline", "normal": "not flagged", "": "error"}


class ReportPaths(ScriptedPaths):
    """Also answers the report-details question (as the user would in the dialog)."""

    def __init__(self) -> None:
        super().__init__()
        self.offered: list[ReportDetails] = []  # what the dialog was filled with
        self.answer: Callable[[ReportDetails], ReportDetails | None] = lambda d: d

    def report_details(self, parent: object, details: ReportDetails) -> ReportDetails | None:
        self.offered.append(details)
        return self.answer(details)


@pytest.fixture
def scripted_paths() -> ReportPaths:
    return ReportPaths()


@pytest.fixture
def clinic_folder(tmp_path: Path, isic9_test_files: list[Path]) -> Path:
    """Two patients' subfolders with 8 real images, a GIF and a text file."""
    root = tmp_path / "Clinic Müller"
    for n, src in enumerate(isic9_test_files[::12][:8]):
        sub = root / ("patient-A" if n < 4 else "patient-B")
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, sub / src.name)
    Image.new("RGB", (8, 8)).save(root / "patient-B" / "clip.gif")
    (root / "notes.txt").write_text("not an image", encoding="utf-8")
    return root


def test_csv_export_carries_case_id_clinician_reviews_and_relative_paths(
        make_window, clinic_folder, scripted_paths, tmp_path, qtbot):
    window = make_window()
    window.open_paths([str(clinic_folder)])
    wait_batch(qtbot, window)
    results = window.results_model.results()
    assert len(results) == 9  # 8 images and the GIF; the text file is not an image
    # 14.2: the GIF inside the folder is a row that says why, in the table too.
    gif_row = next(row for row in range(window.proxy.rowCount())
                   if window.visible_results()[row].path.name == "clip.gif")
    status = window.proxy.index(gif_row, COL_STATUS).data()
    assert "unsupported image format GIF" in status
    # 14.4: a review mark and a note that a spreadsheet would run as a formula.
    window.select_row(0)
    reviewed = window.results_panel.current_result()
    window.toggle_reviewed_action.trigger()
    window.review_panel.note_edit.setText("=HYPERLINK(\"http://x\") refer")
    window.review_panel.note_edit.editingFinished.emit()

    out = tmp_path / "out"
    out.mkdir()
    scripted_paths.answer = lambda d: replace(d, case_id="CASE-9", clinician="Dr. Who")
    scripted_paths.save = {".csv": str(out / "a.csv")}
    with wait_signal(qtbot, window.export_finished, "the CSV export"):
        window.export_csv_action.trigger()
    assert scripted_paths.offered[-1] == ReportDetails()  # nothing typed yet for this batch
    assert re.fullmatch(r"save:results-\d{8}-\d{6}\.csv", scripted_paths.asked[-1])
    rows = read_results_csv(out / "a.csv")
    assert "'=HYPERLINK" in (out / "a.csv").read_text(encoding="utf-8-sig")  # never a formula
    assert len(rows) == 9
    words = window.results_model.words
    by_index = {r.index: r for r in results}
    for row in rows:
        result = by_index[int(row["index"])]
        rel = result.path.relative_to(clinic_folder).as_posix()
        assert row["path"] == rel and "Clinic" not in row["path"]
        assert row["case_id"] == "CASE-9" and row["clinician"] == "Dr. Who"
        assert row["app_version"] == app_version()
        assert row["triage"] == LABELS[words.of(result)]  # the table's own decision
        if result.image_sha256 == reviewed.image_sha256:
            assert row["reviewed"] == "yes"
            # Read back as typed; in the file it is guarded: never a formula in a spreadsheet.
            assert row["review_note"] == "=HYPERLINK(\"http://x\") refer"
        else:
            assert row["reviewed"] == "no" and row["review_note"] == ""

    # The next export of the same batch offers what was typed; the dialog's answer wins.
    scripted_paths.answer = lambda d: d
    scripted_paths.save = {".csv": str(out / "b.csv")}
    with wait_signal(qtbot, window.export_finished, "the second CSV export"):
        window.export_csv_action.trigger()
    assert scripted_paths.offered[-1].case_id == "CASE-9"
    # Cancelling the details exports nothing and asks for no file.
    asked = len(scripted_paths.asked)
    scripted_paths.answer = lambda d: None
    assert not window.exporter.export_csv()
    assert len(scripted_paths.asked) == asked

    # A new batch starts without a case ID; the clinician is remembered.
    window.open_paths([str(clinic_folder / "patient-A")])
    wait_batch(qtbot, window)
    scripted_paths.answer = lambda d: d
    scripted_paths.save = {".csv": str(out / "c.csv")}
    with wait_signal(qtbot, window.export_finished, "the new batch's CSV export"):
        window.export_csv_action.trigger()
    assert scripted_paths.offered[-1] == ReportDetails(clinician="Dr. Who")
    assert {r["case_id"] for r in read_results_csv(out / "c.csv")} == {""}


def test_export_all_reports_writes_csv_case_pdfs_and_a_linked_summary(
        make_window, clinic_folder, scripted_paths, tmp_path, qtbot):
    window = make_window()
    window.open_paths([str(clinic_folder)])
    wait_batch(qtbot, window)
    window.select_row(0)
    noted = window.results_panel.current_result()
    window.review_panel.note_edit.setText("seen with dermatoscope")
    window.review_panel.note_edit.editingFinished.emit()
    scripted_paths.answer = lambda d: replace(d, case_id_from_subfolder=True, clinician="Dr. Ada")
    folder = tmp_path / "reports"
    scripted_paths.save = {"": str(folder)}
    with wait_signal(qtbot, window.export_finished, "Export All Reports") as done:
        window.export_all_action.trigger()
    assert done.args == [str(folder)]
    assert re.fullmatch(r"save:dermscreen-reports-\d{8}-\d{6}", scripted_paths.asked[-1])
    words = window.results_model.words
    needs_case = [r for r in window.results_model.results() if r.ok and words.is_flagged(r)]
    cases = sorted(p.name for p in folder.glob("case-*.pdf"))
    assert len(cases) == len(needs_case) > 0  # flagged and borderline cases
    assert sorted(r.index for r in needs_case) == [int(c.split("-")[1]) for c in cases]
    rows = read_results_csv(folder / "results.csv")
    assert {r["case_id"] for r in rows} == {"patient-A", "patient-B"}
    summary = pdf_cells_text(folder / "summary.pdf")
    for name in cases:
        assert name in summary  # the case-report column, filled from the GUI too
    for row in rows:
        assert row["path"] in summary  # every case, flagged or not
    assert "seen with dermatoscope" in summary and "Dr. Ada" in summary
    assert "Page 1 of" in pdf_text(folder / "summary.pdf")
    assert noted.path.name in summary
    one = pdf_text(folder / cases[0])
    assert "Reviewing clinician Dr. Ada" in one and "Page 1 of" in one


def test_borderline_decision_reaches_csv_and_pdf(make_window, image_folder, small_model_path,
                                                 isolated_user_home, scripted_paths, tmp_path,
                                                 qtbot):
    from tests.desktop_app.gui.test_workflow import _with_points

    window = make_window()
    window.open_paths([str(image_folder)])
    wait_batch(qtbot, window)
    scores = sorted(r.score for r in window.results_model.results())
    t90, t95 = (scores[7] + scores[8]) / 2, (scores[3] + scores[4]) / 2
    points = [
        {"label": "validation sensitivity 90%", "alpha": None, "threshold": t90,
         "val_sensitivity": 0.91, "test_sensitivity": 0.86, "test_specificity": 0.37},
        {"label": "validation sensitivity 95%", "alpha": None, "threshold": t95,
         "val_sensitivity": 0.96, "test_sensitivity": 0.93, "test_specificity": 0.2},
    ]
    banded = _with_points(small_model_path, isolated_user_home / "banded.onnx", points)
    with wait_signal(qtbot, window.model_ready, "the model with a borderline band"):
        window.load_model(banded)
    wait_batch(qtbot, window)
    qtbot.waitUntil(lambda: window.results_model.rowCount() == 12, timeout=60_000)
    words = window.results_model.words
    decisions = [words.of(r) for r in window.results_model.results()]
    assert decisions.count("borderline") == 4
    out = tmp_path / "out"
    out.mkdir()
    scripted_paths.save = {".csv": str(out / "r.csv"), ".pdf": str(out / "s.pdf")}
    with wait_signal(qtbot, window.export_finished, "the CSV export"):
        window.export_csv_action.trigger()
    rows = read_results_csv(out / "r.csv")
    assert [r["triage"] for r in rows].count("borderline") == 4
    with wait_signal(qtbot, window.export_finished, "the PDF summary export"):
        window.export_pdf_action.trigger()
    text = pdf_text(out / "s.pdf")
    assert "Borderline (4)" in text and "Flagged (4)" in text
    # The threshold's expected figures, in the operating-point panel's words.
    assert " ".join(window.operating_point.expected_label.text().split()) in text


def test_report_details_dialog_cleans_what_is_typed(qtbot):
    dialog = ReportDetailsDialog(ReportDetails(clinician="Dr. A"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.case_id_edit, "  P-001 \t ward  ")
    dialog.clinician_edit.clear()
    qtbot.keyClicks(dialog.clinician_edit, "Dr. Ada Lovelace")
    dialog.full_paths.setChecked(True)
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.details() == ReportDetails("P-001 ward", False, "Dr. Ada Lovelace", True)


def test_case_export_asks_for_the_referral_and_prints_it(
        make_window, clinic_folder, scripted_paths, tmp_path, qtbot):
    """Issue 30.2: a case PDF exported from the window carries the history, body site and
    lesion typed at export, the clinician as reviewer of a case marked reviewed, and the
    score by the name the CSV gives it."""
    window = make_window()
    window.open_paths([str(clinic_folder)])
    wait_batch(qtbot, window)
    window.select_row(0)
    result = window.results_panel.current_result()
    window.toggle_reviewed_action.trigger()  # marked reviewed, before a name was given
    scripted_paths.answer = lambda d: replace(
        d, case_id="P-77", clinician="Dr. Ada Lovelace", history="new lesion, itching",
        body_site="left forearm", lesion_id="2")
    out = tmp_path / "case.pdf"
    scripted_paths.save = {".pdf": str(out)}
    with wait_signal(qtbot, window.export_finished, "the case PDF export"):
        window.export_case_pdf_action.trigger()
    assert scripted_paths.offered[-1].single_case  # body site and lesion asked for one case
    text = pdf_text(out)
    for words in ("Case ID P-77", "Body site left forearm", "Lesion 2",
                  "Clinical history new lesion, itching",
                  f"Image file {result.path.relative_to(clinic_folder).as_posix()}",
                  "Reviewed by: Dr. Ada Lovelace", "CAE anomaly score (decides)",
                  "Reconstruction"):
        assert words in text, words
    # The window's small model is a CAE alone: no classifier part is printed or invented.
    assert "classifier_probability" not in text and "Classifier evidence" not in text
    assert "Reviewed in the app yes by Dr. Ada Lovelace" in text
    # A batch export asks for no body site or lesion: they belong to one case.
    scripted_paths.answer = lambda d: d
    scripted_paths.save = {".pdf": str(tmp_path / "summary.pdf")}
    with wait_signal(qtbot, window.export_finished, "the summary export"):
        window.export_pdf_action.trigger()
    assert not scripted_paths.offered[-1].single_case
    assert scripted_paths.offered[-1].history == "new lesion, itching"  # this batch's
    assert "Clinical history new lesion, itching" in pdf_text(tmp_path / "summary.pdf")


def test_report_details_dialog_asks_body_site_and_lesion_for_one_case_only(qtbot):
    batch = ReportDetailsDialog(ReportDetails(clinician="Dr. A"))
    qtbot.addWidget(batch)
    batch.show()
    assert batch.history_edit.isVisible() and not batch.body_site_edit.isVisible()
    qtbot.keyClicks(batch.history_edit, "  bleeding \t since May ")
    assert batch.details().history == "bleeding since May" and batch.details().body_site == ""
    one = ReportDetailsDialog(ReportDetails(single_case=True))
    qtbot.addWidget(one)
    one.show()
    assert one.body_site_edit.isVisible() and one.lesion_edit.isVisible()
    qtbot.keyClicks(one.body_site_edit, "scalp")
    qtbot.keyClicks(one.lesion_edit, "4")
    assert (one.details().body_site, one.details().lesion_id) == ("scalp", "4")


def test_default_names_are_new(tmp_path):
    now = datetime(2026, 12, 1, 19, 12, 5)
    first = new_default_path(tmp_path, CSV, now)
    assert first.name == suggested_name(CSV, now) == "results-20261201-191205.csv"
    first.write_text("an earlier export", encoding="utf-8")
    second = new_default_path(tmp_path, CSV, now)
    assert second.name == "results-20261201-191205-2.csv" and not second.exists()
