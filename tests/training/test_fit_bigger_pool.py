"""Issue 13's training options: the ham-extra nevi in the benign pool, epochs chosen by val_loss."""

from __future__ import annotations

import csv
from pathlib import Path

import keras
import pytest

from desktop_app.core.evaluation.splits import DEV_EVAL, read_split
from tests.support.data import DATA
from tests.support.training_fixtures import train_small_run
from training.data import audit_dataset
from training.fit import FitConfig, _make_callbacks, select_benign
from training.run import load_run


def test_extra_benign_adds_ham_nevi_to_train_and_validation(isic9_dir: Path) -> None:
    audit = audit_dataset(isic9_dir)
    cfg = FitConfig(data_dir=isic9_dir, out_dir=Path("unused"), limit=20, seed=3, extra_benign=DATA)
    train, val = select_benign(audit, cfg)
    ham_train = [s for s in train if "ham-extra" in str(s.path)]
    ham_val = [s for s in val if "ham-extra" in str(s.path)]
    assert len(ham_train) == 20 and len(ham_val) == 20  # --limit takes the same share of each list
    assert all(s.cls == "nevus" and s.label == "benign" for s in ham_train + ham_val)
    assert all(s.path in audit.sha for s in ham_train + ham_val)  # hashed into the run's data hash
    with (DATA / "ham-extra" / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        lesion = {r["image_id"]: r["lesion_id"] for r in csv.DictReader(fh)}
    dev = {lesion[Path(e.rel_path).stem] for e in read_split(DEV_EVAL)}
    used_train = {lesion[s.path.stem] for s in ham_train}
    used_val = {lesion[s.path.stem] for s in ham_val}
    assert not used_train & used_val and not (used_train | used_val) & dev


def _stopper(patience: int | None, max_minutes: float | None):
    timing: dict[str, list[float]] = {"epoch_seconds": [], "rss_mb": [], "peak_rss_mb": []}
    _report, keep_best = _make_callbacks(10, lambda _m: None, timing, Path("unused"), patience, max_minutes)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    keep_best.set_model(model)
    model.stop_training = False  # Keras sets it when fit() starts
    return timing, keep_best, model


def test_patience_stops_after_epochs_without_a_lower_val_loss() -> None:
    timing, keep_best, model = _stopper(patience=2, max_minutes=None)
    for epoch, loss in enumerate([1.0, 0.5, 0.7, 0.6]):
        timing["epoch_seconds"].append(1.0)
        keep_best.on_epoch_end(epoch, {"val_loss": loss})
        if epoch < 3:
            assert not model.stop_training, epoch
    assert model.stop_training and "patience 2" in keep_best.stopped
    assert keep_best.best_epoch == 1


@pytest.mark.parametrize("spent", [0.5, 2.0])
def test_time_budget_stops_only_once_passed(spent: float) -> None:
    timing, keep_best, model = _stopper(patience=None, max_minutes=1.0)
    timing["epoch_seconds"].append(spent * 60)
    keep_best.on_epoch_end(0, {"val_loss": 1.0})
    assert bool(model.stop_training) == (spent >= 1.0)


def test_a_real_run_on_the_bigger_pool_records_it(tmp_path: Path, isic9_dir: Path) -> None:
    run = train_small_run(tmp_path / "run", isic9_dir, evaluate_run=False, limit=8, epochs=3,
                          extra_benign=DATA, max_minutes=1e-6)
    info = load_run(run)
    assert info.config["extra_benign"] == str(DATA)
    assert info.config["n_train"] == len(info.config["train_files"])
    assert any("ham-extra" in r["path"] for r in info.config["val_files"])
    assert info.config["timing"]["epochs_done"] == 1  # the budget stopped it after one epoch
    assert "budget" in info.history["stopped_early"]


def test_bad_new_options_are_refused() -> None:
    for field, value in (("patience", 0), ("max_minutes", 0.0)):
        cfg = FitConfig(data_dir=Path("x"), out_dir=Path("y"))
        setattr(cfg, field, value)
        with pytest.raises(ValueError, match="must be"):
            cfg.validate()
