"""DICOM in the real window: a PACS export opened like a folder of JPEGs, the case fields
shown (identity only when View > Show Patient Identity is on), Export All writing the DICOM
results, and File > Send to PACS sending them to a real Orthanc on a worker thread."""

from __future__ import annotations

import logging
from pathlib import Path

import pydicom
import pytest

from desktop_app.reports.csv_report import read_results_csv
from desktop_app.reports.dicom.send import SendReport
from desktop_app.reports.dicom.write import dicom_files
from tests.desktop_app.gui.conftest import wait_batch, wait_for, wait_signal
from tests.desktop_app.gui.test_report_exports import ReportPaths
from tests.support import dicom_inputs as di
from tests.support.orthanc import OrthancServer


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
    return folder


def test_dicom_folder_fields_export_and_send_to_pacs(
        make_window, export_folder: Path, scripted_paths: ReportPaths, tmp_path: Path,
        orthanc: OrthancServer, qtbot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    window = make_window()
    window.open_paths([str(export_folder)])
    wait_batch(qtbot, window)
    results = {r.path.name: r for r in window.results_model.results()}
    assert set(results) == {"IM0001", "IM0002", "IM0003"}
    assert not results["IM0003"].ok and results["IM0003"].error_code == "truncated"
    row = next(i for i, r in enumerate(window.visible_results()) if r.path.name == "IM0001")
    window.select_row(row)
    label = window.case_fields
    assert label.isVisible()
    assert "Dermoscopic Photography Image" in label.text() and "site: Abdomen" in label.text()
    assert "Doe" not in label.text() and "MRN-0042" not in label.text()
    window.show_patient_action.trigger()
    assert "Patient: MRN-0042 · Doe Jane · born 1970-01-01" in label.text()

    folder = tmp_path / "reports"
    scripted_paths.save = {"": str(folder)}
    with wait_signal(qtbot, window.export_finished, "Export All Reports"):
        window.export_all_action.trigger()
    files = dicom_files(folder)
    srs = [p for p in files if p.name.endswith("-sr.dcm")]
    assert len(srs) == 2
    for path in srs:
        assert pydicom.dcmread(path).StudyInstanceUID == di.STUDY_UID
    rows = {r["file_name"]: r for r in read_results_csv(folder / "results.csv")}
    assert rows["IM0001"]["patient_name"] == "Doe^Jane"  # shown, since the user enabled it

    dialog = window.send_to_pacs()
    assert dialog.folder_edit.text() == str(folder)  # the last export is offered
    dialog.destination_edit.setText(orthanc.address)
    assert dialog.send()
    wait_for(qtbot, lambda: isinstance(dialog.report, SendReport), "the send to finish")
    assert dialog.report.ok
    assert f"Done: {len(files)} sent, 0 already there, 0 failed" in dialog.log.toPlainText()
    stored = {i["MainDicomTags"]["SOPInstanceUID"] for i in orthanc.instances()}
    assert stored == {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in files}
    # The patient's identity never reaches the log.
    assert "Doe" not in caplog.text and "MRN-0042" not in caplog.text
