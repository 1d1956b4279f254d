"""DICOM results: real engine on DICOM and JPEG inputs built from shared images, every object
written checked by dciodvfy, the SR's content and references read back with pydicom."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
from desktop_app.core.inference.engine import Engine
from desktop_app.core.model.model_file import LoadedModel, load_model
from desktop_app.core.model.operating_points import chosen_threshold
from desktop_app.reports.batch import reviews_of, verified_explainer
from desktop_app.reports.context import ReportContext
from desktop_app.reports.csv_report import read_results_csv
from desktop_app.reports.dicom.write import (
    ENCAPSULATED_PDF,
    UID_ROOT,
    dicom_files,
    write_reports_with_dicom,
)
from tests.support import dicom_inputs as di
from tests.support.dciodvfy import iod_errors

SC = "1.2.840.10008.5.1.4.1.1.7"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    return load_model(bundled_models_dir() / DEFAULT_MODEL_NAME, prefer_gpu=False)


def _items(sr: pydicom.Dataset) -> dict[str, pydicom.Dataset]:
    return {item.ConceptNameCodeSequence[0].CodeMeaning: item for item in sr.ContentSequence}


def test_a_dicom_and_a_jpeg_batch_leaves_valid_results_in_the_right_study(
        model: LoadedModel, isic9_test_files: list[Path], tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    melanoma = [p for p in isic9_test_files if p.parent.name == "melanoma"][:2]
    di.dermoscopy_jpeg(melanoma[0], inputs / "a.dcm")
    di.multiframe(melanoma[:2], inputs / "mf")
    shutil.copy(isic9_test_files[-1], inputs / "plain.jpg")
    di.no_pixel_data(melanoma[0], inputs / "empty.dcm")
    engine = Engine(model, workers=1)
    # A threshold between the scores: some cases flagged (PDF + heatmap), some not (SR only).
    results = engine.analyze_all([inputs])
    scores = sorted(r.score for r in results if r.ok)
    threshold = (scores[0] + scores[1]) / 2
    _, name = chosen_threshold(model.metadata, threshold=threshold)
    results = engine.analyze_all([inputs], threshold=threshold)
    by_name = {r.path.name: r for r in results}
    assert set(by_name) == {"a.dcm", "empty.dcm", "mf#frame1", "mf#frame2", "plain.jpg"}
    assert not by_name["empty.dcm"].ok and "no pixel data" in by_name["empty.dcm"].error
    assert by_name["empty.dcm"].dicom is not None  # an error row keeps its case fields
    assert by_name["a.dcm"].dicom.patient_id == "MRN-0042"
    assert by_name["mf#frame2"].dicom.frame == 2 and by_name["plain.jpg"].dicom is None

    sha = by_name["a.dcm"].image_sha256
    context = ReportContext(case_id="", clinician="Dr Ada Lovelace", show_patient=False,
                            reviews=reviews_of({sha: (True, "seen, biopsy booked")}),
                            site_profile="Clinic A (n 120, 2026-12-03)")
    out = tmp_path / "out"
    reports, dicom = write_reports_with_dicom(
        out, results, model, threshold, point_name=name, explain=verified_explainer(engine),
        inputs=[inputs], context=context)
    assert not dicom.problems and not reports.problems
    files = dicom_files(out)
    assert files == sorted(dicom.files)
    cases = set(reports.case_pdfs)
    ok = [r for r in results if r.ok]
    assert 0 < len(cases) < len(ok)
    assert len(files) == len(ok) + 2 * len(cases)

    datasets = {}
    for path in files:
        iod, errors = iod_errors(path)
        assert errors == [], f"{path.name} ({iod}): {errors}"
        datasets[path.name] = pydicom.dcmread(path)
    uids = [ds.SOPInstanceUID for ds in datasets.values()]
    assert len(set(uids)) == len(uids) and all(u.startswith(UID_ROOT) and len(u) <= 64
                                               for u in uids)

    for result in ok:
        sr = datasets[f"case-{result.index:05d}-sr.dcm"]
        assert sr.SOPClassUID == COMPREHENSIVE_SR and sr.Modality == "SR"
        items = _items(sr)
        assert float(items["Anomaly score"].MeasuredValueSequence[0].NumericValue) == \
            pytest.approx(result.score, rel=1e-6)
        assert float(items["Decision threshold"].MeasuredValueSequence[0].NumericValue) == \
            pytest.approx(threshold, rel=1e-6)
        assert items["Threshold name"].TextValue == name
        assert items["Model SHA-256"].TextValue == model.sha256
        assert items["Model version"].TextValue == model.metadata.model_version
        assert items["Reviewing clinician"].TextValue == "Dr Ada Lovelace"
        assert items["Calibration"].TextValue == "site profile Clinic A (n 120, 2026-12-03)"
        decision = items["Triage decision"].ConceptCodeSequence[0].CodeMeaning.lower()
        assert ("not flagged" in decision) == (result.index not in cases)
        if result.dicom is not None:  # same study and patient, source referenced
            assert sr.StudyInstanceUID == di.STUDY_UID and sr.PatientID == "MRN-0042"
            assert str(sr.PatientName) == "Doe^Jane"
            ref = items["Source"].ReferencedSOPSequence[0]
            assert ref.ReferencedSOPInstanceUID == result.dicom.sop_instance_uid
            if result.dicom.frame is not None:
                assert int(ref.ReferencedFrameNumber) == result.dicom.frame
        else:  # a JPEG: a new study, the (empty) case ID as Patient ID
            assert sr.StudyInstanceUID.startswith(UID_ROOT) and sr.PatientID == ""
            assert "Source" not in items
            if result.index not in cases:  # nothing to reference: no evidence listed at all
                assert "CurrentRequestedProcedureEvidenceSequence" not in sr
                assert "PertinentOtherEvidenceSequence" not in sr
        if result.index in cases:
            sc = datasets[f"case-{result.index:05d}-heatmap.dcm"]
            pdf = datasets[f"case-{result.index:05d}-pdf.dcm"]
            assert sc.SOPClassUID == SC and pdf.SOPClassUID == ENCAPSULATED_PDF
            assert items["Heatmap overlay"].ReferencedSOPSequence[0].ReferencedSOPInstanceUID \
                == sc.SOPInstanceUID
            assert bytes(pdf.EncapsulatedDocument)[: int(pdf.EncapsulatedDocumentLength)] == \
                reports.case_pdfs[result.index].read_bytes()
            assert sc.StudyInstanceUID == pdf.StudyInstanceUID == sr.StudyInstanceUID
            assert (sc.Rows, sc.Columns) == (180, 180)
        else:
            assert "Heatmap overlay" not in items
    reviewed = datasets[f"case-{by_name['a.dcm'].index:05d}-sr.dcm"]
    assert _items(reviewed)["Review note"].TextValue == "seen, biopsy booked"
    # New series per kind in the source study, never the source's series.
    series = {(ds.StudyInstanceUID, ds.Modality): ds.SeriesInstanceUID for ds in datasets.values()}
    assert len(set(series.values())) == len(series)

    # Identity stays out of the CSV unless asked for; the non-identifying case fields are in.
    row = next(r for r in read_results_csv(out / "results.csv") if r["file_name"] == "a.dcm")
    assert row["patient_id"] == row["patient_name"] == "" and row["body_site"] == "Abdomen"
    assert row["dicom_study_uid"] == di.STUDY_UID and row["lesion_id"] == "3"


def test_show_patient_puts_identity_in_the_csv_and_case_id(
        model: LoadedModel, isic9_test_files: list[Path], tmp_path: Path) -> None:
    from desktop_app.reports.batch import write_batch_reports

    path = di.dermoscopy_native(isic9_test_files[0], tmp_path / "a.dcm")
    results = Engine(model, workers=1).analyze_all([path])
    out = write_batch_reports(tmp_path / "out", results, model, model.metadata.threshold,
                              context=ReportContext(show_patient=True)).csv
    row = read_results_csv(out)[0]
    assert (row["patient_id"], row["patient_name"], row["patient_birth_date"], row["case_id"]) \
        == ("MRN-0042", "Doe^Jane", "19700101", "MRN-0042")
