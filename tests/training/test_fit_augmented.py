"""`fit --augment --ssim-sigma`: the improved recipe end to end, from training to the app's model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.model.metadata import OUTPUT_NAMES, SsimWindow
from desktop_app.core.model.model_file import load_model
from export.parity import keras_outputs, load_parity_images, select_parity_files
from tests.support.model_fixtures import SMALL_SCORE_TOL, export_small_model
from tests.support.training_fixtures import train_small_run
from training.cli import build_parser, main
from training.compare import compare_runs, write_comparison
from training.fit import FitConfig, rescore
from training.losses import hybrid_score
from training.run import load_keras_model, load_run, preprocess_config
from training.scorer import wrap_cae

SIGMA = 3.0
WINDOW = SsimWindow(SIGMA, "reflect")
OPTIONS = {"epochs": 2, "augment": True, "ssim_sigma": SIGMA, "ssim_border": "reflect",
           "hair_removal": False}


@pytest.fixture(scope="module")
def augmented_run(tmp_path_factory: pytest.TempPathFactory, isic9_dir: Path) -> Path:
    base = tmp_path_factory.mktemp("augmented_run")
    return train_small_run(base / "run", isic9_dir, cache_dir=base / "cache", evaluate_run=False, **OPTIONS)


def test_cli_flags_map_to_the_config() -> None:
    args = build_parser().parse_args(
        ["fit", "--data", "d", "--out", "o", "--augment", "--ssim-sigma", "8", "--ssim-border", "reflect"]
    )
    assert (args.augment, args.ssim_sigma, args.ssim_border) == (True, 8.0, "reflect")
    defaults = build_parser().parse_args(["fit", "--data", "d", "--out", "o"])
    # The reference recipe.
    assert (defaults.augment, defaults.ssim_sigma, defaults.ssim_border) == (False, 1.5, "valid")


def test_bad_sigma_is_refused_before_training(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ssim-sigma"):
        FitConfig(data_dir=tmp_path, out_dir=tmp_path / "o", ssim_sigma=0.0).validate()
    with pytest.raises(ValueError, match="border"):
        FitConfig(data_dir=tmp_path, out_dir=tmp_path / "o", ssim_border="wrap").validate()


def test_run_records_the_recipe_and_trains(augmented_run: Path) -> None:
    info = load_run(augmented_run)
    run = json.loads((augmented_run / "run.json").read_text())
    assert run["augment"] is True
    assert run["ssim_window"] == {"sigma": SIGMA, "border": "reflect"}
    assert info.ssim_window == info.loss_ssim_window == WINDOW
    assert len(info.history["loss"]) == 2
    assert all(np.isfinite(info.history["loss"]))
    assert info.history["val_loss"][-1] < info.history["val_loss"][0]


def test_threshold_uses_the_wide_window_score(augmented_run: Path, tmp_path: Path) -> None:
    info = load_run(augmented_run)
    before = info.stats
    again = rescore(augmented_run, progress=lambda _m: None).stats
    np.testing.assert_allclose(again.scores, before.scores, rtol=1e-5)
    model = load_keras_model(augmented_run)
    x = load_parity_images(
        [Path(f["path"]) for f in info.config["val_files"][:4]], preprocess_config(info)
    )
    recon = model(x, training=False)
    wide = hybrid_score(x, recon, 0.4, 0.6, WINDOW).numpy()
    fine = hybrid_score(x, recon, 0.4, 0.6).numpy()
    stored = sorted(before.scores)
    assert all(min(abs(s - v) for v in stored) < 1e-5 for s in wide)
    assert not np.allclose(wide, fine, atol=1e-4)


def test_export_carries_sigma_and_the_app_scores_as_training(
    augmented_run: Path, small_run_dir: Path, isic9_dir: Path, tmp_path: Path
) -> None:
    ablation = compare_runs([small_run_dir], ["tiny baseline"], n_resamples=100)
    write_comparison(ablation, tmp_path / "ablation")
    path = export_small_model(
        augmented_run,
        tmp_path / "augmented.onnx",
        card=True,
        extra_args=("--ablation", str(tmp_path / "ablation.json")),
    )
    model = load_model(path, prefer_gpu=False)
    assert model.metadata.ssim_window == WINDOW
    assert model.metadata.extra["training"]["augment"] is True
    stored = model.metadata.extra["ablation"]
    assert [r["name"] for r in stored["rows"]] == ["tiny baseline"]
    assert "run_dir" not in stored["rows"][0]  # no machine paths travel in the model
    card = path.with_suffix(".md").read_text()
    assert "19x19 Gaussian window, sigma 3, reflected image borders" in card
    assert "## How this recipe was chosen (ablation)" in card
    assert "| tiny baseline | no | sigma 1.5 valid | sigma 1.5 valid |" in card
    info = load_run(augmented_run)
    w = info.loss_weights
    wrapper = wrap_cae(load_keras_model(augmented_run), w["mse"], w["ssim"], info.ssim_window)
    images = load_parity_images(select_parity_files(isic9_dir, 6), preprocess_config(info))
    ref = keras_outputs(wrapper, images)
    got = model.run(images, OUTPUT_NAMES)
    assert np.max(np.abs(got["score"] - ref["score"])) <= SMALL_SCORE_TOL
    assert np.max(np.abs(got["error_map"] - ref["error_map"])) <= 2e-3
    assert got["error_map"].shape == (len(images), 128, 128)


def test_rescore_with_another_window_keeps_the_training_window(
    augmented_run: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(augmented_run, copy)
    (copy / "metrics.json").write_text("{}")  # stale figures must not survive a new score
    before = load_run(copy).stats
    assert main(["rescore", str(copy), "--ssim-sigma", "1.5"]) == 0
    run = json.loads((copy / "run.json").read_text())
    # Only the sigma was given: the border stays as it was.
    assert run["ssim_window"] == {"sigma": 1.5, "border": "reflect"}
    assert run["loss_ssim_window"] == WINDOW.to_dict()
    assert load_run(copy).loss_ssim_window == WINDOW
    assert not (copy / "metrics.json").exists()
    after = load_run(copy).stats
    assert after.n == before.n
    assert not np.allclose(sorted(after.scores), sorted(before.scores), atol=1e-4)
    assert main(["rescore", str(copy), "--ssim-sigma", "0"]) == 2


def test_a_broken_ablation_file_stops_the_export(augmented_run: Path, tmp_path: Path) -> None:
    bad = tmp_path / "ablation.json"
    bad.write_text('{"rows": 3}')
    with pytest.raises(ValueError, match="compare"):
        export_small_model(augmented_run, tmp_path / "m.onnx", extra_args=("--ablation", str(bad)))
    assert not (tmp_path / "m.onnx").exists()
