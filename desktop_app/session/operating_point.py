"""The operating point: named points, a typed alpha and a slider that re-decide every result.

T = mean + alpha * sd of the benign validation scores (BenignStats owns the
rule). The window opens at the model's **screening point** when the model
stores one (the highest threshold that flags at least 90% of validation
cancers), else at the model's own threshold; either is "the model's default",
and any other point is shown as such with a one-click reset. What to expect is
said in words with 95% Wilson intervals, naming the data behind the figures:
test-set figures come from the operating points stored in the model
(interpolated between them), their counts from the model's evaluation; the
benign validation figure from BenignStats.specificity_at. Those rules and
words live Qt-free in :mod:`desktop_app.core.model.operating_points` (the PDF reports
print the same sentences).
"""

from __future__ import annotations

import math

from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.operating_points import (
    opening_threshold,
)
from desktop_app.session.events import Event

__all__ = ["ALPHA_MAX", "ALPHA_MIN", "OperatingPoint", "parse_alpha"]

ALPHA_MIN, ALPHA_MAX = -3.0, 10.0


def parse_alpha(text: str) -> float | str:
    """The alpha typed in ``text``, or why it is not one (a message)."""
    cleaned = text.strip().replace("α", "").replace("=", "").replace(",", ".").strip()
    try:
        value = float(cleaned)
    except ValueError:
        return f"“{text.strip()}” is not a number"
    if not math.isfinite(value):
        return "α must be a finite number"
    if not ALPHA_MIN <= value <= ALPHA_MAX:
        return f"α must be between {ALPHA_MIN:g} and {ALPHA_MAX:g}"
    return value


class OperatingPoint:
    """Where one model's operating point is: the default it opened at, and now.

    A typed alpha is kept exactly as typed; a named point's threshold exactly as
    stored (a validation-chosen threshold is rarely a round alpha, and rounding
    it would silently move the decision). ``changed`` carries the new threshold.
    """

    def __init__(self) -> None:
        self.meta: ModelMetadata | None = None
        self.default_threshold: float | None = None
        self.default_name = ""
        self.threshold: float | None = None
        self.alpha = 0.0
        self.changed: Event[float] = Event("operating_point.changed")

    @property
    def at_default(self) -> bool:
        return self.threshold is not None and self.threshold == self.default_threshold

    def attach(self, meta: ModelMetadata, alpha: float | None = None) -> None:
        """A model was loaded: open at ``alpha`` (a saved choice) or at its default point."""
        self.meta = meta
        self.default_threshold, self.default_name = opening_threshold(meta)
        if alpha is None:
            self.set_threshold(self.default_threshold)
        else:
            self.set_alpha(alpha)

    def detach(self) -> None:
        self.meta, self.threshold, self.default_threshold = None, None, None

    def named_points(self) -> list[tuple[str, float]]:
        """(name, threshold) of the points offered by name: the default first, the model's
        own threshold when that is another one, and the seed rule mean + k sd."""
        if self.meta is None or self.default_threshold is None:
            return []
        short = "Screening" if self.default_name == "screening point" else "Model threshold"
        points = [(f"{short} (default)", self.default_threshold)]
        if self.default_threshold != self.meta.threshold:
            points.append(("Model threshold", float(self.meta.threshold)))
        stats = self.meta.benign_stats
        points.append((f"Mean + {stats.alpha:g} sd", float(stats.threshold(stats.alpha))))
        return points

    def set_threshold(self, threshold: float, alpha: float | None = None) -> None:
        """Move to ``threshold`` (``alpha``: the alpha typed for it, kept exactly)."""
        if self.meta is None:
            return
        self.threshold = float(threshold)
        self.alpha = float(self.meta.benign_stats.alpha_for(threshold)) if alpha is None \
            else float(alpha)
        self.changed.emit(self.threshold)

    def set_alpha(self, alpha: float) -> None:
        """Move to T = mean + ``alpha`` sd (clamped to the allowed range)."""
        if self.meta is None:
            return
        alpha = min(ALPHA_MAX, max(ALPHA_MIN, float(alpha)))
        self.set_threshold(float(self.meta.benign_stats.threshold(alpha)), alpha)

    def reset(self) -> None:
        """Back to the model's default point."""
        if self.default_threshold is not None:
            self.set_threshold(self.default_threshold)
