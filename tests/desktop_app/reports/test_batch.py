"""write_batch_reports: the engine's own results, one re-run per flagged or borderline case,
no second pass."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
from desktop_app.core.inference.decision_rules import PRIORITY_ORDER, priority
from desktop_app.core.inference.engine import CaseImages, Engine
from desktop_app.core.inference.results import AnalysisResult, redecide
from desktop_app.core.model.model_file import LoadedModel, load_model
from desktop_app.reports.batch import verified_explainer, write_batch_reports
from desktop_app.reports.context import ReportContext
from desktop_app.reports.csv_report import read_results_csv
from tests.desktop_app.reports.pdf_tools import pdf_cells_text


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    return load_model(bundled_models_dir() / DEFAULT_MODEL_NAME, prefer_gpu=False)


@pytest.fixture
def batch(model: LoadedModel, isic9_test_files: list[Path], tmp_path: Path
          ) -> tuple[Engine, list[AnalysisResult], float, list[Path]]:
    files = []
    for src in isic9_test_files[:6]:
        dst = tmp_path / "images" / src.name
        dst.parent.mkdir(exist_ok=True)
        shutil.copyfile(src, dst)
        files.append(dst)
    engine = Engine(model, workers=1)
    results = engine.analyze_all(files)
    scores = sorted(r.score for r in results if r.score is not None)
    threshold = (scores[2] + scores[3]) / 2  # three flagged, three not
    stats = model.metadata.benign_stats
    return engine, [redecide(r, stats, threshold) for r in results], threshold, files


def _page_texts(pdf: Path) -> list[str]:
    """Each page's text, as poppler reads it (pages split at form feeds)."""
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, timeout=120)
    return [p for p in done.stdout.decode("utf-8", "replace").split("\f") if p.strip()]


def _needs_case_pdf(model: LoadedModel, results: list[AnalysisResult], threshold: float
                    ) -> list[int]:
    """Indices of the flagged, then the borderline cases under the model's own band at
    ``threshold`` (the band moves with the point)."""
    context = ReportContext().for_model(model.metadata, threshold)
    return [r.index for kind in ("anomalous", "borderline") for r in results
            if context.triage(r) == kind]


def test_flagged_and_borderline_cases_only_and_the_summary_links_them(
        qapp: QApplication, model: LoadedModel, batch: tuple, tmp_path: Path) -> None:
    engine, results, threshold, files = batch
    scores = sorted(r.score for r in results)
    band_low = (scores[1] + scores[2]) / 2  # one borderline case below the three flagged
    calls: list[int] = []
    explain = verified_explainer(engine)

    def counting(result: AnalysisResult) -> CaseImages:
        calls.append(result.index)
        return explain(result)

    out = tmp_path / "out"
    out.mkdir()
    (out / "case-00099-old.pdf").write_bytes(b"%PDF- an earlier batch")
    reports = write_batch_reports(out, results, model, threshold, inputs=[files[0].parent],
                                  pdf=True, explain=counting,
                                  context=ReportContext(band_low=band_low))
    flagged = [r.index for r in results if r.is_anomalous]
    borderline = [r.index for r in results if not r.is_anomalous and r.score > band_low]
    assert len(flagged) == 3 and len(borderline) == 1
    # One re-run per flagged or borderline case, none else, in priority order (the tier,
    # then the highest score): a stopped run has written the most urgent ones.
    context = ReportContext(band_low=band_low)
    urgent = [r.index for r in sorted(
        (results[i] for i in flagged + borderline),
        key=lambda r: (-PRIORITY_ORDER[priority(r, band_low)], -r.score))]
    assert context.triage(results[urgent[-1]]) == "borderline"
    assert calls == urgent
    assert (reports.flagged, reports.borderline) == (4, 1)
    assert sorted(reports.case_pdfs) == sorted(flagged + borderline) and reports.problems == []
    assert reports.superseded is not None and (reports.superseded / "case-00099-old.pdf").is_file()
    assert sorted(p.name for p in out.glob("case-*.pdf")) == sorted(
        p.name for p in reports.case_pdfs.values())
    # Named relative to the opened folder: its name (and anything above) stays out.
    rows = read_results_csv(reports.csv)
    assert [r["path"] for r in rows] == [f.name for f in files]
    assert [r["triage"] for r in rows].count("borderline") == 1
    # The summary's case-report column names every case PDF, the borderline one included.
    summary = pdf_cells_text(reports.summary_pdf)  # a long name may wrap in its cell
    assert all(p.name in summary for p in reports.case_pdfs.values())
    assert reports.case_pdfs[borderline[0]].name in summary
    case_text = pdf_cells_text(reports.case_pdfs[borderline[0]])
    assert "BORDERLINE" in case_text.upper()
    # And every case report in one file for printing: one page each, in the same order.
    assert reports.cases_pdf == out / "cases.pdf"
    pages = _page_texts(reports.cases_pdf)
    assert len(pages) == len(reports.case_pdfs)
    for page, index in zip(pages, urgent, strict=True):
        assert page.lstrip().startswith("Dermoscopy triage report")
        assert results[index].path.name in page


def test_a_file_changed_since_the_batch_gets_no_case_report(
        qapp: QApplication, model: LoadedModel, batch: tuple, isic9_test_files: list[Path],
        tmp_path: Path) -> None:
    engine, results, threshold, _files = batch
    changed = next(r for r in results if r.is_anomalous)
    shutil.copyfile(isic9_test_files[-1], changed.path)  # other pixels under the same name
    reports = write_batch_reports(tmp_path / "out", results, model, threshold, pdf=True,
                                  explain=verified_explainer(engine))
    expected = _needs_case_pdf(model, results, threshold)  # the shipped model's own band
    assert changed.index not in reports.case_pdfs
    assert sorted(reports.case_pdfs) == sorted(set(expected) - {changed.index})
    assert len(reports.problems) == 1 and "changed since it was analysed" in reports.problems[0]


def test_partial_touches_nothing_else_and_cancel_stops_before_the_summary(
        qapp: QApplication, model: LoadedModel, batch: tuple, tmp_path: Path) -> None:
    engine, results, threshold, _files = batch
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text("complete", encoding="utf-8")
    (out / "summary.pdf").write_text("earlier", encoding="utf-8")
    part = write_batch_reports(out, results[:2], model, threshold, partial=True)
    assert part.partial and part.csv.name == "results.partial.csv"
    assert len(read_results_csv(part.csv)) == 2
    assert (out / "results.csv").read_text(encoding="utf-8") == "complete"
    assert (out / "summary.pdf").read_text(encoding="utf-8") == "earlier"

    cancel = threading.Event()
    explain = verified_explainer(engine)

    def stop_after_first(result: AnalysisResult) -> CaseImages:
        cancel.set()
        return explain(result)

    reports = write_batch_reports(out, results, model, threshold, pdf=True,
                                  explain=stop_after_first, cancel=cancel)
    assert reports.cancelled and len(reports.case_pdfs) == 1 and reports.summary_pdf is None
    assert not (out / "summary.pdf").exists()  # the earlier one was moved aside, none written
    assert len(read_results_csv(out / "results.csv")) == len(results)
