"""How DermScreen's PDF reports are laid out (ReportLab platypus): A4 pages, fonts, the
footer with "Page n of N", and the small blocks every report uses (label/value tables,
shaded boxes, the disclaimer, the sign-off).

A layout engine made for documents does what a clinical document needs: a table splits
only between rows and repeats its header row on every page (``Table(repeatRows=1)``), a
block is kept whole or shrunk to its page (``KeepTogether``, ``KeepInFrame``). A report is
built in memory, checked for a complete PDF structure (:func:`check_pdf_structure`) and
written atomically, so a full disk never leaves a truncated PDF in place.
"""

from __future__ import annotations

import functools
import html
import io
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

from desktop_app.core.base.files import FileWriteError, write_bytes_atomic
from desktop_app.core.wording.text_safety import undecodable_escaped
from desktop_app.core.wording.texts import DISCLAIMER, DISCLAIMER_SHORT
from desktop_app.reports.context import ReportContext
from desktop_app.version import app_version

MARGIN = 15 * mm
FOOTER = 10 * mm  # kept free at the bottom of each page for the footer line
WIDTH = A4[0] - 2 * MARGIN  # the text width (180 mm)
FRAME_HEIGHT = A4[1] - 2 * MARGIN - FOOTER
JPEG_QUALITY = 90
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#b0b0b0")


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
def fonts() -> tuple[str, str, bool]:
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


def esc(value: object) -> str:
    """Text for a Paragraph: undecodable bytes shown escaped, markup characters escaped."""
    text = undecodable_escaped(value)
    if not fonts()[2]:
        text = text.encode("latin-1", "replace").decode("latin-1")
    return html.escape(text, quote=False)


@functools.cache
def styles() -> dict[str, ParagraphStyle]:
    regular, bold, _ = fonts()
    base = ParagraphStyle("body", fontName=regular, fontSize=9, leading=11.5)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5, textColor=GREY),
        "tiny": ParagraphStyle("tiny", parent=base, fontSize=6.5, leading=8, textColor=GREY),
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


def para(markup: str, style: str = "body") -> Paragraph:
    return Paragraph(markup, styles()[style])


def report_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


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


class FooterMark(Flowable):
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
            regular = fonts()[0]
            from reportlab.pdfbase.pdfmetrics import stringWidth

            y = MARGIN
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN, y + 4 * mm, MARGIN + WIDTH, y + 4 * mm)
            self.setFillColor(GREY)
            self.setFont(regular, 7)
            right = f"Page {number} of {total}"
            self.drawRightString(MARGIN + WIDTH, y + 1 * mm, right)
            text = html.unescape(esc(self._ds_footer))
            room = WIDTH - stringWidth(right, regular, 7) - 6 * mm
            while text and stringWidth(text, regular, 7) > room:
                text = text[:-2] + "…"
            self.drawString(MARGIN, y + 1 * mm, text)

    return FooterCanvas


def write_document(target: Path, title: str, story: list[Flowable], footer: str,
                    author: str = "") -> Path:
    """Lay ``story`` out on A4 pages into ``target`` (each page ends with ``footer`` and
    "Page n of N"); built in memory, checked and written atomically."""
    buffer = io.BytesIO()
    doc = BaseDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
                          topMargin=MARGIN, bottomMargin=MARGIN,
                          # A file name's undecodable bytes, escaped (the PDF's metadata is
                          # text: a lone surrogate cannot be written).
                          title=undecodable_escaped(title), author=undecodable_escaped(author),
                          creator=f"DermScreen {app_version()}",
                          subject=DISCLAIMER_SHORT)
    frame = Frame(MARGIN, MARGIN + FOOTER, WIDTH, FRAME_HEIGHT, id="body",
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


def footer_text(kind: str, context: ReportContext, case_id: str = "", file_name: str = "") -> str:
    case = case_id or context.case_id
    return " · ".join(x for x in (f"DermScreen {app_version()} {kind}",
                                  f"Case {case}" if case else "",
                                  file_name, DISCLAIMER_SHORT) if x)


# --------------------------------------------------------------------------- shared blocks

def jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image as PilImage

    buffer = io.BytesIO()
    PilImage.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(
        buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def picture(data: bytes, width: float, aspect: float) -> Image:
    """An image flowable ``width`` wide, ``aspect`` = height / width."""
    return Image(io.BytesIO(data), width=width, height=width * aspect)


def kv(rows: Sequence[tuple[str, str]], label_width: float = 38 * mm,
        style: str = "body") -> Table:
    """A two-column table of (label, value) markup."""
    label_style = "label" if style == "body" else style
    data = [[para(f"<b>{k}</b>", label_style), para(v, style)] for k, v in rows]
    table = Table(data, colWidths=[label_width, WIDTH - label_width], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                               ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return table


def kv_pairs(short: Sequence[tuple[str, str]], long: Sequence[tuple[str, str]],
              style: str = "tiny") -> Table:
    """Small print: short (label, value) pairs two to a line, then the long ones a line
    each (the technical appendix)."""
    short = list(short) + [("", "")] * (len(short) % 2)
    rows = [[para(f"<b>{k}</b>", style), para(v, style), para(f"<b>{k2}</b>" if k2 else "", style),
             para(v2, style)] for (k, v), (k2, v2) in zip(short[::2], short[1::2], strict=True)]
    first_long = len(rows)
    rows += [[para(f"<b>{k}</b>", style), para(v, style), "", ""] for k, v in long]
    table = Table(rows, colWidths=[30 * mm, 58 * mm, 32 * mm, WIDTH - 120 * mm],
                  hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
                               *[("SPAN", (1, r), (3, r)) for r in range(first_long,
                                                                           len(rows))]]))
    return table


def fit(header: str, number: str = "", size: float = 8, whole: bool = False) -> float:
    """A table column's width: its longest header word (bold; the whole header with
    ``whole``) and ``number`` (at ``size``), with padding."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    regular, bold, _ = fonts()
    words = [header] if whole else header.split()
    widest = max([stringWidth(w, bold, 8) for w in words] + [
        stringWidth(number, regular, size)])
    return widest + 8


def boxed(content: Flowable | list[Flowable], fill: str, border: str = "#d9c48a") -> Table:
    """``content`` in a shaded box the text's width (a one-cell table: never split)."""
    table = Table([[content]], colWidths=[WIDTH], hAlign="LEFT")
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(fill)),
                               ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor(border)),
                               ("LEFTPADDING", (0, 0), (-1, -1), 5),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 5)]))
    return table


def disclaimer() -> Table:
    rest = DISCLAIMER.removeprefix(DISCLAIMER_SHORT)
    return boxed(para(f"<b>{esc(DISCLAIMER_SHORT)}</b>{esc(rest)}", "small"), "#fff4d6")


def signoff(context: ReportContext, reviewer: str = "") -> Table:
    """Reviewed by / signature / date lines (the named clinician printed when known)."""
    name = esc(reviewer or context.clinician) or "_" * 26
    table = Table([[para(f"Reviewed by: <b>{name}</b>"), para("Signature: " + "_" * 22),
                    para("Date: " + "_" * 14)]], colWidths=[WIDTH * 0.42, WIDTH * 0.34,
                                                           WIDTH * 0.24], hAlign="LEFT")
    table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 8),
                               ("LINEABOVE", (0, 0), (-1, 0), 0.5, RULE)]))
    return table
