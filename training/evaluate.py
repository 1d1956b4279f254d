"""`dermscreen-train evaluate`: Test-split figures with bootstrap CIs, plots and operating points."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.evaluation.metrics import (
    DEFAULT_ALPHAS,
    DEFAULT_SENSITIVITY_TARGETS,
    figures_with_ci,
    operating_points,
    summarize_at,
    threshold_for_sensitivity,
    validation_thresholds,
)
from desktop_app.core.model.score_stats import BenignStats
from training.run import (
    ALPHA_RULE,
    METRICS_FILE,
    PLOTS_DIR,
    load_run,
    preprocess_config,
    read_scores_csv,
    record_threshold,
    validation_sensitivity_rule,
    write_json,
    write_scores_csv,
)

Progress = Callable[[str], None]
CI_METHOD = "stratified percentile bootstrap (malignant and benign resampled separately)"
# The figures the project's written report gives for its model on this Test split.
REPORT_FIGURES = {
    "sensitivity": 42 / 64,
    "specificity": 31 / 54,
    "sensitivity_counts": "42/64",
    "specificity_counts": "31/54",
}


def distribution(scores: Sequence[float], threshold: float) -> dict[str, Any]:
    """Summary of a score sample and the fraction flagged at ``threshold``."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.size == 0:
        return {"n": 0}
    return {
        "n": int(arr.size),
        "mean": float(arr.mean()),
        "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "quantiles": {
            f"q{q:02d}": float(np.percentile(arr, q)) for q in (5, 25, 50, 75, 95)
        },
        "fraction_flagged": float(np.mean(arr > threshold)),
    }


def _benign_specificity_by_alpha(
    stats: BenignStats, train: np.ndarray, alphas: Sequence[float]
) -> list[dict[str, float]]:
    return [
        {
            "alpha": float(a),
            "threshold": stats.threshold(a),
            "train_specificity": float(np.mean(train <= stats.threshold(a))) if train.size else float("nan"),
            "val_specificity": stats.specificity_at(stats.threshold(a)),
        }
        for a in alphas
    ]


def known_anomaly_paths(config: dict[str, Any]) -> set[str]:
    """Paths of the Train malignant images a semi-supervised run trained on (empty otherwise)."""
    known = config.get("known_anomalies") or {}
    return {str(row["path"]) for row in known.get("train_files", [])}


def evaluate(
    run_dir: str | Path,
    data_dir: str | Path,
    n_resamples: int = 2000,
    seed: int = 0,
    progress: Progress = print,
    threshold_at_validation_sensitivity: float | None = None,
) -> dict[str, Any]:
    """Score the Test split with the run's model and write metrics.json, scores_test.csv, plots.

    ``threshold_at_validation_sensitivity`` (e.g. 0.8) makes the run's threshold the
    highest one flagging that share of the Train malignant images (validation data,
    never trained on) instead of mean + alpha * sd; threshold.json records it and
    every Test figure is computed at it.
    """
    from training.cache import load_tensors
    from training.data import audit_dataset
    from training.plots import plot_roc, plot_score_histograms, plot_training_curves
    from training.run import load_keras_model
    from training.threshold import score_images

    val_target = threshold_at_validation_sensitivity
    if val_target is not None and not 0.0 < val_target < 1.0:
        msg = f"the validation sensitivity target must lie in (0, 1), got {val_target}"
        raise ValueError(msg)
    run_dir = Path(run_dir)
    info = load_run(run_dir)
    pre = preprocess_config(info)
    weights = info.loss_weights
    model = load_keras_model(run_dir)
    audit = audit_dataset(data_dir)
    test = audit.test
    if not test:
        msg = f"{data_dir}: no Test split to evaluate on"
        raise ValueError(msg)
    progress(f"scoring {len(test)} Test images")
    x = load_tensors([s.path for s in test], pre, audit.sha, progress)
    scores = score_images(model, x, weights["mse"], weights["ssim"], window=info.ssim_window,
                          fov=info.field_of_view)
    y = np.array([s.is_malignant for s in test])
    classes = [s.cls for s in test]
    stats = info.stats
    # Validation malignant: Train malignant images, never trained on (the CAE sees
    # benign images only); with the benign validation scores they choose thresholds.
    val_malignant = audit.malignant_train()
    trained_on = known_anomaly_paths(info.config)
    if trained_on:
        # A semi-supervised run trained on some of them: only the held-out ones validate.
        val_malignant = [s for s in val_malignant if str(s.path) not in trained_on]
    progress(f"scoring {len(val_malignant)} Train malignant images (validation only)")
    x_mal = load_tensors([s.path for s in val_malignant], pre, audit.sha, progress)
    mal_scores = score_images(
        model, x_mal, weights["mse"], weights["ssim"], window=info.ssim_window,
        fov=info.field_of_view,
    )
    write_scores_csv(
        run_dir / "scores_val_malignant.csv",
        [(s.path, s.cls, s.label, v) for s, v in zip(val_malignant, mal_scores, strict=True)],
    )
    threshold = stats.threshold()
    rule = ALPHA_RULE
    if val_target is not None:
        if not mal_scores.size:
            msg = "a validation-chosen threshold needs malignant Train images; none were found"
            raise ValueError(msg)
        [(_, threshold)] = validation_thresholds(stats, mal_scores, (val_target,))
        rule = validation_sensitivity_rule(val_target, int(mal_scores.size))
        progress(f"threshold T = {threshold:.5f} ({rule})")
    if val_target is not None or info.chosen_threshold is not None:
        # Evaluated again without the option: back to the alpha rule, recorded as such.
        record_threshold(run_dir, threshold, val_target, rule)
    write_scores_csv(
        run_dir / "scores_test.csv",
        [(s.path, s.cls, s.label, v) for s, v in zip(test, scores, strict=True)],
    )

    progress(f"bootstrap CIs ({n_resamples} resamples)")
    full = figures_with_ci(y, scores, threshold, classes, n_resamples, seed)
    ambiguous = {s.path for s in audit.test_ambiguous}
    keep = np.array([s.path not in ambiguous for s in test])
    clean = figures_with_ci(y[keep], scores[keep], threshold, np.asarray(classes)[keep].tolist(),
                            n_resamples, seed)

    at_alphas = []
    for a in DEFAULT_ALPHAS:
        entry = summarize_at(y, scores, stats.threshold(a))
        entry["alpha"] = a
        entry["val_specificity"] = stats.specificity_at(stats.threshold(a))
        at_alphas.append(entry)
    at_sens = []
    for target in DEFAULT_SENSITIVITY_TARGETS:
        thr = threshold_for_sensitivity(y, scores, target)
        entry = summarize_at(y, scores, thr)
        entry["target_sensitivity"] = target
        entry["alpha_equivalent"] = stats.alpha_for(thr)
        entry["val_specificity"] = stats.specificity_at(thr)
        entry["note"] = "threshold chosen on the Test split itself: optimistic"
        at_sens.append(entry)

    validation_chosen = []
    if mal_scores.size:
        for target, thr in validation_thresholds(stats, mal_scores):
            validation_chosen.append({
                "target_val_sensitivity": target,
                "threshold": thr,
                "alpha_equivalent": stats.alpha_for(thr),
                "val_sensitivity": float(np.mean(mal_scores > thr)),
                "val_specificity": stats.specificity_at(thr),
                "test": figures_with_ci(y, scores, thr, classes, n_resamples, seed),
            })

    train_path, val_path = run_dir / "scores_train.csv", run_dir / "scores_val.csv"
    train_scores = np.array([r["score"] for r in read_scores_csv(train_path)]) if train_path.exists() else np.empty(0)
    val_scores = np.array([r["score"] for r in read_scores_csv(val_path)]) if val_path.exists() else np.empty(0)
    seen_vs_new = {
        "benign_train_seen": distribution(train_scores, threshold),
        "benign_validation": distribution(val_scores, threshold),
        "benign_test": distribution(scores[~y], threshold),
        "malignant_test": distribution(scores[y], threshold),
        "specificity": {
            "benign_train_seen": float(np.mean(train_scores <= threshold)) if train_scores.size else None,
            "benign_validation": stats.specificity_at(threshold),
            "benign_test": full["specificity"]["value"],
        },
        "by_alpha": _benign_specificity_by_alpha(stats, train_scores, DEFAULT_ALPHAS),
    }

    metrics: dict[str, Any] = {
        "threshold": threshold,
        "alpha": stats.alpha if val_target is None else stats.alpha_for(threshold),
        "threshold_rule": rule,
        "loss_weights": weights,
        "decision": "malignant positive; flagged when score > threshold",
        "ci_method": CI_METHOD,
        "bootstrap_resamples": n_resamples,
        "bootstrap_seed": seed,
        "test": full,
        "test_excluding_ambiguous": clean | {"excluded": sorted(str(p) for p in ambiguous)},
        "at_alphas": at_alphas,
        "at_sensitivity_targets": at_sens,
        "seen_vs_new": seen_vs_new,
        "validation_chosen": validation_chosen,
        "operating_points": operating_points(stats, y, scores, val_malignant_scores=mal_scores),
        "report_comparison": REPORT_FIGURES,
        "data_dir": str(data_dir),
        "test_data_hash": audit.data_hash(test),
    }
    write_json(run_dir / METRICS_FILE, metrics)

    plots = run_dir / PLOTS_DIR
    plot_score_histograms(plots / "score_histograms.png", scores[~y], scores[y], threshold,
                          train_scores, val_scores)
    plot_roc(plots / "roc.png", y, scores)
    plot_training_curves(plots / "training_curves.png", info.history)
    sens, spec = full["sensitivity"], full["specificity"]
    progress(
        f"Test at T={threshold:.5f}: sensitivity {sens['value']:.3f} "
        f"[{sens['ci95'][0]:.3f}, {sens['ci95'][1]:.3f}], specificity {spec['value']:.3f} "
        f"[{spec['ci95'][0]:.3f}, {spec['ci95'][1]:.3f}], AUROC {full['auroc']['value']:.3f} "
        f"[{full['auroc']['ci95'][0]:.3f}, {full['auroc']['ci95'][1]:.3f}] "
        f"(report: 65.6% = 42/64, 57.4% = 31/54)"
    )
    return metrics
