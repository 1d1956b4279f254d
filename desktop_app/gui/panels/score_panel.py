"""Score panel: this case's numbers and where it falls in the benign score distribution,
with the threshold and the borderline band just below it drawn on the histogram."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QWidget,
)

from desktop_app.core import palette
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.core.model.score_stats import BenignStats
from desktop_app.core.wording import number_format as nf
from desktop_app.core.wording.texts import (
    ANOMALY_PART,
    ANOMALY_SHORT,
    CLASSIFIER_PART,
    CLASSIFIER_SHORT,
)
from desktop_app.gui.panels.elided_label import ElidedLabel
from desktop_app.session.decisions import DECISION_STYLE, DecisionWords

HIST_BINS = 30
THRESHOLD_PEN = pg.mkPen(palette.THRESHOLD, width=2, style=Qt.PenStyle.DashLine)
CASE_PEN = pg.mkPen(palette.CASE, width=2)


class ScorePanel(QGroupBox):
    """Score, threshold, decision, z and percentile, over the benign validation histogram."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Score", parent)
        self.words = DecisionWords()  # the window shares its table's
        self._stats: BenignStats | None = None
        self._threshold: float | None = None
        self._case_score: float | None = None
        self._band_low: float | None = None

        self.score_label = QLabel("—")
        self.threshold_label = QLabel("—")
        self.decision_label = ElidedLabel("—")
        self.decision_label.setAutoFillBackground(True)
        self.decision_label.setContentsMargins(6, 1, 6, 1)
        self.z_label = QLabel("—")
        self.percentile_label = QLabel("—")
        form = QFormLayout()
        form.addRow("Score:", self.score_label)
        form.addRow("Threshold:", self.threshold_label)
        form.addRow("Decision:", self.decision_label)
        form.addRow("z (benign):", self.z_label)
        form.addRow("Benign percentile:", self.percentile_label)
        # A combined model's two parts by name (rows hidden for a single-part model).
        self.anomaly_label = QLabel("—")
        self.probability_label = QLabel("—")
        for label, short, full in ((self.anomaly_label, ANOMALY_SHORT, ANOMALY_PART),
                                   (self.probability_label, CLASSIFIER_SHORT, CLASSIFIER_PART)):
            name = QLabel(short + ":")
            name.setToolTip(full[:1].upper() + full[1:])
            label.setToolTip(name.toolTip())
            form.addRow(name, label)
        self._form = form
        self._show_parts(False)

        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumHeight(100)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "score")
        item.getAxis("bottom").enableAutoSIPrefix(False)  # the threshold's own units
        item.setLabel("left", "benign images")
        item.setTitle("Benign validation scores", size="9pt")
        self.hist_item = pg.PlotDataItem(
            stepMode="center", fillLevel=0, brush=pg.mkBrush(120, 160, 200, 120),
            pen=pg.mkPen(palette.BARS),
        )
        self.plot.addItem(self.hist_item)
        self.threshold_line = pg.InfiniteLine(
            angle=90, pen=THRESHOLD_PEN, label="threshold", labelOpts={"position": 0.9, "color": palette.THRESHOLD, "anchors": [(0, 0), (0, 0)]}
        )
        self.case_line = pg.InfiniteLine(
            angle=90, pen=CASE_PEN, label="this case",
            labelOpts={"position": 0.7, "color": palette.CASE, "anchors": [(1, 0), (1, 0)]},
        )
        self.band_item = pg.LinearRegionItem(
            values=(0.0, 0.0), movable=False, brush=pg.mkBrush(palette.BAND_FILL),
            pen=pg.mkPen(None))
        self.band_item.setZValue(-5)  # under the bars' outline and the lines
        self.band_label = pg.InfLineLabel(self.band_item.lines[0], "borderline",
                                          position=0.45, color=palette.BORDERLINE_TEXT,
                                          anchors=[(0, 0), (0, 0)])  # reads inwards: never clipped
        self.plot.addItem(self.band_item)
        self.band_item.hide()
        self.plot.addItem(self.threshold_line)
        self.plot.addItem(self.case_line)
        self.threshold_line.hide()
        self.case_line.hide()

        numbers = QWidget()
        numbers.setLayout(form)
        # One width whatever the text: a long error message elides (its tooltip holds the
        # whole of it) and never takes the histogram's room.
        numbers.setFixedWidth(250)
        layout = QHBoxLayout(self)
        layout.addWidget(numbers, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.plot, 1)

    # -- model-wide -------------------------------------------------------------
    def set_stats(self, stats: BenignStats | None) -> None:
        """Draw the benign validation histogram (or clear it)."""
        self._stats = stats
        scores = np.asarray(stats.scores if stats is not None else (), dtype=np.float64)
        scores = scores[np.isfinite(scores)]
        if scores.size:
            # Fewer bins for a small validation set, so the shape stays readable.
            bins = int(np.clip(scores.size // 4, 8, HIST_BINS))
            counts, edges = np.histogram(scores, bins=bins)
            self.hist_item.setData(edges, counts.astype(np.float64))
        else:
            self.hist_item.setData([], [])
        self._fit_range()

    def set_band(self, low: float | None) -> None:
        """The borderline band's lower edge at the chosen point (None: no band)."""
        self._band_low = low
        self._draw_band()

    @property
    def band(self) -> tuple[float, float] | None:
        """(low, high) of the band drawn on the histogram, or None when none is."""
        if not self.band_item.isVisible():
            return None
        low, high = self.band_item.getRegion()
        return float(low), float(high)

    def _draw_band(self) -> None:
        low, high = self._band_low, self._threshold
        if low is None or high is None or not low < high:
            self.band_item.hide()
            return
        self.band_item.setRegion((low, high))
        self.band_item.show()

    def set_threshold(self, threshold: float | None) -> None:
        self._threshold = threshold
        self._draw_band()
        if threshold is None:
            self.threshold_line.hide()
            self.threshold_label.setText("—")
        else:
            self.threshold_line.setValue(threshold)
            self.threshold_line.show()
            self.threshold_label.setText(nf.number(threshold, ".5g"))
        self._fit_range()

    # -- one case -----------------------------------------------------------------
    def _show_parts(self, on: bool) -> None:
        for label in (self.anomaly_label, self.probability_label):
            self._form.setRowVisible(label, on)

    def show_result(self, result: AnalysisResult | None) -> None:
        """Fill the numbers from an AnalysisResult (None clears them)."""
        parts = result is not None and result.probability is not None
        self._show_parts(parts)
        if parts:
            self.anomaly_label.setText(nf.score(result.anomaly_score))
            self.probability_label.setText(nf.fixed(result.probability, 3))
        if result is None:
            self._case_score = None
            self.case_line.hide()
            for label in (self.score_label, self.z_label, self.percentile_label):
                label.setText("—")
            self._set_decision("—", None)
            self._fit_range()
            return
        if result.status != "ok":
            self._case_score = None
            self.case_line.hide()
            for label in (self.score_label, self.z_label, self.percentile_label):
                label.setText("—")
            self._set_decision(f"error: {result.error}", "")
            self._fit_range()
            return
        self._case_score = float(result.score)
        self.case_line.setValue(self._case_score)
        self.case_line.show()
        self.score_label.setText(nf.number(result.score, ".5g"))
        if result.threshold is not None:
            self.set_threshold(float(result.threshold))
        self.z_label.setText(nf.number(result.z, "+.2f"))
        self.percentile_label.setText(nf.number(result.percentile, ".1f"))
        self._set_decision(self.words.style(result)[0], self.words.of(result))
        self._fit_range()

    @property
    def decision_text(self) -> str:
        return self.decision_label.text()

    def _set_decision(self, text: str, decision: str | None) -> None:
        self.decision_label.setText(text)
        self.decision_label.setToolTip(text)
        if decision is None:
            self.decision_label.setStyleSheet("")
            return
        _, bg, fg = DECISION_STYLE.get(decision, DECISION_STYLE[""])
        self.decision_label.setStyleSheet(
            f"background: {bg}; color: {fg}; font-weight: bold; border-radius: 3px;"
        )

    def _fit_range(self) -> None:
        xs: list[float] = []
        if self._stats is not None and self._stats.scores:
            xs += [self._stats.scores[0], self._stats.scores[-1]]
        xs += [v for v in (self._threshold, self._case_score, self._band_low)
               if v is not None and math.isfinite(v)]
        if not xs:
            return
        lo, hi = min(xs), max(xs)
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 1e-6)
        self.plot.setXRange(lo - pad, hi + pad, padding=0)
        self.plot.enableAutoRange(axis="y")
        self._place_case_label()

    def _place_case_label(self) -> None:
        """"this case" reads towards the middle of the plot, so an edge never cuts it."""
        if self._case_score is None:
            return
        (x0, x1), _y = self.plot.getPlotItem().viewRange()
        anchor = (0, 0) if self._case_score < (x0 + x1) / 2 else (1, 0)
        self.case_line.label.anchors = [anchor, anchor]
        self.case_line.label.updatePosition()
