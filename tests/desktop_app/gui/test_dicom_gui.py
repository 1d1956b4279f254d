"""DICOM in the real window: a PACS export opened like a folder of JPEGs, the case fields
shown (identity only when View > Show Patient Identity is on), Export All writing the DICOM
results, and File > Send to PACS sending them to a real Orthanc on a worker thread."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest

from desktop_app.core.imaging.dicom_case import EnteredPatient
from desktop_app.gui.windows.report_details import ReportDetails, ReportDetailsDialog
from desktop_app.reports.csv_report import read_results_csv
from desktop_app.reports.dicom.send import SendReport
from desktop_app.reports.dicom.write import dicom_files
from tests.desktop_app.gui.conftest import wait_batch, wait_for, wait_signal
from tests.desktop_app.gui.test_report_exports import ReportPaths
from tests.support import dicom_inputs as di
from tests.support.orthanc import OrthancServer
from tests.support.scp import running_scp


@pytest.fixture
def scripted_paths() -> ReportPaths:
    return ReportPaths()


@pytest.fixture
def export_folder(tmp_path: Path, isic9_test_files: list[Path]) -> Path:
    folder = tmp_path / "pacs export"
    folder.mkdir()
    di.dermoscopy_jpeg(isic9_test_files[0], folder / "IM0001")
    di.vl_photographic(isic9_test_files[40], folder / "IM0002")
    di.truncated(isic9_test_files[0], folder / "IM0003")
    shutil.copy(isic9_test_files[41], folder / "photo.jpg")
    return folder


def test_dicom_folder_fields_export_and_send_to_pacs(
        make_window, export_folder: Path, scripted_paths: ReportPaths, tmp_path: Path,
        orthanc: OrthancServer, qtbot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    window = make_window()
    window.open_paths([str(export_folder)])
    wait_batch(qtbot, window)
    results = {r.path.name: r for r in window.results_model.results()}
    assert set(results) == {"IM0001", "IM0002", "IM0003", "photo.jpg"}
    assert not results["IM0003"].ok and results["IM0003"].error_code == "truncated"
    row = next(i for i, r in enumerate(window.visible_results()) if r.path.name == "IM0001")
    window.select_row(row)
    label = window.case_fields
    assert label.isVisible()
    assert "Dermoscopic Photography Image" in label.text() and "site: Abdomen" in label.text()
    assert "Doe" not in label.text() and "MRN-0042" not in label.text()
    window.show_patient_action.trigger()
    assert "Patient: MRN-0042 · Doe Jane · born 1970-01-01" in label.text()

    # First without a patient for the JPEG: it gets no DICOM objects, and the window says so.
    folder = tmp_path / "reports"
    scripted_paths.save = {"": str(folder)}
    said: list[tuple[str, str]] = []
    window.exporter.message.connect(lambda text, level: said.append((text, level)))
    with wait_signal(qtbot, window.export_finished, "Export All Reports"):
        window.export_all_action.trigger()
    assert scripted_paths.offered[-1].without_patient == 1
    srs = [p for p in dicom_files(folder) if p.name.endswith("-sr.dcm")]
    assert len(srs) == 2
    for path in srs:
        assert pydicom.dcmread(path).StudyInstanceUID == di.STUDY_UID
    assert any("1 analysed image(s) (photo.jpg): no patient identity" in text
               and level == "warning" for text, level in said)
    # Then with the patient given in the Report details dialog: the JPEG's results go in.
    folder = tmp_path / "reports2"
    scripted_paths.save = {"": str(folder)}
    scripted_paths.answer = lambda d: replace(d, patient=EnteredPatient("P-77", "Roe^Rita"))
    with wait_signal(qtbot, window.export_finished, "Export All Reports"):
        window.export_all_action.trigger()
    files = dicom_files(folder)
    srs = [pydicom.dcmread(p) for p in files if p.name.endswith("-sr.dcm")]
    assert sorted(ds.PatientID for ds in srs) == ["MRN-0042", "MRN-0042", "P-77"]
    rows = {r["file_name"]: r for r in read_results_csv(folder / "results.csv")}
    assert rows["IM0001"]["patient_name"] == "Doe^Jane"  # shown, since the user enabled it

    dialog = window.send_to_pacs()
    assert dialog.folder_edit.text() == str(folder)  # the last export is offered
    dialog.destination_edit.setText(orthanc.address)
    # A bad calling AE, and a folder DermScreen did not write, are refused with words.
    dialog.calling_edit.setText("A" * 17)
    assert not dialog.send()
    assert "Our AE title 'AAAAAAAAAAAAAAAAA' is 17 characters long" in dialog.log.toPlainText()
    dialog.calling_edit.setText("DERMSCREEN")
    dialog.folder_edit.setText(str(export_folder))
    assert not dialog.send()
    assert "is not an output folder DermScreen wrote" in dialog.log.toPlainText()
    assert not (export_folder / "sent.json").exists()
    dialog.folder_edit.setText(str(folder))
    # A PACS that does not know our AE title: its reason in words in the dialog, at once.
    with running_scp(require_calling_aet=["SOMEONEELSE"]) as refusing:
        dialog.destination_edit.setText(refusing)
        assert dialog.send()
        wait_for(qtbot, lambda: isinstance(dialog.report, SendReport), "the refusal")
    assert not dialog.report.ok
    assert "Calling AE title not recognised" in dialog.log.toPlainText()
    assert "Traceback" not in dialog.log.toPlainText()
    dialog.report = None
    dialog.destination_edit.setText(orthanc.address)
    assert dialog.send()
    wait_for(qtbot, lambda: isinstance(dialog.report, SendReport), "the send to finish")
    assert dialog.report.ok
    assert f"Done: {len(files)} sent, 0 already there, 0 failed" in dialog.log.toPlainText()
    stored = {i["MainDicomTags"]["SOPInstanceUID"] for i in orthanc.instances()}
    assert stored == {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in files}
    # The patient's identity never reaches the log.
    assert "Doe" not in caplog.text and "MRN-0042" not in caplog.text


def test_report_details_dialog_takes_a_patient_and_refuses_a_bad_one(qtbot) -> None:
    dialog = ReportDetailsDialog(ReportDetails(without_patient=2))
    qtbot.addWidget(dialog)
    fields = dialog.patient_fields
    assert fields.patient() is None  # nothing typed: no patient, those images get no DICOM
    fields.patient_name.setText("Roe^Rita")
    fields.birth_date.setText("19801399")
    dialog.accept()  # refused: no ID, a date that is not one; the dialog stays open
    assert dialog.result() != ReportDetailsDialog.DialogCode.Accepted
    assert "the patient ID is empty" in dialog.problem.text()
    assert "the birth date is not a date" in dialog.problem.text()
    fields.patient_id.setText("P-77")
    fields.birth_date.setText("19800202")
    dialog.from_subfolder.setChecked(True)  # several cases: one patient cannot fit them all
    dialog.accept()
    assert dialog.result() != ReportDetailsDialog.DialogCode.Accepted
    assert "several cases" in dialog.problem.text()
    dialog.from_subfolder.setChecked(False)
    dialog.accept()
    assert dialog.result() == ReportDetailsDialog.DialogCode.Accepted
    assert dialog.details().patient == EnteredPatient("P-77", "Roe^Rita", "19800202")
