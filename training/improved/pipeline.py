"""The improved detector end to end: terms -> validation-chosen fusion -> ablation -> ONNX.

Inputs: the reference run's CAE (reused unchanged: same weights, same hybrid score) and
the benign-subtype network (trained here on the benign TRAIN images when not given).
Everything is chosen on validation; Test is evaluated once, after the choice, for the
table and the model card.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core import metrics
from desktop_app.core.files import write_text_atomic
from desktop_app.core.score_stats import BenignStats
from training.improved import evaluation as ev
from training.improved.datasets import ImageSets, load_image_sets
from training.improved.fit_improved import (
    TermTable,
    compute_terms,
    fit_feature_classifier,
    fused,
    select_fusion,
    standardisation,
    subtype_constants,
    val_auroc,
)
from training.improved.fusion import TERMS, FusionSpec

Progress = Callable[[str], None]
TABLE_FILE = "ablation.json"
TERMS_FILE = "terms.npz"
SUBTYPE_FILE = "subtype.keras"
# The validation target the default threshold is chosen for; 85% leaves a margin so that
# Test sensitivity stays above 80% despite validation-to-Test drift.
DEFAULT_POINT = "validation sensitivity 85%"


@dataclass
class ImprovedConfig:
    data_dir: Path
    reference_run: Path
    out_dir: Path
    cache_dir: Path = Path("runs/improved_cache")
    subtype_model: Path | None = None
    subtype_epochs: int = 40
    seed: int = 42


def _write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True))


def _save_terms(path: Path, table: TermTable) -> None:
    flat = {f"{s}/{t}": v for s, d in table.values.items() for t, v in d.items()}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **flat)
    os.replace(tmp, path)


def load_terms(path: Path) -> TermTable:
    data = np.load(path)
    values: dict[str, dict[str, np.ndarray]] = {}
    for key in data.files:
        s, t = key.split("/", 1)
        values.setdefault(s, {})[t] = data[key]
    return TermTable(values)


def _val_arrays(table: TermTable, weights, stand) -> tuple[np.ndarray, np.ndarray]:
    sb = fused(table, "val_b", weights, stand)
    sm = fused(table, "val_m", weights, stand)
    return np.r_[np.zeros(sb.size), np.ones(sm.size)].astype(bool), np.r_[sb, sm]


def _hand_features(x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    import tensorflow as tf

    from training.improved.features import feature_groups

    parts = [feature_groups(tf.constant(x[i : i + batch_size])).numpy()
             for i in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float64)


def ablation_rows(
    table: TermTable,
    stand: dict[str, tuple[float, float]],
    candidates: list[dict[str, float]],
    sets: ImageSets,
) -> list[dict[str, Any]]:
    """Validation AUROC (with CI) and Test AUROC (with CI, all and without ambiguous) per row."""
    y_test = sets.test_labels().astype(bool)
    clean = ~sets.test_ambiguous
    rows = []
    for weights in candidates:
        vy, vs = _val_arrays(table, weights, stand)
        ts = fused(table, "test", weights, stand)
        rows.append(
            {
                "fusion": " + ".join(f"{w:g}*{t}" for t, w in weights.items()),
                "weights": dict(weights),
                "val_auroc": ev.auroc_with_ci(vy, vs),
                "test_auroc": ev.auroc_with_ci(y_test, ts),
                "test_auroc_unambiguous": ev.auroc_with_ci(y_test[clean], ts[clean]),
            }
        )
    return rows


def run_improved(cfg: ImprovedConfig, progress: Progress = print) -> dict[str, Any]:
    """Compute terms, choose the fusion on validation, evaluate, save ablation + spec."""
    import keras

    from training.improved.subtype import (
        SUBTYPES,
        feature_model,
        subtype_index,
        train_subtype_net,
    )
    from training.run import load_keras_model, load_run

    started = time.perf_counter()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sets = load_image_sets(cfg.data_dir, cfg.cache_dir)
    info = load_run(cfg.reference_run)
    w = info.loss_weights
    w_mse, w_ssim = float(w["mse"]), float(w["ssim"])
    cae = load_keras_model(cfg.reference_run)
    progress(f"reference CAE from {cfg.reference_run} (w_mse {w_mse}, w_ssim {w_ssim})")

    sub_path = out / SUBTYPE_FILE
    if cfg.subtype_model is not None:
        subtype_net = keras.models.load_model(cfg.subtype_model, compile=False)
        subtype_net.save(sub_path)
    elif sub_path.exists():
        subtype_net = keras.models.load_model(sub_path, compile=False)
    else:
        t0 = time.perf_counter()
        subtype_net = train_subtype_net(
            sets.images["fit"], [s.cls for s in sets.samples["fit"]], sub_path,
            epochs=cfg.subtype_epochs, seed=cfg.seed, progress=progress,
        )
        progress(f"subtype network trained in {time.perf_counter() - t0:.0f} s")

    y_fit = subtype_index([s.cls for s in sets.samples["fit"]])
    feats_fit = feature_model(subtype_net).predict(sets.images["fit"], batch_size=64, verbose=0)[0]
    class_means, precision = subtype_constants(feats_fit, y_fit)
    hand_fit = _hand_features(sets.images["fit"])
    fmu, fsd, fw, fb = fit_feature_classifier(hand_fit, y_fit, len(SUBTYPES))
    table = compute_terms(
        cae, subtype_net, sets.images, class_means, precision, w_mse, w_ssim, terms=TERMS,
        feature_classifier=(fmu, fsd, fw, fb),
    )
    _save_terms(out / TERMS_FILE, table)
    stand = standardisation(table, TERMS)

    # Choice on validation only.
    singles = [{t: 1.0} for t in TERMS]
    single_val = {t: val_auroc(table, {t: 1.0}, stand) for t in TERMS}
    progress("validation AUROC per term: " + ", ".join(f"{t} {v:.3f}" for t, v in single_val.items()))
    weights, trace = select_fusion(table, [t for t in TERMS if t != "cae"], stand, start=("cae",))
    progress("selection: " + "; ".join(f"{d} -> {v:.3f}" for d, v in trace))
    # Ablations around the choice: each kept term dropped in turn.
    drops = [{k: v for k, v in weights.items() if k != t} for t in weights if len(weights) > 1]
    equal = {t: 1.0 for t in weights}
    candidates = [*singles, equal, *drops, weights]

    spec = FusionSpec(
        terms=list(weights),
        weights=[weights[t] for t in weights],
        mu=[stand[t][0] for t in weights],
        sd=[stand[t][1] for t in weights],
        w_mse=w_mse,
        w_ssim=w_ssim,
        class_means=class_means.tolist() if "subtype_maha" in weights else [],
        precision=precision.tolist() if "subtype_maha" in weights else [],
        **(
            {"feat_mu": fmu.tolist(), "feat_sd": fsd.tolist(), "lr_weights": fw.tolist(),
             "lr_bias": fb.tolist()}
            if "feature_subtype_entropy" in weights else {}
        ),
    )
    vy, vs = _val_arrays(table, weights, stand)
    stats = BenignStats.from_scores(fused(table, "val_b", weights, stand))
    y_test = sets.test_labels().astype(bool)
    ts = fused(table, "test", weights, stand)
    points = ev.validation_operating_points(stats, vy, vs, y_test, ts)
    default = next(p for p in points if p["label"] == DEFAULT_POINT)
    stats = BenignStats.from_scores(stats.scores, alpha=default["alpha"])

    # Test, once, after the choice.
    rows = ablation_rows(table, stand, candidates, sets)
    ref_test = table.values["test"]["cae"]
    clean = ~sets.test_ambiguous
    result = {
        "spec": spec.to_dict(),
        "fusion": spec.describe(),
        "selection_trace": [[d, v] for d, v in trace],
        "validation": {
            "n_benign": int((~vy).sum()),
            "n_malignant": int(vy.sum()),
            "auroc": ev.auroc_with_ci(vy, vs),
            "threshold": default["threshold"],
            "sensitivity": metrics.sensitivity(vy, metrics.predict(vs, default["threshold"])),
            "specificity": metrics.specificity(vy, metrics.predict(vs, default["threshold"])),
        },
        "benign_stats": stats.to_dict(),
        "threshold": default["threshold"],
        "threshold_rule": (
            f"{DEFAULT_POINT}: the highest threshold flagging at least 85% of the Train "
            "malignant validation images (chosen on validation, never on Test); equals "
            f"mean + {default['alpha']:.3f} x sd of the fused benign validation scores"
        ),
        "operating_points": points,
        "test": ev.test_figures(y_test, ts, default["threshold"]),
        "test_excluding_ambiguous": {
            **ev.test_figures(y_test[clean], ts[clean], default["threshold"]),
            "excluded": [s.path.name for s, a in zip(sets.samples["test"], sets.test_ambiguous,
                                                     strict=True) if a],
        },
        "reference_test": ev.test_figures(y_test, ref_test, info.stats.threshold()),
        "reference_test_excluding_ambiguous": ev.test_figures(
            y_test[clean], ref_test[clean], info.stats.threshold()
        ),
        "test_auroc_gain_over_reference": ev.paired_auroc_difference(y_test, ts, ref_test),
        "ablation": rows,
        "data_hash": sets.data_hash,
        "sets": {k: len(v) for k, v in sets.images.items()},
        "seconds": time.perf_counter() - started,
    }
    _write_json(out / TABLE_FILE, result)
    progress(f"wrote {out / TABLE_FILE}")
    return result
