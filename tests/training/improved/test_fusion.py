"""Fusion spec, the fused score against numpy, the validation-only selection, operating points."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from desktop_app.core.score_stats import BenignStats
from training.improved import evaluation as ev
from training.improved.fit_improved import (
    TermTable,
    fused,
    select_fusion,
    standardisation,
    subtype_constants,
    val_auroc,
)
from training.improved.fusion import FusionSpec, fuse


def _spec(**kw) -> FusionSpec:
    base = {"terms": ["cae", "area"], "weights": [1.0, 2.0], "mu": [0.1, 0.3], "sd": [0.02, 0.1]}
    return FusionSpec(**(base | kw))


def test_spec_round_trips_and_describes_itself() -> None:
    spec = _spec()
    again = FusionSpec.from_dict(spec.to_dict())
    assert again == spec
    assert spec.describe() == "1 * z(cae) + 2 * z(area)"
    assert not spec.needs_subtype


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"terms": ["cae", "smell"]}, "unknown fusion terms"),
        ({"weights": [1.0]}, "same length"),
        ({"sd": [0.0, 1.0]}, "positive"),
        ({"terms": [], "weights": [], "mu": [], "sd": []}, "at least one term"),
        ({"terms": ["cae", "subtype_maha"]}, "class_means"),
        ({"terms": ["cae", "feature_subtype_entropy"]}, "lr_weights"),
    ],
)
def test_spec_refuses_bad_input(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _spec(**kw)


def test_fuse_is_the_weighted_sum_of_benign_z_scores() -> None:
    spec = _spec()
    cae = np.array([0.1, 0.14, 0.08], np.float32)
    area = np.array([0.3, 0.2, 0.6], np.float32)
    got = fuse(spec, {"cae": tf.constant(cae), "area": tf.constant(area)}).numpy()
    want = 1.0 * (cae - 0.1) / 0.02 + 2.0 * (area - 0.3) / 0.1
    np.testing.assert_allclose(got, want, atol=1e-5)


def _synthetic_table(seed: int = 0) -> TermTable:
    """'good' separates malignant, 'noise' does not, 'inverse' points the wrong way."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, n, shift in (("fit", 300, 0.0), ("val_b", 150, 0.0), ("val_m", 150, 1.0),
                           ("test", 60, 0.5)):
        values[name] = {
            "cae": rng.normal(0.3 * shift, 1.0, n),
            "good": rng.normal(1.5 * shift, 1.0, n),
            "noise": rng.normal(0.0, 1.0, n),
            "inverse": rng.normal(-1.5 * shift, 1.0, n),
        }
    return TermTable(values)


def test_selection_keeps_the_useful_term_and_drops_noise_and_wrong_direction() -> None:
    table = _synthetic_table()
    stand = standardisation(table, ["cae", "good", "noise", "inverse"])
    weights, trace = select_fusion(table, ["good", "noise", "inverse"], stand, start=("cae",))
    assert "good" in weights
    assert "noise" not in weights
    assert "inverse" not in weights  # weights stay positive: no direction learnt from malignant
    assert weights["good"] >= weights["cae"]
    assert trace[-1][1] == pytest.approx(val_auroc(table, weights, stand))
    assert trace[-1][1] > val_auroc(table, {"cae": 1.0}, stand) + 0.1


def test_standardisation_uses_the_benign_train_set_only() -> None:
    table = _synthetic_table()
    stand = standardisation(table, ["good"])
    mu, sd = stand["good"]
    assert mu == pytest.approx(table.values["fit"]["good"].mean())
    assert sd == pytest.approx(table.values["fit"]["good"].std(ddof=1))
    z = fused(table, "fit", {"good": 1.0}, stand)
    assert z.mean() == pytest.approx(0.0, abs=1e-9)


def test_subtype_constants_means_and_precision() -> None:
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], 200)
    centres = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    feats = centres[y] + rng.normal(0, 1.0, (600, 2))
    means, prec = subtype_constants(feats, y, shrinkage=0.0)
    np.testing.assert_allclose(means, centres, atol=0.2)
    np.testing.assert_allclose(prec, np.eye(2), atol=0.15)


def test_feature_classifier_learns_separable_subtypes_and_matches_the_graph() -> None:
    import tensorflow as tf

    from training.improved.features import feature_groups, group_sizes
    from training.improved.fit_improved import fit_feature_classifier
    from training.improved.fusion import entropy, feature_subtype_probs

    rng = np.random.default_rng(6)
    y = np.repeat([0, 1, 2], 100)
    feats = rng.normal(0, 1, (300, 5)) + 3.0 * np.eye(5)[y]
    mu, sd, w, b = fit_feature_classifier(feats, y, 3)
    z = (feats - mu) / sd @ w + b
    assert np.mean(z.argmax(axis=1) == y) > 0.95

    # In the graph: same probabilities as numpy on the real feature vector of two images.
    n_feat = sum(group_sizes().values())
    imgs = rng.uniform(0, 1, (2, 128, 128, 3)).astype(np.float32)
    f = feature_groups(tf.constant(imgs)).numpy().astype(np.float64)
    w2, b2 = rng.normal(0, 0.1, (n_feat, 4)), rng.normal(0, 0.1, 4)
    mu2, sd2 = f.mean(axis=0), np.full(n_feat, 0.5)
    logits = (f - mu2) / sd2 @ w2 + b2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    got = feature_subtype_probs(tf.constant(imgs), mu2, sd2, w2, b2)
    np.testing.assert_allclose(got.numpy(), p, atol=1e-5)
    np.testing.assert_allclose(entropy(got).numpy(), -(p * np.log(p + 1e-6)).sum(axis=1),
                               atol=1e-5)


def test_threshold_for_specificity() -> None:
    benign = np.arange(1, 11, dtype=float)  # 1..10
    thr = ev.threshold_for_specificity(benign, 0.8)
    assert thr == 8.0
    assert np.mean(benign <= thr) == pytest.approx(0.8)


def test_validation_operating_points_are_chosen_on_validation() -> None:
    rng = np.random.default_rng(4)
    vb, vm = rng.normal(0, 1, 200), rng.normal(1.5, 1, 200)
    stats = BenignStats.from_scores(vb)
    vy = np.r_[np.zeros(200), np.ones(200)].astype(bool)
    vs = np.r_[vb, vm]
    ty = np.r_[np.zeros(50), np.ones(50)].astype(bool)
    ts = np.r_[rng.normal(0, 1, 50), rng.normal(1.5, 1, 50)]
    points = ev.validation_operating_points(stats, vy, vs, ty, ts)
    by_label = {p["label"]: p for p in points}
    p85 = by_label["validation sensitivity 85%"]
    assert p85["val_sensitivity"] >= 0.85
    assert by_label["benign validation specificity 90%"]["val_specificity"] >= 0.90
    assert by_label["alpha 1.3"]["threshold"] == pytest.approx(stats.threshold(1.3))
    # The alpha stored with a validation-chosen point reproduces its threshold.
    assert stats.threshold(p85["alpha"]) == pytest.approx(p85["threshold"])
    assert all(0.0 <= p["test_sensitivity"] <= 1.0 for p in points)


def test_paired_auroc_difference_sign_and_ci() -> None:
    rng = np.random.default_rng(5)
    y = np.r_[np.zeros(60), np.ones(60)].astype(bool)
    better = np.where(y, 2.0, 0.0) + rng.normal(0, 1, 120)
    worse = rng.normal(0, 1, 120)
    d = ev.paired_auroc_difference(y, better, worse, n_resamples=300)
    assert d["value"] > 0.3
    assert d["ci95"][0] > 0.0
    assert d["p_not_better"] < 0.01
