"""Reports as clinical documents (issue 14.1, 14.4, 14.5): case ID, clinician, reviews,
the borderline decision, relative paths, every case in the summary, page numbers.

Real engine and bundled model on real images; PDFs read back with poppler.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
from desktop_app.core.inference.decision_rules import BORDERLINE, triage_decision
from desktop_app.core.inference.engine import Engine
from desktop_app.core.inference.results import AnalysisResult, redecide
from desktop_app.core.model.model_file import LoadedModel, load_model
from desktop_app.core.model.operating_points import expected_words
from desktop_app.reports.batch import batch_context, reviews_of
from desktop_app.reports.context import ReportContext
from desktop_app.reports.csv_report import read_results_csv, write_results_csv
from desktop_app.reports.pdf.case_report import write_case_pdf
from desktop_app.reports.pdf.report import write_summary_pdf
from desktop_app.version import app_version
from tests.desktop_app.reports.pdf_tools import pdf_cells_text, pdf_text


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    return load_model(bundled_models_dir() / DEFAULT_MODEL_NAME, prefer_gpu=False)


@dataclass
class Batch:
    root: Path
    results: list[AnalysisResult]
    threshold: float
    band_low: float
    engine: Engine


@pytest.fixture
def batch(model: LoadedModel, isic9_test_files: list[Path], tmp_path: Path) -> Batch:
    """9 real images in two patients' subfolders and the root, plus a GIF (an error row);
    decided so that 3 are flagged and 3 borderline."""
    root = tmp_path / "Clinic Müller"  # a folder name the reports must not print
    files = []
    for n, src in enumerate(isic9_test_files[:9]):
        sub = root / ("patient-A" if n < 4 else "patient-B" if n < 8 else "")
        sub.mkdir(parents=True, exist_ok=True)
        files.append(Path(shutil.copyfile(src, sub / src.name)))
    from PIL import Image

    Image.new("RGB", (8, 8)).save(root / "patient-B" / "clip.gif")
    engine = Engine(model, workers=1)
    results = engine.analyze_all([root], recursive=True)
    scores = sorted(r.score for r in results if r.score is not None)
    assert len(scores) == 9 and len(results) == 10
    threshold = (scores[5] + scores[6]) / 2  # 3 flagged
    band_low = (scores[2] + scores[3]) / 2  # 3 borderline below them
    stats = model.metadata.benign_stats
    return Batch(root, [redecide(r, stats, threshold) for r in results], threshold, band_low,
                 engine)


def _context(batch: Batch, **extra: object) -> ReportContext:
    ok = [r for r in batch.results if r.ok]
    reviews = reviews_of({ok[0].image_sha256: (True, "=HYPERLINK(\"x\") refer to clinic"),
                          ok[1].image_sha256: (False, "recheck in 3 months")})
    base = ReportContext(case_id="-42 Ward 3", clinician="Dr. Ada Lovelace", reviews=reviews,
                         band_low=batch.band_low, **extra)  # type: ignore[arg-type]
    return batch_context(base, [batch.root])


def test_csv_carries_case_triage_review_and_relative_paths(batch: Batch, tmp_path: Path) -> None:
    context = _context(batch, case_id_from_subfolder=True)
    csv_path = write_results_csv(tmp_path / "r.csv", batch.results, context)
    rows = read_results_csv(csv_path)  # formula guards undone: the values as typed
    raw = csv_path.read_text(encoding="utf-8-sig")
    assert "'-42 Ward 3" in raw and "'=HYPERLINK" in raw  # never a formula in a spreadsheet
    by_index = {int(r["index"]): r for r in rows}
    triage = {r.index: triage_decision(r, batch.band_low) for r in batch.results}
    assert sorted(triage.values()).count(BORDERLINE) == 3
    labels = {"anomalous": "flagged", BORDERLINE: "borderline", "normal": "not flagged",
              "": "error"}
    for result in batch.results:
        row = by_index[result.index]
        assert row["triage"] == labels[triage[result.index]]
        rel = result.path.relative_to(batch.root).as_posix()
        assert row["path"] == rel and "Clinic" not in row["path"]  # the opened folder's name stays out
        # The case is the patient's subfolder; a file directly in the folder keeps the batch's ID.
        assert row["case_id"] == (rel.split("/")[0] if "/" in rel else "-42 Ward 3")
        assert row["clinician"] == "Dr. Ada Lovelace" and row["app_version"] == app_version()
    ok = [r for r in batch.results if r.ok]
    first, second = by_index[ok[0].index], by_index[ok[1].index]
    assert first["reviewed"] == "yes"
    assert first["review_note"] == "=HYPERLINK(\"x\") refer to clinic"
    assert second["reviewed"] == "no" and second["review_note"] == "recheck in 3 months"
    assert {r["reviewed"] for r in rows} == {"yes", "no"}
    gif = next(r for r in rows if r["file_name"] == "clip.gif")
    assert gif["status"] == "error" and gif["error"].startswith("unsupported image format GIF")

    full = read_results_csv(write_results_csv(tmp_path / "f.csv", batch.results,
                                              _context(batch, full_paths=True)))
    assert [r["path"] for r in full] == [str(r.path.resolve()) for r in batch.results]
    plain = read_results_csv(write_results_csv(tmp_path / "p.csv", batch.results))
    assert {r["reviewed"] for r in plain} == {""}  # not recorded: empty, not "no"


def _page_count(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]


def test_summary_lists_every_case_grouped_with_page_numbers(
        qapp: QApplication, model: LoadedModel, batch: Batch, tmp_path: Path) -> None:
    context = _context(batch)
    pdf = write_summary_pdf(tmp_path / "summary.pdf", batch.results, model.metadata,
                            batch.threshold, model_sha256=model.sha256,
                            provider=model.provider_label, context=context,
                            case_files={batch.results[0].index: "case-x.pdf"})
    text = pdf_text(pdf)
    pages = _page_count(pdf)
    assert pages >= 2  # ten cases with reviews and the header do not fit one A4 page
    for page in range(1, pages + 1):
        assert f"Page {page} of {pages}" in text
    assert text.count("Case -42 Ward 3") == pages  # the case ID in every page's footer
    # Every case, in the order a clinician works: flagged, borderline, not flagged, errors.
    heads = [text.index(h) for h in ("Flagged (3)", "Borderline (3)", "Not flagged (3)",
                                     "Could not be analysed (1)")]
    assert heads == sorted(heads)
    for result in batch.results:
        assert result.path.relative_to(batch.root).as_posix() in text
    assert "Clinic" not in text and "Inputs 1 folder opened" in text
    flagged_part = text[heads[0]:heads[1]]
    flagged = sorted((r for r in batch.results if r.ok and r.is_anomalous),
                     key=lambda r: r.score, reverse=True)
    positions = [flagged_part.index(r.path.name) for r in flagged]
    assert positions == sorted(positions)  # highest score first
    cells = pdf_cells_text(pdf)
    assert "refer to clinic" in cells and "recheck in 3 months" in cells
    assert "Dr. Ada Lovelace" in text and "Reviewed by: Dr. Ada Lovelace" in text
    assert f"DermScreen version {app_version()}" in text and model.sha256 in text
    sentence, _validation, _data = expected_words(model.metadata, batch.threshold)
    # The operating-point panel's own words, in content order (the label cell beside wraps).
    assert " ".join(sentence.split()) in cells
    assert "Borderline: not flagged, but in the band just below the threshold" in text


def test_case_pdf_names_case_review_and_decision(
        qapp: QApplication, model: LoadedModel, batch: Batch, tmp_path: Path) -> None:
    context = _context(batch, case_id_from_subfolder=True)
    result = next(r for r in batch.results if r.ok
                  and r.image_sha256 == next(iter(context.reviews or {})))
    pdf = write_case_pdf(tmp_path / "case.pdf", result, batch.engine.explain(result.path),
                         model.metadata, context=context)
    text = pdf_text(pdf)
    rel = result.path.relative_to(batch.root).as_posix()
    assert rel in text and "Clinic Müller" not in text
    case_id = rel.split("/")[0] if "/" in rel else "-42 Ward 3"
    assert f"Case ID {case_id}" in text
    label = {"anomalous": "FLAGGED", BORDERLINE: "BORDERLINE", "normal": "NOT FLAGGED"}
    assert f"Decision: {label[triage_decision(result, batch.band_low)]}" in text
    assert "Reviewed in the app yes" in text and "refer to clinic" in text
    pages = _page_count(pdf)
    assert all(f"Page {p} of {pages}" in text for p in range(1, pages + 1))
    assert "Reviewing clinician Dr. Ada Lovelace" in text
    assert "Reviewed by: Dr. Ada Lovelace" in text
