"""Benign score statistics and the decision rule built on them.

The threshold rule T = mean + alpha * sd of the benign *validation* scores, the
z-score and the benign percentile are defined once here and used by training
(to compute them), export (to store them) and the app (to decide).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_ALPHA = 1.3
QUANTILE_LEVELS: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class BenignStats:
    """Statistics of the hybrid score over held-out benign validation images."""

    mean: float
    sd: float
    alpha: float
    n: int
    scores: tuple[float, ...] = field(repr=False, default=())
    quantiles: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_scores(cls, scores: np.ndarray | list[float], alpha: float = DEFAULT_ALPHA) -> BenignStats:
        arr = np.asarray(scores, dtype=np.float64).ravel()
        if arr.size < 2 or not np.all(np.isfinite(arr)):
            msg = f"need at least two finite validation scores, got {arr.size}"
            raise ValueError(msg)
        quantiles = {f"q{round(q * 100):02d}": float(np.quantile(arr, q)) for q in QUANTILE_LEVELS}
        return cls(
            mean=float(arr.mean()),
            sd=float(arr.std(ddof=1)),
            alpha=float(alpha),
            n=int(arr.size),
            scores=tuple(float(s) for s in np.sort(arr)),
            quantiles=quantiles,
        )

    def threshold(self, alpha: float | None = None) -> float:
        """T = mean + alpha * sd (alpha defaults to the stored one)."""
        a = self.alpha if alpha is None else alpha
        return self.mean + a * self.sd

    def alpha_for(self, threshold: float) -> float:
        """The alpha whose rule gives ``threshold``."""
        return (threshold - self.mean) / self.sd if self.sd > 0 else 0.0

    def z(self, score: float | np.ndarray) -> float | np.ndarray:
        return (np.asarray(score) - self.mean) / self.sd if self.sd > 0 else np.zeros_like(score)

    def percentile(self, score: float | np.ndarray) -> float | np.ndarray:
        """Percent of benign validation scores at or below ``score`` (0-100)."""
        ref = np.asarray(self.scores, dtype=np.float64)
        if ref.size == 0:
            return np.full_like(np.asarray(score, dtype=np.float64), np.nan)
        ranks = np.searchsorted(ref, np.asarray(score, dtype=np.float64), side="right")
        return 100.0 * ranks / ref.size

    def specificity_at(self, threshold: float) -> float:
        """Fraction of benign validation scores at or below ``threshold``."""
        return float(np.mean(np.asarray(self.scores) <= threshold)) if self.scores else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "sd": self.sd,
            "alpha": self.alpha,
            "n": self.n,
            "scores": list(self.scores),
            "quantiles": dict(self.quantiles),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenignStats:
        return cls(
            mean=float(data["mean"]),
            sd=float(data["sd"]),
            alpha=float(data["alpha"]),
            n=int(data["n"]),
            scores=tuple(float(s) for s in data.get("scores", ())),
            quantiles={k: float(v) for k, v in data.get("quantiles", {}).items()},
        )


def decide(score: float, threshold: float) -> str:
    """'anomalous' when the score exceeds the threshold, else 'normal'."""
    return "anomalous" if score > threshold else "normal"
