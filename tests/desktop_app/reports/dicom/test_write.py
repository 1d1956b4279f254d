"""DICOM results: real engine on DICOM and JPEG inputs built from shared images, every object
written checked by dciodvfy, the SR (TID 1500) read back with pydicom and dcmtk's dsrdump."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pydicom
import pytest

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
from desktop_app.core.imaging.dicom_case import EnteredPatient
from desktop_app.core.imaging.heatmap import colorbar
from desktop_app.core.inference.engine import Engine
from desktop_app.core.model.model_file import LoadedModel, load_model
from desktop_app.core.model.operating_points import chosen_threshold
from desktop_app.reports.batch import reviews_of, verified_explainer
from desktop_app.reports.context import ReportContext
from desktop_app.reports.csv_report import read_results_csv
from desktop_app.reports.dicom.sr import ENHANCED_SR
from desktop_app.reports.dicom.subject import UID_ROOT
from desktop_app.reports.dicom.write import (
    ENCAPSULATED_PDF,
    MANIFEST_NAME,
    DicomWriter,
    dicom_files,
    write_reports_with_dicom,
)
from tests.desktop_app.reports.pdf_tools import pdf_text
from tests.support import dicom_inputs as di
from tests.support.dciodvfy import iod_errors

SC = "1.2.840.10008.5.1.4.1.1.7"


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    return load_model(bundled_models_dir() / DEFAULT_MODEL_NAME, prefer_gpu=False)


def _walk(items: pydicom.Sequence) -> Iterator[pydicom.Dataset]:
    for item in items:
        yield item
        yield from _walk(item.get("ContentSequence", []))


def _items(sr: pydicom.Dataset) -> dict[str, pydicom.Dataset]:
    """Every content item of the tree by its concept name's meaning (last one wins)."""
    return {i.ConceptNameCodeSequence[0].CodeMeaning: i for i in _walk(sr.ContentSequence)}


def _code(item: pydicom.Dataset, sequence: str = "ConceptNameCodeSequence") -> tuple[str, str]:
    code = item[sequence][0]
    return code.CodeValue, code.CodingSchemeDesignator


def _num(item: pydicom.Dataset) -> float:
    return float(item.MeasuredValueSequence[0].NumericValue)


def dsrdump(path: Path) -> str:
    """dcmtk's dsrdump of an SR (installers/system-packages.sh installs dcmtk)."""
    binary = shutil.which("dsrdump")
    if binary is None:
        pytest.fail("dsrdump (dcmtk) is needed: installers/system-packages.sh installs it")
    run = subprocess.run([binary, "-Ee", str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_a_dicom_and_a_jpeg_batch_leaves_valid_results_in_the_right_study(
        model: LoadedModel, isic9_test_files: list[Path], tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    melanoma = [p for p in isic9_test_files if p.parent.name == "melanoma"][:3]
    di.dermoscopy_jpeg(melanoma[0], inputs / "a.dcm")
    di.multiframe(melanoma[:2], inputs / "mf")
    # Issue 31 item 0: a VL photograph without PatientBirthDate, PatientSex, AccessionNumber
    # (all Type 2, often absent) still gets its SR.
    bare = di.vl_photographic(melanoma[2], inputs / "nobirth.dcm")
    ds = pydicom.dcmread(bare)
    for keyword in ("PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
                    "ReferringPhysicianName"):
        delattr(ds, keyword)
    ds.save_as(bare)
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
    assert set(by_name) == {"a.dcm", "empty.dcm", "mf#frame1", "mf#frame2", "nobirth.dcm",
                            "plain.jpg"}
    assert not by_name["empty.dcm"].ok and by_name["empty.dcm"].dicom is not None
    assert by_name["nobirth.dcm"].ok and by_name["nobirth.dcm"].dicom.patient_birth_date == ""
    assert by_name["mf#frame2"].dicom.frame == 2 and by_name["plain.jpg"].dicom is None

    sha = by_name["a.dcm"].image_sha256
    entered = EnteredPatient("P-77", "Roe^Rita", "19800202", "F", "", "ACC9")
    context = ReportContext(case_id="", clinician="Dr Ada Lovelace", show_patient=False,
                            reviews=reviews_of({sha: (True, "seen, biopsy booked")}),
                            site_profile="Clinic A (n 120, 2026-12-03)", patient=entered)
    out = tmp_path / "out"
    old_umask = os.umask(0o022)
    try:
        reports, dicom = write_reports_with_dicom(
            out, results, model, threshold, point_name=name, explain=verified_explainer(engine),
            inputs=[inputs], context=context)
    finally:
        os.umask(old_umask)
    assert not dicom.problems and not reports.problems
    files = dicom_files(out)
    assert files == sorted(dicom.files)
    cases = set(reports.case_pdfs)
    ok = [r for r in results if r.ok]
    assert 0 < len(cases) < len(ok)
    assert len(files) == len(ok) + 2 * len(cases)
    # 0640 less the umask (issue 31 item 7): the group may read, the world may not.
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o640}
    manifest = json.loads((out / "dicom" / MANIFEST_NAME).read_text())
    assert sorted(o["file"] for o in manifest["objects"]) == sorted(p.name for p in files)

    datasets = {}
    for path in files:
        iod, errors = iod_errors(path)
        assert errors == [], f"{path.name} ({iod}): {errors}"
        datasets[path.name] = pydicom.dcmread(path)
    uids = [ds.SOPInstanceUID for ds in datasets.values()]
    assert len(set(uids)) == len(uids) and all(u.startswith(UID_ROOT) and len(u) <= 64
                                               for u in uids)
    model_label = f"{model.metadata.model_name} {model.metadata.model_version}"

    for result in ok:
        path = out / "dicom" / f"case-{result.index:05d}-sr.dcm"
        sr = datasets[path.name]
        assert sr.SOPClassUID == ENHANCED_SR and sr.Modality == "SR"
        assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
        assert _code(sr) == ("126000", "DCM")  # Imaging Measurement Report
        items = _items(sr)
        assert _code(items["Procedure reported"], "ConceptCodeSequence") == ("446078004", "SCT")
        assert items["Device Observer Name"].TextValue.startswith("DermScreen")
        assert items["Device Observer Model Name"].TextValue == model_label
        assert str(items["Person Observer Name"].PersonName) == "Dr Ada Lovelace^"
        assert _code(items["Finding"], "ConceptCodeSequence") == ("95324001", "SCT")
        assert items["Algorithm Name"].TextValue == model.metadata.model_name
        assert items["Algorithm Version"].TextValue == model.metadata.model_version
        parameters = [i.TextValue for i in _walk(sr.ContentSequence)
                      if i.ConceptNameCodeSequence[0].CodeMeaning == "Algorithm Parameters"]
        assert f"model SHA-256: {model.sha256}" in parameters
        assert "calibration: site profile Clinic A (n 120, 2026-12-03)" in parameters
        assert any(p.startswith("threshold: ") and name in p for p in parameters)
        # The scores named as the CSV names them (issue 31 item 3), standard codes where any.
        assert _code(items["Deciding score"]) == ("DS0002", "99DRMSCRN")
        assert _num(items["Deciding score"]) == pytest.approx(result.score, rel=1e-6)
        assert _num(items["Decision threshold"]) == pytest.approx(threshold, rel=1e-6)
        assert _num(items["CAE anomaly score"]) == pytest.approx(result.anomaly_score, rel=1e-6)
        assert _code(items["Probability of cancer"]) == ("111047", "DCM")
        assert _num(items["Probability of cancer"]) == pytest.approx(result.probability,
                                                                     rel=1e-6)
        assert _code(items["Z-score"]) == ("113071", "DCM")
        assert _code(items["Percentile Ranking of measurement"]) == ("121415", "DCM")
        assert _code(items["Percentile Ranking of measurement"].MeasuredValueSequence[0],
                     "MeasurementUnitsCodeSequence") == ("%", "UCUM")
        assert "Anomaly score" not in items
        decision = items["Triage decision"].ConceptCodeSequence[0].CodeMeaning
        assert (decision == "Not flagged") == (result.index not in cases)
        text = dsrdump(path)  # dcmtk reads the tree back
        assert "Imaging Measurement Report" in text and "Deciding score" in text
        assert '"Probability of cancer"' in text and "Dermoscopic photography" in text
        if result.dicom is not None:  # same study and patient, source referenced
            assert sr.StudyInstanceUID == di.STUDY_UID and sr.PatientID == "MRN-0042"
            assert str(sr.PatientName) == "Doe^Jane"
            ref = items["Source of Measurement"].ReferencedSOPSequence[0]
            assert ref.ReferencedSOPInstanceUID == result.dicom.sop_instance_uid
            if result.dicom.frame is not None:
                assert int(ref.ReferencedFrameNumber) == result.dicom.frame
            if result.path.name == "nobirth.dcm":
                assert sr.PatientBirthDate == "" and sr.PatientSex == ""
                assert sr.AccessionNumber == ""
            else:  # the dermoscopy object codes its site: the finding site
                assert _code(items["Finding Site"], "ConceptCodeSequence") == \
                    ("818981001", "SCT")
        else:  # a JPEG: filed under the patient the user entered, in one new study
            assert sr.PatientID == "P-77" and str(sr.PatientName) == "Roe^Rita"
            assert sr.PatientBirthDate == "19800202" and sr.AccessionNumber == "ACC9"
            assert sr.StudyInstanceUID.startswith(UID_ROOT)
            assert "Source of Measurement" not in items and "Finding Site" not in items
            if result.index not in cases:  # nothing to reference: no evidence listed at all
                assert "CurrentRequestedProcedureEvidenceSequence" not in sr
        if result.index in cases:
            sc = datasets[f"case-{result.index:05d}-heatmap.dcm"]
            pdf = datasets[f"case-{result.index:05d}-pdf.dcm"]
            assert sc.SOPClassUID == SC and pdf.SOPClassUID == ENCAPSULATED_PDF
            assert items["Heatmap overlay"].ReferencedSOPSequence[0].ReferencedSOPInstanceUID \
                == sc.SOPInstanceUID
            assert sc.StudyInstanceUID == pdf.StudyInstanceUID == sr.StudyInstanceUID
            assert sc.PatientID == pdf.PatientID == sr.PatientID
            # The legend below the 180 x 180 overlay: the colour scale from 0 (left) to vmax.
            assert sc.Columns == 180 and sc.Rows > 180
            legend = sc.pixel_array[180:]
            bar = colorbar(height=100, width=1)
            row = legend[legend.shape[0] // 4]
            assert np.abs(row[10].astype(int) - bar[-1, 0]).max() < 40  # dark end: 0
            assert np.abs(row[-10].astype(int) - bar[0, 0]).max() < 40  # bright end: vmax
            # Issue 31 item 4 (DICOM side): the PDF in PACS prints the identity its header
            # carries; the folder's copy does not (show_patient off).
            stored = bytes(pdf.EncapsulatedDocument)[: int(pdf.EncapsulatedDocumentLength)]
            (tmp_path / "stored.pdf").write_bytes(stored)
            assert pdf.PatientID in pdf_text(tmp_path / "stored.pdf")
            assert pdf.PatientID not in pdf_text(reports.case_pdfs[result.index])
        else:
            assert "Heatmap overlay" not in items
    reviewed = _items(datasets[f"case-{by_name['a.dcm'].index:05d}-sr.dcm"])
    assert reviewed["Review note"].TextValue == "seen, biopsy booked"
    assert reviewed["Reviewed by clinician"].ConceptCodeSequence[0].CodeMeaning == "Yes"
    # New series per kind and study, never the source's; instance numbers count per series.
    series: dict[str, list[int]] = {}
    for ds in datasets.values():
        series.setdefault(ds.SeriesInstanceUID, []).append(int(ds.InstanceNumber))
    assert all(sorted(n) == list(range(1, len(n) + 1)) for n in series.values())
    numbers = {(ds.StudyInstanceUID, ds.Modality): int(ds.SeriesNumber)
               for ds in datasets.values()}
    assert len({(study, n) for (study, _), n in numbers.items()}) == len(numbers)

    # Identity stays out of the CSV unless asked for; the non-identifying case fields are in.
    row = next(r for r in read_results_csv(out / "results.csv") if r["file_name"] == "a.dcm")
    assert row["patient_id"] == row["patient_name"] == "" and row["body_site"] == "Abdomen"
    assert row["dicom_study_uid"] == di.STUDY_UID and row["lesion_id"] == "3"

    # A re-analysis a minute later files new series with new numbers, not a second 9001.
    later = DicomWriter(tmp_path / "again", model.metadata, model_sha256=model.sha256,
                        model_verified=True, point_name=name, context=context)
    later.now = later.now + timedelta(minutes=1)
    again = later.finish([by_name["a.dcm"]])
    redo = pydicom.dcmread(again.files[0])
    first = datasets[f"case-{by_name['a.dcm'].index:05d}-sr.dcm"]
    assert redo.SeriesNumber > first.SeriesNumber
    assert redo.SeriesInstanceUID != first.SeriesInstanceUID


def test_inputs_without_a_patient_get_no_objects_and_say_so(
        model: LoadedModel, isic9_test_files: list[Path], tmp_path: Path) -> None:
    """Issue 31 item 1: no orphan objects with an empty Patient ID, and the umask is kept."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(isic9_test_files[0], inputs / "plain.jpg")
    di.dermoscopy_native(isic9_test_files[1], inputs / "a.dcm")
    anonymous = di.dermoscopy_native(isic9_test_files[2], inputs / "anon.dcm")
    ds = pydicom.dcmread(anonymous)
    ds.PatientID = ""
    ds.save_as(anonymous)
    engine = Engine(model, workers=1)
    results = engine.analyze_all([inputs], threshold=0.0)
    old_umask = os.umask(0o077)
    try:
        _, dicom = write_reports_with_dicom(
            tmp_path / "out", results, model, 0.0, point_name="t",
            explain=verified_explainer(engine), inputs=[inputs], context=ReportContext())
    finally:
        os.umask(old_umask)
    assert sorted(dicom.without_identity) == ["anon.dcm", "plain.jpg"]
    assert len(dicom.problems) == 1 and "2 analysed image(s)" in dicom.problems[0]
    assert "--patient-id" in dicom.problems[0]
    kept = [pydicom.dcmread(p) for p in dicom.files]
    assert len(kept) == 3 and {ds.PatientID for ds in kept} == {"MRN-0042"}
    assert {stat.S_IMODE(p.stat().st_mode) for p in dicom.files} == {0o600}


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
