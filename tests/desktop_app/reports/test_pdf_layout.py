"""PDFs laid out as clinical documents, checked the way a reader sees them (poppler):
summary rows never split across pages and the header row repeats on every page, a case
report is one page with its image, file name and sign-off, cases.pdf reads in priority
order, scores are named as the CSV names them and printed by one rule, and a DICOM
source's identity and the reviewer reach the referral (issues 25, 30.2, 31.3, 31.4)."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
from desktop_app.core.imaging.dicom_case import DicomCase
from desktop_app.core.inference.decision_rules import PRIORITY_ORDER, priority
from desktop_app.core.inference.engine import Engine
from desktop_app.core.inference.results import AnalysisResult, ok_result, redecide
from desktop_app.core.model.model_file import LoadedModel, load_model
from desktop_app.core.model.operating_points import borderline_low, opening_threshold
from desktop_app.core.wording import number_format as nf
from desktop_app.reports.batch import verified_explainer, write_batch_reports
from desktop_app.reports.context import ReportContext
from desktop_app.reports.pdf.case_report import write_case_pdf
from desktop_app.reports.pdf.report import write_summary_pdf


# The default (a derm model: no evidence map) and the combined model (both maps).
@pytest.fixture(scope="module", params=[DEFAULT_MODEL_NAME, "dermscreen-combined.onnx"])
def model(request) -> LoadedModel:
    return load_model(bundled_models_dir() / request.param, prefer_gpu=False)


@dataclass(frozen=True)
class Note:
    reviewed: bool
    note: str
    reviewer: str = "Dr. Ada Lovelace"
    reviewed_at: str = "2026-12-03T10:15:00+00:00"


def _pages(pdf: Path, tmp_path: Path) -> list[str]:
    """Each page's text (pdftotext -layout), after pdftoppm rendered every page."""
    for tool in ("pdftoppm", "pdftotext", "pdfinfo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} (poppler-utils) is needed to check PDFs")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    count = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    prefix = tmp_path / pdf.stem
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(pdf), str(prefix)], check=True,
                   capture_output=True, timeout=120)
    assert len(list(tmp_path.glob(f"{pdf.stem}-*.png"))) == count  # every page renders
    texts = []
    for page in range(1, count + 1):
        done = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page),
                               str(pdf), "-"], check=True, capture_output=True, timeout=60)
        texts.append(unicodedata.normalize("NFKC", done.stdout.decode("utf-8", "replace")))
    return texts


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_summary_rows_never_split_and_the_header_repeats_on_every_page(
        qapp: QApplication, model: LoadedModel, isic9_test_files: list[Path],
        tmp_path: Path) -> None:
    meta = model.metadata
    threshold, _ = opening_threshold(meta)
    low = borderline_low(meta, threshold)
    # 70 real file names, scores on both sides of the threshold and in the band, every
    # third row with a note long enough to wrap: the tables cross several pages, and a
    # row several lines high could be cut at a page's foot.
    scores = [threshold * (0.6 + 0.02 * i) for i in range(70)]
    info = {"model_name": meta.model_name, "model_version": meta.model_version,
            "model_sha256": model.sha256, "provider": "CPU", "model_verified": True}
    results = [ok_result(index=i, path=path, score=score, threshold=threshold,
                         stats=meta.benign_stats, image_sha256=f"{i:064x}", model_info=info,
                         seconds=0.1)
               for i, (path, score) in enumerate(zip(isic9_test_files, scores, strict=False))]
    assert len(results) == 70 and any(low < r.score <= threshold for r in results)
    notes = {r.image_sha256: Note(True, f"row{r.index}end recheck in three months, compare "
                                        "with the photograph from the last visit; "
                                        f"tailword{r.index:03d}")
             for r in results[::3]}
    pdf = write_summary_pdf(tmp_path / "summary.pdf", results, meta, threshold,
                            model_sha256=model.sha256, provider="CPU",
                            context=ReportContext(reviews=notes, clinician="Dr. Ada"))
    pages = _pages(pdf, tmp_path)
    assert len(pages) >= 3
    decimals = nf.score_decimals([threshold, low, *scores], most=6)
    pages_of = {}
    for r in results:
        # The row's index, file name and score on one line, on exactly one page.
        found = [n for n, page in enumerate(pages) for line in page.splitlines()
                 if re.match(rf"\s*{r.index}\s+{re.escape(r.path.name)}\b", line)
                 and nf.fixed(r.score, decimals) in line]
        assert len(found) == 1, (r.path.name, found)
        pages_of[r.index] = found[0]
        if r.image_sha256 in notes:  # the wrapped note's last word stays on the row's page
            assert f"tailword{r.index:03d}" in pages[found[0]], r.index
            assert sum(f"tailword{r.index:03d}" in p for p in pages) == 1
    for n in set(pages_of.values()):
        # Every page holding rows starts its table with the whole header row.
        header = [line for line in pages[n].splitlines()
                  if re.match(r"\s*#\s+File\s+CAE\s+z\s+Percentile\s+Reviewed\s+Case report",
                              line)]
        assert header, f"page {n + 1} has rows but not the whole header row"
    assert len({n for n in pages_of.values()}) >= 2
    text = _flat("\n".join(pages))
    assert "Review ed" not in text and "Percen tile" not in text
    assert "reviewed by Dr. Ada Lovelace 2026-12-03 10:15" in text
    # A group's heading is never the last line of a page.
    for page in pages:
        lines = [line for line in page.splitlines() if line.strip() and "Page " not in line]
        assert not re.match(r"\s*(Flagged|Borderline|Not flagged|Could not be analysed) \(",
                            lines[-1]), lines[-1]


def _dicom_case() -> DicomCase:
    return DicomCase(sop_instance_uid="1.2.3.4.5", study_instance_uid="1.2.3.4",
                     study_date="20261201", body_site="Upper back", lesion_id="3",
                     patient_id="MRN-0042", patient_name="Doe^Jane",
                     patient_birth_date="19700101", patient_sex="F")


def test_the_case_report_is_a_referral_with_identity_scores_by_name_and_sign_off(
        qapp: QApplication, model: LoadedModel, isic9_test_files: list[Path],
        tmp_path: Path) -> None:
    engine = Engine(model, workers=1)
    result = engine.analyze_all([isic9_test_files[0]])[0]
    assert result.probability is not None  # the bundled default model is the combined one
    meta = model.metadata
    # Borderline (the longest case report: it adds the band's rule), from a DICOM source
    # with patient identity, reviewed in the app by no named person, with a long note.
    result = replace(redecide(result, meta.benign_stats, result.score * 1.02),
                     dicom=_dicom_case())
    context = ReportContext(reviews={result.image_sha256: Note(True, "asymmetric; recall in "
                                                               "3 months " * 6, reviewer="")},
                            clinician="Dr. Grace Hopper", band_low=result.score * 0.9,
                            history="changing pigmented lesion for 3 months, no bleeding",
                            show_patient=False)
    assert context.triage(result) == "borderline"
    pdf = write_case_pdf(tmp_path / "case.pdf", result, engine.explain(result.path), meta,
                         context=context)
    pages = _pages(pdf, tmp_path)
    assert len(pages) == 1  # the sign-off is on the page with the image and file name
    page = _flat(pages[0])
    # Identity as the DICOM header carries it (also what the encapsulated PDF must show).
    for words in ("Patient ID MRN-0042", "Patient name Doe, Jane", "Birth date 1970-01-01",
                  "Body site Upper back", "Lesion 3", "Image date 2026-12-01",
                  "Clinical history changing pigmented lesion for 3 months, no bleeding",
                  f"Image file {result.path.name}", "Original image"):
        assert words in page, words
    assert "Urgency: ELEVATED" in page and "Decision: BORDERLINE" in page
    # The reviewer named at export fills the mark that recorded no name.
    assert "Reviewed in the app yes by Dr. Grace Hopper 2026-12-03 10:15 UTC" in page
    assert "Reviewed by: Dr. Grace Hopper" in page and "Signature:" in page
    from desktop_app.reports.csv_report import read_results_csv, write_results_csv

    (row,) = read_results_csv(write_results_csv(tmp_path / "r.csv", [result], context))
    assert row["reviewed_by"] == "Dr. Grace Hopper"  # the CSV says the same
    # Each score under its own name, with the CSV column it is in, in one number format.
    decimals = nf.score_decimals([result.score, result.threshold, result.anomaly_score,
                                  context.band_low])
    assert f"Combined score (decides) {nf.fixed(result.score, decimals)} score" in page
    assert f"part: CAE anomaly score (benign-only) {nf.fixed(result.anomaly_score, decimals)} " \
           "anomaly_score" in page
    assert f"{nf.fixed(result.probability, 3)} classifier_probability" in page
    assert nf.fixed(result.score, decimals) != nf.fixed(result.threshold, decimals)
    assert "Anomaly score " not in page.replace("CAE anomaly score", "")
    # Each map the model gives, with its own legend; none it does not give.
    assert "CAE heatmap" in page and "error, fixed scale" in page
    has_evidence = model.has_output("evidence_map")
    assert ("Classifier evidence map" in page) == has_evidence
    assert ("logit, this case's scale" in page) == has_evidence
    # Provenance in the appendix, after the sign-off.
    assert page.index("Signature:") < page.index("Technical appendix") < \
        page.index("Execution provider") and result.image_sha256 in page


def _by_tier(results: list[AnalysisResult], context: ReportContext) -> list[int]:
    return [r.index for r in sorted(results, key=lambda r: (
        -PRIORITY_ORDER[priority(r, context.band_low)], -r.score, r.index))]


def test_cases_pdf_in_priority_order_each_sign_off_with_its_case(
        qapp: QApplication, model: LoadedModel, isic9_test_files: list[Path],
        tmp_path: Path) -> None:
    engine = Engine(model, workers=1)
    files = isic9_test_files[:7]
    results = engine.analyze_all(files)
    stats = model.metadata.benign_stats
    scores = sorted(r.score for r in results)
    threshold = (scores[2] + scores[3]) / 2  # four flagged
    band_low = (scores[0] + scores[1]) / 2  # two borderline
    results = [redecide(r, stats, threshold) for r in results]
    context = ReportContext(band_low=band_low, clinician="Dr. Ada")
    cases = [r for r in results if context.triage(r) in ("anomalous", "borderline")]
    tiers = {priority(r, band_low) for r in cases}
    assert len(cases) == 6 and "elevated" in tiers
    out = tmp_path / "out"
    reports = write_batch_reports(out, results, model, threshold, inputs=files, pdf=True,
                                  explain=verified_explainer(engine), context=context)
    assert reports.cases_pdf is not None and len(reports.case_pdfs) == 6
    pages = _pages(reports.cases_pdf, tmp_path)
    assert len(pages) == 6  # one page per case: no sign-off spilled onto a page of its own
    expected = _by_tier(cases, context)
    names = {r.index: r.path.name for r in results}
    seen = []
    for page in pages:
        on_page = [i for i in expected if f"Image file {names[i]}" in _flat(page)]
        assert len(on_page) == 1, on_page
        seen.append(on_page[0])
        flat = _flat(page)
        assert "Reviewed by: Dr. Ada" in flat and "Original image" in flat
        assert f"{names[on_page[0]]} · DermScreen is a triage aid" in flat  # footer names it
    assert seen == expected  # high before elevated, then the highest score


def test_the_encapsulated_pdf_shows_the_identity_its_dicom_header_carries(
        qapp: QApplication, model: LoadedModel, isic9_test_files: list[Path],
        tmp_path: Path) -> None:
    """Issue 31.4: the case PDF stored in the PACS names the patient its header names, even
    with patient identity kept out of the CSV (the default)."""
    import pydicom

    from desktop_app.core.model.operating_points import chosen_threshold
    from desktop_app.reports.dicom.write import write_reports_with_dicom
    from tests.support import dicom_inputs as di

    inputs = tmp_path / "in"
    inputs.mkdir()
    melanoma = [p for p in isic9_test_files if p.parent.name == "melanoma"][:1]
    di.dermoscopy_jpeg(melanoma[0], inputs / "a.dcm")
    engine = Engine(model, workers=1)
    results = engine.analyze_all([inputs])
    threshold = results[0].score * 0.5  # flagged: it gets a case PDF
    _, name = chosen_threshold(model.metadata, threshold=threshold)
    results = [redecide(r, model.metadata.benign_stats, threshold) for r in results]
    reports, dicom = write_reports_with_dicom(
        tmp_path / "out", results, model, threshold, point_name=name,
        explain=verified_explainer(engine), inputs=[inputs],
        context=ReportContext(show_patient=False, clinician="Dr. Ada"))
    assert not dicom.problems and len(reports.case_pdfs) == 1
    (stored_dcm,) = (tmp_path / "out").rglob("case-*-pdf.dcm")
    ds = pydicom.dcmread(stored_dcm)
    stored = tmp_path / "stored.pdf"
    stored.write_bytes(bytes(ds.EncapsulatedDocument)[: int(ds.EncapsulatedDocumentLength)])
    page = _flat(_pages(stored, tmp_path)[0])
    assert f"Patient ID {ds.PatientID}" in page and ds.PatientID == "MRN-0042"
    family, given = str(ds.PatientName).split("^")[:2]
    assert f"Patient name {family}, {given}" in page
    assert "Birth date 1970-01-01" in page
