"""The labelled lane (issue 27): a linear head on frozen Lite0 features, chosen on validation.

Trained with labels (benign and malignant, every class) on ``supervised-train``: isic9
Train, ham-extra (Vienna) and isic2017 (New York). Class balance: each of the nine
classes carries the same total weight inside its label, and benign and malignant the same
total (a melanoma is not outweighed by 3,873 nevi, nor a keratosis by the nevi beside it).
Augmented feature copies (:func:`training.features.augment`) join the training rows.
The head is an L2 logistic regression on standardised features; C and the class-weight
scheme are chosen by the worst-site AUROC of ``supervised-validation`` (not the pooled
one: pooled hides a site at chance), nothing else is looked at.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.evaluation import metrics
from desktop_app.core.evaluation.dataset import Sample
from desktop_app.core.evaluation.labels import label_of

SITES = ("ham-extra", "isic9", "isic2017", "uda1")
C_GRID = (0.0003, 0.001, 0.003, 0.01)
WEIGHTINGS = ("label", "class", "site")


def site_of(sample: Sample | str) -> str:
    """The collection an image comes from, by its folder under the shared data folder."""
    path = Path(sample.path if isinstance(sample, Sample) else sample)
    parts = path.parts
    for site in SITES:
        if site in parts:
            return site
    return "other"


def class_weights(samples: Sequence[Sample], scheme: str) -> np.ndarray:
    """Per-sample weights summing to len(samples). ``label`` balances benign/malignant;
    ``class`` balances every class inside its label too; ``site`` gives every (site, label)
    cell the same total, so the site a picture comes from says nothing about its label
    (ham-extra holds most nevi, isic9 most cancers: without it the head learns the camera);
    ``site_class`` as ``site``, with each cell's total shared equally by the classes in it
    (keratoses then weigh as much as nevi among a site's benign images)."""
    y = np.array([s.is_malignant for s in samples])
    w = np.ones(len(samples))
    if scheme == "site":
        cells: dict[tuple[str, bool], int] = defaultdict(int)
        for s in samples:
            cells[(site_of(s), s.is_malignant)] += 1
        w = np.array([1.0 / cells[(site_of(s), s.is_malignant)] for s in samples])
    elif scheme == "site_class":
        per_class: dict[tuple[str, bool, str], int] = defaultdict(int)
        for s in samples:
            per_class[(site_of(s), s.is_malignant, s.cls)] += 1
        in_cell: dict[tuple[str, bool], int] = defaultdict(int)  # classes present in each cell
        for site, mal, _ in per_class:
            in_cell[(site, mal)] += 1
        w = np.array([1.0 / (per_class[(site_of(s), s.is_malignant, s.cls)]
                             * in_cell[(site_of(s), s.is_malignant)]) for s in samples])
    elif scheme == "class":
        counts: dict[str, int] = defaultdict(int)
        for s in samples:
            counts[s.cls] += 1
        per_label: dict[bool, int] = defaultdict(int)  # classes present on each side
        for cls in counts:
            per_label[label_of(cls) == "malignant"] += 1
        w = np.array([1.0 / (counts[s.cls] * per_label[s.is_malignant]) for s in samples])
    elif scheme != "label":
        msg = f"unknown weighting {scheme!r}"
        raise ValueError(msg)
    for label in (False, True):
        mask = y == label
        w[mask] *= 0.5 / w[mask].sum()
    return w * len(samples)


@dataclass
class LinearHead:
    """logit = (x - mean) / scale @ coef + intercept; kept as numpy for the export."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    config: dict[str, Any] = field(default_factory=dict)

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept


def fit_head(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float, seed: int = 0) -> LinearHead:
    """Standardise on the training rows, then an L2 logistic regression (lbfgs)."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    clf = LogisticRegression(C=c, max_iter=3000, random_state=seed)
    clf.fit((x - mean) / scale, y, sample_weight=w)
    return LinearHead(mean, scale, clf.coef_[0].astype(np.float64), float(clf.intercept_[0]),
                      {"C": c})


def per_site_auroc(samples: Sequence[Sample], scores: np.ndarray) -> dict[str, float]:
    """AUROC per site that holds both labels, plus ``pooled`` and ``worst``."""
    y = np.array([s.is_malignant for s in samples])
    sites = np.array([site_of(s) for s in samples])
    out = {}
    for site in SITES:
        m = sites == site
        if m.any() and y[m].any() and (~y[m]).any():
            out[site] = metrics.roc_auc(y[m], scores[m])
    out["worst"] = min(out.values())
    out["pooled"] = metrics.roc_auc(y, scores)
    return out
