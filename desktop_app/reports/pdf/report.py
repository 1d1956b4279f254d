"""PDF reports: a summary of a batch and one case report per anomalous image.

Drawn by Qt (QPdfWriter + QTextDocument, QtGui only) into memory, checked for
a complete PDF structure (:func:`check_pdf_structure`: header, cross-reference
table, trailer, ``%%EOF``), then written atomically by Python, so a full disk or
a permission problem is reported with its cause and never leaves a truncated
PDF in place. The
heatmap uses the model's fixed scale (:mod:`desktop_app.core.imaging.heatmap`), the
distribution plot is painted with QPainter (:mod:`desktop_app.reports.pdf.render`).
Every report says plainly that DermScreen is a triage aid, not a diagnosis.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QRectF, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
)

from desktop_app.core import palette
from desktop_app.core.base.files import FileWriteError, write_bytes_atomic
from desktop_app.core.imaging.heatmap import colorbar, overlay
from desktop_app.core.inference.decision_rules import BORDERLINE, BORDERLINE_RULE
from desktop_app.core.inference.results import DECISION_ANOMALOUS, DECISION_NORMAL, AnalysisResult
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.operating_points import expected_words
from desktop_app.core.wording import number_format as nf
from desktop_app.core.wording.text_safety import undecodable_escaped
from desktop_app.core.wording.texts import DISCLAIMER, DISCLAIMER_SHORT
from desktop_app.reports.context import ReportContext
from desktop_app.reports.pdf.layout import keep_together
from desktop_app.reports.pdf.render import (
    distribution_plot,
    ensure_gui_app,
    float_to_rgb8,
    qimage_from_rgb,
)
from desktop_app.version import app_version

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import CaseImages

# Rows listed in the summary PDF per group (flagged, borderline, not flagged, errors);
# the CSV always holds every row, and the summary says how many it leaves to it.
SUMMARY_MAX_ROWS = 1000
_FOOTER_HEIGHT = 28  # document pixels kept free at the bottom of each page for the footer
HEATMAP_OPACITY = 0.5
_CONTENT_WIDTH = 680  # document pixels; the page is laid out at this width
_CASE_IMAGE_BOX = 150  # a case report's image box (document pixels)
_CASE_PLOT_WIDTH, _CASE_PLOT_HEIGHT = 600, 140  # its score plot
_NOWRAP = " style='white-space:nowrap'"
_RESOLUTION = 150  # dots per inch of the PDF's page geometry
_CASE_SHRINK = (1.0, 0.9, 0.8, 0.7, 0.6)
_FIT_MARGIN = "<p>&nbsp;</p><p>&nbsp;</p>"  # slack a case keeps below its sign-off  # sizes tried, largest first, to keep a case on one page


def _esc(value: object) -> str:
    return html.escape(undecodable_escaped(value))


def _report_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _model_rows(meta: ModelMetadata, model_sha256: str, provider: str,
                verified: bool) -> list[tuple[str, str]]:
    check = ("matches its .sha256 file" if verified else
             f"<b style='color:{palette.ALERT_TEXT}'>UNVERIFIED MODEL</b>: no .sha256 file vouched for it")
    return [
        ("Model", f"{_esc(meta.model_name)} {_esc(meta.model_version)}"),
        ("Model SHA-256", f"<span style='font-family:monospace; font-size:7.5pt'>{_esc(model_sha256)}</span>"),
        ("Model file", check),
        ("Execution provider", _esc(provider)),
        ("DermScreen version", _esc(app_version())),
    ]


def _threshold_rows(meta: ModelMetadata, threshold: float) -> list[tuple[str, str]]:
    """The threshold and what to expect there: the operating-point panel's own sentences."""
    stats = meta.benign_stats
    test, validation, data = expected_words(meta, threshold)
    return [
        ("Threshold", f"{nf.score(threshold)} (alpha {nf.fixed(stats.alpha_for(threshold), 2)})"),
        ("Expected at this threshold", f"{_esc(test)} {_esc(validation)}<br>"
                                       f"<span style='color:#555'>{_esc(data)}</span>"),
    ]


def _site_rows(context: ReportContext) -> list[tuple[str, str]]:
    """The active site profile and the batch's drift check, when there is one."""
    rows = []
    if context.site_profile:
        rows.append(("Site calibration", "<br>".join(_esc(w) for w in context.site_words)
                     or _esc(context.site_profile)))
    if context.batch_drift:
        colour = palette.ALERT_TEXT if context.batch_drift == "out of range" else "#555555"
        text = f"<b style='color:{colour}'>{_esc(context.batch_drift.upper())}</b>"
        if context.drift_words:
            text += f" {_esc(context.drift_words)}"
        rows.append(("Batch drift check", text))
    return rows


def _case_rows(context: ReportContext) -> list[tuple[str, str]]:
    case = _esc(context.case_id) or "&ndash; (not given)"
    if context.case_id_from_subfolder:
        case = f"each image's subfolder (images directly in the opened folder: {case})"
    return [
        ("Case / patient ID", case),
        ("Reviewing clinician", _esc(context.clinician) or "&ndash; (not given)"),
    ]


def _signoff_html(context: ReportContext) -> str:
    name = _esc(context.clinician) or "_" * 28
    return (
        "<p></p><table cellspacing='0' cellpadding='6' width='100%'><tr>"
        f"<td>Reviewed by: <b>{name}</b></td><td>Signature: {'_' * 24}</td>"
        f"<td>Date: {'_' * 14}</td></tr></table>"
    )


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><td style='padding:2px 8px 2px 0'><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows
    )
    return f"<table cellspacing='0' cellpadding='2'>{body}</table>"


def _disclaimer_html() -> str:
    return (
        "<table width='100%' cellpadding='6' style='background-color:#fff4d6'><tr><td>"
        f"<b>Triage aid, not a diagnosis.</b> {_esc(DISCLAIMER)}</td></tr></table>"
    )


_DECISION_COLOR = {decision: text for decision, (_fill, text) in palette.DECISION_COLORS.items()}


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


def _decision_html(result: AnalysisResult, context: ReportContext) -> str:
    color = _DECISION_COLOR.get(context.triage(result), "#666666")
    return f"<b style='color:{color}'>{_esc(context.triage_label(result).upper())}</b>"


def _review_text(result: AnalysisResult, context: ReportContext) -> tuple[str, str]:
    """(reviewed, note) as printed; ("", "") when reviews are not recorded."""
    review = context.review_of(result)
    if review is None:
        return "", ""
    return ("yes" if review[0] else "no"), review[1]


def _page_layout() -> QPageLayout:
    return QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                       QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)


def _laid_out(body: str, images: dict[str, QImage]) -> tuple[QTextDocument, QFont]:
    """``body`` laid out on the report's pages, headings kept with what follows them.

    Laid out at a fixed width with the page's aspect ratio, so the layout does not
    depend on the printer resolution; the footer's strip stays free.
    """
    doc = QTextDocument()
    font = QFont()
    font.setPointSizeF(9.5)
    doc.setDefaultFont(font)
    doc.setHtml(body)
    for name, image in images.items():
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
    rect = _page_layout().paintRectPixels(_RESOLUTION)
    text_h = _CONTENT_WIDTH * rect.height() / rect.width() - _FOOTER_HEIGHT
    doc.setPageSize(QSizeF(_CONTENT_WIDTH, text_h))
    keep_together(doc, text_h)  # no heading stranded at the foot of a page
    return doc, font


def page_count(body: str, images: dict[str, QImage]) -> int:
    """How many pages ``body`` takes as a report."""
    ensure_gui_app()
    return max(1, _laid_out(body, images)[0].pageCount())


def _write_document(target: Path, title: str, body: str, images: dict[str, QImage],
                    footer: str) -> Path:
    """Lay out ``body`` (HTML) with ``images`` (name -> QImage) on A4 pages into ``target``.

    Every page ends with ``footer`` and "Page n of N", drawn below the laid-out text.
    Qt renders into memory; the bytes are checked (:func:`check_pdf_structure`)
    and then written atomically, so a write error names its cause (no space left
    on device, permission denied) and an incomplete PDF never replaces a file.
    """
    ensure_gui_app()
    buffer = QBuffer()
    if not buffer.open(QIODevice.OpenModeFlag.WriteOnly):
        raise FileWriteError(target.parent, f"{target.name}: Qt could not open a memory buffer")
    try:
        writer = QPdfWriter(buffer)
        writer.setPageLayout(_page_layout())
        writer.setResolution(_RESOLUTION)
        writer.setTitle(title)
        writer.setCreator(f"DermScreen {app_version()}")
        doc, font = _laid_out(body, images)
        rect = writer.pageLayout().paintRectPixels(writer.resolution())
        scale = rect.width() / _CONTENT_WIDTH
        page_h = _CONTENT_WIDTH * rect.height() / rect.width()
        text_h = page_h - _FOOTER_HEIGHT
        pages = max(1, doc.pageCount())
        painter = QPainter()
        if not painter.begin(writer):
            raise FileWriteError(target.parent, f"{target.name}: Qt could not start the PDF")
        try:
            small = QFont(font)
            small.setPixelSize(10)  # document pixels, like the layout: metrics match the drawing
            for page in range(pages):
                if page:
                    writer.newPage()
                painter.save()
                painter.scale(scale, scale)
                painter.save()
                painter.translate(0, -page * text_h)
                doc.drawContents(painter, QRectF(0, page * text_h, _CONTENT_WIDTH, text_h))
                painter.restore()
                painter.setFont(small)
                painter.setPen(QColor("#555555"))
                line = QRectF(0, page_h - _FOOTER_HEIGHT + 8, _CONTENT_WIDTH, _FOOTER_HEIGHT - 8)
                painter.drawLine(line.topLeft(), line.topRight())
                number = f"Page {page + 1} of {pages}"
                metrics = QFontMetricsF(small)
                left = metrics.elidedText(footer, Qt.TextElideMode.ElideRight,
                                          line.width() - metrics.horizontalAdvance(number) - 24)
                painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 left)
                painter.drawText(line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                                 number)
                painter.restore()
        finally:
            painter.end()
        del writer  # ends the PDF: cross-reference table and trailer
        pdf = bytes(buffer.data().data())
    finally:
        buffer.close()
    try:
        check_pdf_structure(pdf)
    except ValueError as exc:
        raise FileWriteError(
            target.parent, f"{target.name}: Qt produced an incomplete PDF ({exc})"
        ) from None
    return write_bytes_atomic(target, pdf)


def _footer(kind: str, context: ReportContext, case_id: str = "") -> str:
    case = case_id or context.case_id
    return " · ".join(x for x in (f"DermScreen {app_version()} {kind}",
                                  f"Case {case}" if case else "", DISCLAIMER_SHORT) if x)


def write_case_pdf(
    target: str | Path,
    result: AnalysisResult,
    case: CaseImages,
    metadata: ModelMetadata,
    *,
    opacity: float = HEATMAP_OPACITY,
    context: ReportContext | None = None,
) -> Path:
    """One case: original, heatmap overlay, reconstruction, score on the benign distribution.

    ``context``: case ID, clinician, how the file is named, its review.
    """
    return write_case_page(target, result,
                           case_page(result, case, metadata, opacity=opacity, context=context))


def write_case_page(target: str | Path, result: AnalysisResult,
                    page: tuple[str, dict[str, QImage], str]) -> Path:
    """A case report from its :func:`case_page`."""
    body, images, footer = page
    return _write_document(Path(target), f"DermScreen case {result.path.name}", body, images,
                           footer)


def case_page(
    result: AnalysisResult,
    case: CaseImages,
    metadata: ModelMetadata,
    *,
    opacity: float = HEATMAP_OPACITY,
    context: ReportContext | None = None,
) -> tuple[str, dict[str, QImage], str]:
    """A case report's page: (HTML sized to one page when it can be, its images, footer)."""
    threshold = result.threshold if result.threshold is not None else metadata.threshold
    context = (context or ReportContext()).for_model(metadata, threshold)
    stats = metadata.benign_stats
    vmax = metadata.heatmap_vmax
    images: dict[str, QImage] = {
        "img:original": qimage_from_rgb(case.original),
        "img:reconstruction": qimage_from_rgb(float_to_rgb8(case.reconstruction)),
        # Drawn at the shape it is shown at, so its labels are not squashed.
        "img:plot": distribution_plot(stats, threshold, score=result.score, width=900,
                                      height=900 * _CASE_PLOT_HEIGHT // _CASE_PLOT_WIDTH),
    }
    oh, ow = case.original.shape[:2]
    # Original and overlay share a box, aspect ratio kept; the box and the plot are sized so
    # that a case is one page (a half-empty second page holding only the plot reads poorly).
    if vmax > 0:
        images["img:overlay"] = qimage_from_rgb(overlay(case.original, case.error_map, vmax, opacity))
        images["img:colorbar"] = qimage_from_rgb(colorbar(128, 12))
        heat_cell = (
            "<img src='img:overlay' width='@W@' height='@H@'>"
            "<img src='img:colorbar' width='10' height='@H@'>"
        )
        heat_caption = f"Heatmap, fixed scale: brightest = error &ge; {nf.number(vmax, '.3g')}"
    else:
        heat_cell = "<i>the model carries no heatmap scale</i>"
        heat_caption = "Heatmap unavailable"
    case_id = context.case_id_of(result)
    reviewed, note = _review_text(result, context)
    reviewer, reviewed_at = context.review_by_of(result)
    when = " ".join(p for p in (f"by {_esc(reviewer)}" if reviewer else "",
                                _esc(reviewed_at.replace("T", " ")[:16] + " UTC")
                                if reviewed_at else "") if p)
    review_rows = [] if not reviewed else [
        ("Reviewed in the app", f"{reviewed} {when}".strip()),
        ("Clinician's note", _esc(note).replace("\n", "<br>") or "&ndash;"),
    ]
    rows = [
        ("Case / patient ID", _esc(case_id) or "&ndash; (not given)"),
        ("File", _esc(context.shown_path(result))),
        ("Image SHA-256", f"<span style='font-family:monospace; font-size:7.5pt'>{_esc(result.image_sha256)}</span>"),
        ("Decision", _decision_html(result, context)),
        ("Anomaly score", f"{nf.score(result.score)} (threshold {nf.score(threshold)})"),
        ("z (benign validation)", nf.signed(result.z)),
        ("Benign percentile", f"{nf.number(result.percentile, '.1f')} % of benign validation scores "
                              "are at or below this score"),
        *review_rows,
        *_threshold_rows(metadata, threshold),
        *_site_rows(context),
        *_model_rows(metadata, result.model_sha256, result.provider, result.model_verified),
        ("Reviewing clinician", _esc(context.clinician) or "&ndash; (not given)"),
        ("Analysed", _esc(result.analysed_at)),
        ("Report written", _report_time()),
    ]
    band = (f"<p style='color:#555'>{_esc(BORDERLINE_RULE)}</p>"
            if context.triage(result) == BORDERLINE else "")
    body = f"""
    <h2>DermScreen case report</h2>
    {_disclaimer_html()}
    <p></p>
    {_table(rows)}
    {band}
    <table cellspacing='4'><tr>
      <td align='center'><img src='img:original' width='@W@' height='@H@'></td>
      <td align='center'>{heat_cell}</td>
      <td align='center'><img src='img:reconstruction' width='@BOX@' height='@BOX@'></td>
    </tr><tr>
      <td align='center'>Original</td>
      <td align='center'>{heat_caption}</td>
      <td align='center'>Reconstruction (what the model expects)</td>
    </tr></table>
    <h4>Score against the benign validation distribution</h4>
    <img src='img:plot' width='@PW@' height='@PH@'>
    <p style='color:#555'>Bars: {stats.n} benign validation scores (mean {nf.number(stats.mean)},
    sd {nf.number(stats.sd)}); dashed line: the threshold; solid line: this image. The heatmap
    shows where the reconstruction differs most from the image the model saw.</p>
    {_signoff_html(context)}
    """  # the disclaimer heads the page and ends each footer: a second copy would need a page

    # A case is one page when it can be: images and plot shrink (down to 60%) before a
    # second page is started for the sign-off alone. The fit keeps a two-line margin: in the
    # combined case file a page break before the heading moves a page's content slightly,
    # and a case that fitted to the last line alone spilled its sign-off onto a page of its own.
    fitted = next((sized for shrink in _CASE_SHRINK
                   if page_count((sized := _case_sized(body, shrink, oh, ow)) + _FIT_MARGIN,
                                 images) == 1),
                  _case_sized(body, 1.0, oh, ow))
    return fitted, images, _footer("case report", context, case_id)


def write_cases_pdf(target: str | Path, pages: Sequence[tuple[str, dict[str, QImage], str]],
                    context: ReportContext | None = None) -> Path:
    """One file holding case pages (:func:`case_page`), each starting a new page."""
    body_parts: list[str] = []
    images: dict[str, QImage] = {}
    for n, (body, page_images, _footer_text) in enumerate(pages):
        prefix = f"img:c{n}-"
        body = body.replace("img:", prefix)
        if n:
            body = body.replace("<h2>", "<h2 style='page-break-before: always'>", 1)
        body_parts.append(body)
        images.update({prefix + key.removeprefix("img:"): image
                       for key, image in page_images.items()})
    return _write_document(Path(target), "DermScreen case reports", "".join(body_parts), images,
                           _footer("case reports", context or ReportContext()))


def _case_sized(template: str, shrink: float, height: int, width: int) -> str:
    """The case body with its images and plot at ``shrink`` times their full size."""
    box = round(_CASE_IMAGE_BOX * shrink)
    w, h = (box, round(box * height / width)) if width >= height else (
        round(box * width / height), box)
    for token, value in (("@W@", w), ("@H@", h), ("@BOX@", box),
                         ("@PW@", round(_CASE_PLOT_WIDTH * shrink)),
                         ("@PH@", round(_CASE_PLOT_HEIGHT * shrink))):
        template = template.replace(token, str(value))
    return template


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
    distribution, then every case: flagged, borderline, not flagged, errors.

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
    images = {"img:plot": distribution_plot(stats, threshold, marks=scores)}
    groups = summary_groups(ordered, context)
    per_case_id = context.case_id_from_subfolder
    has_reviews = context.reviews is not None

    def rows_html(kind: str, items: list[AnalysisResult]) -> str:
        shown = items[:SUMMARY_MAX_ROWS]
        # Numbers, headers and report names never wrap ("0.0682 / 1", "Percen / tile"):
        # a one-line row also never splits across a page break.
        # Every column has its width (a nowrap cell otherwise takes the File column's room).
        review_head = "<th width='9%'>Reviewed</th>" if has_reviews else ""
        file_width = 29 if has_reviews else 38
        if kind:
            head = (f"<tr><th align='left' width='5%'>#</th>"
                    f"<th align='left' width='{file_width}%'>File</th>"
                    "<th width='10%'>Score</th><th width='8%'>z</th>"
                    f"<th width='14%'>Percentile</th>{review_head}"
                    "<th align='left' width='25%'>Case report</th></tr>")
        else:
            head = (f"<tr><th align='left'>#</th><th align='left' width='40%'>File</th>"
                    f"<th align='left'>Reason</th>{review_head}</tr>")
        lines = []
        for r in shown:
            reviewed, note = _review_text(r, context)
            review_cell = f"<td align='center'>{reviewed}</td>" if has_reviews else ""
            # A path breaks after its slashes, never inside a name ("ISIC_0010889.j / pg");
            # the case (when each subfolder names one) and the note go under the file.
            path = _esc(context.shown_path(r)).replace("/", "/&#8203;")
            extra = []
            if per_case_id and context.case_id_of(r):
                extra.append(f"case {_esc(context.case_id_of(r))}")
            reviewer, reviewed_at = context.review_by_of(r)
            if reviewer or reviewed_at:
                extra.append(" ".join(p for p in (
                    "reviewed", f"by {_esc(reviewer)}" if reviewer else "",
                    _esc(reviewed_at.replace("T", " ")[:16]) if reviewed_at else "") if p))
            if note:
                extra.append(f"note: {_esc(note)}")
            if extra:
                path += f"<br><i style='color:#444'>{'; '.join(extra)}</i>"
            if kind:
                lines.append(
                    f"<tr><td>{r.index}</td><td>{path}</td>"
                    f"<td align='right'{_NOWRAP}>{nf.number(r.score)}</td>"
                    f"<td align='right'{_NOWRAP}>{nf.signed(r.z)}</td>"
                    f"<td align='right'{_NOWRAP}>{nf.number(r.percentile, '.1f')}</td>"
                    f"{review_cell}<td style='white-space:nowrap; font-size:7.5pt'>"
                    f"{_esc(case_files.get(r.index, ''))}</td></tr>")
            else:
                lines.append(f"<tr><td>{r.index}</td><td>{path}</td>"
                             f"<td>{_esc(r.error)}</td>{review_cell}</tr>")
        more = (f"<p>&hellip; and {len(items) - len(shown)} more: see the CSV.</p>"
                if len(items) > len(shown) else "")
        return (f"<table width='100%' cellspacing='0' cellpadding='3' border='1'>{head}"
                f"{''.join(lines)}"
                f"</table>{more}")

    sections = []
    for (kind, items), (_k, title, order) in zip(groups, _GROUPS, strict=True):
        sections.append(f"<h3>{title} ({len(items)}){', ' + order if items else ''}</h3>")
        sections.append(rows_html(kind, items) if items else "<p>None.</p>")
    count = {kind: len(items) for kind, items in groups}
    shown_inputs = context.shown_inputs()
    inputs_text = ", ".join(_esc(p) for p in shown_inputs[:10]) + (
        " &hellip;" if len(shown_inputs) > 10 else "")
    n_ok = len(ordered) - count[""]
    rows = [
        *_case_rows(context),
        ("Inputs", inputs_text or "&ndash;"),
        ("Images", f"{len(ordered)} files: {n_ok} analysed, {count['']} could not be analysed"),
        ("Flagged", f"<b style='color:{palette.FLAGGED_TEXT}'>{count[DECISION_ANOMALOUS]}</b>"),
        ("Borderline", f"<b style='color:{palette.BORDERLINE_TEXT}'>{count[BORDERLINE]}</b>"
                       + ("" if context.band_low is not None
                          and context.band_low < threshold else " (the model defines no band "
                                                                "below this threshold)")),
        ("Not flagged", f"{count[DECISION_NORMAL]}"),
        *_threshold_rows(metadata, threshold),
        *_site_rows(context),
        # One model scored the batch: its rows all carry the same verification.
        *_model_rows(metadata, model_sha256, provider,
                     all(r.model_verified for r in ordered if r.ok)),
        ("Report written", _report_time()),
    ]
    body = f"""
    <h2>DermScreen batch summary</h2>
    {_disclaimer_html()}
    <p></p>
    {_table(rows)}
    <p style='color:#555'>{_esc(BORDERLINE_RULE)}</p>
    <h4>Scores of this batch (ticks) on the benign validation distribution (bars)</h4>
    <img src='img:plot' width='{_CONTENT_WIDTH - 20}' height='{(_CONTENT_WIDTH - 20) * 2 // 5}'>
    <h3>All {len(ordered)} cases: flagged and borderline first, then not flagged, then errors</h3>
    {''.join(sections)}
    {_signoff_html(context)}
    <p style='color:#555'><i>{_esc(DISCLAIMER)}</i></p>
    """
    return _write_document(target, "DermScreen batch summary", body, images,
                           _footer("batch summary", context))
