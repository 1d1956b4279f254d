"""Metric functions on hand-made inputs whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_app.core.evaluation.metrics import (
    average_precision,
    balanced_accuracy,
    bootstrap_ci,
    confusion,
    operating_points,
    predict,
    roc_auc,
    roc_curve,
    sensitivity,
    specificity,
    summarize_at,
    threshold_for_sensitivity,
)
from desktop_app.core.model.score_stats import BenignStats

# The classic 4-point example: AUROC 0.75, AP 0.8333 (known textbook values).
Y4 = np.array([0, 0, 1, 1])
S4 = np.array([0.1, 0.4, 0.35, 0.8])


def test_confusion_counts_each_cell() -> None:
    y = [1, 1, 1, 0, 0]
    pred = [1, 0, 1, 0, 1]
    assert confusion(y, pred) == {"tp": 2, "fn": 1, "tn": 1, "fp": 1}
    assert sensitivity(y, pred) == pytest.approx(2 / 3)
    assert specificity(y, pred) == pytest.approx(1 / 2)
    assert balanced_accuracy(y, pred) == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_confusion_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        confusion([1, 0], [1])


def test_sensitivity_without_positives_is_nan() -> None:
    assert math.isnan(sensitivity([0, 0], [0, 1]))
    assert math.isnan(specificity([1, 1], [0, 1]))


def test_predict_flags_strictly_above_threshold() -> None:
    assert predict([0.1, 0.2, 0.3], 0.2).tolist() == [False, False, True]


def test_report_figures_reproduce_from_counts() -> None:
    # The report: 42 of 64 malignant flagged, 31 of 54 benign passed.
    y = np.r_[np.ones(64), np.zeros(54)]
    pred = np.r_[np.ones(42), np.zeros(22), np.zeros(31), np.ones(23)]
    assert sensitivity(y, pred) == pytest.approx(0.65625)
    assert specificity(y, pred) == pytest.approx(31 / 54)


def test_roc_auc_known_example() -> None:
    assert roc_auc(Y4, S4) == pytest.approx(0.75)


def test_roc_auc_extremes_and_ties() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(1.0)
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(0.0)
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.5)
    # One tie between a positive and a negative counts one half: (3 + 0.5) / 4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.9]) == pytest.approx(3.5 / 4)
    assert math.isnan(roc_auc([1, 1], [0.1, 0.2]))


def test_roc_curve_points() -> None:
    fpr, tpr, thr = roc_curve(Y4, S4)
    assert thr.tolist() == [np.inf, 0.8, 0.4, 0.35, 0.1]
    assert tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    # Trapezoid area of the step curve equals the rank AUROC.
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(Y4, S4))


def test_average_precision_known_example() -> None:
    # Ranks: 0.8(+) P=1 R=.5; 0.4(-); 0.35(+) P=2/3 R=1 -> .5*1 + .5*2/3.
    assert average_precision(Y4, S4) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision([0, 1, 1], [0.1, 0.8, 0.9]) == pytest.approx(1.0)
    assert average_precision([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert math.isnan(average_precision([0, 0], [0.1, 0.2]))


def test_threshold_for_sensitivity_reaches_target_with_best_specificity() -> None:
    y = np.array([0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.3, 0.2, 0.4, 0.5, 0.6])
    t75 = threshold_for_sensitivity(y, s, 0.75)
    assert t75 == pytest.approx(0.3)
    assert sensitivity(y, predict(s, t75)) == pytest.approx(0.75)
    assert specificity(y, predict(s, t75)) == pytest.approx(1.0)
    t100 = threshold_for_sensitivity(y, s, 1.0)
    assert t100 == pytest.approx(0.1)
    assert sensitivity(y, predict(s, t100)) == pytest.approx(1.0)
    assert specificity(y, predict(s, t100)) == pytest.approx(0.5)


def test_threshold_for_sensitivity_below_every_score() -> None:
    y = np.array([1, 0, 1])
    s = np.array([0.1, 0.2, 0.3])
    t = threshold_for_sensitivity(y, s, 1.0)
    assert t < 0.1
    assert sensitivity(y, predict(s, t)) == 1.0


def test_threshold_for_sensitivity_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="target"):
        threshold_for_sensitivity([0, 0], [0.1, 0.2], 0.9)
    with pytest.raises(ValueError, match="target"):
        threshold_for_sensitivity([1, 0], [0.1, 0.2], 1.5)


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(60), np.zeros(60)].astype(bool)
    s = np.r_[rng.normal(1.0, 1.0, 60), rng.normal(0.0, 1.0, 60)]
    a = bootstrap_ci(y, s, roc_auc, n_resamples=500, seed=1)
    b = bootstrap_ci(y, s, roc_auc, n_resamples=500, seed=1)
    assert a == b
    lo, hi = a
    assert lo < roc_auc(y, s) < hi
    assert 0.0 <= lo < hi <= 1.0
    lo50, hi50 = bootstrap_ci(y, s, roc_auc, n_resamples=500, seed=1, level=0.5)
    assert lo <= lo50 < hi50 <= hi


def test_bootstrap_ci_collapses_on_a_certain_statistic() -> None:
    y = np.array([1, 1, 1, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.3])
    # Perfect separation: every stratified resample keeps AUROC 1.
    assert bootstrap_ci(y, s, roc_auc, n_resamples=200) == (1.0, 1.0)


def test_bootstrap_ci_stratified_keeps_class_counts() -> None:
    y = np.r_[np.ones(2), np.zeros(30)].astype(bool)
    s = np.linspace(0, 1, 32)
    counts = []

    def count_pos(t: np.ndarray, _s: np.ndarray) -> float:
        counts.append(int(t.sum()))
        return float(t.sum())

    bootstrap_ci(y, s, count_pos, n_resamples=50, stratified=True)
    assert set(counts) == {2}
    counts.clear()
    bootstrap_ci(y, s, count_pos, n_resamples=200, stratified=False, seed=5)
    assert len(set(counts)) > 1


def test_summarize_at_combines_the_figures() -> None:
    out = summarize_at(Y4, S4, 0.36)
    assert out["confusion"] == {"tp": 1, "fn": 1, "tn": 1, "fp": 1}
    assert out["sensitivity"] == 0.5
    assert out["balanced_accuracy"] == 0.5


def test_operating_points_format_and_values() -> None:
    stats = BenignStats.from_scores([0.1, 0.2, 0.3, 0.4], alpha=1.3)
    y = np.array([0, 0, 1, 1, 1])
    s = np.array([0.15, 0.25, 0.2, 0.5, 0.6])
    points = operating_points(stats, y, s, alphas=(0.5, 1.3), sensitivity_targets=(0.9,))
    assert [p["label"] for p in points] == ["alpha 0.5", "alpha 1.3", "sensitivity 90% (test)"]
    keys = {"label", "alpha", "threshold", "val_specificity", "test_sensitivity", "test_specificity"}
    assert all(set(p) == keys for p in points)
    assert points[1]["threshold"] == pytest.approx(stats.threshold(1.3))
    assert points[1]["val_specificity"] == stats.specificity_at(stats.threshold(1.3))
    assert points[2]["alpha"] is None
    assert points[2]["test_sensitivity"] >= 0.9
    bare = operating_points(stats, alphas=(1.0,))
    assert bare[0]["test_sensitivity"] is None
    assert len(bare) == 1


def test_validation_chosen_operating_points_use_validation_only() -> None:
    from desktop_app.core.evaluation.metrics import operating_points, validation_thresholds
    from desktop_app.core.model.score_stats import BenignStats

    stats = BenignStats.from_scores([0.1, 0.2, 0.3, 0.4], alpha=1.0)
    malignant = [0.15, 0.25, 0.35, 0.45, 0.55]
    pairs = validation_thresholds(stats, malignant, targets=(0.8, 1.0))
    # 80% of 5 malignant = 4 flagged: highest threshold below 0.25 is 0.2.
    assert pairs == [(0.8, 0.2), (1.0, 0.1)]
    points = operating_points(stats, val_malignant_scores=malignant, validation_targets=(0.8,))
    chosen = [p for p in points if p["label"] == "validation sensitivity 80%"]
    assert len(chosen) == 1
    assert chosen[0]["threshold"] == 0.2
    assert chosen[0]["val_sensitivity"] == 0.8
    assert chosen[0]["val_specificity"] == 0.5
    assert chosen[0]["test_sensitivity"] is None  # no test data was given


def test_default_validation_points_carry_the_screening_point_and_the_band() -> None:
    from desktop_app.core.evaluation.metrics import operating_points
    from desktop_app.core.imaging.preprocess import PreprocessConfig
    from desktop_app.core.model.metadata import ModelMetadata
    from desktop_app.core.model.operating_points import borderline_low, screening_threshold
    from desktop_app.core.model.score_stats import BenignStats

    rng = np.random.default_rng(3)
    stats = BenignStats.from_scores(rng.normal(0.10, 0.02, 200).tolist(), alpha=1.3)
    malignant = rng.normal(0.14, 0.03, 100)
    points = operating_points(stats, val_malignant_scores=malignant, alphas=(1.3,))
    by_label = {p["label"]: p for p in points}
    assert [p["label"] for p in points[1:]] == [
        "validation sensitivity 80%", "validation sensitivity 85%",
        "validation sensitivity 90%", "validation sensitivity 95%"]
    assert by_label["validation sensitivity 90%"]["role"] == "screening"
    assert by_label["validation sensitivity 95%"]["role"] == "borderline"
    assert "role" not in by_label["validation sensitivity 80%"]
    assert by_label["validation sensitivity 95%"]["val_sensitivity"] >= 0.95
    # The app reads the roles: the band sits below the screening point.
    meta = ModelMetadata(model_name="m", model_version="1", created="now",
                         threshold=stats.threshold(), benign_stats=stats, loss_weights={},
                         preprocess=PreprocessConfig(), operating_points=points)
    assert screening_threshold(meta) == by_label["validation sensitivity 90%"]["threshold"]
    assert borderline_low(meta) == by_label["validation sensitivity 95%"]["threshold"]
    assert borderline_low(meta) < screening_threshold(meta)
