"""Heads on the frozen dermoscopy Xception's pooled features (issue 34), chosen leave-one-site-out.

Two targets: ``binary`` (benign vs malignant, one logit) and ``dx8`` (the eight diagnoses,
multinomial; the malignant logit is logsumexp of the malignant classes' scores minus
logsumexp of the benign ones, i.e. the log-odds of the summed malignant probability).
Weights are site-balanced (:func:`training.supervised.class_weights` ``site``): every
(site, label) cell the same total, so the camera says nothing about the label.

Every HAM10000 image is in-sample for the backbone (:func:`training.xception.peer_trained_on`):
the choice is made on the held-out sites' other images, and ``ham_rows="drop"`` also trains
the head without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop_app.core.evaluation import metrics
from desktop_app.core.evaluation.dataset import Sample

# The project's classes -> eight diagnoses (seborrheic and pigmented benign keratoses are one).
DX = {"nevus": "nv", "pigmented benign keratosis": "bkl", "seborrheic keratosis": "bkl",
      "dermatofibroma": "df", "vascular lesion": "vasc", "melanoma": "mel",
      "basal cell carcinoma": "bcc", "squamous cell carcinoma": "scc", "actinic keratosis": "ak"}
MALIGNANT_DX = ("mel", "bcc", "scc", "ak")
# Sites held out in turn; the choice reads the ones whose images the backbone never saw.
LOSO_SITES = ("ham-extra", "isic9", "isic2017")
CHOICE_SITES = ("isic9", "isic2017")


@dataclass
class FeatureHead:
    """logit = malignant log-odds of ((x - mean) / scale) @ coef + intercept (coef: [D, K])."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    classes: tuple[str, ...]  # ("malignant",) for the binary head, else the dx codes
    config: dict[str, Any] = field(default_factory=dict)

    def scores(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def logit(self, x: np.ndarray) -> np.ndarray:
        z = self.scores(x)
        if z.shape[1] == 1:
            return z[:, 0]
        mal = np.array([c in MALIGNANT_DX for c in self.classes])
        return logsumexp(z[:, mal]) - logsumexp(z[:, ~mal])

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """(kernel [D, K], bias [K]) acting on raw features: the standardisation folded in."""
        kernel = self.coef / self.scale[:, None]
        return kernel, self.intercept - self.mean @ kernel


def logsumexp(z: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp of ``z`` [N, K] (stable), [N]."""
    top = z.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(z - top).sum(axis=1, keepdims=True)))[:, 0]


def fit(x: np.ndarray, samples: Sequence[Sample], weights: np.ndarray, c: float,
        target: str) -> FeatureHead:
    """An L2 logistic regression on standardised features (lbfgs, multinomial for ``dx8``)."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    xs = (x - mean) / scale
    if target == "binary":
        y = np.array([s.is_malignant for s in samples])
    elif target == "dx8":
        y = np.array([DX[s.cls] for s in samples])
    else:
        msg = f"unknown target {target!r}"
        raise ValueError(msg)
    clf = LogisticRegression(C=c, max_iter=3000, random_state=0).fit(xs, y, sample_weight=weights)
    if target == "binary":
        coef, icpt, classes = clf.coef_.T, clf.intercept_, ("malignant",)
    else:
        coef, icpt, classes = clf.coef_.T, clf.intercept_, tuple(str(k) for k in clf.classes_)
    return FeatureHead(mean, scale, coef.astype(np.float64), icpt.astype(np.float64), classes,
                       {"C": c, "target": target})


def auroc_or_none(y: np.ndarray, s: np.ndarray) -> float | None:
    return metrics.roc_auc(y, s) if y.any() and (~y).any() else None
