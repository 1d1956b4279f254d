"""Qt drawing helpers for reports: the score-distribution plot and PNG encoding.

QtGui only (no QtWidgets): reports are written by the headless CLI too. A
QGuiApplication must exist before fonts or QPdfWriter are used;
:func:`ensure_gui_app` creates an offscreen one when there is none.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPen

from desktop_app.core import palette
from desktop_app.core.model.score_stats import BenignStats
from desktop_app.core.wording import number_format as nf

COLOR_ANOMALOUS = QColor(palette.FLAGGED_TEXT)
COLOR_NORMAL = QColor(palette.NOT_FLAGGED_TEXT)
COLOR_THRESHOLD = QColor(palette.THRESHOLD)
COLOR_BARS = QColor(palette.BARS)


def ensure_gui_app() -> QGuiApplication:
    """The running Qt application (the GUI's), or a new offscreen QGuiApplication.

    Reports never show a window, so a QGuiApplication created here always uses
    the offscreen platform, whatever QT_QPA_PLATFORM says: an inherited ``xcb``
    or ``wayland`` with no display behind it would abort the process (SIGABRT)
    over SSH, in a scheduler or a container. The headless CLI needs no display.
    """
    app = QGuiApplication.instance()
    if app is not None:
        return app  # type: ignore[return-value]
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    return QGuiApplication([sys.argv[0] if sys.argv else "dermscreen", "-platform", "offscreen"])


def png_bytes(image: QImage | np.ndarray) -> bytes:
    """A QImage or an RGB uint8 array as PNG bytes (lossless: plots, colour bars)."""
    if isinstance(image, np.ndarray):
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(out, format="PNG")
        return out.getvalue()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    try:
        if not image.save(buffer, "PNG"):
            msg = "Qt could not encode the image as PNG"
            raise ValueError(msg)
        return bytes(buffer.data().data())
    finally:
        buffer.close()


def float_to_rgb8(image: np.ndarray) -> np.ndarray:
    """float [0, 1] image -> RGB uint8."""
    return np.clip(np.rint(np.asarray(image, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def distribution_plot(
    stats: BenignStats,
    threshold: float,
    *,
    score: float | None = None,
    marks: Sequence[float] = (),
    width: int = 900,
    height: int = 360,
    bins: int = 30,
    score_name: str = "score",
    fmt: Callable[[float], str] | None = None,
) -> QImage:
    """Histogram of the benign validation scores with the threshold line.

    ``score`` (one case) is drawn as a bold line; ``marks`` (a batch's scores)
    as short ticks under the axis. Values off the histogram's range are drawn
    at its edge so they are never silently lost. ``score_name`` labels the axis
    (the deciding score's name: a combined model's is not the CAE's anomaly score);
    ``fmt`` prints the threshold and the case's score as the report's tables do.
    """
    ensure_gui_app()
    label = fmt or (lambda v: nf.number(v, ".3g"))
    ref = np.asarray(stats.scores, dtype=np.float64)
    extra = [threshold, *([score] if score is not None else []), *marks]
    finite_extra = [v for v in extra if np.isfinite(v)]
    lo_candidates = [*ref.tolist(), *finite_extra] or [0.0, 1.0]
    lo, hi = float(min(lo_candidates)), float(max(lo_candidates))
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0) * 0.1
    pad = (hi - lo) * 0.05
    # Scores are errors (never negative): keep the axis from starting below 0.
    lo, hi = (max(lo - pad, 0.0) if lo >= 0 else lo - pad), hi + pad

    img = QImage(width, height, QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    painter = QPainter(img)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont()
        font.setPixelSize(max(10, height // 22))
        painter.setFont(font)
        # Margins from the text height: room for the two labels above the bars, the tick
        # labels, the batch's ticks and the axis title below (a short plot keeps its bars).
        line = font.pixelSize() + 4
        left, right, top, bottom = 50, 20, 2 * line + 2, 2 * line + 18
        plot = QRectF(left, top, width - left - right, height - top - bottom)

        def x_of(v: float) -> float:
            frac = (min(max(v, lo), hi) - lo) / (hi - lo)
            return plot.left() + frac * plot.width()

        if ref.size:
            counts, edges = np.histogram(ref, bins=bins, range=(lo, hi))
            top_count = max(int(counts.max()), 1)
            painter.setPen(QPen(QColor(80, 95, 120), 1))
            painter.setBrush(COLOR_BARS)
            for c, e0, e1 in zip(counts, edges[:-1], edges[1:], strict=True):
                if c == 0:
                    continue
                h = plot.height() * c / top_count
                painter.drawRect(QRectF(x_of(e0), plot.bottom() - h, x_of(e1) - x_of(e0), h))
        painter.setPen(QPen(QColor("black"), 1))
        painter.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        painter.drawLine(QPointF(plot.left(), plot.top()), QPointF(plot.left(), plot.bottom()))
        text_h = font.pixelSize() + 4
        painter.drawText(QRectF(plot.left() - 40, plot.bottom() + 4, 80, text_h),
                         Qt.AlignmentFlag.AlignCenter, nf.number(lo, '.3g'))
        painter.drawText(QRectF(plot.right() - 60, plot.bottom() + 4, 80, text_h),
                         Qt.AlignmentFlag.AlignCenter, nf.number(hi, '.3g'))
        painter.drawText(QRectF(plot.left(), height - text_h - 2, plot.width(), text_h),
                         Qt.AlignmentFlag.AlignCenter,
                         f"{score_name} (bars: {ref.size} benign validation scores)")

        for v in marks:
            if np.isfinite(v):
                color = COLOR_ANOMALOUS if v > threshold else COLOR_NORMAL
                painter.setPen(QPen(color, 2))
                x = x_of(float(v))
                painter.drawLine(QPointF(x, plot.bottom() + 2), QPointF(x, plot.bottom() + 14))

        pen = QPen(COLOR_THRESHOLD, 3, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        xt = x_of(threshold)
        painter.drawLine(QPointF(xt, plot.top()), QPointF(xt, plot.bottom()))
        painter.drawText(QRectF(xt + 4, 2, 300, text_h), Qt.AlignmentFlag.AlignLeft,
                         f"threshold {label(threshold)}")

        if score is not None and np.isfinite(score):
            color = COLOR_ANOMALOUS if score > threshold else COLOR_NORMAL
            painter.setPen(QPen(color, 4))
            xs = x_of(float(score))
            painter.drawLine(QPointF(xs, plot.top() + text_h), QPointF(xs, plot.bottom()))
            align = Qt.AlignmentFlag.AlignRight if xs > plot.center().x() else Qt.AlignmentFlag.AlignLeft
            box = QRectF(xs - 304, top + text_h, 300, text_h) if align == Qt.AlignmentFlag.AlignRight \
                else QRectF(xs + 4, top + text_h, 300, text_h)
            painter.drawText(box, align, f"this image {label(score)}")
    finally:
        painter.end()
    return img
