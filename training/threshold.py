"""Scores, the benign threshold and the heatmap scale, all from THE hybrid score."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from desktop_app.core.model.metadata import REFERENCE_WINDOW, SsimWindow
from desktop_app.core.model.score_stats import DEFAULT_ALPHA, BenignStats
from training.fov import FieldOfView
from training.losses import error_map, hybrid_score

HEATMAP_PERCENTILE = 99.0


def _per_batch(model, x: np.ndarray, batch_size: int, measure) -> list[np.ndarray]:
    """``measure(batch, reconstruction)`` for each batch of ``x``, as numpy arrays."""
    out = []
    for start in range(0, len(x), batch_size):
        batch = tf.constant(x[start : start + batch_size])
        out.append(measure(batch, model(batch, training=False)).numpy())
    return out


def score_images(
    model,
    x: np.ndarray,
    w_mse: float,
    w_ssim: float,
    batch_size: int = 32,
    window: SsimWindow = REFERENCE_WINDOW,
    fov: FieldOfView | None = None,
) -> np.ndarray:
    """Hybrid score [N] of each image against its reconstruction (float64 for statistics)."""
    scores = _per_batch(
        model, x, batch_size, lambda b, r: hybrid_score(b, r, w_mse, w_ssim, window, fov)
    )
    return np.concatenate(scores).astype(np.float64) if scores else np.empty(0)


def heatmap_vmax(
    model, x: np.ndarray, w_mse: float, w_ssim: float, *, batch_size: int = 32,
    window: SsimWindow = REFERENCE_WINDOW, fov: FieldOfView | None = None,
) -> float:
    """99th percentile of the error-map pixels of ``x`` (the benign validation images)."""
    maps = _per_batch(
        model, x, batch_size, lambda b, r: error_map(b, r, w_mse, w_ssim, window, fov)
    )
    return float(np.percentile(np.concatenate([m.ravel() for m in maps]), HEATMAP_PERCENTILE))


def benign_threshold(val_scores: np.ndarray, alpha: float = DEFAULT_ALPHA) -> BenignStats:
    """BenignStats of the benign VALIDATION scores; T = stats.threshold()."""
    return BenignStats.from_scores(val_scores, alpha=alpha)
