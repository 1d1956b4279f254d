"""Compute every term on every image set, standardise on benign train, choose the fusion on validation.

Choice rule (validation only: benign validation images vs Train malignant images):
greedy forward selection of equal-weight z-score terms, a term kept only when it lifts
the validation AUROC by at least ``min_gain``; then each kept weight is tuned on a
coarse grid, again keeping a change only when it helps on validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from desktop_app.core.metrics import roc_auc
from training.improved.fusion import SUBTYPE_TERMS, TERMS, FusionSpec, term_values

WEIGHT_GRID: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
SHRINKAGE = 0.1
FEATURE_SD_FLOOR = 1e-2


@dataclass
class TermTable:
    """Raw term values per image set: values[set_name][term] -> [N] float64."""

    values: dict[str, dict[str, np.ndarray]]

    def z(self, set_name: str, term: str, mu: float, sd: float) -> np.ndarray:
        return (self.values[set_name][term] - mu) / sd


def subtype_constants(feats_fit: np.ndarray, y_fit: np.ndarray, shrinkage: float = SHRINKAGE):
    """Per-subtype feature means and the shrunk shared precision matrix (Lee et al. 2018)."""
    classes = np.unique(y_fit)
    means = np.stack([feats_fit[y_fit == c].mean(axis=0) for c in classes])
    resid = np.concatenate([feats_fit[y_fit == c] - means[i] for i, c in enumerate(classes)])
    cov = np.cov(resid, rowvar=False)
    # Shrink towards a scaled identity: the features are many for ~800 images.
    target = np.trace(cov) / cov.shape[0]
    cov = (1.0 - shrinkage) * cov + shrinkage * target * np.eye(cov.shape[0])
    return means, np.linalg.inv(cov)


def fit_feature_classifier(
    feats: np.ndarray, y: np.ndarray, n_classes: int, l2: float = 1e-3, steps: int = 3000,
    lr: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised features (full-batch gradient descent).

    Returns (feat_mu, feat_sd, W [F, K], b [K]); deterministic.
    """
    mu = feats.mean(axis=0)
    # A floor keeps near-constant features (empty histogram bins) from amplifying fp32
    # noise into the exported score: at 1e-3 the ONNX/Keras gap of the fused score came
    # within a factor ~1.3 of its parity limit; such a feature carries ~no information.
    sd = np.maximum(feats.std(axis=0), FEATURE_SD_FLOOR)
    x = (feats - mu) / sd
    onehot = np.eye(n_classes)[y]
    w = np.zeros((x.shape[1], n_classes))
    b = np.zeros(n_classes)
    for _ in range(steps):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / len(x)
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum(axis=0)
    return mu, sd, w, b


def compute_terms(
    cae,
    subtype_net,
    images: dict[str, np.ndarray],
    class_means: np.ndarray | None,
    precision: np.ndarray | None,
    w_mse: float,
    w_ssim: float,
    terms: Sequence[str] = TERMS,
    batch_size: int = 32,
    feature_classifier: tuple[np.ndarray, ...] | None = None,
) -> TermTable:
    """Raw values of ``terms`` on each image set, computed with the graph's own TF functions."""
    import tensorflow as tf

    from training import losses
    from training.improved.subtype import feature_model

    needs_sub = any(t in SUBTYPE_TERMS for t in terms)
    if "subtype_maha" not in terms or class_means is None:
        terms = [t for t in terms if t != "subtype_maha"]
        class_means = precision = np.zeros((1, 1))
    if feature_classifier is None:
        terms = [t for t in terms if t != "feature_subtype_entropy"]
        feature_classifier = (np.zeros(1), np.ones(1), np.zeros((1, 1)), np.zeros(1))
    fmu, fsd, fw, fb = (np.asarray(a) for a in feature_classifier)
    spec = FusionSpec(
        terms=list(terms),
        weights=[1.0] * len(terms),
        mu=[0.0] * len(terms),
        sd=[1.0] * len(terms),
        w_mse=w_mse,
        w_ssim=w_ssim,
        class_means=np.asarray(class_means).tolist(),
        precision=np.asarray(precision).tolist(),
        feat_mu=fmu.tolist(),
        feat_sd=fsd.tolist(),
        lr_weights=fw.tolist(),
        lr_bias=fb.tolist(),
    )
    fm = feature_model(subtype_net) if needs_sub else None
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, x in images.items():
        chunks: dict[str, list[np.ndarray]] = {t: [] for t in terms}
        for start in range(0, len(x), batch_size):
            xb = tf.constant(x[start : start + batch_size])
            recon = cae(xb, training=False)
            emap = losses.error_map(xb, recon, w_mse, w_ssim)
            feats = probs = None
            if fm is not None:
                feats, probs = fm(xb, training=False)
            vals = term_values(spec, xb, recon, emap, feats, probs)
            for t in terms:
                chunks[t].append(vals[t].numpy().astype(np.float64))
        out[name] = {t: np.concatenate(v) for t, v in chunks.items()}
    return TermTable(out)


def standardisation(table: TermTable, terms: Sequence[str]) -> dict[str, tuple[float, float]]:
    """(mu, sd) of each term over the benign TRAIN images (set ``fit``)."""
    out = {}
    for t in terms:
        v = table.values["fit"][t]
        sd = float(v.std(ddof=1))
        out[t] = (float(v.mean()), sd if sd > 0 else 1.0)
    return out


def fused(table: TermTable, set_name: str, weights: dict[str, float], stand) -> np.ndarray:
    total = np.zeros(len(next(iter(table.values[set_name].values()))))
    for t, w in weights.items():
        mu, sd = stand[t]
        total += w * table.z(set_name, t, mu, sd)
    return total


def val_auroc(table: TermTable, weights: dict[str, float], stand) -> float:
    sb = fused(table, "val_b", weights, stand)
    sm = fused(table, "val_m", weights, stand)
    y = np.r_[np.zeros(sb.size), np.ones(sm.size)]
    return roc_auc(y, np.r_[sb, sm])


def select_fusion(
    table: TermTable,
    candidates: Sequence[str],
    stand,
    start: Sequence[str] = ("cae",),
    min_gain: float = 0.005,
) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Greedy forward selection, then weight tuning, on validation AUROC.

    Returns the weights and the trace [(step description, validation AUROC)].
    """
    weights = {t: 1.0 for t in start}
    best = val_auroc(table, weights, stand)
    trace = [(" + ".join(start), best)]
    remaining = [t for t in candidates if t not in weights]
    while remaining:
        gains = {t: val_auroc(table, {**weights, t: 1.0}, stand) for t in remaining}
        pick = max(gains, key=gains.get)
        if gains[pick] < best + min_gain:
            break
        weights[pick] = 1.0
        best = gains[pick]
        remaining.remove(pick)
        trace.append((f"+ {pick}", best))
    for t in list(weights):
        for w in WEIGHT_GRID:
            trial = {**weights, t: w}
            score = val_auroc(table, trial, stand)
            if score > best + 1e-4:
                weights, best = trial, score
        trace.append((f"tune w({t}) = {weights[t]:g}", best))
    return weights, trace
