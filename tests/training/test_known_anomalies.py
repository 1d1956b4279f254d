"""Issue 13's semi-supervised track: labelled Train malignant images as known anomalies."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from training.data import audit_dataset
from training.evaluate import known_anomaly_paths
from training.fit import FitConfig, select_known_anomalies
from training.losses import hybrid_score, known_anomaly_loss, with_anomaly_flags
from training.run import load_run


def _images(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 0.8, size=(2, 32, 32, 3)).astype(np.float32)


def test_the_loss_is_the_score_for_benign_and_a_hinge_for_known_anomalies() -> None:
    x = _images(0)
    near = np.clip(x + 0.01, 0, 1)  # a good reconstruction: score far below the margin
    score = hybrid_score(tf.constant(x), tf.constant(near)).numpy()
    margin, weight = 0.5, 2.0
    loss = known_anomaly_loss(margin=margin, weight=weight)
    benign = float(loss(tf.constant(with_anomaly_flags(x, [0, 0])), tf.constant(near)))
    known = float(loss(tf.constant(with_anomaly_flags(x, [1, 1])), tf.constant(near)))
    mixed = float(loss(tf.constant(with_anomaly_flags(x, [0, 1])), tf.constant(near)))
    assert benign == pytest.approx(score.mean(), rel=1e-5)
    assert known == pytest.approx(weight * (margin - score).mean(), rel=1e-5)
    assert mixed == pytest.approx((score[0] + weight * (margin - score[1])) / 2, rel=1e-5)
    # A known anomaly already reconstructed worse than the margin costs nothing.
    far = 1.0 - x
    assert float(hybrid_score(tf.constant(x), tf.constant(far))[0]) > 0.2
    assert float(known_anomaly_loss(margin=0.2)(
        tf.constant(with_anomaly_flags(x, [1, 1])), tf.constant(far))) == 0.0


def test_known_anomalies_split_by_class_disjoint_and_seeded(isic9_dir: Path) -> None:
    audit = audit_dataset(isic9_dir)
    cfg = FitConfig(data_dir=isic9_dir, out_dir=Path("unused"), known_anomalies=0.7)
    train, held_out = select_known_anomalies(audit, cfg)
    assert not {s.path for s in train} & {s.path for s in held_out}
    assert len(train) + len(held_out) == len(audit.malignant_train())
    assert all(s.label == "malignant" for s in train + held_out)
    for cls in {s.cls for s in audit.malignant_train()}:
        n_train = sum(s.cls == cls for s in train)
        n_all = n_train + sum(s.cls == cls for s in held_out)
        assert abs(n_train / n_all - 0.7) < 0.05, cls
    again, _ = select_known_anomalies(audit, cfg)
    assert [s.path for s in again] == [s.path for s in train]
    assert select_known_anomalies(audit, FitConfig(data_dir=isic9_dir, out_dir=Path("u"))) == ([], [])


def test_a_real_semi_supervised_run_validates_on_held_out_cancers_only(
    known_anomaly_run_dir: Path, isic9_sample_dir: Path
) -> None:
    run = known_anomaly_run_dir
    info = load_run(run)
    known = info.config["known_anomalies"]
    assert known["share"] == 0.5 and known["train_files"] and known["val_files"]
    trained_on = known_anomaly_paths(info.config)
    assert trained_on == {r["path"] for r in known["train_files"]}
    with (run / "scores_val_malignant.csv").open(encoding="utf-8", newline="") as fh:
        validated = {r["path"] for r in csv.DictReader(fh)}
    every_malignant = {str(s.path) for s in audit_dataset(isic9_sample_dir).malignant_train()}
    assert validated == every_malignant - trained_on  # all that --limit left out validate too
    assert {r["path"] for r in known["val_files"]} <= validated
    # The benign threshold still comes from benign validation images only.
    assert info.stats.n == len(info.config["val_files"])
    assert all(r["class"] not in {"melanoma", "basal cell carcinoma"} for r in info.config["val_files"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"known_anomalies": 1.0}, "must lie in"), ({"known_anomalies": 0.5, "augment": True}, "augment"),
     ({"known_anomalies": 0.5, "anomaly_margin": 0.0}, "positive")],
)
def test_bad_known_anomaly_options_are_refused(changes: dict, message: str) -> None:
    cfg = FitConfig(data_dir=Path("x"), out_dir=Path("y"), **changes)
    with pytest.raises(ValueError, match=message):
        cfg.validate()
