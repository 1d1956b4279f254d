"""A case report: the one-page referral letter for one flagged or borderline image, alone
(``case-NNNNN-*.pdf``) or with the others in ``cases.pdf`` (priority order, then score).

Who and what (the patient identity a DICOM source carries, case ID, body site, lesion,
dates, clinical history, urgency), the decision and each score under the name the CSV
gives it, the original beside the CAE heatmap and the classifier's evidence map (each
with its own legend), the score on the benign distribution, the review and sign-off, and
the technical provenance in a small appendix. The whole case is kept on one page
(``KeepInFrame``): a sign-off never lands on a page without its image and file name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepInFrame,
    PageBreak,
    Spacer,
    Table,
    TableStyle,
)

from desktop_app.core.imaging.heatmap import colorbar, evidence_in_field, field_of_view, overlay
from desktop_app.core.inference.decision_rules import (
    BORDERLINE,
    BORDERLINE_RULE,
    PRIORITY_MEANING,
    PRIORITY_ORDER,
    priority,
)
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.wording import number_format as nf
from desktop_app.core.wording.texts import ANOMALY_PART, CLASSIFIER_PART
from desktop_app.reports.context import ReportContext
from desktop_app.reports.pdf.layout import (
    FRAME_HEIGHT,
    RULE,
    WIDTH,
    FooterMark,
    boxed,
    disclaimer,
    esc,
    footer_text,
    jpeg,
    kv,
    kv_pairs,
    para,
    picture,
    report_time,
    signoff,
    write_document,
)
from desktop_app.reports.pdf.render import distribution_plot, float_to_rgb8, png_bytes
from desktop_app.reports.pdf.report import (
    CSV_ANOMALY,
    CSV_PROBABILITY,
    CSV_SCORE,
    DECISION_COLOR,
    DECISION_FILL,
    expected_rows,
    is_combined,
    model_rows,
    review_text,
    score_label,
    site_rows,
)
from desktop_app.version import app_version

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import CaseImages

HEATMAP_OPACITY = 0.5
IMAGE_WIDTH = 54 * mm  # each of a case's three images (the old layout drew them 95 px wide)
CASE_PLOT_ASPECT = 0.19  # height / width of a case's score plot


def _dicom_date(value: str) -> str:
    """``20261203`` -> ``2026-12-03`` (other text as it is)."""
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if re.fullmatch(r"\d{8}", value) else value


def _person_name(value: str) -> str:
    """A DICOM person name ``Doe^Jane`` as ``Doe, Jane``."""
    parts = [p for p in value.split("^") if p]
    return f"{parts[0]}, {' '.join(parts[1:])}" if len(parts) > 1 else value


@dataclass(frozen=True)
class CasePage:
    """A case report ready to be laid out, alone or in the combined file: its images as
    encoded bytes (small) and a function making fresh flowables each time."""

    result: AnalysisResult
    story: Callable[[], list[Flowable]]
    footer: str


def _legend(vmax: float, words: str, width: float) -> list[Flowable]:
    """A map's own colour bar, ``width`` wide: 0 at the left, ``vmax`` and above at the right."""
    bar = np.ascontiguousarray(np.rot90(colorbar(256, 8), k=-1))  # left = 0, right = vmax
    return [picture(png_bytes(bar), width, 3 * mm / width),
            Table([[para("0", "tiny"), para(words, "tiny"), para(f"&ge; {nf.number(vmax, '.3g')}",
                                                                "tiny")]],
                  colWidths=[5 * mm, width - 20 * mm, 15 * mm], hAlign="LEFT",
                  style=TableStyle([("ALIGN", (2, 0), (2, 0), "RIGHT"),
                                    ("ALIGN", (1, 0), (1, 0), "CENTER"),
                                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                                    ("TOPPADDING", (0, 0), (-1, -1), 0)]))]


def _blend_rgba(original: np.ndarray, rgba: np.ndarray, opacity: float) -> np.ndarray:
    """``rgba`` (any size) over ``original`` at ``opacity`` where its alpha is set."""
    import cv2

    height, width = original.shape[:2]
    if rgba.shape[:2] != (height, width):
        rgba = cv2.resize(rgba, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0 * float(np.clip(opacity, 0.0, 1.0))
    out = original.astype(np.float32) * (1 - alpha) + rgba[..., :3].astype(np.float32) * alpha
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def case_page(
    result: AnalysisResult,
    case: CaseImages,
    metadata: ModelMetadata,
    *,
    opacity: float = HEATMAP_OPACITY,
    context: ReportContext | None = None,
) -> CasePage:
    """A case report: who and what (identity, body site, lesion, history, urgency), the
    decision and each score by the CSV's name, the original beside the CAE heatmap and the
    classifier's evidence map (each with its own legend), the score on the benign
    distribution, the review and sign-off, and a small technical appendix."""
    threshold = result.threshold if result.threshold is not None else metadata.threshold
    context = (context or ReportContext()).for_model(metadata, threshold)
    stats = metadata.benign_stats
    combined = is_combined([result])
    decimals = nf.score_decimals([result.score, threshold, result.anomaly_score,
                                  context.band_low])

    def fmt(value: float | None) -> str:
        return nf.fixed(value, decimals)

    # Images: encoded once here, so the page can be laid out again cheaply.
    oh, ow = case.original.shape[:2]
    aspect = oh / ow
    original = jpeg(case.original)
    vmax = metadata.heatmap_vmax
    inside = field_of_view(case.model_input)  # the window's mask: the same picture
    heat = jpeg(overlay(case.original, case.error_map, vmax, opacity, inside)) if vmax > 0 \
        else b""
    evidence, evidence_vmax = b"", 0.0
    if case.evidence_map is not None:
        rgba, evidence_vmax = evidence_in_field(case.evidence_map, inside)
        evidence = jpeg(_blend_rgba(case.original, rgba, max(opacity, 0.6)))
    reconstruction = jpeg(float_to_rgb8(case.reconstruction))
    # Drawn at about 110 dpi of its printed size: the plot's 10-pixel labels stay readable.
    plot = png_bytes(distribution_plot(stats, threshold, score=result.score, width=640,
                                       height=round(640 * CASE_PLOT_ASPECT),
                                       score_name=score_label(combined), fmt=fmt))

    triage = context.triage(result)
    tier = priority(result, context.band_low)
    who = context.referral_of(result)
    reviewed, note = review_text(result, context)
    reviewer, reviewed_at = context.review_by_of(result)
    path = context.shown_path(result)
    footer = footer_text("case report", context, who["case_id"] or who["patient_id"],
                     result.path.name)

    def story() -> list[Flowable]:
        none = "<font color='#777777'>not given</font>"
        colour = DECISION_COLOR.get(triage, "#666666")
        header = Table(
            [[[para("Dermoscopy triage report", "h1"),
               para("for dermatology review (referral) &middot; written by DermScreen "
                  f"{esc(app_version())}", "small")],
              [para(f"<font color='{colour}'>{esc(context.triage_label(result).upper())}</font>",
                  "badge"),
               para(f"Urgency: <b>{esc(tier.upper() or '-')}</b>", "num")]]],
            colWidths=[WIDTH * 0.66, WIDTH * 0.34], hAlign="LEFT")
        header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                                    ("RIGHTPADDING", (1, 0), (1, 0), 4),
                                    ("BACKGROUND", (1, 0), (1, 0),
                                     colors.HexColor(DECISION_FILL.get(triage, "#eeeeee")))]))

        # Who and what: two label/value pairs per line.
        name = _person_name(who["patient_name"])
        pairs = [
            ("Patient ID", esc(who["patient_id"]) or none),
            ("Patient name", esc(name) or none),
            ("Birth date", esc(_dicom_date(who["patient_birth_date"])) or none),
            ("Case ID", esc(who["case_id"]) or none),
            ("Body site", esc(who["body_site"]) or none),
            ("Lesion", esc(who["lesion_id"]) or none),
            ("Image date", esc(_dicom_date(who["study_date"])) or
             esc(result.analysed_at[:10]) + " <font color='#777777'>(analysed)</font>"),
            ("Report date", report_time()),
        ]
        cells = [[para(f"<b>{k}</b>", "label"), para(v), para(f"<b>{k2}</b>", "label"), para(v2)]
                 for (k, v), (k2, v2) in zip(pairs[::2], pairs[1::2], strict=True)]
        cells.append([para("<b>Image file</b>", "label"), para(esc(path)), "", ""])
        cells.append([para("<b>Clinical history</b>", "label"),
                      para(esc(who["history"]) or none), "", ""])
        cells.append([para("<b>Reviewing clinician</b>", "label"),
                      para(esc(reviewer or context.clinician) or none), "", ""])
        identity = Table(cells, colWidths=[37 * mm, 53 * mm, 28 * mm, WIDTH - 118 * mm],
                         hAlign="LEFT")
        span_rows = range(len(pairs) // 2, len(cells))
        identity.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            *[("SPAN", (1, r), (3, r)) for r in span_rows]]))

        # The finding: each score by the name the window and the CSV give it.
        scores = [
            (f"<b>{score_label(combined)}</b> (decides)", fmt(result.score), CSV_SCORE),
            ("Threshold", fmt(threshold), "threshold"),
        ]
        if combined:
            scores += [
                (f"part: {esc(ANOMALY_PART)}", fmt(result.anomaly_score), CSV_ANOMALY),
                (f"part: {esc(CLASSIFIER_PART)}", nf.fixed(result.probability, 3),
                 CSV_PROBABILITY),
            ]
        scores += [
            ("z against benign validation", nf.signed(result.z), "z"),
            ("Benign validation scores at or below this score",
             f"{nf.number(result.percentile, '.1f')} %", "percentile"),
        ]
        finding = Table([[para("<b>Measure</b>", "head"), para("<b>Value</b>", "head"),
                          para("<b>CSV column</b>", "head")]]
                        + [[para(k, "cell"), para(v, "cell"),
                            para(f"<font face='Courier'>{c}</font>", "cell")]
                           for k, v, c in scores],
                        colWidths=[100 * mm, 38 * mm, WIDTH - 138 * mm], hAlign="LEFT")
        finding.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, 0), 0.5, RULE),
                                     ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                     ("TOPPADDING", (0, 0), (-1, -1), 1),
                                     ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
        decision_words = (f"<b>Decision: <font color='{colour}'>"
                          f"{esc(context.triage_label(result).upper())}</font></b> &middot; "
                          f"urgency {esc(PRIORITY_MEANING.get(tier, 'not ranked'))}")

        # Images, each with its own caption and legend.
        width = IMAGE_WIDTH
        columns: list[list[Flowable]] = [[picture(original, width, aspect),
                                          para("Original image", "caption")]]
        if heat:
            columns.append([picture(heat, width, aspect),
                            para("CAE heatmap: what the benign-only autoencoder could not "
                               "reconstruct", "caption"),
                            *_legend(vmax, "error, fixed scale", width)])
        else:
            columns.append([para("<i>the model carries no heatmap scale</i>", "caption")])
        if evidence:
            columns.append([picture(evidence, width, aspect),
                            para("Classifier evidence map: evidence towards malignant",
                               "caption"),
                            *_legend(evidence_vmax, "logit, this case's scale", width)])
        else:
            columns.append([picture(reconstruction, width, 1.0),
                            para("Reconstruction (what the autoencoder expects)", "caption")])
        pictures = Table([columns], colWidths=[WIDTH / 3] * 3, hAlign="LEFT")
        pictures.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                      ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                                      ("LEFTPADDING", (0, 0), (-1, -1), 2),
                                      ("RIGHTPADDING", (0, 0), (-1, -1), 2)]))

        review: list[Flowable] = []
        if reviewed:
            when = " ".join(p for p in (f"by {esc(reviewer)}" if reviewer else "",
                                        esc(reviewed_at.replace("T", " ")[:16] + " UTC")
                                        if reviewed_at else "") if p)
            review.append(kv([("Reviewed in the app", f"{reviewed} {when}".strip()),
                               ("Clinician's note", esc(note) or "&ndash;")]))

        model = dict(model_rows(metadata, result.model_sha256, result.provider,
                                      result.model_verified))
        threshold_row, expected_row = expected_rows(metadata, threshold, fmt)
        appendix = kv_pairs(
            [("Model", model["Model"]),
             ("Execution provider", model["Execution provider"]),
             ("Model file", model["Model file"]),
             ("DermScreen version", model["DermScreen version"]),
             threshold_row, ("Analysed", esc(result.analysed_at))],
            [("Image SHA-256", esc(result.image_sha256)),
             ("Model SHA-256", model["Model SHA-256"]), expected_row,
             *site_rows(context),
             *([("DICOM study / instance", f"{esc(result.dicom.study_instance_uid)} / "
                                           f"{esc(result.dicom.sop_instance_uid)}")]
               if result.dicom is not None else [])])

        body: list[Flowable] = [
            header, Spacer(1, 1 * mm), disclaimer(), Spacer(1, 1.5 * mm), identity,
            para("Finding", "h2"), para(decision_words),
            *([para(esc(BORDERLINE_RULE), "small")] if triage == BORDERLINE else []),
            Spacer(1, 1 * mm), finding, Spacer(1, 1 * mm), pictures,
            para("Score against the benign validation distribution", "h2"),
            picture(plot, WIDTH * 0.72, CASE_PLOT_ASPECT),
            para(f"Bars: {stats.n} benign validation scores (mean {fmt(stats.mean)}, sd "
               f"{fmt(stats.sd)}); dashed line: the threshold; solid line: this image "
               f"({score_label(combined)}).", "small"),
            *review, signoff(context, reviewer),
            Spacer(1, 1 * mm),
            boxed([para("<b>Technical appendix</b>", "tiny"), appendix], "#f4f4f4", "#d0d0d0"),
        ]
        # One page, always: everything shrinks together (images first to go small) rather
        # than a sign-off landing on a page without its case's image and file name.
        return [FooterMark(footer), KeepInFrame(WIDTH, FRAME_HEIGHT - 2, body, mode="shrink")]

    return CasePage(result, story, footer)


def write_case_page(target: str | Path, result: AnalysisResult, page: CasePage,
                    author: str = "") -> Path:
    """A case report from its :func:`case_page`."""
    return write_document(Path(target), f"DermScreen case report {result.path.name}",
                           page.story(), page.footer, author)


def write_case_pdf(
    target: str | Path,
    result: AnalysisResult,
    case: CaseImages,
    metadata: ModelMetadata,
    *,
    opacity: float = HEATMAP_OPACITY,
    context: ReportContext | None = None,
) -> Path:
    """One case's report (see :func:`case_page`)."""
    context = context or ReportContext()
    return write_case_page(target, result, case_page(result, case, metadata, opacity=opacity,
                                                     context=context), context.clinician)


def _urgency_key(result: AnalysisResult, context: ReportContext) -> tuple[float, float, int]:
    return (-PRIORITY_ORDER[priority(result, context.band_low)],
            -(result.score if result.score is not None else -np.inf), result.index)


def case_order(results: Sequence[AnalysisResult], context: ReportContext
               ) -> list[AnalysisResult]:
    """Cases as a clinician works through them: priority tier first (high, elevated,
    routine), then the highest score, then input order."""
    return sorted(results, key=lambda r: _urgency_key(r, context))


def write_cases_pdf(target: str | Path, pages: Sequence[CasePage],
                    context: ReportContext | None = None) -> Path:
    """One file holding case pages (:func:`case_page`) in priority order (then score), each
    case on a page of its own with its own footer."""
    context = context or ReportContext()
    story: list[Flowable] = []
    for n, page in enumerate(sorted(pages, key=lambda p: _urgency_key(p.result, context))):
        if n:
            story.append(PageBreak())
        story.extend(page.story())
    return write_document(Path(target), "DermScreen case reports", story,
                           footer_text("case reports", context), context.clinician)
