"""Case and summary PDFs written by Qt, opened with poppler like a user's viewer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
from desktop_app.core.inference.engine import Engine
from desktop_app.core.inference.results import redecide
from desktop_app.core.model.model_file import LoadedModel, load_model
from desktop_app.reports.names import case_pdf_name
from desktop_app.reports.pdf.case_report import write_case_pdf
from desktop_app.reports.pdf.render import distribution_plot
from desktop_app.reports.pdf.report import write_summary_pdf
from tests.desktop_app.reports.pdf_tools import assert_not_blank, pdf_text, render_first_page


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    # The product's bundled model: real ONNX Runtime without a training run first.
    return load_model(bundled_models_dir() / DEFAULT_MODEL_NAME, prefer_gpu=False)


def test_case_pdf(qapp: QApplication, model: LoadedModel, fullres_files: list[Path],
                  tmp_path: Path) -> None:
    engine = Engine(model, workers=1)
    result = engine.analyze_all([fullres_files[0]])[0]
    # Decide at a threshold below the score so the case reads "flagged".
    result = redecide(result, model.metadata.benign_stats, result.score * 0.5)
    case = engine.explain(result.path)
    name = case_pdf_name(result)
    assert name.startswith("case-00000-") and name.endswith(".pdf")
    pdf = write_case_pdf(tmp_path / name, result, case, model.metadata)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert_not_blank(render_first_page(pdf, tmp_path))
    text = pdf_text(pdf)
    assert "triage aid, not a diagnosis" in text.lower()
    assert "FLAGGED" in text
    assert model.metadata.model_name in text and model.sha256 in text
    assert result.image_sha256 in text
    assert f"{result.z:+.2f}" in text and f"{result.percentile:.1f} %" in text


def test_summary_pdf_and_overwrite(qapp: QApplication, model: LoadedModel,
                                   isic9_test_files: list[Path], tmp_path: Path) -> None:
    engine = Engine(model, workers=2)
    results = engine.analyze_all([*isic9_test_files[:12], tmp_path / "gone.jpg"])
    stats = model.metadata.benign_stats
    threshold = float(np.median([r.score for r in results if r.ok]))
    results = [redecide(r, stats, threshold) for r in results]
    target = tmp_path / "summary.pdf"
    target.write_bytes(b"old report")
    write_summary_pdf(target, results, model.metadata, threshold, model_sha256=model.sha256,
                      provider=model.provider_label, inputs=["folder A"])
    assert target.read_bytes()[:5] == b"%PDF-"
    assert_not_blank(render_first_page(target, tmp_path))
    text = pdf_text(target)
    assert "13 files: 12 analysed, 1 could not be analysed" in text
    assert "gone.jpg" in text and "file not found" in text
    anomalous = [r for r in results if r.is_anomalous]
    assert f"Flagged ({len(anomalous)})" in text
    assert all(r.path.name in text for r in anomalous)
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_distribution_plot_draws_bars_and_lines(qapp: QApplication, model: LoadedModel) -> None:
    stats = model.metadata.benign_stats
    img = distribution_plot(stats, stats.threshold(), score=stats.threshold() * 3, width=400,
                            height=200)
    assert (img.width(), img.height()) == (400, 200)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(200, img.bytesPerLine())
    pixels = arr[:, : 400 * 4].reshape(200, 400, 4)[:, :, :3]
    assert (pixels < 250).any(axis=2).mean() > 0.02  # something was drawn
    red = (pixels[:, :, 2] > 150) & (pixels[:, :, 0] < 80) & (pixels[:, :, 1] < 80)
    assert red.any()  # Format_RGB32 is BGRA in memory: the anomalous score line is red
