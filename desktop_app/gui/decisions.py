"""How the window words and colours a decision, including the GUI's borderline band.

Core decides "anomalous" or "normal" at the threshold (desktop_app.core.results).
The window adds one more word, **borderline**, for a case that is not flagged
at the chosen threshold but would be flagged at the model's high-sensitivity
validation point (the highest threshold that flags at least 95% of validation
cancers, when the model stores it, or a point with ``role == "borderline"``). The
band exists only when that point lies below the chosen threshold. This GUI-only value should move into core's
decision vocabulary once core has one (issue 14; see the report to the lead).
"""

from __future__ import annotations

from desktop_app.core.results import DECISION_ANOMALOUS, DECISION_NORMAL, AnalysisResult

BORDERLINE = "borderline"
BORDERLINE_RULE = (
    "Borderline: not flagged at the chosen threshold, but above the point that flags "
    "95% of validation cancers."
)

# Decision colours carry text too ("FLAGGED", "borderline", "not flagged", "error"): never
# colour alone. "not flagged", not "normal": a clinician reads "normal" as "benign", which
# the model cannot say. (label, background, foreground)
DECISION_STYLE: dict[str, tuple[str, str, str]] = {
    DECISION_ANOMALOUS: ("FLAGGED", "#f6d3d3", "#8b0000"),
    BORDERLINE: ("borderline", "#fbe7c6", "#7a4a00"),
    DECISION_NORMAL: ("not flagged", "#d8eedb", "#1e5b2a"),
    "": ("error", "#e6e6e6", "#444444"),
}


class DecisionWords:
    """The decision a window shows for a result, given the band's lower edge (one
    instance per window, shared by its table and score panel)."""

    def __init__(self) -> None:
        self.band_low: float | None = None  # the 95%-validation-sensitivity threshold

    def of(self, result: AnalysisResult) -> str:
        if not result.ok or result.score is None or result.threshold is None:
            return ""
        if result.decision == DECISION_NORMAL and self.band_low is not None and \
                self.band_low < result.threshold and result.score > self.band_low:
            return BORDERLINE
        return result.decision

    def style(self, result: AnalysisResult) -> tuple[str, str, str]:
        return DECISION_STYLE.get(self.of(result), DECISION_STYLE[""])

    def is_flagged(self, result: AnalysisResult) -> bool:
        """Flagged or borderline: the cases "next flagged" walks through."""
        return self.of(result) in (DECISION_ANOMALOUS, BORDERLINE)
