"""PDFs laid out as clinical documents, checked the way a reader sees them (poppler):
numbers and headers never break, a row stays on one page, a heading never ends a page,
and a case report is one page (issue 25)."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
from desktop_app.core.inference.engine import Engine
from desktop_app.core.inference.results import ok_result, redecide
from desktop_app.core.model.model_file import LoadedModel, load_model
from desktop_app.core.model.operating_points import borderline_low, opening_threshold
from desktop_app.core.wording import number_format as nf
from desktop_app.reports.context import ReportContext
from desktop_app.reports.pdf.report import write_case_pdf, write_summary_pdf


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    return load_model(bundled_models_dir() / DEFAULT_MODEL_NAME, prefer_gpu=False)


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
    count = int(re.search(r"Pages:\s+(\d+)", info).group(1))
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


def _body_lines(page: str) -> list[str]:
    """The page's text lines, footer (always last) left out."""
    lines = [line for line in page.splitlines() if line.strip()]
    return lines[:-1] if lines and "Page " in lines[-1] else lines


def test_summary_rows_never_break_and_headings_stay_with_their_rows(
        qapp: QApplication, model: LoadedModel, isic9_test_files: list[Path],
        tmp_path: Path) -> None:
    meta = model.metadata
    threshold, _ = opening_threshold(meta)
    low = borderline_low(meta, threshold)
    # 70 real file names with scores on both sides of the threshold and in the band:
    # enough rows for the tables to cross pages.
    scores = [threshold * (0.6 + 0.02 * i) for i in range(70)]
    info = {"model_name": meta.model_name, "model_version": meta.model_version,
            "model_sha256": model.sha256, "provider": "CPU", "model_verified": True}
    results = [ok_result(index=i, path=path, score=score, threshold=threshold,
                         stats=meta.benign_stats, image_sha256=f"{i:064x}", model_info=info,
                         seconds=0.1)
               for i, (path, score) in enumerate(zip(isic9_test_files, scores, strict=False))]
    assert any(low < r.score <= threshold for r in results)
    reviews = {r.image_sha256: Note(True, "seen") for r in results[::3]}
    pdf = write_summary_pdf(tmp_path / "summary.pdf", results, meta, threshold,
                            model_sha256=model.sha256, provider="CPU",
                            context=ReportContext(reviews=reviews, clinician="Dr. Ada"))
    pages = _pages(pdf, tmp_path)
    assert len(pages) >= 2
    text = "\n".join(pages)
    for r in results:
        # A row is one line on one page: its index, file name and score side by side.
        rows = [line for line in text.splitlines()
                if re.match(rf"\s*{r.index}\s+{re.escape(r.path.name)}\b", line)]
        assert len(rows) == 1, r.path.name
        assert nf.number(r.score) in rows[0] and nf.number(r.percentile, ".1f") in rows[0]
    for page in pages:
        for line in page.splitlines():
            if "Score" in line and " z " in line:
                assert "Percentile" in line  # the header never wraps ("Percen / tile")
        body = _body_lines(page)
        assert body, "an empty page"
        # A group's heading is never the last thing on a page.
        assert not re.match(r"\s*(Flagged|Borderline|Not flagged|Could not be analysed) \(",
                            body[-1]), body[-1]
    assert "reviewed by Dr. Ada Lovelace 2026-12-03 10:15" in " ".join(text.split())


def test_a_case_report_is_one_page_with_its_plot_and_sign_off(
        qapp: QApplication, model: LoadedModel, isic9_test_files: list[Path],
        tmp_path: Path) -> None:
    engine = Engine(model, workers=1)
    result = engine.analyze_all([isic9_test_files[0]])[0]
    meta = model.metadata
    # Borderline (the longest case report: it adds the band's rule), reviewed with a note.
    result = redecide(result, meta.benign_stats, result.score * 1.02)
    context = ReportContext(reviews={result.image_sha256: Note(True, "asymmetric; recall in "
                                                               "3 months " * 3)},
                            clinician="Dr. Ada", band_low=result.score * 0.9)
    assert context.triage(result) == "borderline"
    pdf = write_case_pdf(tmp_path / "case.pdf", result, engine.explain(result.path), meta,
                         context=context)
    pages = _pages(pdf, tmp_path)
    assert len(pages) == 1  # no second page holding only the plot or the sign-off
    page = pages[0]
    assert "Score against the benign validation distribution" in page
    assert "Reviewed by:" in page and "Signature:" in page
    assert "yes by Dr. Ada Lovelace 2026-12-03 10:15 UTC" in " ".join(page.split())
