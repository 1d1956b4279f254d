"""Figures for the ablation table and the model card, all from desktop_app.core.metrics.

Operating points are chosen on VALIDATION data only (benign validation images and Train
malignant images) and then reported on Test, unlike the Test-chosen rows of the reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from desktop_app.core import metrics
from desktop_app.core.score_stats import BenignStats

# One implementation of each figure, shared with `dermscreen-train compare`.
from training.compare import (  # noqa: F401  (re-exported for the pipeline)
    BOOT_SEED,
    N_RESAMPLES,
    auroc_with_ci,
    paired_auroc_difference,
    rate_with_ci,
)

# Validation targets that define operating points (threshold chosen on validation).
VAL_SENSITIVITY_TARGETS: tuple[float, ...] = (0.80, 0.85, 0.90)
VAL_SPECIFICITY_TARGETS: tuple[float, ...] = (0.80, 0.90, 0.95)


def threshold_for_specificity(benign_scores: np.ndarray, target: float) -> float:
    """Smallest threshold passing at least ``target`` of the benign scores (score <= T passes)."""
    s = np.sort(np.asarray(benign_scores, dtype=np.float64))
    k = int(np.ceil(target * s.size - 1e-9))
    return float(s[max(k, 1) - 1])


def validation_operating_points(
    stats: BenignStats,
    val_y: np.ndarray,
    val_s: np.ndarray,
    test_y: np.ndarray | None = None,
    test_s: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Operating points in the ARCHITECTURE.md format, every threshold chosen on validation."""
    val_y = np.asarray(val_y).astype(bool)
    val_s = np.asarray(val_s, dtype=np.float64)
    chosen: list[tuple[str, float | None, float]] = []
    for target in VAL_SENSITIVITY_TARGETS:
        thr = metrics.threshold_for_sensitivity(val_y, val_s, target)
        chosen.append((f"validation sensitivity {round(target * 100)}%", None, thr))
    for target in VAL_SPECIFICITY_TARGETS:
        thr = threshold_for_specificity(val_s[~val_y], target)
        chosen.append((f"benign validation specificity {round(target * 100)}%", None, thr))
    for a in metrics.DEFAULT_ALPHAS:
        chosen.append((f"alpha {a:g}", float(a), stats.threshold(a)))
    points = []
    for label, alpha, thr in chosen:
        entry: dict[str, Any] = {
            "label": label,
            "alpha": alpha if alpha is not None else stats.alpha_for(thr),
            "threshold": float(thr),
            "val_specificity": stats.specificity_at(thr),
            "val_sensitivity": metrics.sensitivity(val_y, metrics.predict(val_s, thr)),
            "test_sensitivity": None,
            "test_specificity": None,
        }
        if test_y is not None and test_s is not None:
            pred = metrics.predict(test_s, thr)
            entry["test_sensitivity"] = metrics.sensitivity(test_y, pred)
            entry["test_specificity"] = metrics.specificity(test_y, pred)
        points.append(entry)
    return points


def test_figures(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUROC, AP, sensitivity and specificity at ``threshold``, with 95% bootstrap CIs."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    lo, hi = metrics.bootstrap_ci(
        y, s, metrics.average_precision, n_resamples=N_RESAMPLES, seed=BOOT_SEED
    )
    summary = metrics.summarize_at(y, s, threshold)
    return {
        "n": int(y.size),
        "n_malignant": int(y.sum()),
        "n_benign": int((~y).sum()),
        "auroc": auroc_with_ci(y, s),
        "average_precision": {"value": metrics.average_precision(y, s), "ci95": [lo, hi]},
        "sensitivity": rate_with_ci(y, s, threshold, "sensitivity"),
        "specificity": rate_with_ci(y, s, threshold, "specificity"),
        "balanced_accuracy": {"value": summary["balanced_accuracy"], "ci95": [None, None]},
        "confusion": summary["confusion"],
    }
