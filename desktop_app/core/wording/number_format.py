"""How DermScreen writes numbers for people: scores, percentages, z, confidence intervals.

One rule each, used by the CLI, the reports (and the GUI and model card):
a missing or non-finite value prints as :data:`MISSING`, never "nan".
(The CSV keeps its own machine-readable cells: :meth:`AnalysisResult.to_row`.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from desktop_app.core.wording.texts import ANOMALY_PART, CLASSIFIER_PART

MISSING = "—"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(float(value))


def number(value: float | None, spec: str = ".4g", *, missing: str = MISSING) -> str:
    """``format(value, spec)``, or ``missing`` for None/NaN/inf."""
    return format(float(value), spec) if _finite(value) else missing  # type: ignore[arg-type]


def score(value: float | None, *, missing: str = MISSING) -> str:
    """An anomaly score or threshold: five significant digits ("0.15194")."""
    return number(value, ".5g", missing=missing)


def fixed(value: float | None, digits: int = 3, *, missing: str = MISSING) -> str:
    """A figure in [0, 1] such as AUROC, with ``digits`` decimals ("0.734")."""
    return number(value, f".{digits}f", missing=missing)


def signed(value: float | None, digits: int = 2, *, missing: str = MISSING) -> str:
    """A z value with its sign ("+1.25")."""
    return number(value, f"+.{digits}f", missing=missing)


def percent(fraction: float | None, digits: int = 1, *, missing: str = MISSING) -> str:
    """A proportion as a percentage ("65.6%")."""
    return number(None if not _finite(fraction) else 100.0 * float(fraction),  # type: ignore[arg-type]
                  f".{digits}f", missing=missing) + ("%" if _finite(fraction) else "")


def ci(low: float | None, high: float | None, digits: int = 3, *, as_percent: bool = False,
       missing: str = MISSING) -> str:
    """A 95% interval "0.650 - 0.810" (or "65.0% - 81.0%")."""
    if not (_finite(low) and _finite(high)):
        return missing
    fmt = percent if as_percent else fixed
    return f"{fmt(low, digits)} - {fmt(high, digits)}"


def case_scores(value: float | None, anomaly: float | None = None,
                probability: float | None = None) -> str:
    """"score 0.123" and, for a combined model, its two parts by name."""
    parts = [f"score {score(value)}"]
    if anomaly is not None:
        parts.append(f"{ANOMALY_PART} {score(anomaly)}")
    if probability is not None:
        parts.append(f"{CLASSIFIER_PART} {fixed(probability, 3)}")
    return " · ".join(parts)


def score_decimals(values: Iterable[float | None], *, significant: int = 4,
                   most: int = 8) -> int:
    """Decimals for printing ``values`` (scores and thresholds of one document) with one
    rule: at least ``significant`` significant digits for the smallest non-zero value, and
    more (up to ``most``) while two different values would print alike ("0.0682" twice for
    a flagged score and its threshold)."""
    finite = sorted({float(v) for v in values if _finite(v)})
    nonzero = [abs(v) for v in finite if v != 0.0]
    decimals = 2
    if nonzero:
        decimals = max(decimals, significant - 1 - math.floor(math.log10(min(nonzero))))
    decimals = min(decimals, most)
    while decimals < most and len({f"{v:.{decimals}f}" for v in finite}) < len(finite):
        decimals += 1
    return decimals
