"""PDF reports: a summary of a batch and one case report per anomalous image.

Drawn by Qt (QPdfWriter + QTextDocument, QtGui only) into memory, checked for
a complete PDF structure (:func:`check_pdf_structure`: header, cross-reference
table, trailer, ``%%EOF``), then written atomically by Python, so a full disk or
a permission problem is reported with its cause and never leaves a truncated
PDF in place. The
heatmap uses the model's fixed scale (:mod:`desktop_app.core.heatmap`), the
distribution plot is painted with QPainter (:mod:`desktop_app.reports.render`).
Every report says plainly that DermScreen is a triage aid, not a diagnosis.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QSizeF, QUrl
from PySide6.QtGui import QFont, QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument

from desktop_app.core import number_format as nf
from desktop_app.core.files import FileWriteError, write_bytes_atomic
from desktop_app.core.heatmap import colorbar, overlay
from desktop_app.core.model_metadata import ModelMetadata
from desktop_app.core.results import AnalysisResult, summarize
from desktop_app.core.texts import DISCLAIMER
from desktop_app.reports.render import (
    distribution_plot,
    ensure_gui_app,
    float_to_rgb8,
    qimage_from_rgb,
)

if TYPE_CHECKING:
    from desktop_app.core.engine import CaseImages

# Rows listed in the summary PDF per table; the CSV always holds every row.
SUMMARY_MAX_ROWS = 300
HEATMAP_OPACITY = 0.5
_CONTENT_WIDTH = 680  # document pixels; the page is laid out at this width


def _esc(value: object) -> str:
    return html.escape(str(value))


def _report_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _model_rows(meta: ModelMetadata, model_sha256: str, provider: str) -> list[tuple[str, str]]:
    return [
        ("Model", f"{_esc(meta.model_name)} {_esc(meta.model_version)}"),
        ("Model SHA-256", f"<span style='font-family:monospace'>{_esc(model_sha256)}</span>"),
        ("Execution provider", _esc(provider)),
    ]


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


def _decision_html(result: AnalysisResult) -> str:
    if not result.ok:
        return "<span style='color:#666'>error</span>"
    color = "#c81e1e" if result.is_anomalous else "#1e783c"
    return f"<b style='color:{color}'>{_esc(result.decision.upper())}</b>"


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


def _write_document(target: Path, title: str, body: str, images: dict[str, QImage]) -> Path:
    """Lay out ``body`` (HTML) with ``images`` (name -> QImage) on A4 pages into ``target``.

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
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
        writer.setResolution(150)
        writer.setTitle(title)
        writer.setCreator("DermScreen")
        doc = QTextDocument()
        font = QFont()
        font.setPointSizeF(9.5)
        doc.setDefaultFont(font)
        doc.setHtml(body)
        for name, image in images.items():
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
        # Lay out at a fixed width with the page's aspect ratio, so the layout
        # does not depend on the printer resolution.
        rect = writer.pageLayout().paintRectPixels(writer.resolution())
        doc.setPageSize(QSizeF(_CONTENT_WIDTH, _CONTENT_WIDTH * rect.height() / rect.width()))
        doc.print_(writer)
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


def write_case_pdf(
    target: str | Path,
    result: AnalysisResult,
    case: CaseImages,
    metadata: ModelMetadata,
    *,
    opacity: float = HEATMAP_OPACITY,
) -> Path:
    """One case: original, heatmap overlay, reconstruction, score on the benign distribution."""
    target = Path(target)
    stats = metadata.benign_stats
    threshold = result.threshold if result.threshold is not None else metadata.threshold
    vmax = metadata.heatmap_vmax
    images: dict[str, QImage] = {
        "img:original": qimage_from_rgb(case.original),
        "img:reconstruction": qimage_from_rgb(float_to_rgb8(case.reconstruction)),
        "img:plot": distribution_plot(stats, threshold, score=result.score),
    }
    oh, ow = case.original.shape[:2]
    # Original and overlay share a 200-pixel box, aspect ratio kept.
    w, h = (200, round(200 * oh / ow)) if ow >= oh else (round(200 * ow / oh), 200)
    if vmax > 0:
        images["img:overlay"] = qimage_from_rgb(overlay(case.original, case.error_map, vmax, opacity))
        images["img:colorbar"] = qimage_from_rgb(colorbar(128, 12))
        heat_cell = (
            f"<img src='img:overlay' width='{w}' height='{h}'>"
            f"<img src='img:colorbar' width='10' height='{h}'>"
        )
        heat_caption = f"Heatmap, fixed scale: brightest = error &ge; {nf.number(vmax, '.3g')}"
    else:
        heat_cell = "<i>the model carries no heatmap scale</i>"
        heat_caption = "Heatmap unavailable"
    alpha = stats.alpha_for(threshold)
    rows = [
        ("File", _esc(result.path)),
        ("Image SHA-256", f"<span style='font-family:monospace'>{_esc(result.image_sha256)}</span>"),
        ("Decision", _decision_html(result)),
        ("Anomaly score", f"{nf.score(result.score)} (threshold {nf.score(threshold)}, "
                          f"alpha {nf.fixed(alpha, 2)})"),
        ("z (benign validation)", nf.signed(result.z)),
        ("Benign percentile", f"{nf.number(result.percentile, '.1f')} % of benign validation scores "
                              "are at or below this score"),
        *_model_rows(metadata, result.model_sha256, result.provider),
        ("Analysed", _esc(result.analysed_at)),
        ("Report written", _report_time()),
    ]
    body = f"""
    <h2>DermScreen case report</h2>
    {_disclaimer_html()}
    <p></p>
    {_table(rows)}
    <p></p>
    <table cellspacing='4'><tr>
      <td align='center'><img src='img:original' width='{w}' height='{h}'></td>
      <td align='center'>{heat_cell}</td>
      <td align='center'><img src='img:reconstruction' width='200' height='200'></td>
    </tr><tr>
      <td align='center'>Original</td>
      <td align='center'>{heat_caption}</td>
      <td align='center'>Reconstruction (what the model expects)</td>
    </tr></table>
    <p><b>Score against the benign validation distribution</b></p>
    <img src='img:plot' width='{_CONTENT_WIDTH - 20}' height='{(_CONTENT_WIDTH - 20) * 2 // 5}'>
    <p style='color:#555'>Bars: anomaly scores of {stats.n} benign validation images
    (mean {nf.number(stats.mean)}, sd {nf.number(stats.sd)}). Dashed line: the threshold; solid line: this image.
    The heatmap shows where the reconstruction differs most from the image the model saw.</p>
    <p style='color:#555'><i>{_esc(DISCLAIMER)}</i></p>
    """
    return _write_document(target, f"DermScreen case {result.path.name}", body, images)


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
) -> Path:
    """Batch summary: counts, the scores on the benign distribution, anomalous and error lists."""
    target = Path(target)
    stats = metadata.benign_stats
    ordered = sorted(results, key=lambda r: r.index)
    counts = summarize(ordered)
    case_files = case_files or {}
    scores = [r.score for r in ordered if r.ok and r.score is not None]
    images = {"img:plot": distribution_plot(stats, threshold, marks=scores)}

    anomalous = sorted((r for r in ordered if r.ok and r.is_anomalous),
                       key=lambda r: r.score or 0.0, reverse=True)
    errors = [r for r in ordered if not r.ok]

    def rows_html(items: list[AnalysisResult], kind: str) -> str:
        shown = items[:SUMMARY_MAX_ROWS]
        if kind == "anomalous":
            head = "<tr><th align='left'>#</th><th align='left'>File</th><th>Score</th>" \
                   "<th>z</th><th>Percentile</th><th align='left'>Case report</th></tr>"
            body = "".join(
                f"<tr><td>{r.index}</td><td>{_esc(r.path.name)}</td>"
                f"<td align='right'>{nf.number(r.score)}</td><td align='right'>{nf.signed(r.z)}</td>"
                f"<td align='right'>{nf.number(r.percentile, '.1f')}</td>"
                f"<td>{_esc(case_files.get(r.index, ''))}</td></tr>"
                for r in shown
            )
        else:
            head = "<tr><th align='left'>#</th><th align='left'>File</th><th align='left'>Reason</th></tr>"
            body = "".join(
                f"<tr><td>{r.index}</td><td>{_esc(r.path.name)}</td><td>{_esc(r.error)}</td></tr>"
                for r in shown
            )
        more = (f"<p>&hellip; and {len(items) - len(shown)} more: see results.csv.</p>"
                if len(items) > len(shown) else "")
        return f"<table cellspacing='0' cellpadding='3' border='1'>{head}{body}</table>{more}"

    inputs_text = ", ".join(_esc(p) for p in inputs[:10]) + (" &hellip;" if len(inputs) > 10 else "")
    rows = [
        ("Inputs", inputs_text or "&ndash;"),
        ("Images", f"{counts['total']} files: {counts['ok']} analysed, {counts['errors']} errors"),
        ("Anomalous", f"<b style='color:#c81e1e'>{counts['anomalous']}</b>"),
        ("Normal", f"{counts['normal']}"),
        ("Threshold", f"{nf.score(threshold)} (alpha {nf.fixed(stats.alpha_for(threshold), 2)}; "
                      f"benign validation specificity {nf.number(100 * stats.specificity_at(threshold), '.1f')} %)"),
        *_model_rows(metadata, model_sha256, provider),
        ("Report written", _report_time()),
    ]
    body = f"""
    <h2>DermScreen batch summary</h2>
    {_disclaimer_html()}
    <p></p>
    {_table(rows)}
    <p><b>Scores of this batch (ticks) on the benign validation distribution (bars)</b></p>
    <img src='img:plot' width='{_CONTENT_WIDTH - 20}' height='{(_CONTENT_WIDTH - 20) * 2 // 5}'>
    <h3>Anomalous images ({len(anomalous)}), highest score first</h3>
    {rows_html(anomalous, "anomalous") if anomalous else "<p>None.</p>"}
    <h3>Files that could not be analysed ({len(errors)})</h3>
    {rows_html(errors, "errors") if errors else "<p>None.</p>"}
    <p style='color:#555'><i>{_esc(DISCLAIMER)}</i></p>
    """
    return _write_document(target, "DermScreen batch summary", body, images)
