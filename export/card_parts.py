"""The parts every model card shares: the rounding rule, figure tables, operating points and
where the app opens. Public, so the card of each kind of model builds on them
(:mod:`export.model_card` for the autoencoders, :mod:`export.combined_card` for combined models).
"""

from __future__ import annotations

import math
import re
from typing import Any

from desktop_app.core.inference.decision_rules import BORDERLINE_RULE
from desktop_app.core.model.metadata import ALPHA_RULE, ModelMetadata
from desktop_app.core.model.operating_points import (
    BAND_SENSITIVITY,
    SCREENING_SENSITIVITY,
    borderline_low,
    screening_threshold,
)

# The project's written report, on the same Test split (malignant positive).
REPORT_SENSITIVITY = (42, 64)
REPORT_SPECIFICITY = (31, 54)


def pct(value: float | None) -> str:
    """A proportion as a percentage with one decimal ("65.6%"); n/a for missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100.0 * float(value):.1f}%"


def num(value: float | None, digits: int = 3) -> str:
    """A plain figure (AUROC, AP) with ``digits`` decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{float(value):.{digits}f}"


def ci_text(entry: dict[str, Any], fmt: Any) -> str:
    lo, hi = entry.get("ci95", [None, None])
    return f"{fmt(lo)} to {fmt(hi)}"


def _counts(confusion: dict[str, int], name: str) -> str:
    if name == "sensitivity":
        return f"{confusion['tp']}/{confusion['tp'] + confusion['fn']}"
    if name == "specificity":
        return f"{confusion['tn']}/{confusion['tn'] + confusion['fp']}"
    return ""


def figures_table(figures: dict[str, Any], with_report: bool) -> list[str]:
    """Markdown table of the Test figures with 95% CIs (and the report's beside them)."""
    confusion = figures.get("confusion", {})
    rows = [
        ("Sensitivity (malignant flagged)", "sensitivity", pct),
        ("Specificity (benign passed)", "specificity", pct),
        ("Balanced accuracy", "balanced_accuracy", pct),
        ("AUROC", "auroc", num),
        ("Average precision", "average_precision", num),
    ]
    report = {
        "sensitivity": "{} ({}/{})".format(
            pct(REPORT_SENSITIVITY[0] / REPORT_SENSITIVITY[1]), *REPORT_SENSITIVITY
        ),
        "specificity": "{} ({}/{})".format(
            pct(REPORT_SPECIFICITY[0] / REPORT_SPECIFICITY[1]), *REPORT_SPECIFICITY
        ),
    }
    header = "| Figure | This model | 95% CI |" + (" Report |" if with_report else "")
    lines = [header, "|---|---|---|" + ("---|" if with_report else "")]
    for label, key, fmt in rows:
        entry = figures.get(key)
        if not isinstance(entry, dict):
            continue
        counts = _counts(confusion, key) if confusion else ""
        value = fmt(entry.get("value")) + (f" ({counts})" if counts else "")
        line = f"| {label} | {value} | {ci_text(entry, fmt)} |"
        if with_report:
            line += f" {report.get(key, '—')} |"
        lines.append(line)
    return lines


def operating_points_lines(metadata: ModelMetadata) -> list[str]:
    lines = [
        "| Operating point | Threshold | Benign validation specificity | Test sensitivity | "
        "Test specificity |",
        "|---|---|---|---|---|",
    ]
    for p in metadata.operating_points:
        lines.append(
            f"| {p.get('label', '')} | {num(p.get('threshold'), 5)} | "
            f"{pct(p.get('val_specificity'))} | {pct(p.get('test_sensitivity'))} | "
            f"{pct(p.get('test_specificity'))} |"
        )
    return lines


def _point_at(metadata: ModelMetadata, threshold: float) -> dict[str, Any]:
    """The stored operating point at ``threshold`` ({} when none is)."""
    for p in metadata.operating_points:
        try:
            if math.isclose(float(p.get("threshold")), threshold, rel_tol=1e-12):
                return p
        except (TypeError, ValueError):
            continue
    return {}


def where_the_app_opens(metadata: ModelMetadata) -> list[str]:
    """The screening point the app opens at and the borderline band, in words."""
    md = metadata
    screening = screening_threshold(md)
    if screening is None:
        return [f"The app opens at the model threshold T = {md.threshold:.5f}: the model stores "
                "no screening point (validation sensitivity 90%)."]
    point = _point_at(md, screening)
    model_point = _point_at(md, md.threshold).get("label") or md.threshold_rule or ALPHA_RULE
    text = (f"**Where the app opens: the screening point, T = {screening:.5f}** (validation "
            f"sensitivity {100 * SCREENING_SENSITIVITY:.0f}%: the highest threshold that flags at "
            f"least {100 * SCREENING_SENSITIVITY:.0f}% of the validation cancers), **not** at the "
            f"model threshold T = {md.threshold:.5f} above ({model_point}), which stays selectable "
            "by name.")
    if point.get("test_sensitivity") is not None:
        text += (f" At the screening point the Test split gives sensitivity "
                 f"{pct(point.get('test_sensitivity'))} and specificity "
                 f"{pct(point.get('test_specificity'))}.")
    low = borderline_low(md)
    if low is not None and low < screening:
        rule = BORDERLINE_RULE.removeprefix("Borderline: ")
        band = (f"**Borderline band** (its own decision in the table, CSV and PDF): "
                f"{rule[:1].upper()}{rule[1:]} Here: a score above {low:.5f} (validation sensitivity "
                f"{100 * BAND_SENSITIVITY:.0f}%) and at most the chosen threshold ({screening:.5f} "
                "at the screening point).")
    else:
        band = (f"No borderline band: the model stores no validation "
                f"{100 * BAND_SENSITIVITY:.0f}% point below the screening point.")
    return [text, "", band]


def neutral_data_root(markdown: str) -> str:
    """The evaluation suite's data folder as SHARED_DATA: a card names no machine's paths."""
    return re.sub(r"^(Evaluation suite: .*; data ).*$", r"\1SHARED_DATA", markdown, count=1,
                  flags=re.MULTILINE)
