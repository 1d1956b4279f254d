"""The operating point: an alpha control that re-decides every result live.

T = mean + alpha * sd of the benign validation scores (BenignStats owns the
rule). The expected sensitivity/specificity shown come from the operating
points stored in the model (interpolated between them, nearest outside their
range); the validation specificity comes from BenignStats.specificity_at.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.score_stats import BenignStats

ALPHA_MIN, ALPHA_MAX, ALPHA_STEP = -3.0, 10.0, 0.05
_SLIDER_SCALE = 100  # slider ticks per unit of alpha


@dataclass(frozen=True)
class ExpectedPerformance:
    """Sensitivity/specificity expected at a threshold, from the model's operating points."""

    sensitivity: float | None
    specificity: float | None
    how: str  # "interpolated", "exact" or "nearest (label)"


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _interp(points: list[dict[str, Any]], key: str, threshold: float) -> tuple[float | None, str]:
    pts = [(t, v) for p in points if (t := _finite(p.get("threshold"))) is not None
           and (v := _finite(p.get(key))) is not None]
    if not pts:
        return None, ""
    pts.sort()
    if threshold <= pts[0][0]:
        return pts[0][1], "exact" if threshold == pts[0][0] else "nearest"
    if threshold >= pts[-1][0]:
        return pts[-1][1], "exact" if threshold == pts[-1][0] else "nearest"
    for (t0, v0), (t1, v1) in itertools.pairwise(pts):
        if t0 <= threshold <= t1:
            if t1 == t0:
                return v0, "exact"
            w = (threshold - t0) / (t1 - t0)
            return v0 + w * (v1 - v0), "interpolated"
    return pts[-1][1], "nearest"  # unreachable: the range checks above cover it


def expected_performance(points: list[dict[str, Any]], threshold: float) -> ExpectedPerformance:
    """Test-set sensitivity and specificity at ``threshold`` from stored operating points.

    Linear in the threshold between neighbouring points; outside their range
    the nearest point's value is used (and ``how`` says so).
    """
    sens, how_s = _interp(points, "test_sensitivity", threshold)
    spec, how_p = _interp(points, "test_specificity", threshold)
    hows = {h for h in (how_s, how_p) if h}
    how = "nearest" if "nearest" in hows else "interpolated" if "interpolated" in hows else (
        "exact" if hows else "")
    return ExpectedPerformance(sens, spec, how)


def _pct(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{100 * value:.0f}%"


class OperatingPointControl(QGroupBox):
    """Alpha spin box + slider, the threshold it gives and what to expect there.

    ``alpha_changed(alpha, threshold)`` fires on every user change.
    """

    alpha_changed = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Operating point", parent)
        self._stats: BenignStats | None = None
        self._points: list[dict[str, Any]] = []
        self._default_alpha = 0.0
        self._default_threshold: float | None = None
        # The exact alpha: the spin box shows it to 2 decimals, but a model's own
        # threshold (e.g. one chosen on validation) is rarely a round alpha, and
        # rounding it would silently move the decision.
        self._alpha = 0.0
        self._updating = False

        self.spin = QDoubleSpinBox()
        self.spin.setRange(ALPHA_MIN, ALPHA_MAX)
        self.spin.setSingleStep(ALPHA_STEP)
        self.spin.setDecimals(2)
        self.spin.setPrefix("α = ")
        self.spin.setToolTip(
            "Threshold T = mean + α · sd of benign validation scores. "
            "Lower α flags more cases (more sensitive, less specific)."
        )
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(ALPHA_MIN * _SLIDER_SCALE), round(ALPHA_MAX * _SLIDER_SCALE))
        self.slider.setPageStep(_SLIDER_SCALE // 2)
        self.slider.setAccessibleName("Alpha")
        self.reset_button = QPushButton("Model default")
        self.reset_button.setToolTip("Go back to the threshold stored in the model")

        self.threshold_label = QLabel("—")
        self.expected_label = QLabel("—")
        self.expected_label.setWordWrap(True)
        self.validation_label = QLabel("—")
        for label in (self.threshold_label, self.expected_label, self.validation_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        row = QHBoxLayout()
        row.addWidget(self.spin)
        row.addWidget(self.slider, 1)
        row.addWidget(self.reset_button)
        form = QFormLayout()
        form.addRow("Threshold:", self.threshold_label)
        form.addRow("Expected (test set):", self.expected_label)
        form.addRow("Benign validation:", self.validation_label)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(form)

        self.spin.valueChanged.connect(self._on_spin)
        self.slider.valueChanged.connect(self._on_slider)
        self.reset_button.clicked.connect(lambda: self.set_alpha(self._default_alpha, emit=True))
        self.setEnabled(False)

    # -- state ----------------------------------------------------------------
    @property
    def alpha(self) -> float:
        return self._alpha

    @property
    def at_model_default(self) -> bool:
        return self._alpha == self._default_alpha

    @property
    def threshold(self) -> float | None:
        if self._stats is None:
            return None
        if self.at_model_default and self._default_threshold is not None:
            return self._default_threshold  # exactly the model's, not re-derived from alpha
        return float(self._stats.threshold(self._alpha))

    @property
    def default_alpha(self) -> float:
        return self._default_alpha

    def set_model(
        self,
        stats: BenignStats,
        points: list[dict[str, Any]],
        default_threshold: float,
        alpha: float | None = None,
    ) -> None:
        """Attach a model's statistics; ``alpha`` None means the model's own threshold."""
        self._stats = stats
        self._points = list(points)
        self._default_alpha = float(stats.alpha_for(default_threshold))
        self._default_threshold = float(default_threshold)
        self.setEnabled(True)
        self.set_alpha(self._default_alpha if alpha is None else alpha, emit=False)

    def clear_model(self) -> None:
        self._stats = None
        self._points = []
        self.setEnabled(False)
        for label in (self.threshold_label, self.expected_label, self.validation_label):
            label.setText("—")

    def set_alpha(self, alpha: float, *, emit: bool = True) -> None:
        alpha = min(ALPHA_MAX, max(ALPHA_MIN, float(alpha)))
        self._alpha = alpha
        self._updating = True
        try:
            self.spin.setValue(alpha)
            self.slider.setValue(round(alpha * _SLIDER_SCALE))
        finally:
            self._updating = False
        self._refresh()
        if emit and self._stats is not None:
            self.alpha_changed.emit(self.alpha, float(self.threshold))

    # -- slots ----------------------------------------------------------------
    def _on_spin(self, value: float) -> None:
        if not self._updating:
            self.set_alpha(value, emit=True)

    def _on_slider(self, value: int) -> None:
        if not self._updating:
            self.set_alpha(value / _SLIDER_SCALE, emit=True)

    def _refresh(self) -> None:
        if self._stats is None:
            return
        thr = float(self.threshold)
        marker = " (model default)" if self.at_model_default else ""
        self.threshold_label.setText(f"{thr:.5g}{marker}")
        perf = expected_performance(self._points, thr)
        if perf.sensitivity is None and perf.specificity is None:
            self.expected_label.setText("no operating points stored in the model")
        else:
            self.expected_label.setText(
                f"sensitivity {_pct(perf.sensitivity)}, specificity {_pct(perf.specificity)}"
                f" ({perf.how})"
            )
        spec = self._stats.specificity_at(thr)
        self.validation_label.setText(f"specificity {_pct(spec)} of {self._stats.n} benign images")
