"""`dermscreen-train compare`: evaluated run folders side by side (the ablation table).

Choosing uses validation only: the benign validation images (``scores_val.csv``)
against the Train malignant images (``scores_val_malignant.csv``), which no CAE
trains on. Two validation figures are given: the pooled AUROC, which the 376
basal cell carcinomas of the 968 Train malignant images dominate, and the
class-balanced AUROC (the mean over the four malignant diagnoses of each one's
AUROC against the benign images), which counts every diagnosis equally. Test
figures (``scores_test.csv``, from ``evaluate``) are reported beside them and
never used to choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.evaluation import metrics
from training.run import load_run, read_scores_csv, write_json

N_RESAMPLES = 2000
BOOT_SEED = 0
VAL_SENSITIVITY_TARGET = 0.80


def auroc_by_class(
    benign: np.ndarray, malignant: np.ndarray, classes: np.ndarray
) -> dict[str, float]:
    """AUROC of each malignant class against all benign images."""
    out = {}
    for cls in sorted(set(classes.tolist())):
        s = malignant[classes == cls]
        out[cls] = metrics.roc_auc(np.r_[np.zeros(benign.size), np.ones(s.size)], np.r_[benign, s])
    return out


def class_balanced_auroc(benign: np.ndarray, malignant: np.ndarray, classes: np.ndarray) -> float:
    """Mean over malignant classes of AUROC(class vs all benign)."""
    return float(np.mean(list(auroc_by_class(benign, malignant, classes).values())))


def class_balanced_auroc_ci(
    benign: np.ndarray, malignant: np.ndarray, classes: np.ndarray, n_resamples: int = N_RESAMPLES
) -> tuple[float, float]:
    """Bootstrap CI resampling the benign images and each malignant class separately."""
    rng = np.random.default_rng(BOOT_SEED)
    groups = [np.flatnonzero(classes == c) for c in sorted(set(classes.tolist()))]
    values = np.empty(n_resamples)
    for i in range(n_resamples):
        b = benign[rng.integers(0, benign.size, benign.size)]
        idx = np.concatenate([rng.choice(g, g.size) for g in groups])
        values[i] = class_balanced_auroc(b, malignant[idx], classes[idx])
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def auroc_with_ci(y: np.ndarray, s: np.ndarray, n_resamples: int = N_RESAMPLES) -> dict[str, Any]:
    """AUROC with its stratified bootstrap 95% CI."""
    lo, hi = metrics.bootstrap_ci(y, s, metrics.roc_auc, n_resamples=n_resamples, seed=BOOT_SEED)
    return {"value": metrics.roc_auc(y, s), "ci95": [lo, hi]}


def rate_with_ci(
    y: np.ndarray, s: np.ndarray, threshold: float, which: str, n_resamples: int = N_RESAMPLES
) -> dict[str, Any]:
    """Sensitivity or specificity (``which``) at ``threshold`` with its bootstrap 95% CI."""
    fn = metrics.sensitivity if which == "sensitivity" else metrics.specificity

    def stat(t: np.ndarray, v: np.ndarray) -> float:
        return fn(t, metrics.predict(v, threshold))

    lo, hi = metrics.bootstrap_ci(y, s, stat, n_resamples=n_resamples, seed=BOOT_SEED)
    return {"value": stat(np.asarray(y), np.asarray(s)), "ci95": [lo, hi]}


def run_scores(run_dir: str | Path) -> dict[str, Any]:
    """Validation and Test scores of an evaluated run, keyed by path for pairing."""
    run_dir = Path(run_dir)
    needed = ("scores_val.csv", "scores_val_malignant.csv", "scores_test.csv")
    missing = [n for n in needed if not (run_dir / n).exists()]
    if missing:
        msg = f"{run_dir}: {', '.join(missing)} missing; run `dermscreen-train evaluate` first"
        raise FileNotFoundError(msg)
    val_b = read_scores_csv(run_dir / "scores_val.csv")
    val_m = read_scores_csv(run_dir / "scores_val_malignant.csv")
    # File order as `evaluate` wrote it, so the bootstrap draws (and CIs) equal its own.
    test = read_scores_csv(run_dir / "scores_test.csv")
    info = load_run(run_dir)
    excluded = set((info.metrics or {}).get("test_excluding_ambiguous", {}).get("excluded", []))
    return {
        "info": info,
        "val_benign": np.array([r["score"] for r in val_b]),
        "val_benign_paths": [r["path"] for r in val_b],
        "val_malignant": np.array([r["score"] for r in val_m]),
        "val_malignant_classes": np.array([r["class"] for r in val_m]),
        "test_paths": [r["path"] for r in test],
        "test": np.array([r["score"] for r in test]),
        "test_y": np.array([r["label"] == "malignant" for r in test]),
        "test_classes": [r["class"] for r in test],
        "test_ambiguous": np.array([r["path"] in excluded for r in test]),
    }


def recipe(info: Any) -> dict[str, Any]:
    """What distinguishes a run: augmentation, SSIM windows, epochs."""
    cfg = info.config
    return {
        "augment": bool(cfg.get("augment", False)),
        "loss_ssim_window": info.loss_ssim_window.to_dict(),
        "score_ssim_window": info.ssim_window.to_dict(),
        "epochs": cfg.get("epochs"),
        "best_epoch": info.history.get("best_epoch"),
    }


def compare_runs(
    run_dirs: Sequence[str | Path],
    names: Sequence[str] | None = None,
    n_resamples: int = N_RESAMPLES,
) -> dict[str, Any]:
    """Figures of every run; the first run is the baseline of the paired Test difference.

    Use the ``n_resamples`` the runs were evaluated with, and the Test figures equal theirs.
    """
    if not run_dirs:
        msg = "name at least one run folder"
        raise ValueError(msg)
    names = list(names) if names else [Path(r).name for r in run_dirs]
    if len(names) != len(run_dirs):
        msg = f"{len(names)} names for {len(run_dirs)} runs"
        raise ValueError(msg)
    runs = [run_scores(r) for r in run_dirs]
    base = runs[0]
    for r in runs[1:]:
        same = (
            r["test_paths"] == base["test_paths"]
            and r["val_benign_paths"] == base["val_benign_paths"]
            and len(r["val_malignant"]) == len(base["val_malignant"])
        )
        if not same:
            msg = f"{r['info'].run_dir}: other validation or Test images than {base['info'].run_dir}"
            raise ValueError(msg)
    rows = []
    for name, r in zip(names, runs, strict=True):
        vb, vm, vc = r["val_benign"], r["val_malignant"], r["val_malignant_classes"]
        vy = np.r_[np.zeros(vb.size, bool), np.ones(vm.size, bool)]
        vs = np.r_[vb, vm]
        y, s, clean = r["test_y"], r["test"], ~r["test_ambiguous"]
        classes = r["test_classes"]
        # The same rule as `evaluate`'s validation-chosen points and the app's operating points.
        # mean + alpha * sd, also for a run whose threshold was chosen on validation.
        t_alpha = r["info"].stats.threshold()
        [(_, t80)] = metrics.validation_thresholds(r["info"].stats, vm, (VAL_SENSITIVITY_TARGET,))
        # `evaluate`'s own figures function: the same numbers as metrics.json and the card.
        at_t80 = metrics.figures_with_ci(y, s, t80, classes, n_resamples, BOOT_SEED)
        clean_t80 = metrics.figures_with_ci(
            y[clean], s[clean], t80, [c for c, k in zip(classes, clean, strict=True) if k],
            n_resamples, BOOT_SEED,
        )
        rows.append(
            {
                "name": name,
                "run_dir": str(r["info"].run_dir),
                **recipe(r["info"]),
                "validation_auroc": auroc_with_ci(vy, vs, n_resamples),
                "validation_auroc_class_balanced": {
                    "value": class_balanced_auroc(vb, vm, vc),
                    "ci95": list(class_balanced_auroc_ci(vb, vm, vc, n_resamples)),
                },
                "validation_auroc_by_class": auroc_by_class(vb, vm, vc),
                "test_auroc": at_t80["auroc"],
                "test_auroc_without_ambiguous": clean_t80["auroc"],
                "test_auroc_gain_vs_baseline": metrics.paired_auroc_difference(
                    y, s, base["test"], n_resamples, seed=BOOT_SEED
                ),
                "validation_sensitivity_80": {
                    "threshold": t80,
                    "validation_specificity": float(np.mean(vb <= t80)),
                    "test_sensitivity": at_t80["sensitivity"],
                    "test_specificity": at_t80["specificity"],
                },
                "mean_plus_alpha_sd": {
                    "threshold": t_alpha,
                    "test_sensitivity": rate_with_ci(y, s, t_alpha, "sensitivity", n_resamples),
                    "test_specificity": rate_with_ci(y, s, t_alpha, "specificity", n_resamples),
                },
            }
        )
    return {
        "baseline": names[0],
        "ci_method": f"stratified percentile bootstrap, {n_resamples} resamples",
        "validation": "benign validation images vs Train malignant images (never trained on)",
        "rows": rows,
    }


def _ci(d: dict[str, Any], pct: bool = False) -> str:
    f = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.3f}")
    lo, hi = d["ci95"]
    return f"{f(d['value'])} [{f(lo)}, {f(hi)}]"


def _window(d: dict[str, Any]) -> str:
    return f"sigma {d['sigma']:g} {d['border']}"


def to_markdown(table: dict[str, Any]) -> str:
    """The ablation table (validation columns first: they are what chose)."""
    head = (
        "| Run | Augment | Loss SSIM window | Score SSIM window | Best epoch | "
        "Validation AUROC | Validation AUROC, class-balanced | Test AUROC | "
        "Test AUROC w/o ambiguous | Test AUROC gain vs " + table["baseline"] + " | "
        "Test sens / spec at validation sensitivity 80% |"
    )
    lines = [head, "|" + "---|" * 11]
    for r in table["rows"]:
        op = r["validation_sensitivity_80"]
        lines.append(
            f"| {r['name']} | {'yes' if r['augment'] else 'no'} | "
            f"{_window(r['loss_ssim_window'])} | {_window(r['score_ssim_window'])} | "
            f"{r['best_epoch']} of {r['epochs']} | "
            f"{_ci(r['validation_auroc'])} | {_ci(r['validation_auroc_class_balanced'])} | "
            f"{_ci(r['test_auroc'])} | {_ci(r['test_auroc_without_ambiguous'])} | "
            f"{_ci(r['test_auroc_gain_vs_baseline'])} | "
            f"{_ci(op['test_sensitivity'], True)} / {_ci(op['test_specificity'], True)} |"
        )
    lines += ["", f"CIs: {table['ci_method']}. Validation: {table['validation']}."]
    return "\n".join(lines) + "\n"


def write_comparison(table: dict[str, Any], out_stem: Path) -> tuple[Path, Path]:
    """``out_stem``.json and ``out_stem``.md, atomically."""
    from training.run import atomic_write_text

    out_stem = Path(out_stem)
    json_path, md_path = out_stem.with_suffix(".json"), out_stem.with_suffix(".md")
    write_json(json_path, table)
    atomic_write_text(md_path, to_markdown(table))
    return json_path, md_path
