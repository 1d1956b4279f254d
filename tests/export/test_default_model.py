"""The committed default model: loads, scores the Test split, matches its card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.dataset import scan_dataset
from desktop_app.core.metrics import (
    average_precision,
    balanced_accuracy,
    confusion,
    predict,
    roc_auc,
    sensitivity,
    specificity,
)
from desktop_app.core.model_file import load_model, sidecar_path
from desktop_app.core.paths import DEFAULT_MODEL_NAME
from desktop_app.core.preprocess import preprocess_file
from export.model_card import card_path, num, pct

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "resources" / "models" / DEFAULT_MODEL_NAME
# check_score is ONNX Runtime's own score of this file at export time.
CHECK_TOL = 1e-6

pytestmark = pytest.mark.skipif(
    not MODEL.exists(),
    reason=f"default model not exported yet: {MODEL.relative_to(REPO)} is missing "
    "(dermscreen-export runs/reference --out resources/models/dermscreen-reference.onnx --card)",
)


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL, prefer_gpu=False)


@pytest.fixture(scope="module")
def test_scores(model, isic9_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(malignant?, ONNX score) for every isic9 Test image."""
    samples = [s for s in scan_dataset(isic9_dir) if s.split == "Test"]
    scores = []
    for start in range(0, len(samples), 16):
        chunk = samples[start : start + 16]
        batch = np.stack([preprocess_file(s.path, model.metadata.preprocess) for s in chunk])
        scores.append(model.run(batch)["score"])
    return np.array([s.is_malignant for s in samples]), np.concatenate(scores)


def test_files_and_identity(model) -> None:
    assert sidecar_path(MODEL).is_file()  # load_model checked the hash against it
    assert card_path(MODEL).is_file()
    assert model.display_name == "DermScreen reference CAE 1.0.0"
    assert model.input_size == 128
    assert model.metadata.evaluation.get("test"), "the default model must carry Test figures"


def test_check_image_scores_as_at_export(model, isic9_dir: Path) -> None:
    extra = model.metadata.extra
    x = preprocess_file(isic9_dir / extra["check_image"], model.metadata.preprocess)
    score = model.run(x)["score"][0]
    assert score == pytest.approx(extra["check_score"], abs=CHECK_TOL)
    # and Keras agreed within the parity gate the export passed
    assert score == pytest.approx(
        extra["check_score_keras"], abs=extra["parity"]["tolerances"]["score"]
    )


@pytest.mark.slow
def test_scores_all_test_images(test_scores) -> None:
    y, scores = test_scores
    assert y.size == 118 and y.sum() == 64
    assert np.all(np.isfinite(scores)) and np.all(scores > 0)


@pytest.mark.slow
def test_recomputed_figures_equal_the_card(model, test_scores) -> None:
    y, scores = test_scores
    md = model.metadata
    card = card_path(MODEL).read_text(encoding="utf-8")
    stored = md.evaluation["test"]
    pred = predict(scores, md.threshold)
    c = confusion(y, pred)
    assert c == stored["confusion"]
    sens = f"{pct(sensitivity(y, pred))} ({c['tp']}/{c['tp'] + c['fn']})"
    spec = f"{pct(specificity(y, pred))} ({c['tn']}/{c['tn'] + c['fp']})"
    assert f"| Sensitivity (malignant flagged) | {sens} |" in card
    assert f"| Specificity (benign passed) | {spec} |" in card
    assert f"| Balanced accuracy | {pct(balanced_accuracy(y, pred))} |" in card
    assert f"| AUROC | {num(roc_auc(y, scores))} |" in card
    assert f"| Average precision | {num(average_precision(y, scores))} |" in card
    # and the card holds the report's figures beside them
    assert "65.6% (42/64)" in card and "57.4% (31/54)" in card
