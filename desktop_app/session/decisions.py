"""How the window words and colours a decision (flagged, borderline, not flagged, error).

The rule itself, borderline band included, lives in
:mod:`desktop_app.core.inference.decision_rules` (the CSV and PDF reports use the same);
this module adds the window's colours and keeps the band's edge per window.
"""

from __future__ import annotations

from desktop_app.core.inference.decision_rules import (
    BORDERLINE,
    TRIAGE_LABEL,
    triage_decision,
)
from desktop_app.core.inference.results import DECISION_ANOMALOUS, DECISION_NORMAL, AnalysisResult
from desktop_app.core.palette import DECISION_COLORS

__all__ = ["DECISION_STYLE", "DecisionWords"]

# Decision colours carry text too ("FLAGGED", "borderline", "not flagged", "error"): never
# colour alone. (label, background, foreground)
DECISION_STYLE: dict[str, tuple[str, str, str]] = {
    decision: (TRIAGE_LABEL[decision].upper() if decision == DECISION_ANOMALOUS
               else TRIAGE_LABEL[decision], *DECISION_COLORS[decision])
    for decision in (DECISION_ANOMALOUS, BORDERLINE, DECISION_NORMAL, "")
}


class DecisionWords:
    """The decision a window shows for a result, given the band's lower edge (one
    instance per window, shared by its table and score panel)."""

    def __init__(self) -> None:
        self.band_low: float | None = None  # the 95%-validation-sensitivity threshold

    def of(self, result: AnalysisResult) -> str:
        return triage_decision(result, self.band_low)

    def style(self, result: AnalysisResult) -> tuple[str, str, str]:
        return DECISION_STYLE.get(self.of(result), DECISION_STYLE[""])

    def is_flagged(self, result: AnalysisResult) -> bool:
        """Flagged or borderline: the cases "next flagged" walks through."""
        return self.of(result) in (DECISION_ANOMALOUS, BORDERLINE)
