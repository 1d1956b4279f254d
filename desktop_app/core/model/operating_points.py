"""Operating points a model stores, and what to expect at a threshold, in words (Qt-free).

The one home for: the model's **screening point** (the highest threshold that
flags at least 90% of validation cancers), the lower edge of the **borderline
band** (the 95%-validation-sensitivity point), the test-set sensitivity and
specificity expected at any threshold (interpolated between the stored points,
with 95% Wilson intervals), and the sentences that say so. The GUI's
operating-point panel and the PDF reports both print :func:`expected_words`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_app.core.model.metadata import ModelMetadata


@dataclass(frozen=True)
class ExpectedPerformance:
    """Sensitivity/specificity expected at a threshold, from the model's operating points."""

    sensitivity: float | None
    specificity: float | None
    how: str  # "interpolated", "exact" or "nearest (label)"


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _interp(points: list[dict[str, Any]], key: str, threshold: float) -> tuple[float | None, str]:
    pts = [(t, v) for p in points if (t := _finite(p.get("threshold"))) is not None
           and (v := _finite(p.get(key))) is not None]
    if not pts:
        return None, ""
    pts.sort()
    if threshold <= pts[0][0]:
        return pts[0][1], "exact" if threshold == pts[0][0] else "nearest"
    if threshold >= pts[-1][0]:
        return pts[-1][1], "exact" if threshold == pts[-1][0] else "nearest"
    for (t0, v0), (t1, v1) in itertools.pairwise(pts):
        if t0 <= threshold <= t1:
            if t1 == t0:
                return v0, "exact"
            w = (threshold - t0) / (t1 - t0)
            return v0 + w * (v1 - v0), "interpolated"
    return pts[-1][1], "nearest"  # unreachable: the range checks above cover it


def expected_performance(points: list[dict[str, Any]], threshold: float) -> ExpectedPerformance:
    """Test-set sensitivity and specificity at ``threshold`` from stored operating points.

    Linear in the threshold between neighbouring points; outside their range
    the nearest point's value is used (and ``how`` says so).
    """
    sens, how_s = _interp(points, "test_sensitivity", threshold)
    spec, how_p = _interp(points, "test_specificity", threshold)
    hows = {h for h in (how_s, how_p) if h}
    how = "nearest" if "nearest" in hows else "interpolated" if "interpolated" in hows else (
        "exact" if hows else "")
    return ExpectedPerformance(sens, spec, how)


SCREENING_SENSITIVITY = 0.90  # the screening point flags at least this share of cancers
BAND_SENSITIVITY = 0.95  # the borderline band reaches down to this validation point


def _highest_threshold_with(points: list[dict[str, Any]], min_val_sensitivity: float
                            ) -> float | None:
    found = [t for p in points if (t := _finite(p.get("threshold"))) is not None
             and (v := _finite(p.get("val_sensitivity"))) is not None
             and v >= min_val_sensitivity]
    return max(found) if found else None


def screening_threshold(meta: ModelMetadata) -> float | None:
    """The model's screening threshold, or None when the model stores none.

    An explicit ``extra["screening_threshold"]`` or a point with ``role ==
    "screening"`` wins; else the highest stored threshold whose validation
    sensitivity is at least 90%.
    """
    explicit = _finite(meta.extra.get("screening_threshold"))
    if explicit is not None:
        return explicit
    for point in meta.operating_points:
        if point.get("role") == "screening" and (t := _finite(point.get("threshold"))):
            return t
    return _highest_threshold_with(meta.operating_points, SCREENING_SENSITIVITY)


def borderline_low(meta: ModelMetadata, threshold: float | None = None) -> float | None:
    """The lower edge of the borderline band, or None (no band).

    At the model's default point (or ``threshold`` None) it is the stored point: one
    with ``role == "borderline"``, else the highest stored threshold whose validation
    sensitivity is at least 95%. The band moves with the chosen point: at another
    ``threshold`` it adds the same proportion of benign validation images to those the
    point flags as it adds at the default point (cae2: about a fifth more), so a
    stricter point has a narrower band and the worklist shrinks with it.
    """
    stored = _stored_borderline_low(meta)
    if stored is None or threshold is None:
        return stored
    default, _name = opening_threshold(meta)
    if threshold == default or not stored < default:
        return stored
    scores = np.asarray(meta.benign_stats.scores, dtype=np.float64)
    flagged_at_default = float(np.mean(scores > default)) if scores.size else 0.0
    if flagged_at_default <= 0.0:
        return stored - default + float(threshold)  # no benign scores above: same width
    ratio = float(np.mean(scores > stored)) / flagged_at_default - 1.0
    flagged = float(np.mean(scores > threshold))
    below = 1.0 - flagged * (1.0 + ratio)  # share of benign scores under the band
    if below <= 0.0:
        return float(scores[0]) - 1e-12  # the band reaches below every benign score
    return min(float(np.quantile(scores, below)), float(threshold))


def _stored_borderline_low(meta: ModelMetadata) -> float | None:
    for point in meta.operating_points:
        if point.get("role") == "borderline" and (t := _finite(point.get("threshold"))):
            return t
    return _highest_threshold_with(meta.operating_points, BAND_SENSITIVITY)


def opening_threshold(meta: ModelMetadata) -> tuple[float, str]:
    """Where the window opens for this model, and that point's name."""
    screening = screening_threshold(meta)
    if screening is not None:
        return screening, "screening point"
    return float(meta.threshold), "model threshold"


def chosen_threshold(meta: ModelMetadata, *, alpha: float | None = None,
                     threshold: float | None = None) -> tuple[float, str]:
    """The threshold a command decides at, and its name: an explicit value, else
    mean + ``alpha`` x sd, else where the window opens (:func:`opening_threshold`)."""
    if threshold is not None and alpha is not None:
        msg = "give either a threshold or an alpha, not both"
        raise ValueError(msg)
    if threshold is not None:
        return float(threshold), "given"
    if alpha is not None:
        return float(meta.benign_stats.threshold(alpha)), f"alpha {alpha:g}"
    return opening_threshold(meta)


def evaluation_counts(meta: ModelMetadata) -> tuple[int, int] | None:
    """(cancers, benign) in the test set behind the stored figures, from the evaluation."""
    for row in meta.evaluation.get("at_alphas", []) if isinstance(meta.evaluation, dict) else []:
        confusion = row.get("confusion") if isinstance(row, dict) else None
        if isinstance(confusion, dict):
            try:
                pos = int(confusion["tp"]) + int(confusion["fn"])
                neg = int(confusion["tn"]) + int(confusion["fp"])
            except (KeyError, TypeError, ValueError):
                continue
            if pos > 0 and neg > 0:
                return pos, neg
    return None


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``p`` observed on ``n`` cases."""
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _of_100(p: float | None, n: int | None, noun: str) -> str:
    """'about 86 of 100 cancers (77–94)': the interval only when ``n`` is known."""
    if p is None or not math.isfinite(p):
        return f"an unknown share of {noun}"
    text = f"about {100 * p:.0f} of 100 {noun}"
    if n:
        lo, hi = wilson(p, n)
        text += f" ({100 * lo:.0f}–{100 * hi:.0f})"
    return text


def expected_words(meta: ModelMetadata, threshold: float) -> tuple[str, str, str]:
    """(test-set sentence, benign-validation sentence, where the figures come from)."""
    perf = expected_performance(meta.operating_points, threshold)
    counts = evaluation_counts(meta)
    n_pos, n_neg = counts if counts else (None, None)
    if perf.sensitivity is None and perf.specificity is None:
        test = "No test-set figures are stored in the model."
    else:
        flagged_benign = None if perf.specificity is None else 1 - perf.specificity
        test = (f"Flags {_of_100(perf.sensitivity, n_pos, 'cancers')} and "
                f"{_of_100(flagged_benign, n_neg, 'benign lesions')}.")
        if perf.how == "nearest":
            test += " (Outside the stored points: nearest point's figures.)"
    stats = meta.benign_stats
    spec = stats.specificity_at(threshold)
    validation = (f"Flags {_of_100(1 - spec, stats.n, 'benign validation images')}"
                  f" ({stats.n} in all).")
    dataset = str(meta.data.get("dataset", "")) if isinstance(meta.data, dict) else ""
    source = f"the Test split of {dataset}" if dataset else "the model's test set"
    sizes = f": {n_pos} cancers, {n_neg} benign" if counts else ""
    data = (f"Figures from {source}{sizes}, interpolated between the points stored in the "
            "model; 95% intervals in brackets.")
    return test, validation, data
