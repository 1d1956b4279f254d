"""One palette: every colour DermScreen uses to say something, as hex strings (Qt-free).

The window, the PDF reports and the plots take their colours from here, so
"flagged" is the same red everywhere. A colour never carries meaning alone: each
decision is also written in words.
"""

from __future__ import annotations

from desktop_app.core.inference.decision_rules import BORDERLINE
from desktop_app.core.inference.results import DECISION_ANOMALOUS, DECISION_NORMAL

FLAGGED_TEXT, FLAGGED_FILL = "#8b0000", "#f6d3d3"
BORDERLINE_TEXT, BORDERLINE_FILL = "#7a4a00", "#fbe7c6"
# Neutral, never green: "not flagged" is not a reassurance (a melanoma can carry it).
NOT_FLAGGED_TEXT, NOT_FLAGGED_FILL = "#3c4043", "#f1f3f4"
ERROR_TEXT, ERROR_FILL = "#444444", "#e6e6e6"
ALERT_TEXT = FLAGGED_TEXT  # an error reason, a refused entry, an unverified model
DRIFT_TEXT, DRIFT_FILL = "#7a4a00", "#fff1cc"  # the drift banner: out of range, act on it

THRESHOLD = "#c0392b"  # the threshold line in score plots
CASE = "#1f4e9c"  # the selected case's score
BARS = "#4a6f96"  # the benign score distribution
BAND_FILL = "#f5b04140"  # the borderline band on score plots (RGBA: translucent orange)

# decision ("" = could not be analysed) -> (fill, text)
DECISION_COLORS: dict[str, tuple[str, str]] = {
    DECISION_ANOMALOUS: (FLAGGED_FILL, FLAGGED_TEXT),
    BORDERLINE: (BORDERLINE_FILL, BORDERLINE_TEXT),
    DECISION_NORMAL: (NOT_FLAGGED_FILL, NOT_FLAGGED_TEXT),
    "": (ERROR_FILL, ERROR_TEXT),
}
