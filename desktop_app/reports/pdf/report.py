"""PDF reports: the batch summary, and what every report says the same way (each score's
name, the model, the site profile, the expected figures at the threshold).

The summary lists every case in tables whose header row repeats on every page and whose
rows never split (``Table(repeatRows=1)``; columns as wide as their header words and
numbers, so "Review|ed" never breaks): flagged, borderline, not flagged, errors. The case
reports are :mod:`desktop_app.reports.pdf.case_report`; the page layout is
:mod:`desktop_app.reports.pdf.layout`. Every report says plainly that DermScreen is a triage
aid, not a diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from desktop_app.core import palette
from desktop_app.core.inference.decision_rules import BORDERLINE, BORDERLINE_RULE
from desktop_app.core.inference.results import DECISION_ANOMALOUS, DECISION_NORMAL, AnalysisResult
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.operating_points import expected_words
from desktop_app.core.wording import number_format as nf
from desktop_app.core.wording.texts import ANOMALY_PART, CLASSIFIER_PART, DISCLAIMER
from desktop_app.reports.context import ReportContext
from desktop_app.reports.pdf.layout import (
    RULE,
    WIDTH,
    FooterMark,
    boxed,
    disclaimer,
    esc,
    fit,
    footer_text,
    kv,
    para,
    picture,
    report_time,
    signoff,
    write_document,
)
from desktop_app.reports.pdf.render import distribution_plot, png_bytes
from desktop_app.version import app_version

# Rows listed in the summary PDF per group (flagged, borderline, not flagged, errors);
# the CSV always holds every row, and the summary says how many it leaves to it.
SUMMARY_MAX_ROWS = 1000
_HEADING_ROOM = 30 * mm  # room a summary heading needs below it: its header and first rows

# The CSV's own names for the scores, printed beside their labels.
CSV_SCORE, CSV_ANOMALY, CSV_PROBABILITY = "score", "anomaly_score", "classifier_probability"


DECISION_COLOR = {decision: text for decision, (_fill, text) in palette.DECISION_COLORS.items()}
DECISION_FILL = {decision: fill for decision, (fill, _text) in palette.DECISION_COLORS.items()}


def review_text(result: AnalysisResult, context: ReportContext) -> tuple[str, str]:
    """(reviewed, note) as printed; ("", "") when reviews are not recorded."""
    review = context.review_of(result)
    if review is None:
        return "", ""
    return ("yes" if review[0] else "no"), review[1]


def is_combined(results: Sequence[AnalysisResult]) -> bool:
    return any(r.probability is not None or r.anomaly_score is not None for r in results)


def score_label(combined: bool) -> str:
    """The deciding score's name: a combined model's combination, or the CAE's own error."""
    return "Combined score" if combined else "CAE anomaly score"


def model_rows(meta: ModelMetadata, model_sha256: str, provider: str,
                verified: bool) -> list[tuple[str, str]]:
    check = ("matches its .sha256 file" if verified else
             f"<font color='{palette.ALERT_TEXT}'><b>UNVERIFIED MODEL</b></font>: "
             "no .sha256 file vouched for it")
    return [
        ("Model", f"{esc(meta.model_name)} {esc(meta.model_version)}"),
        ("Model SHA-256", esc(model_sha256)),
        ("Model file", check),
        ("Execution provider", esc(provider)),
        ("DermScreen version", esc(app_version())),
    ]


def site_rows(context: ReportContext) -> list[tuple[str, str]]:
    """The active site profile and the batch's drift check, when there is one."""
    rows = []
    if context.site_profile:
        rows.append(("Site calibration", "<br/>".join(esc(w) for w in context.site_words)
                     or esc(context.site_profile)))
    if context.batch_drift:
        colour = palette.ALERT_TEXT if context.batch_drift == "out of range" else "#555555"
        text = f"<font color='{colour}'><b>{esc(context.batch_drift.upper())}</b></font>"
        if context.drift_words:
            text += f" {esc(context.drift_words)}"
        rows.append(("Batch drift check", text))
    return rows


def expected_rows(meta: ModelMetadata, threshold: float, fmt: Callable[[float | None], str]
                   ) -> list[tuple[str, str]]:
    """The threshold and what to expect there: the operating-point panel's own sentences."""
    stats = meta.benign_stats
    test, validation, data = expected_words(meta, threshold)
    return [
        ("Threshold", f"{fmt(threshold)} (alpha {nf.fixed(stats.alpha_for(threshold), 2)})"),
        ("Expected at this threshold", f"{esc(test)} {esc(validation)}<br/>"
                                       f"<font color='#555555'>{esc(data)}</font>"),
    ]



# --------------------------------------------------------------------------- summary

# The summary's groups, in the order a clinician works through them.
_GROUPS = (
    (DECISION_ANOMALOUS, "Flagged", "highest score first"),
    (BORDERLINE, "Borderline", "highest score first"),
    (DECISION_NORMAL, "Not flagged", "highest score first"),
    ("", "Could not be analysed", "in input order"),
)


def summary_groups(results: Sequence[AnalysisResult], context: ReportContext
                   ) -> list[tuple[str, list[AnalysisResult]]]:
    """Every result in one of the groups: flagged, borderline, not flagged, errors."""
    by_kind: dict[str, list[AnalysisResult]] = {kind: [] for kind, _t, _o in _GROUPS}
    for r in sorted(results, key=lambda r: r.index):
        by_kind.setdefault(context.triage(r), by_kind[""]).append(r)
    for kind in (DECISION_ANOMALOUS, BORDERLINE, DECISION_NORMAL):
        by_kind[kind].sort(key=lambda r: r.score if r.score is not None else 0.0, reverse=True)
    return [(kind, by_kind[kind]) for kind, _t, _o in _GROUPS]


_GRID = TableStyle([
    ("GRID", (0, 0), (-1, -1), 0.4, RULE),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
])


def write_summary_pdf(
    target: str | Path,
    results: Sequence[AnalysisResult],
    metadata: ModelMetadata,
    threshold: float,
    *,
    model_sha256: str,
    provider: str,
    inputs: Sequence[str | Path] = (),
    case_files: dict[int, str] | None = None,
    context: ReportContext | None = None,
) -> Path:
    """Batch summary: counts, what to expect at the threshold, the scores on the benign
    distribution, then every case in tables whose header row repeats on every page and
    whose rows never split: flagged, borderline, not flagged, errors.

    ``context``: case ID, clinician, how files are named, reviews; ``inputs`` are
    used when the context names none.
    """
    target = Path(target)
    context = (context or ReportContext()).for_model(metadata, threshold)
    if not context.inputs and inputs:
        from dataclasses import replace

        context = replace(context, inputs=tuple(str(p) for p in inputs))
    stats = metadata.benign_stats
    ordered = sorted(results, key=lambda r: r.index)
    case_files = case_files or {}
    scores = [r.score for r in ordered if r.ok and r.score is not None]
    combined = is_combined(ordered)
    decimals = nf.score_decimals([threshold, context.band_low, *scores], most=6)

    def fmt(value: float | None) -> str:
        return nf.fixed(value, decimals)

    groups = summary_groups(ordered, context)
    per_case_id = context.case_id_from_subfolder
    has_reviews = context.reviews is not None

    def file_cell(r: AnalysisResult) -> Paragraph:
        # No zero-width spaces: a path copied or searched in the PDF must match the file.
        path = esc(context.shown_path(r))
        extra = []
        if per_case_id and context.case_id_of(r):
            extra.append(f"case {esc(context.case_id_of(r))}")
        reviewer, reviewed_at = context.review_by_of(r)
        if reviewer or reviewed_at:
            extra.append(" ".join(p for p in (
                "reviewed", f"by {esc(reviewer)}" if reviewer else "",
                esc(reviewed_at.replace("T", " ")[:16]) if reviewed_at else "") if p))
        _reviewed, note = review_text(r, context)
        if note:
            extra.append(f"note: {esc(note)}")
        if extra:
            path += f"<br/><font color='#444444'><i>{'; '.join(extra)}</i></font>"
        return para(path, "cell")

    def table(kind: str, items: list[AnalysisResult]) -> Table:
        shown = items[:SUMMARY_MAX_ROWS]
        head = ["#", "File"]
        if kind:
            head += [score_label(combined)]
            head += ["CAE anomaly", "Classifier P"] if combined else ["z"]
            head += ["Percentile"]
        else:
            head += ["Reason"]
        if has_reviews:
            head += ["Reviewed"]
        if kind:
            head += ["Case report"]
        # Each column as wide as its longest header word and its widest number, so no
        # word or number ever breaks ("Review|ed"); the file column takes the rest.
        sample = fmt(max((abs(r.score) for r in shown if r.score is not None), default=1.0))
        numeric = {score_label(combined), "CAE anomaly", "Classifier P", "z", "Percentile"}
        samples = {"#": str(max((r.index for r in shown), default=0)), "Reviewed": "yes"}
        widths = [fit(h, "-" + sample if h in numeric else samples.get(h, "")) for h in head]
        longest = max((case_files.get(r.index, "") for r in shown), key=len, default="")
        fixed_widths = {"File": 0.0, "Reason": 70 * mm,
                        "Case report": min(max(fit("Case report", whole=True),
                                                           fit("", longest, 6.5)),
                                           50 * mm)}
        widths = [fixed_widths.get(h, w) for h, w in zip(head, widths, strict=True)]
        widths[1] = WIDTH - sum(widths)
        rows: list[list[Flowable]] = [[para(h, "head") for h in head]]
        for r in shown:
            reviewed, _note = review_text(r, context)
            row: list[Flowable] = [para(str(r.index), "cell"), file_cell(r)]
            if kind:
                row.append(para(fmt(r.score), "num"))
                if combined:
                    row += [para(fmt(r.anomaly_score), "num"),
                            para(nf.fixed(r.probability, 3), "num")]
                else:
                    row.append(para(nf.signed(r.z), "num"))
                row.append(para(nf.number(r.percentile, ".1f"), "num"))
            else:
                row.append(para(esc(r.error), "cell"))
            if has_reviews:
                row.append(para(reviewed, "cell"))
            if kind:
                row.append(para(esc(case_files.get(r.index, "")), "tiny"))
            rows.append(row)
        out = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
        out.setStyle(_GRID)
        out.setStyle(TableStyle([("ALIGN", (i, 0), (i, 0), "RIGHT")
                                 for i, h in enumerate(head) if h in numeric]))
        return out

    sections: list[Flowable] = []
    for (kind, items), (_k, title, order) in zip(groups, _GROUPS, strict=True):
        # A heading never ends a page: it starts a new one unless its table's header and
        # first rows fit below it (keeping it with the whole table would leave pages empty).
        heading = para(f"{title} ({len(items)}){', ' + order if items else ''}", "h2")
        if not items:
            sections += [KeepTogether([heading, para("None.")])]
            continue
        sections += [CondPageBreak(_HEADING_ROOM), heading, table(kind, items)]
        if len(items) > SUMMARY_MAX_ROWS:
            sections.append(para(f"&hellip; and {len(items) - SUMMARY_MAX_ROWS} more: see the "
                               "CSV."))
    count = {kind: len(items) for kind, items in groups}
    shown_inputs = context.shown_inputs()
    inputs_text = ", ".join(esc(p) for p in shown_inputs[:10]) + (
        " &hellip;" if len(shown_inputs) > 10 else "")
    n_ok = len(ordered) - count[""]
    band = ("" if context.band_low is not None and context.band_low < threshold
            else " (the model defines no band below this threshold)")
    case = esc(context.case_id) or "&ndash; (not given)"
    if context.case_id_from_subfolder:
        case = f"each image's subfolder (images directly in the opened folder: {case})"
    rows = [
        ("Case / patient ID", case),
        ("Reviewing clinician", esc(context.clinician) or "&ndash; (not given)"),
        *([("Clinical history", esc(context.history))]
          if context.history and not context.case_id_from_subfolder else []),
        ("Inputs", inputs_text or "&ndash;"),
        ("Images", f"{len(ordered)} files: {n_ok} analysed, {count['']} could not be analysed"),
        ("Flagged", f"<font color='{palette.FLAGGED_TEXT}'><b>{count[DECISION_ANOMALOUS]}"
                    "</b></font>"),
        ("Borderline", f"<font color='{palette.BORDERLINE_TEXT}'><b>{count[BORDERLINE]}"
                       f"</b></font>{band}"),
        ("Not flagged", f"{count[DECISION_NORMAL]}"),
        ("Deciding score", f"{score_label(combined)} (CSV column <font face='Courier'>score"
                           "</font>)" + (f"; its parts: {esc(ANOMALY_PART)} (<font "
                                         "face='Courier'>anomaly_score</font>) and "
                                         f"{esc(CLASSIFIER_PART)} (<font face='Courier'>"
                                         "classifier_probability</font>)" if combined else "")),
        *expected_rows(metadata, threshold, fmt),
        *site_rows(context),
        ("Report written", report_time()),
    ]
    plot = png_bytes(distribution_plot(stats, threshold, marks=scores, width=900, height=315,
                                       score_name=score_label(combined), fmt=fmt))
    story: list[Flowable] = [
        FooterMark(footer_text("batch summary", context)),
        para("DermScreen batch summary", "h1"), Spacer(1, 2 * mm), disclaimer(),
        Spacer(1, 3 * mm), kv(rows),
        Spacer(1, 1 * mm), para(esc(BORDERLINE_RULE), "small"),
        para("Scores of this batch (ticks) on the benign validation distribution (bars)", "h2"),
        picture(plot, WIDTH * 0.95, 0.35),
        CondPageBreak(_HEADING_ROOM + 10 * mm),
        para(f"All {len(ordered)} cases: flagged and borderline first, then not flagged, then "
           "errors", "h2"),
        *sections,
        KeepTogether([Spacer(1, 4 * mm), signoff(context),
                      para(f"<i>{esc(DISCLAIMER)}</i>", "small")]),
        Spacer(1, 3 * mm),
        boxed([
            para("<b>Technical appendix</b>", "tiny"),
            # One model scored the batch: its rows all carry the same verification.
            kv(model_rows(metadata, model_sha256, provider,
                            all(r.model_verified for r in ordered if r.ok)),
                label_width=34 * mm, style="tiny")], "#f4f4f4", "#d0d0d0"),
    ]
    return write_document(target, "DermScreen batch summary", story,
                           footer_text("batch summary", context), context.clinician)
