"""A small real training run: files, falling loss, and a threshold from validation only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.model.score_stats import BenignStats
from training.cache import load_tensors
from training.data import audit_dataset
from training.fit import FitConfig, select_benign
from training.run import load_keras_model, load_run, preprocess_config, read_scores_csv
from training.threshold import heatmap_vmax, score_images


@pytest.fixture(scope="module")
def reloaded(small_run_dir: Path, isic9_dir: Path) -> dict:
    """The run's saved model re-scoring its own train and validation files."""
    info = load_run(small_run_dir)
    model = load_keras_model(small_run_dir)
    pre = preprocess_config(info)
    w = info.loss_weights
    audit = audit_dataset(isic9_dir)
    out = {"info": info, "audit": audit}
    for part in ("train", "val"):
        paths = [Path(f["path"]) for f in info.config[f"{part}_files"]]
        x = load_tensors(paths, pre, audit.sha)
        out[f"x_{part}"] = x
        out[f"{part}_scores"] = score_images(model, x, w["mse"], w["ssim"])
    out["model"] = model
    return out


def test_run_folder_holds_model_threshold_history(small_run_dir: Path) -> None:
    for name in ("model.keras", "run.json", "threshold.json", "history.json", "scores_train.csv",
                 "scores_val.csv"):
        assert (small_run_dir / name).stat().st_size > 0, name
    thr = json.loads((small_run_dir / "threshold.json").read_text())
    stats = BenignStats.from_dict(thr["stats"])
    assert thr["threshold"] == pytest.approx(stats.mean + 1.3 * stats.sd)
    assert thr["heatmap_vmax"] > 0


def test_loss_falls(small_run_dir: Path) -> None:
    history = load_run(small_run_dir).history
    assert len(history["loss"]) == 4
    assert history["loss"][-1] < history["loss"][0]
    assert min(history["val_loss"]) < history["val_loss"][0]
    assert 1 <= history["best_epoch"] <= 4
    assert history["val_loss"][history["best_epoch"] - 1] == min(history["val_loss"])


def test_threshold_comes_from_validation_not_training(reloaded: dict) -> None:
    info = reloaded["info"]
    val_stats = BenignStats.from_scores(reloaded["val_scores"], alpha=1.3)
    train_stats = BenignStats.from_scores(reloaded["train_scores"], alpha=1.3)
    # The saved (best) weights reproduce the stored validation statistics...
    assert info.stats.n == len(info.config["val_files"])
    assert info.stats.mean == pytest.approx(val_stats.mean, rel=1e-5)
    assert info.stats.sd == pytest.approx(val_stats.sd, rel=1e-4)
    assert info.threshold == pytest.approx(val_stats.threshold(), rel=1e-5)
    np.testing.assert_allclose(info.stats.scores, val_stats.scores, rtol=1e-5)
    # ...and not those of the images the model trained on.
    assert train_stats.n != info.stats.n
    assert abs(train_stats.mean - info.stats.mean) > 1e-4
    stored_val = [r["path"] for r in read_scores_csv(info.run_dir / "scores_val.csv")]
    assert stored_val == [f["path"] for f in info.config["val_files"]]


def test_heatmap_vmax_is_p99_of_validation_error_maps(reloaded: dict) -> None:
    info = reloaded["info"]
    w = info.loss_weights
    again = heatmap_vmax(reloaded["model"], reloaded["x_val"], w["mse"], w["ssim"])
    assert info.heatmap_vmax == pytest.approx(again, rel=1e-4)
    assert again != pytest.approx(heatmap_vmax(reloaded["model"], reloaded["x_train"], w["mse"], w["ssim"]))


def test_split_is_benign_disjoint_and_audited(reloaded: dict) -> None:
    info, audit = reloaded["info"], reloaded["audit"]
    train = {f["path"] for f in info.config["train_files"]}
    val = {f["path"] for f in info.config["val_files"]}
    assert len(train) + len(val) == 48
    assert not train & val
    kept = {str(s.path) for s in audit.benign_train()}
    assert train | val <= kept  # benign Train only, after duplicates/leakage were dropped
    assert not (train | val) & {str(s.path) for s in audit.test}
    shas = {f["sha256"] for f in info.config["train_files"] + info.config["val_files"]}
    assert len(shas) == 48
    assert info.config["data_hash"] == audit.data_hash(
        [s for s in audit.samples if str(s.path) in train | val]
    )


def test_config_timing_and_memory_recorded(small_run_dir: Path) -> None:
    info = load_run(small_run_dir)
    cfg = info.config
    assert cfg["loss_weights"] == {"mse": 0.4, "ssim": 0.6}
    assert cfg["preprocess"]["hair_removal"] is True
    assert cfg["epochs"] == 4
    assert cfg["batch_size"] == 16
    assert cfg["seed"] == 7
    assert cfg["timing"]["epochs_done"] == 4
    assert cfg["timing"]["epoch_seconds_mean"] > 0
    assert cfg["timing"]["peak_rss_mb"] > 100
    assert len(info.history["epoch_seconds"]) == 4
    assert len(info.history["peak_rss_mb"]) == 4


def test_preprocessed_tensors_are_cached(small_run_dir: Path) -> None:
    pre = preprocess_config(load_run(small_run_dir))
    cache = small_run_dir.parent / "cache" / pre.digest()
    cached = list(cache.rglob("*.npy"))
    # 48 benign training/validation images plus the 118 Test images of evaluate.
    assert len(cached) >= 48 + 118 - 5


def test_split_selection_is_seeded(isic9_dir: Path) -> None:
    audit = audit_dataset(isic9_dir)
    cfg = FitConfig(data_dir=isic9_dir, out_dir=Path("unused"), limit=40, seed=3, val_fraction=0.25)
    a = select_benign(audit, cfg)
    b = select_benign(audit, cfg)
    assert [s.path for s in a[0]] == [s.path for s in b[0]]
    assert [s.path for s in a[1]] == [s.path for s in b[1]]
    cfg.seed = 4
    c = select_benign(audit, cfg)
    assert {s.path for s in c[0]} != {s.path for s in a[0]}


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("epochs", 0, "at least 1"), ("w_mse", -1.0, "non-negative"), ("limit", 2, "at least 4")],
)
def test_bad_options_are_refused(field: str, value: float, match: str) -> None:
    cfg = FitConfig(data_dir=Path("x"), out_dir=Path("y"))
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=match):
        cfg.validate()
