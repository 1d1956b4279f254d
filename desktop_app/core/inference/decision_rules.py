"""The triage decision a person reads: flagged, borderline, not flagged (Qt-free).

Core decides "anomalous" or "normal" at the threshold
(:mod:`desktop_app.core.inference.results`). The reports and the window add one more
word, **borderline**, for a case that is not flagged at the chosen threshold
but would be flagged at the model's high-sensitivity validation point (the
highest threshold that flags at least 95% of validation cancers, or a point
with ``role == "borderline"``: :func:`desktop_app.core.model.operating_points.borderline_low`).
The band exists only when that point lies below the chosen threshold. This is
the one home of the rule: the GUI table, the CSV ``triage`` column and the PDFs
all call :func:`triage_decision`.
"""

from __future__ import annotations

from desktop_app.core.inference.results import DECISION_ANOMALOUS, DECISION_NORMAL, AnalysisResult

BORDERLINE = "borderline"
BORDERLINE_RULE = (
    "Borderline: not flagged, but in the band just below the threshold (at the model's "
    "default point down to the point that flags 95% of validation cancers; the band moves "
    "with the chosen point)."
)

# The words for each decision ("" = an error row). "not flagged", not "normal": a
# clinician reads "normal" as "benign", which the model cannot say.
TRIAGE_LABEL: dict[str, str] = {
    DECISION_ANOMALOUS: "flagged",
    BORDERLINE: "borderline",
    DECISION_NORMAL: "not flagged",
    "": "error",
}


def triage_decision(result: AnalysisResult, band_low: float | None) -> str:
    """``anomalous``, ``borderline``, ``normal``, or "" for a row without a score.

    ``band_low``: the borderline band's lower edge (None: the model has no band).
    """
    if not result.ok or result.score is None or result.threshold is None:
        return ""
    if result.decision == DECISION_NORMAL and band_low is not None and \
            band_low < result.threshold and result.score > band_low:
        return BORDERLINE
    return result.decision


def triage_label(result: AnalysisResult, band_low: float | None) -> str:
    """The decision in words: flagged, borderline, not flagged, error."""
    return TRIAGE_LABEL.get(triage_decision(result, band_low), "error")


# Priority tiers for the worklist, from the benign validation figures the model stores:
# the order a clinician works through a day's cases (a tier is never a diagnosis).
PRIORITY_HIGH, PRIORITY_ELEVATED, PRIORITY_ROUTINE = "high", "elevated", "routine"
HIGH_PERCENTILE = 95.0  # scores above 95 of 100 benign validation images
PRIORITY_ORDER: dict[str, int] = {PRIORITY_HIGH: 3, PRIORITY_ELEVATED: 2, PRIORITY_ROUTINE: 1,
                                  "": 0}
PRIORITY_MEANING: dict[str, str] = {
    PRIORITY_HIGH: "high: flagged, and the score is above 95 of 100 benign validation images",
    PRIORITY_ELEVATED: "elevated: flagged or borderline at the chosen point",
    PRIORITY_ROUTINE: "routine: not flagged at the chosen point (this does not rule out "
    "disease)",
}


def priority(result: AnalysisResult, band_low: float | None) -> str:
    """``high``, ``elevated``, ``routine``, or "" for a row without a score."""
    decision = triage_decision(result, band_low)
    if not decision:
        return ""
    if decision == DECISION_ANOMALOUS:
        high = result.percentile is not None and result.percentile > HIGH_PERCENTILE
        return PRIORITY_HIGH if high else PRIORITY_ELEVATED
    return PRIORITY_ELEVATED if decision == BORDERLINE else PRIORITY_ROUTINE
