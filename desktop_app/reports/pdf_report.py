"""PDF reports: a batch summary and one case report (a referral letter) per flagged or
borderline image.

Laid out by ReportLab's platypus (a layout engine made for documents): the summary's
tables split only between rows and repeat their header row on every page
(``Table(repeatRows=1)``), a heading stays with what follows it, and a case report is
kept on one page (``KeepInFrame``), so a sign-off never lands on a page without its
case's image and file name. The PDF is built in memory, checked for a complete
structure (:func:`check_pdf_structure`) and written atomically, so a full disk never
leaves a truncated PDF in place. Heatmaps use the model's fixed scale
(:mod:`desktop_app.core.heatmap`); the distribution plot is painted by Qt
(:mod:`desktop_app.reports.render`). Every report says plainly that DermScreen is a
triage aid, not a diagnosis.
"""

from __future__ import annotations

import functools
import html
import io
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepInFrame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from desktop_app.core import number_format as nf
from desktop_app.core import palette
from desktop_app.core.decision_rules import (
    BORDERLINE,
    BORDERLINE_RULE,
    PRIORITY_MEANING,
    PRIORITY_ORDER,
    priority,
)
from desktop_app.core.files import FileWriteError, write_bytes_atomic
from desktop_app.core.heatmap import colorbar, evidence_in_field, field_of_view, overlay
from desktop_app.core.model_metadata import ModelMetadata
from desktop_app.core.operating_points import expected_words
from desktop_app.core.results import DECISION_ANOMALOUS, DECISION_NORMAL, AnalysisResult
from desktop_app.core.text_safety import undecodable_escaped
from desktop_app.core.texts import (
    ANOMALY_PART,
    CLASSIFIER_PART,
    DISCLAIMER,
    DISCLAIMER_SHORT,
)
from desktop_app.reports.context import ReportContext
from desktop_app.reports.render import distribution_plot, float_to_rgb8, png_bytes
from desktop_app.version import app_version

if TYPE_CHECKING:
    from desktop_app.core.engine import CaseImages

# Rows listed in the summary PDF per group (flagged, borderline, not flagged, errors);
# the CSV always holds every row, and the summary says how many it leaves to it.
SUMMARY_MAX_ROWS = 1000
HEATMAP_OPACITY = 0.5
_MARGIN = 15 * mm
_FOOTER = 10 * mm  # kept free at the bottom of each page for the footer line
_WIDTH = A4[0] - 2 * _MARGIN  # the text width (180 mm)
_FRAME_HEIGHT = A4[1] - 2 * _MARGIN - _FOOTER
_IMAGE_WIDTH = 55 * mm  # each of a case's three images (the old layout drew them 95 px wide)
_JPEG_QUALITY = 90
_CASE_PLOT_ASPECT = 0.19
_HEADING_ROOM = 30 * mm  # room a summary heading needs below it: its header and first rows  # height / width of a case's score plot
_GREY = colors.HexColor("#555555")
_RULE = colors.HexColor("#b0b0b0")

# The CSV's own names for the scores, printed beside their labels.
CSV_SCORE, CSV_ANOMALY, CSV_PROBABILITY = "score", "anomaly_score", "classifier_probability"


# --------------------------------------------------------------------------- text and fonts

def _font_files() -> tuple[tuple[str, str], ...]:
    """(regular, bold) TrueType pairs that cover accents and non-Latin file names."""
    windir = os.environ.get("WINDIR", r"C:\Windows")
    return (
        ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
         "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
        ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
        (os.path.join(windir, "Fonts", "arial.ttf"), os.path.join(windir, "Fonts", "arialbd.ttf")),
        ("/System/Library/Fonts/Supplemental/Arial.ttf",
         "/System/Library/Fonts/Supplemental/Arial Bold.ttf"),
    )


@functools.cache
def _fonts() -> tuple[str, str, bool]:
    """(regular, bold, unicode): a system TrueType font when there is one, else Helvetica
    (Latin-1 only: other characters print as "?")."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for regular, bold in _font_files():
        if os.path.isfile(regular) and os.path.isfile(bold):
            try:
                pdfmetrics.registerFont(TTFont("DS-Sans", regular))
                pdfmetrics.registerFont(TTFont("DS-Sans-Bold", bold))
            except Exception:  # a damaged font file: try the next one
                continue
            addMapping("DS-Sans", 0, 0, "DS-Sans")
            addMapping("DS-Sans", 1, 0, "DS-Sans-Bold")
            addMapping("DS-Sans", 0, 1, "DS-Sans")
            addMapping("DS-Sans", 1, 1, "DS-Sans-Bold")
            return "DS-Sans", "DS-Sans-Bold", True
    return "Helvetica", "Helvetica-Bold", False


def _esc(value: object) -> str:
    """Text for a Paragraph: undecodable bytes shown escaped, markup characters escaped."""
    text = undecodable_escaped(value)
    if not _fonts()[2]:
        text = text.encode("latin-1", "replace").decode("latin-1")
    return html.escape(text, quote=False)


@functools.cache
def _styles() -> dict[str, ParagraphStyle]:
    regular, bold, _ = _fonts()
    base = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=_GREY),
        "tiny": ParagraphStyle("tiny", parent=base, fontSize=6.5, leading=8, textColor=_GREY),
        "label": ParagraphStyle("label", parent=base, fontName=bold),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
        "head": ParagraphStyle("head", parent=base, fontName=bold, fontSize=8, leading=10),
        "num": ParagraphStyle("num", parent=base, fontSize=8, leading=10, alignment=2),
        "h1": ParagraphStyle("h1", parent=base, fontName=bold, fontSize=15, leading=19),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=11, leading=14,
                             spaceBefore=5, spaceAfter=2),
        "caption": ParagraphStyle("caption", parent=base, fontSize=7.5, leading=9.5,
                                  alignment=1),
        "badge": ParagraphStyle("badge", parent=base, fontName=bold, fontSize=13, leading=16,
                                alignment=2),
    }


def _p(markup: str, style: str = "body") -> Paragraph:
    return Paragraph(markup, _styles()[style])


def _report_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _dicom_date(value: str) -> str:
    """``20261203`` -> ``2026-12-03`` (other text as it is)."""
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if re.fullmatch(r"\d{8}", value) else value


def _person_name(value: str) -> str:
    """A DICOM person name ``Doe^Jane`` as ``Doe, Jane``."""
    parts = [p for p in value.split("^") if p]
    return f"{parts[0]}, {' '.join(parts[1:])}" if len(parts) > 1 else value


# --------------------------------------------------------------------------- the PDF file

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")


def check_pdf_structure(data: bytes) -> None:
    """Raise ValueError naming what is missing unless ``data`` is a complete PDF file.

    Complete: the ``%PDF-`` header, a final ``startxref`` + ``%%EOF`` whose
    offset points at a cross-reference table (``xref`` ... ``trailer``) or a
    cross-reference stream inside the file. A write cut short (full disk,
    killed writer) fails here, whatever its first bytes are.
    """
    if not data.startswith(b"%PDF-"):
        msg = "no %PDF- header"
        raise ValueError(msg)
    match = _STARTXREF.search(data[-1024:])
    if match is None:
        msg = "no startxref/%%EOF at the end (the file is truncated)"
        raise ValueError(msg)
    offset = int(match.group(1))
    if not 0 < offset < len(data):
        msg = f"startxref points outside the file ({offset} of {len(data)} bytes)"
        raise ValueError(msg)
    section = data[offset:]
    if section.startswith(b"xref"):
        if b"trailer" not in section:
            msg = "cross-reference table without a trailer"
            raise ValueError(msg)
    elif not (re.match(rb"\d+\s+\d+\s+obj\b", section) and b"/XRef" in section[:512]):
        msg = "startxref does not point at a cross-reference table"
        raise ValueError(msg)


class _Footer(Flowable):
    """Takes no room; sets the footer text of the page it lands on and those after it
    (the combined case file names each page's own case)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def wrap(self, _w: float, _h: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.canv._ds_footer = self.text  # type: ignore[attr-defined]


def _canvas_class(footer: str) -> type[Canvas]:
    """A canvas that ends every page with its footer and "Page n of N" (known at the end)."""

    class FooterCanvas(Canvas):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self._ds_footer = footer
            self._ds_pages: list[dict] = []

        def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
            self._ds_pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._ds_pages)
            for number, state in enumerate(self._ds_pages, start=1):
                self.__dict__.update(state)
                self._draw_footer(number, total)
                Canvas.showPage(self)
            Canvas.save(self)

        def _draw_footer(self, number: int, total: int) -> None:
            regular = _fonts()[0]
            from reportlab.pdfbase.pdfmetrics import stringWidth

            y = _MARGIN
            self.setStrokeColor(_RULE)
            self.setLineWidth(0.5)
            self.line(_MARGIN, y + 4 * mm, _MARGIN + _WIDTH, y + 4 * mm)
            self.setFillColor(_GREY)
            self.setFont(regular, 7)
            right = f"Page {number} of {total}"
            self.drawRightString(_MARGIN + _WIDTH, y + 1 * mm, right)
            text = html.unescape(_esc(self._ds_footer))
            room = _WIDTH - stringWidth(right, regular, 7) - 6 * mm
            while text and stringWidth(text, regular, 7) > room:
                text = text[:-2] + "…"
            self.drawString(_MARGIN, y + 1 * mm, text)

    return FooterCanvas


def _write_document(target: Path, title: str, story: list[Flowable], footer: str,
                    author: str = "") -> Path:
    """Lay ``story`` out on A4 pages into ``target`` (each page ends with ``footer`` and
    "Page n of N"); built in memory, checked and written atomically."""
    buffer = io.BytesIO()
    doc = BaseDocTemplate(buffer, pagesize=A4, leftMargin=_MARGIN, rightMargin=_MARGIN,
                          topMargin=_MARGIN, bottomMargin=_MARGIN, title=title,
                          author=author, creator=f"DermScreen {app_version()}",
                          subject=DISCLAIMER_SHORT)
    frame = Frame(_MARGIN, _MARGIN + _FOOTER, _WIDTH, _FRAME_HEIGHT, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    try:
        doc.build(story, canvasmaker=_canvas_class(footer))
    except Exception as exc:  # a layout that cannot be drawn must not pass as a report
        raise FileWriteError(target.parent,
                             f"{target.name}: the PDF could not be laid out ({exc})") from exc
    pdf = buffer.getvalue()
    try:
        check_pdf_structure(pdf)
    except ValueError as exc:
        raise FileWriteError(
            target.parent, f"{target.name}: an incomplete PDF was produced ({exc})"
        ) from None
    return write_bytes_atomic(target, pdf)


def _footer(kind: str, context: ReportContext, case_id: str = "", file_name: str = "") -> str:
    case = case_id or context.case_id
    return " · ".join(x for x in (f"DermScreen {app_version()} {kind}",
                                  f"Case {case}" if case else "",
                                  file_name, DISCLAIMER_SHORT) if x)


# --------------------------------------------------------------------------- shared blocks

def _jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image as PilImage

    buffer = io.BytesIO()
    PilImage.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(
        buffer, format="JPEG", quality=_JPEG_QUALITY)
    return buffer.getvalue()


def _picture(data: bytes, width: float, aspect: float) -> Image:
    """An image flowable ``width`` wide, ``aspect`` = height / width."""
    return Image(io.BytesIO(data), width=width, height=width * aspect)


def _kv(rows: Sequence[tuple[str, str]], label_width: float = 38 * mm,
        style: str = "body") -> Table:
    """A two-column table of (label, value) markup."""
    label_style = "label" if style == "body" else style
    data = [[_p(f"<b>{k}</b>", label_style), _p(v, style)] for k, v in rows]
    table = Table(data, colWidths=[label_width, _WIDTH - label_width], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                               ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return table


def _kv_pairs(short: Sequence[tuple[str, str]], long: Sequence[tuple[str, str]],
              style: str = "tiny") -> Table:
    """Small print: short (label, value) pairs two to a line, then the long ones a line
    each (the technical appendix)."""
    short = list(short) + [("", "")] * (len(short) % 2)
    rows = [[_p(f"<b>{k}</b>", style), _p(v, style), _p(f"<b>{k2}</b>" if k2 else "", style),
             _p(v2, style)] for (k, v), (k2, v2) in zip(short[::2], short[1::2], strict=True)]
    first_long = len(rows)
    rows += [[_p(f"<b>{k}</b>", style), _p(v, style), "", ""] for k, v in long]
    table = Table(rows, colWidths=[30 * mm, 58 * mm, 32 * mm, _WIDTH - 120 * mm],
                  hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
                               *[("SPAN", (1, r), (3, r)) for r in range(first_long,
                                                                           len(rows))]]))
    return table


def _fit(header: str, number: str = "", size: float = 8, whole: bool = False) -> float:
    """A table column's width: its longest header word (bold; the whole header with
    ``whole``) and ``number`` (at ``size``), with padding."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    regular, bold, _ = _fonts()
    words = [header] if whole else header.split()
    widest = max([stringWidth(w, bold, 8) for w in words] + [
        stringWidth(number, regular, size)])
    return widest + 8


def _boxed(content: Flowable | list[Flowable], fill: str, border: str = "#d9c48a") -> Table:
    """``content`` in a shaded box the text's width (a one-cell table: never split)."""
    table = Table([[content]], colWidths=[_WIDTH], hAlign="LEFT")
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(fill)),
                               ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor(border)),
                               ("LEFTPADDING", (0, 0), (-1, -1), 5),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 5)]))
    return table


def _disclaimer() -> Table:
    rest = DISCLAIMER.removeprefix(DISCLAIMER_SHORT)
    return _boxed(_p(f"<b>{_esc(DISCLAIMER_SHORT)}</b>{_esc(rest)}", "small"), "#fff4d6")


def _signoff(context: ReportContext, reviewer: str = "") -> Table:
    """Reviewed by / signature / date lines (the named clinician printed when known)."""
    name = _esc(reviewer or context.clinician) or "_" * 26
    table = Table([[_p(f"Reviewed by: <b>{name}</b>"), _p("Signature: " + "_" * 22),
                    _p("Date: " + "_" * 14)]], colWidths=[_WIDTH * 0.42, _WIDTH * 0.34,
                                                           _WIDTH * 0.24], hAlign="LEFT")
    table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 8),
                               ("LINEABOVE", (0, 0), (-1, 0), 0.5, _RULE)]))
    return table


_DECISION_COLOR = {decision: text for decision, (_fill, text) in palette.DECISION_COLORS.items()}
_DECISION_FILL = {decision: fill for decision, (fill, _text) in palette.DECISION_COLORS.items()}


def _review_text(result: AnalysisResult, context: ReportContext) -> tuple[str, str]:
    """(reviewed, note) as printed; ("", "") when reviews are not recorded."""
    review = context.review_of(result)
    if review is None:
        return "", ""
    return ("yes" if review[0] else "no"), review[1]


def _is_combined(results: Sequence[AnalysisResult]) -> bool:
    return any(r.probability is not None or r.anomaly_score is not None for r in results)


def score_label(combined: bool) -> str:
    """The deciding score's name: a combined model's combination, or the CAE's own error."""
    return "Combined score" if combined else "CAE anomaly score"


def _model_rows(meta: ModelMetadata, model_sha256: str, provider: str,
                verified: bool) -> list[tuple[str, str]]:
    check = ("matches its .sha256 file" if verified else
             f"<font color='{palette.ALERT_TEXT}'><b>UNVERIFIED MODEL</b></font>: "
             "no .sha256 file vouched for it")
    return [
        ("Model", f"{_esc(meta.model_name)} {_esc(meta.model_version)}"),
        ("Model SHA-256", _esc(model_sha256)),
        ("Model file", check),
        ("Execution provider", _esc(provider)),
        ("DermScreen version", _esc(app_version())),
    ]


def _site_rows(context: ReportContext) -> list[tuple[str, str]]:
    """The active site profile and the batch's drift check, when there is one."""
    rows = []
    if context.site_profile:
        rows.append(("Site calibration", "<br/>".join(_esc(w) for w in context.site_words)
                     or _esc(context.site_profile)))
    if context.batch_drift:
        colour = palette.ALERT_TEXT if context.batch_drift == "out of range" else "#555555"
        text = f"<font color='{colour}'><b>{_esc(context.batch_drift.upper())}</b></font>"
        if context.drift_words:
            text += f" {_esc(context.drift_words)}"
        rows.append(("Batch drift check", text))
    return rows


def _expected_rows(meta: ModelMetadata, threshold: float, fmt: Callable[[float | None], str]
                   ) -> list[tuple[str, str]]:
    """The threshold and what to expect there: the operating-point panel's own sentences."""
    stats = meta.benign_stats
    test, validation, data = expected_words(meta, threshold)
    return [
        ("Threshold", f"{fmt(threshold)} (alpha {nf.fixed(stats.alpha_for(threshold), 2)})"),
        ("Expected at this threshold", f"{_esc(test)} {_esc(validation)}<br/>"
                                       f"<font color='#555555'>{_esc(data)}</font>"),
    ]


# --------------------------------------------------------------------------- case report

@dataclass(frozen=True)
class CasePage:
    """A case report ready to be laid out, alone or in the combined file: its images as
    encoded bytes (small) and a function making fresh flowables each time."""

    result: AnalysisResult
    story: Callable[[], list[Flowable]]
    footer: str


def _legend(vmax: float, words: str, width: float) -> list[Flowable]:
    bar = np.ascontiguousarray(np.rot90(colorbar(256, 8), k=-1))  # left = 0, right = vmax
    return [_picture(png_bytes(bar), width, 3 * mm / width),
            Table([[_p("0", "tiny"), _p(words, "tiny"), _p(f"&ge; {nf.number(vmax, '.3g')}",
                                                                "tiny")]],
                  colWidths=[5 * mm, width - 20 * mm, 15 * mm], hAlign="LEFT",
                  style=TableStyle([("ALIGN", (2, 0), (2, 0), "RIGHT"),
                                    ("ALIGN", (1, 0), (1, 0), "CENTER"),
                                    ("FONTSIZE", (0, 0), (-1, -1), 6),
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
    combined = _is_combined([result])
    decimals = nf.score_decimals([result.score, threshold, result.anomaly_score,
                                  context.band_low])

    def fmt(value: float | None) -> str:
        return nf.fixed(value, decimals)

    # Images: encoded once here, so the page can be laid out again cheaply.
    oh, ow = case.original.shape[:2]
    aspect = oh / ow
    original = _jpeg(case.original)
    vmax = metadata.heatmap_vmax
    heat = _jpeg(overlay(case.original, case.error_map, vmax, opacity)) if vmax > 0 else b""
    evidence, evidence_vmax = b"", 0.0
    if case.evidence_map is not None:
        rgba, evidence_vmax = evidence_in_field(case.evidence_map,
                                                field_of_view(case.model_input))
        evidence = _jpeg(_blend_rgba(case.original, rgba, max(opacity, 0.6)))
    reconstruction = _jpeg(float_to_rgb8(case.reconstruction))
    # Drawn at about 110 dpi of its printed size: the plot's 10-pixel labels stay readable.
    plot = png_bytes(distribution_plot(stats, threshold, score=result.score, width=640,
                                       height=round(640 * _CASE_PLOT_ASPECT),
                                       score_name=score_label(combined), fmt=fmt))

    triage = context.triage(result)
    tier = priority(result, context.band_low)
    who = context.referral_of(result)
    reviewed, note = _review_text(result, context)
    reviewer, reviewed_at = context.review_by_of(result)
    path = context.shown_path(result)
    footer = _footer("case report", context, who["case_id"] or who["patient_id"],
                     result.path.name)

    def story() -> list[Flowable]:
        none = "<font color='#777777'>not given</font>"
        colour = _DECISION_COLOR.get(triage, "#666666")
        header = Table(
            [[[_p("Dermoscopy triage report", "h1"),
               _p("for dermatology review (referral) &middot; written by DermScreen "
                  f"{_esc(app_version())}", "small")],
              [_p(f"<font color='{colour}'>{_esc(context.triage_label(result).upper())}</font>",
                  "badge"),
               _p(f"Urgency: <b>{_esc(tier.upper() or '-')}</b>", "num")]]],
            colWidths=[_WIDTH * 0.66, _WIDTH * 0.34], hAlign="LEFT")
        header.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                                    ("RIGHTPADDING", (1, 0), (1, 0), 4),
                                    ("BACKGROUND", (1, 0), (1, 0),
                                     colors.HexColor(_DECISION_FILL.get(triage, "#eeeeee")))]))

        # Who and what: two label/value pairs per line.
        name = _person_name(who["patient_name"])
        pairs = [
            ("Patient ID", _esc(who["patient_id"]) or none),
            ("Patient name", _esc(name) or none),
            ("Birth date", _esc(_dicom_date(who["patient_birth_date"])) or none),
            ("Case ID", _esc(who["case_id"]) or none),
            ("Body site", _esc(who["body_site"]) or none),
            ("Lesion", _esc(who["lesion_id"]) or none),
            ("Image date", _esc(_dicom_date(who["study_date"])) or
             _esc(result.analysed_at[:10]) + " <font color='#777777'>(analysed)</font>"),
            ("Report date", _report_time()),
        ]
        cells = [[_p(f"<b>{k}</b>", "label"), _p(v), _p(f"<b>{k2}</b>", "label"), _p(v2)]
                 for (k, v), (k2, v2) in zip(pairs[::2], pairs[1::2], strict=True)]
        cells.append([_p("<b>Image file</b>", "label"), _p(_esc(path)), "", ""])
        cells.append([_p("<b>Clinical history</b>", "label"),
                      _p(_esc(who["history"]) or none), "", ""])
        cells.append([_p("<b>Reviewing clinician</b>", "label"),
                      _p(_esc(reviewer or context.clinician) or none), "", ""])
        identity = Table(cells, colWidths=[37 * mm, 53 * mm, 28 * mm, _WIDTH - 118 * mm],
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
                (f"part: {_esc(ANOMALY_PART)}", fmt(result.anomaly_score), CSV_ANOMALY),
                (f"part: {_esc(CLASSIFIER_PART)}", nf.fixed(result.probability, 3),
                 CSV_PROBABILITY),
            ]
        scores += [
            ("z against benign validation", nf.signed(result.z), "z"),
            ("Benign validation scores at or below this score",
             f"{nf.number(result.percentile, '.1f')} %", "percentile"),
        ]
        finding = Table([[_p("<b>Measure</b>", "head"), _p("<b>Value</b>", "head"),
                          _p("<b>CSV column</b>", "head")]]
                        + [[_p(k, "cell"), _p(v, "cell"),
                            _p(f"<font face='Courier'>{c}</font>", "cell")]
                           for k, v, c in scores],
                        colWidths=[100 * mm, 38 * mm, _WIDTH - 138 * mm], hAlign="LEFT")
        finding.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, 0), 0.5, _RULE),
                                     ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                     ("TOPPADDING", (0, 0), (-1, -1), 1),
                                     ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
        decision_words = (f"<b>Decision: <font color='{colour}'>"
                          f"{_esc(context.triage_label(result).upper())}</font></b> &middot; "
                          f"urgency {_esc(PRIORITY_MEANING.get(tier, 'not ranked'))}")

        # Images, each with its own caption and legend.
        width = _IMAGE_WIDTH
        columns: list[list[Flowable]] = [[_picture(original, width, aspect),
                                          _p("Original image", "caption")]]
        if heat:
            columns.append([_picture(heat, width, aspect),
                            _p("CAE heatmap: what the benign-only autoencoder could not "
                               "reconstruct", "caption"),
                            *_legend(vmax, "error, fixed scale", width)])
        else:
            columns.append([_p("<i>the model carries no heatmap scale</i>", "caption")])
        if evidence:
            columns.append([_picture(evidence, width, aspect),
                            _p("Classifier evidence map: evidence towards malignant",
                               "caption"),
                            *_legend(evidence_vmax, "logit, this case's scale", width)])
        else:
            columns.append([_picture(reconstruction, width, 1.0),
                            _p("Reconstruction (what the autoencoder expects)", "caption")])
        pictures = Table([columns], colWidths=[_WIDTH / 3] * 3, hAlign="LEFT")
        pictures.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                      ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                                      ("LEFTPADDING", (0, 0), (-1, -1), 2),
                                      ("RIGHTPADDING", (0, 0), (-1, -1), 2)]))

        review: list[Flowable] = []
        if reviewed:
            when = " ".join(p for p in (f"by {_esc(reviewer)}" if reviewer else "",
                                        _esc(reviewed_at.replace("T", " ")[:16] + " UTC")
                                        if reviewed_at else "") if p)
            review.append(_kv([("Reviewed in the app", f"{reviewed} {when}".strip()),
                               ("Clinician's note", _esc(note) or "&ndash;")]))

        model_rows = dict(_model_rows(metadata, result.model_sha256, result.provider,
                                      result.model_verified))
        threshold_row, expected_row = _expected_rows(metadata, threshold, fmt)
        appendix = _kv_pairs(
            [("Model", model_rows["Model"]),
             ("Execution provider", model_rows["Execution provider"]),
             ("Model file", model_rows["Model file"]),
             ("DermScreen version", model_rows["DermScreen version"]),
             threshold_row, ("Analysed", _esc(result.analysed_at))],
            [("Image SHA-256", _esc(result.image_sha256)),
             ("Model SHA-256", model_rows["Model SHA-256"]), expected_row,
             *_site_rows(context),
             *([("DICOM study / instance", f"{_esc(result.dicom.study_instance_uid)} / "
                                           f"{_esc(result.dicom.sop_instance_uid)}")]
               if result.dicom is not None else [])])

        body: list[Flowable] = [
            header, Spacer(1, 1 * mm), _disclaimer(), Spacer(1, 2 * mm), identity,
            _p("Finding", "h2"), _p(decision_words),
            *([_p(_esc(BORDERLINE_RULE), "small")] if triage == BORDERLINE else []),
            Spacer(1, 1 * mm), finding, Spacer(1, 1 * mm), pictures,
            _p("Score against the benign validation distribution", "h2"),
            _picture(plot, _WIDTH * 0.8, _CASE_PLOT_ASPECT),
            _p(f"Bars: {stats.n} benign validation scores (mean {fmt(stats.mean)}, sd "
               f"{fmt(stats.sd)}); dashed line: the threshold; solid line: this image "
               f"({score_label(combined).lower()}).", "small"),
            *review, _signoff(context, reviewer),
            Spacer(1, 2 * mm),
            _boxed([_p("<b>Technical appendix</b>", "tiny"), appendix], "#f4f4f4", "#d0d0d0"),
        ]
        # One page, always: everything shrinks together (images first to go small) rather
        # than a sign-off landing on a page without its case's image and file name.
        return [_Footer(footer), KeepInFrame(_WIDTH, _FRAME_HEIGHT - 2, body, mode="shrink")]

    return CasePage(result, story, footer)


def write_case_page(target: str | Path, result: AnalysisResult, page: CasePage,
                    author: str = "") -> Path:
    """A case report from its :func:`case_page`."""
    return _write_document(Path(target), f"DermScreen case report {result.path.name}",
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


def case_order(results: Sequence[AnalysisResult], context: ReportContext
               ) -> list[AnalysisResult]:
    """Cases as a clinician works through them: priority tier first (high, elevated,
    routine), then the highest score, then input order."""
    return sorted(results, key=lambda r: (-PRIORITY_ORDER[priority(r, context.band_low)],
                                          -(r.score if r.score is not None else -np.inf),
                                          r.index))


def write_cases_pdf(target: str | Path, pages: Sequence[CasePage],
                    context: ReportContext | None = None) -> Path:
    """One file holding case pages (:func:`case_page`) in priority order (then score), each
    case on a page of its own with its own footer."""
    context = context or ReportContext()
    by_result = {id(page.result): page for page in pages}
    ordered = [by_result[id(r)] for r in case_order([p.result for p in pages], context)]
    story: list[Flowable] = []
    for n, page in enumerate(ordered):
        if n:
            story.append(PageBreak())
        story.extend(page.story())
    return _write_document(Path(target), "DermScreen case reports", story,
                           _footer("case reports", context), context.clinician)


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
    ("GRID", (0, 0), (-1, -1), 0.4, _RULE),
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
    combined = _is_combined(ordered)
    decimals = nf.score_decimals([threshold, context.band_low, *scores], most=6)

    def fmt(value: float | None) -> str:
        return nf.fixed(value, decimals)

    groups = summary_groups(ordered, context)
    per_case_id = context.case_id_from_subfolder
    has_reviews = context.reviews is not None

    def file_cell(r: AnalysisResult) -> Paragraph:
        # No zero-width spaces: a path copied or searched in the PDF must match the file.
        path = _esc(context.shown_path(r))
        extra = []
        if per_case_id and context.case_id_of(r):
            extra.append(f"case {_esc(context.case_id_of(r))}")
        reviewer, reviewed_at = context.review_by_of(r)
        if reviewer or reviewed_at:
            extra.append(" ".join(p for p in (
                "reviewed", f"by {_esc(reviewer)}" if reviewer else "",
                _esc(reviewed_at.replace("T", " ")[:16]) if reviewed_at else "") if p))
        _reviewed, note = _review_text(r, context)
        if note:
            extra.append(f"note: {_esc(note)}")
        if extra:
            path += f"<br/><font color='#444444'><i>{'; '.join(extra)}</i></font>"
        return _p(path, "cell")

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
        widths = [_fit(h, "-" + sample if h in numeric else samples.get(h, "")) for h in head]
        longest = max((case_files.get(r.index, "") for r in shown), key=len, default="")
        fixed_widths = {"File": 0.0, "Reason": 70 * mm,
                        "Case report": min(max(_fit("Case report", whole=True),
                                                           _fit("", longest, 6.5)),
                                           50 * mm)}
        widths = [fixed_widths.get(h, w) for h, w in zip(head, widths, strict=True)]
        widths[1] = _WIDTH - sum(widths)
        rows: list[list[Flowable]] = [[_p(h, "head") for h in head]]
        for r in shown:
            reviewed, _note = _review_text(r, context)
            row: list[Flowable] = [_p(str(r.index), "cell"), file_cell(r)]
            if kind:
                row.append(_p(fmt(r.score), "num"))
                if combined:
                    row += [_p(fmt(r.anomaly_score), "num"),
                            _p(nf.fixed(r.probability, 3), "num")]
                else:
                    row.append(_p(nf.signed(r.z), "num"))
                row.append(_p(nf.number(r.percentile, ".1f"), "num"))
            else:
                row.append(_p(_esc(r.error), "cell"))
            if has_reviews:
                row.append(_p(reviewed, "cell"))
            if kind:
                row.append(_p(_esc(case_files.get(r.index, "")), "tiny"))
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
        heading = _p(f"{title} ({len(items)}){', ' + order if items else ''}", "h2")
        if not items:
            sections += [KeepTogether([heading, _p("None.")])]
            continue
        sections += [CondPageBreak(_HEADING_ROOM), heading, table(kind, items)]
        if len(items) > SUMMARY_MAX_ROWS:
            sections.append(_p(f"&hellip; and {len(items) - SUMMARY_MAX_ROWS} more: see the "
                               "CSV."))
    count = {kind: len(items) for kind, items in groups}
    shown_inputs = context.shown_inputs()
    inputs_text = ", ".join(_esc(p) for p in shown_inputs[:10]) + (
        " &hellip;" if len(shown_inputs) > 10 else "")
    n_ok = len(ordered) - count[""]
    band = ("" if context.band_low is not None and context.band_low < threshold
            else " (the model defines no band below this threshold)")
    case = _esc(context.case_id) or "&ndash; (not given)"
    if context.case_id_from_subfolder:
        case = f"each image's subfolder (images directly in the opened folder: {case})"
    rows = [
        ("Case / patient ID", case),
        ("Reviewing clinician", _esc(context.clinician) or "&ndash; (not given)"),
        *([("Clinical history", _esc(context.history))]
          if context.history and not context.case_id_from_subfolder else []),
        ("Inputs", inputs_text or "&ndash;"),
        ("Images", f"{len(ordered)} files: {n_ok} analysed, {count['']} could not be analysed"),
        ("Flagged", f"<font color='{palette.FLAGGED_TEXT}'><b>{count[DECISION_ANOMALOUS]}"
                    "</b></font>"),
        ("Borderline", f"<font color='{palette.BORDERLINE_TEXT}'><b>{count[BORDERLINE]}"
                       f"</b></font>{band}"),
        ("Not flagged", f"{count[DECISION_NORMAL]}"),
        ("Deciding score", f"{score_label(combined)} (CSV column <font face='Courier'>score"
                           "</font>)" + (f"; its parts: {_esc(ANOMALY_PART)} (<font "
                                         "face='Courier'>anomaly_score</font>) and "
                                         f"{_esc(CLASSIFIER_PART)} (<font face='Courier'>"
                                         "classifier_probability</font>)" if combined else "")),
        *_expected_rows(metadata, threshold, fmt),
        *_site_rows(context),
        ("Report written", _report_time()),
    ]
    plot = png_bytes(distribution_plot(stats, threshold, marks=scores, width=900, height=315,
                                       score_name=score_label(combined), fmt=fmt))
    story: list[Flowable] = [
        _Footer(_footer("batch summary", context)),
        _p("DermScreen batch summary", "h1"), Spacer(1, 2 * mm), _disclaimer(),
        Spacer(1, 3 * mm), _kv(rows),
        Spacer(1, 1 * mm), _p(_esc(BORDERLINE_RULE), "small"),
        _p("Scores of this batch (ticks) on the benign validation distribution (bars)", "h2"),
        _picture(plot, _WIDTH * 0.95, 0.35),
        CondPageBreak(_HEADING_ROOM + 10 * mm),
        _p(f"All {len(ordered)} cases: flagged and borderline first, then not flagged, then "
           "errors", "h2"),
        *sections,
        KeepTogether([Spacer(1, 4 * mm), _signoff(context),
                      _p(f"<i>{_esc(DISCLAIMER)}</i>", "small")]),
        Spacer(1, 3 * mm),
        _boxed([
            _p("<b>Technical appendix</b>", "tiny"),
            # One model scored the batch: its rows all carry the same verification.
            _kv(_model_rows(metadata, model_sha256, provider,
                            all(r.model_verified for r in ordered if r.ok)),
                label_width=34 * mm, style="tiny")], "#f4f4f4", "#d0d0d0"),
    ]
    return _write_document(target, "DermScreen batch summary", story,
                           _footer("batch summary", context), context.clinician)
