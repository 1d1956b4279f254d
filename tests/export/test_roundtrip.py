"""The tiny real trained run, exported by `dermscreen-export`, read back through ONNX Runtime."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from desktop_app.core.base.paths import sidecar_path
from desktop_app.core.imaging.preprocess import preprocess_file
from desktop_app.core.model.metadata import OUTPUT_NAMES, ModelMetadata
from desktop_app.core.model.model_file import load_model
from export.model_card import card_path, render_model_card
from export.parity import keras_outputs, load_parity_images, select_parity_files
from tests.support.model_fixtures import SMALL_MODEL_NAME, SMALL_MODEL_VERSION, SMALL_SCORE_TOL
from training.run import load_keras_model, load_run, preprocess_config, read_scores_csv
from training.scorer import wrap_cae


@pytest.fixture(scope="module")
def ort_metadata(small_model_path: Path) -> ModelMetadata:
    """Metadata as ONNX Runtime reads it from the written file."""
    session = ort.InferenceSession(str(small_model_path), providers=["CPUExecutionProvider"])
    return ModelMetadata.from_props(dict(session.get_modelmeta().custom_metadata_map))


def test_files_written_beside_each_other(small_model_path: Path) -> None:
    digest = hashlib.sha256(small_model_path.read_bytes()).hexdigest()
    assert sidecar_path(small_model_path).read_text() == f"{digest}  {small_model_path.name}\n"
    assert card_path(small_model_path).is_file()
    # Readable by every user of an installed app, not only by whoever exported it.
    for path in (small_model_path, sidecar_path(small_model_path), card_path(small_model_path)):
        assert path.stat().st_mode & 0o044 == 0o044 or os.name == "nt"
    leftovers = [p.name for p in small_model_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_metadata_round_trips_the_run(small_model_path: Path, small_run_dir: Path, ort_metadata):
    info = load_run(small_run_dir)
    md = ort_metadata
    assert (md.model_name, md.model_version) == (SMALL_MODEL_NAME, SMALL_MODEL_VERSION)
    assert datetime.fromisoformat(md.created).utcoffset().total_seconds() == 0
    assert md.threshold == info.stats.threshold()
    assert md.benign_stats == info.stats
    assert md.benign_stats.quantiles and len(md.benign_stats.scores) == info.stats.n
    assert md.loss_weights == info.loss_weights
    assert md.preprocess == preprocess_config(info)
    assert md.heatmap_vmax == info.heatmap_vmax > 0
    assert md.data["hash"] == info.config["data_hash"]
    assert md.data["n_val"] == len(info.config["val_files"]) == info.stats.n
    assert md.operating_points == info.metrics["operating_points"]
    assert md.evaluation["test"] == info.metrics["test"]
    assert md.evaluation["report_comparison"] == info.metrics["report_comparison"]
    assert md.extra["training"]["epochs"] == info.config["epochs"]
    # The model carries no machine-specific absolute paths.
    assert "/work/" not in "".join(md.to_props().values())


def test_onnx_scores_equal_the_training_run_scores(small_model_path: Path, small_run_dir: Path):
    """The app (preprocess_file + ONNX) scores Test images as training's evaluation did."""
    model = load_model(small_model_path, prefer_gpu=False)
    rows = read_scores_csv(small_run_dir / "scores_test.csv")[::10]
    batch = np.stack([preprocess_file(r["path"], model.metadata.preprocess) for r in rows])
    got = model.run(batch)["score"]
    want = np.array([r["score"] for r in rows])
    assert np.max(np.abs(got - want)) <= SMALL_SCORE_TOL
    # Decisions against the stored threshold agree wherever the score is not within the tolerance.
    clear = np.abs(want - model.metadata.threshold) > SMALL_SCORE_TOL
    assert np.array_equal(
        (got > model.metadata.threshold)[clear], (want > model.metadata.threshold)[clear]
    )


def test_parity_with_keras_on_real_images(small_model_path: Path, small_run_dir: Path, isic9_dir):
    info = load_run(small_run_dir)
    weights = info.loss_weights
    wrapper = wrap_cae(
        load_keras_model(small_run_dir), weights["mse"], weights["ssim"], info.ssim_window
    )
    images = load_parity_images(select_parity_files(isic9_dir, 8), preprocess_config(info))
    ref = keras_outputs(wrapper, images)
    got = load_model(small_model_path, prefer_gpu=False).run(images, OUTPUT_NAMES)
    assert np.max(np.abs(got["reconstruction"] - ref["reconstruction"])) <= 1e-4
    assert np.max(np.abs(got["score"] - ref["score"])) <= SMALL_SCORE_TOL
    assert np.max(np.abs(got["error_map"] - ref["error_map"])) <= 2e-3


def test_check_image_score_is_stored(small_model_path: Path, isic9_dir: Path) -> None:
    model = load_model(small_model_path, prefer_gpu=False)
    extra = model.metadata.extra
    assert extra["check_image"].startswith("Test/melanoma/")
    x = preprocess_file(isic9_dir / extra["check_image"], model.metadata.preprocess)
    score = model.run(x)["score"][0]
    # Stored from the exported graph itself: the written file reproduces it.
    assert score == pytest.approx(extra["check_score"], abs=1e-6)
    assert score == pytest.approx(extra["check_score_keras"], abs=SMALL_SCORE_TOL)
    assert extra["parity"]["max_abs"]["score"] <= extra["parity"]["tolerances"]["score"]


def test_card_is_generated_from_the_model(small_model_path: Path, ort_metadata) -> None:
    digest = hashlib.sha256(small_model_path.read_bytes()).hexdigest()
    expected = render_model_card(ort_metadata, file_name=small_model_path.name, sha256=digest)
    assert card_path(small_model_path).read_text(encoding="utf-8") == expected
