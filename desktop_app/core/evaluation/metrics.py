"""Screening metrics in plain numpy: shared by training's evaluation and `dermscreen evaluate`.

Conventions: ``y_true`` is 1/True for malignant (the positive class); a case is
flagged (predicted positive) when its score is strictly above the threshold,
as :func:`desktop_app.core.model.score_stats.decide` rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from desktop_app.core.model.operating_points import BAND_SENSITIVITY, SCREENING_SENSITIVITY
from desktop_app.core.model.score_stats import BenignStats

Statistic = Callable[[np.ndarray, np.ndarray], float]
DEFAULT_ALPHAS: tuple[float, ...] = (0.5, 1.0, 1.3, 1.5, 2.0)
DEFAULT_SENSITIVITY_TARGETS: tuple[float, ...] = (0.90, 0.95)
# Chosen on validation (benign validation + never-trained-on malignant images), not on Test.
# 90% is the screening point the app opens at; 95% is the borderline band's lower edge.
VALIDATION_SENSITIVITY_TARGETS: tuple[float, ...] = (0.80, 0.85, SCREENING_SENSITIVITY,
                                                     BAND_SENSITIVITY)
# The role a validation point plays in the app (core.operating_points reads it).
VALIDATION_ROLES: dict[float, str] = {SCREENING_SENSITIVITY: "screening",
                                      BAND_SENSITIVITY: "borderline"}


# Fewest images of each class (positive, negative) for which a 95% CI is reported:
# below it a bootstrap interval means nothing (two images give AUROC "1.000 (1.000 - 1.000)").
MIN_PER_CLASS_FOR_CI = 10

def _as_bool(y: np.ndarray | Sequence) -> np.ndarray:
    return np.asarray(y).astype(bool).ravel()


def _as_float(s: np.ndarray | Sequence) -> np.ndarray:
    return np.asarray(s, dtype=np.float64).ravel()


def predict(scores: np.ndarray | Sequence[float], threshold: float) -> np.ndarray:
    """True where the score is strictly above the threshold (flagged anomalous)."""
    return _as_float(scores) > threshold


def confusion(y_true: np.ndarray | Sequence, y_pred: np.ndarray | Sequence) -> dict[str, int]:
    """Counts tp, fn, tn, fp (positive = malignant)."""
    t, p = _as_bool(y_true), _as_bool(y_pred)
    if t.shape != p.shape:
        msg = f"y_true and y_pred differ in length: {t.size} vs {p.size}"
        raise ValueError(msg)
    return {
        "tp": int(np.sum(t & p)),
        "fn": int(np.sum(t & ~p)),
        "tn": int(np.sum(~t & ~p)),
        "fp": int(np.sum(~t & p)),
    }


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def sensitivity(y_true: np.ndarray | Sequence, y_pred: np.ndarray | Sequence) -> float:
    """TP / (TP + FN); NaN without positives."""
    c = confusion(y_true, y_pred)
    return _ratio(c["tp"], c["tp"] + c["fn"])


def specificity(y_true: np.ndarray | Sequence, y_pred: np.ndarray | Sequence) -> float:
    """TN / (TN + FP); NaN without negatives."""
    c = confusion(y_true, y_pred)
    return _ratio(c["tn"], c["tn"] + c["fp"])


def balanced_accuracy(y_true: np.ndarray | Sequence, y_pred: np.ndarray | Sequence) -> float:
    return 0.5 * (sensitivity(y_true, y_pred) + specificity(y_true, y_pred))


def _rank_average(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    ranks = np.empty(values.size, dtype=np.float64)
    # Boundaries of runs of equal values.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_vals)) + 1]
    ends = np.r_[starts[1:], values.size]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = 0.5 * (s + 1 + e)
    return ranks


def roc_auc(y_true: np.ndarray | Sequence, scores: np.ndarray | Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U; ties count one half). NaN if a class is absent."""
    t, s = _as_bool(y_true), _as_float(scores)
    n_pos, n_neg = int(t.sum()), int((~t).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _rank_average(s)
    u = ranks[t].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_curve(
    y_true: np.ndarray | Sequence, scores: np.ndarray | Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds): one point per distinct score, flagged when score >= threshold,
    starting at (0, 0) with threshold +inf."""
    t, s = _as_bool(y_true), _as_float(scores)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, t_sorted = s[order], t[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    tps = np.cumsum(t_sorted)[last_of_run]
    fps = np.cumsum(~t_sorted)[last_of_run]
    n_pos, n_neg = max(int(t.sum()), 1), max(int((~t).sum()), 1)
    tpr = np.r_[0.0, tps / n_pos]
    fpr = np.r_[0.0, fps / n_neg]
    return fpr, tpr, np.r_[np.inf, s_sorted[last_of_run]]


def average_precision(y_true: np.ndarray | Sequence, scores: np.ndarray | Sequence[float]) -> float:
    """AP = sum_n (R_n - R_{n-1}) P_n over distinct score thresholds (step-wise, no interpolation)."""
    t, s = _as_bool(y_true), _as_float(scores)
    n_pos = int(t.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, t_sorted = s[order], t[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    tps = np.cumsum(t_sorted)[last_of_run].astype(np.float64)
    predicted = last_of_run + 1.0
    precision = tps / predicted
    recall = tps / n_pos
    recall_steps = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_steps * precision))


def bootstrap_ci(
    y_true: np.ndarray | Sequence,
    scores: np.ndarray | Sequence[float],
    statistic: Statistic,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    stratified: bool = True,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``statistic(y_true, scores)``.

    Stratified by default: positives and negatives are resampled separately so
    every resample keeps the class counts (sensitivity, specificity and AUROC
    are then always defined). Resamples giving NaN are skipped.
    """
    t, s = _as_bool(y_true), _as_float(scores)
    if t.size != s.size:
        msg = f"y_true and scores differ in length: {t.size} vs {s.size}"
        raise ValueError(msg)
    if t.size == 0 or n_resamples < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(t), np.flatnonzero(~t)
    values = np.empty(n_resamples, dtype=np.float64)
    for i in range(n_resamples):
        if stratified:
            idx = np.r_[
                rng.choice(pos, pos.size, replace=True) if pos.size else pos,
                rng.choice(neg, neg.size, replace=True) if neg.size else neg,
            ].astype(np.intp)
        else:
            idx = rng.integers(0, t.size, t.size)
        values[i] = statistic(t[idx], s[idx])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return float(lo), float(hi)


def paired_auroc_difference(
    y_true: np.ndarray | Sequence,
    s_new: np.ndarray | Sequence[float],
    s_ref: np.ndarray | Sequence[float],
    n_resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """AUROC(new) - AUROC(ref) on the same images, with a stratified paired bootstrap CI.

    Both models are scored on the SAME resampled images in every draw, so the
    CI of the gain is much narrower than the two AUROCs' CIs would suggest.
    """
    y, a, b = _as_bool(y_true), _as_float(s_new), _as_float(s_ref)
    if not y.size == a.size == b.size:
        msg = f"labels and the two score arrays differ in length: {y.size}, {a.size}, {b.size}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    diffs = np.empty(n_resamples)
    for i in range(n_resamples):
        idx = np.r_[rng.choice(pos, pos.size), rng.choice(neg, neg.size)]
        diffs[i] = roc_auc(y[idx], a[idx]) - roc_auc(y[idx], b[idx])
    diffs = diffs[np.isfinite(diffs)]
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(diffs, [tail, 100.0 - tail]) if diffs.size else (np.nan, np.nan)
    return {
        "value": roc_auc(y, a) - roc_auc(y, b),
        "ci95": [float(lo), float(hi)],
        "p_not_better": float(np.mean(diffs <= 0.0)) if diffs.size else float("nan"),
    }


def threshold_for_sensitivity(
    y_true: np.ndarray | Sequence, scores: np.ndarray | Sequence[float], target: float
) -> float:
    """The highest threshold whose sensitivity (score > threshold) reaches ``target``.

    It is the largest observed score below the k-th highest malignant score
    (k = ceil(target * positives)), so it is a real score value; when no score
    lies below, the value just below the k-th score.
    """
    t, s = _as_bool(y_true), _as_float(scores)
    pos = np.sort(s[t])[::-1]
    if pos.size == 0 or not 0.0 < target <= 1.0:
        msg = f"need malignant scores and a target in (0, 1], got {pos.size} and {target}"
        raise ValueError(msg)
    k = int(np.ceil(target * pos.size - 1e-9))
    kth = pos[k - 1]
    below = s[s < kth]
    return float(below.max()) if below.size else float(np.nextafter(kth, -np.inf))


def summarize_at(
    y_true: np.ndarray | Sequence, scores: np.ndarray | Sequence[float], threshold: float
) -> dict[str, Any]:
    """Sensitivity, specificity, balanced accuracy and the confusion counts at one threshold."""
    pred = predict(scores, threshold)
    return {
        "threshold": float(threshold),
        "sensitivity": sensitivity(y_true, pred),
        "specificity": specificity(y_true, pred),
        "balanced_accuracy": balanced_accuracy(y_true, pred),
        "confusion": confusion(y_true, pred),
    }


def validation_thresholds(
    stats: BenignStats,
    val_malignant_scores: np.ndarray | Sequence[float],
    targets: Sequence[float] = VALIDATION_SENSITIVITY_TARGETS,
) -> list[tuple[float, float]]:
    """(target, threshold) pairs chosen on validation data only.

    Validation = the benign validation scores in ``stats`` plus malignant
    images the model never trained on; each threshold is the highest one
    flagging at least ``target`` of those malignant images.
    """
    benign = _as_float(stats.scores)
    malignant = _as_float(val_malignant_scores)
    y = np.concatenate([np.zeros(benign.size, bool), np.ones(malignant.size, bool)])
    s = np.concatenate([benign, malignant])
    return [(float(t), threshold_for_sensitivity(y, s, t)) for t in targets]


def operating_points(
    stats: BenignStats,
    y_true: np.ndarray | Sequence | None = None,
    scores: np.ndarray | Sequence[float] | None = None,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    sensitivity_targets: Sequence[float] = DEFAULT_SENSITIVITY_TARGETS,
    val_malignant_scores: np.ndarray | Sequence[float] | None = None,
    validation_targets: Sequence[float] = VALIDATION_SENSITIVITY_TARGETS,
) -> list[dict[str, Any]]:
    """Operating points in the ARCHITECTURE.md format.

    One per alpha (T = mean + alpha * sd of benign validation scores); when
    ``val_malignant_scores`` are given (malignant images the model never trained
    on, e.g. the Train malignant ones), one per validation sensitivity target,
    chosen on validation only (the 90% point has role "screening", the 95% point
    role "borderline": :data:`VALIDATION_ROLES`); and, when test labels and scores are given, one
    per target sensitivity chosen ON THE TEST SET (optimistic by construction).
    """
    have_test = y_true is not None and scores is not None
    points: list[dict[str, Any]] = []

    def point(label: str, alpha: float | None, threshold: float) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "label": label,
            "alpha": alpha,
            "threshold": float(threshold),
            "val_specificity": stats.specificity_at(threshold),
            "test_sensitivity": None,
            "test_specificity": None,
        }
        if have_test:
            pred = predict(scores, threshold)
            entry["test_sensitivity"] = sensitivity(y_true, pred)
            entry["test_specificity"] = specificity(y_true, pred)
        return entry

    for a in alphas:
        points.append(point(f"alpha {a:g}", float(a), stats.threshold(a)))
    if val_malignant_scores is not None and len(val_malignant_scores) and stats.scores:
        for target, thr in validation_thresholds(stats, val_malignant_scores, validation_targets):
            entry = point(f"validation sensitivity {round(target * 100)}%", None, thr)
            entry["val_sensitivity"] = float(np.mean(_as_float(val_malignant_scores) > thr))
            if target in VALIDATION_ROLES:
                entry["role"] = VALIDATION_ROLES[target]
            points.append(entry)
    if have_test and _as_bool(y_true).any():
        for target in sensitivity_targets:
            thr = threshold_for_sensitivity(y_true, scores, target)
            points.append(point(f"sensitivity {round(target * 100)}% (test)", None, thr))
    return points


def figures_with_ci(
    y_true: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    classes: Sequence[str],
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Point estimates and 95% CIs at ``threshold``, confusion and per-class detection rates."""
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    at_t = {
        "sensitivity": lambda t, v: sensitivity(t, predict(v, threshold)),
        "specificity": lambda t, v: specificity(t, predict(v, threshold)),
        "balanced_accuracy": lambda t, v: balanced_accuracy(t, predict(v, threshold)),
        "auroc": roc_auc,
        "average_precision": average_precision,
    }
    out: dict[str, Any] = {"n": int(y.size), "n_malignant": int(y.sum()), "n_benign": int((~y).sum())}
    for i, (name, fn) in enumerate(at_t.items()):
        lo, hi = bootstrap_ci(y, s, fn, n_resamples=n_resamples, seed=seed + i)
        out[name] = {"value": float(fn(y, s)), "ci95": [lo, hi]}
    out["confusion"] = summarize_at(y, s, threshold)["confusion"]
    flagged = predict(s, threshold)
    per_class: dict[str, dict[str, Any]] = defaultdict(lambda: {"n": 0, "flagged": 0})
    for cls, f, is_mal in zip(classes, flagged, y, strict=True):
        per_class[cls]["n"] += 1
        per_class[cls]["flagged"] += int(f)
        per_class[cls]["label"] = "malignant" if is_mal else "benign"
    for entry in per_class.values():
        entry["detection_rate"] = entry["flagged"] / entry["n"]
    out["per_class"] = dict(sorted(per_class.items()))
    return out
