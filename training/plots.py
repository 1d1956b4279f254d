"""PNG figures of a run (matplotlib, Agg backend; no display needed)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from desktop_app.core.evaluation.metrics import roc_auc, roc_curve


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path


def plot_score_histograms(
    path: Path,
    test_benign: Sequence[float],
    test_malignant: Sequence[float],
    threshold: float,
    train_benign: Sequence[float] = (),
    val_benign: Sequence[float] = (),
) -> Path:
    """Test benign vs malignant scores with T; below, benign train vs validation vs test."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    everything = np.concatenate(
        [np.asarray(v, dtype=float) for v in (test_benign, test_malignant, train_benign, val_benign)]
    )
    bins = np.linspace(everything.min(), everything.max(), 31) if everything.size else 30
    ax1.hist(test_benign, bins=bins, alpha=0.6, label=f"Test benign (n={len(test_benign)})")
    ax1.hist(test_malignant, bins=bins, alpha=0.6, label=f"Test malignant (n={len(test_malignant)})")
    ax1.set_title("Hybrid score on the Test split")
    for ax in (ax1, ax2):
        ax.axvline(threshold, color="k", linestyle="--", label=f"T = {threshold:.4f}")
        ax.set_ylabel("images")
    ax1.legend()
    for values, name in ((train_benign, "benign train (seen)"), (val_benign, "benign validation"),
                         (test_benign, "benign Test")):
        if len(values):
            ax2.hist(values, bins=bins, alpha=0.5, density=True, label=f"{name} (n={len(values)})")
    ax2.set_title("Benign scores: trained-on vs held-out (density)")
    ax2.set_xlabel("score = w_mse * MSE + w_ssim * (1 - SSIM)")
    ax2.set_ylabel("density")
    ax2.legend()
    return _save(fig, path)


def plot_roc(path: Path, y_true: Sequence[int], scores: Sequence[float]) -> Path:
    fpr, tpr, _ = roc_curve(y_true, scores)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, drawstyle="steps-post", label=f"AUROC = {roc_auc(y_true, scores):.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title("ROC on the Test split (malignant positive)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_training_curves(path: Path, history: dict) -> Path:
    loss = history.get("loss", [])
    val = history.get("val_loss", [])
    epochs = np.arange(1, len(loss) + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, loss, marker="o", label="train loss")
    if val:
        ax.plot(epochs[: len(val)], val, marker="o", label="validation loss")
    best = history.get("best_epoch")
    if best:
        ax.axvline(best, color="k", linestyle=":", label=f"best epoch {best}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("hybrid loss")
    ax.set_title("Training curves")
    ax.legend()
    return _save(fig, path)
