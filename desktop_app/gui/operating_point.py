"""The operating point: named points, a typed alpha and a slider that re-decide every result.

T = mean + alpha * sd of the benign validation scores (BenignStats owns the
rule). The window opens at the model's **screening point** when the model
stores one (the highest threshold that flags at least 90% of validation
cancers), else at the model's own threshold; either is "the model's default",
and any other point is shown as such with a one-click reset. What to expect is
said in words with 95% Wilson intervals, naming the data behind the figures:
test-set figures come from the operating points stored in the model
(interpolated between them), their counts from the model's evaluation; the
benign validation figure from BenignStats.specificity_at.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.model_metadata import ModelMetadata

ALPHA_MIN, ALPHA_MAX = -3.0, 10.0
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


SCREENING_SENSITIVITY = 0.90  # the screening point flags at least this share of cancers
BAND_SENSITIVITY = 0.95  # the borderline band reaches down to this validation point


def _pct(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{100 * value:.0f}%"


def _highest_threshold_with(points: list[dict[str, Any]], min_val_sensitivity: float
                            ) -> float | None:
    found = [t for p in points if (t := _finite(p.get("threshold"))) is not None
             and (v := _finite(p.get("val_sensitivity"))) is not None
             and v >= min_val_sensitivity]
    return max(found) if found else None


def screening_threshold(meta: ModelMetadata) -> float | None:
    """The model's screening threshold, or None when the model stores none.

    An explicit ``extra["screening_threshold"]`` or a point with ``role ==
    "screening"`` wins; else the highest stored threshold whose validation
    sensitivity is at least 90%.
    """
    explicit = _finite(meta.extra.get("screening_threshold"))
    if explicit is not None:
        return explicit
    for point in meta.operating_points:
        if point.get("role") == "screening" and (t := _finite(point.get("threshold"))):
            return t
    return _highest_threshold_with(meta.operating_points, SCREENING_SENSITIVITY)


def borderline_low(meta: ModelMetadata) -> float | None:
    """The lower edge of the borderline band: the 95%-validation-sensitivity threshold."""
    return _highest_threshold_with(meta.operating_points, BAND_SENSITIVITY)


def opening_threshold(meta: ModelMetadata) -> tuple[float, str]:
    """Where the window opens for this model, and that point's name."""
    screening = screening_threshold(meta)
    if screening is not None:
        return screening, "screening point"
    return float(meta.threshold), "model threshold"


def evaluation_counts(meta: ModelMetadata) -> tuple[int, int] | None:
    """(cancers, benign) in the test set behind the stored figures, from the evaluation."""
    for row in meta.evaluation.get("at_alphas", []) if isinstance(meta.evaluation, dict) else []:
        confusion = row.get("confusion") if isinstance(row, dict) else None
        if isinstance(confusion, dict):
            try:
                pos = int(confusion["tp"]) + int(confusion["fn"])
                neg = int(confusion["tn"]) + int(confusion["fp"])
            except (KeyError, TypeError, ValueError):
                continue
            if pos > 0 and neg > 0:
                return pos, neg
    return None


def wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``p`` observed on ``n`` cases."""
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _of_100(p: float | None, n: int | None, noun: str) -> str:
    """'about 86 of 100 cancers (77–94)': the interval only when ``n`` is known."""
    if p is None or not math.isfinite(p):
        return f"an unknown share of {noun}"
    text = f"about {100 * p:.0f} of 100 {noun}"
    if n:
        lo, hi = wilson(p, n)
        text += f" ({100 * lo:.0f}–{100 * hi:.0f})"
    return text


def expected_words(meta: ModelMetadata, threshold: float) -> tuple[str, str, str]:
    """(test-set sentence, benign-validation sentence, where the figures come from)."""
    perf = expected_performance(meta.operating_points, threshold)
    counts = evaluation_counts(meta)
    n_pos, n_neg = counts if counts else (None, None)
    if perf.sensitivity is None and perf.specificity is None:
        test = "No test-set figures are stored in the model."
    else:
        flagged_benign = None if perf.specificity is None else 1 - perf.specificity
        test = (f"Flags {_of_100(perf.sensitivity, n_pos, 'cancers')} and "
                f"{_of_100(flagged_benign, n_neg, 'benign lesions')}.")
        if perf.how == "nearest":
            test += " (Outside the stored points: nearest point's figures.)"
    stats = meta.benign_stats
    spec = stats.specificity_at(threshold)
    validation = (f"Flags {_of_100(1 - spec, stats.n, 'benign validation images')}"
                  f" ({stats.n} in all).")
    dataset = str(meta.data.get("dataset", "")) if isinstance(meta.data, dict) else ""
    source = f"the Test split of {dataset}" if dataset else "the model's test set"
    sizes = f": {n_pos} cancers, {n_neg} benign" if counts else ""
    data = (f"Figures from {source}{sizes}, interpolated between the points stored in the "
            "model; 95% intervals in brackets.")
    return test, validation, data


def parse_alpha(text: str) -> float | str:
    """The alpha typed in ``text``, or why it is not one (a message)."""
    cleaned = text.strip().replace("α", "").replace("=", "").replace(",", ".").strip()
    try:
        value = float(cleaned)
    except ValueError:
        return f"“{text.strip()}” is not a number"
    if not math.isfinite(value):
        return "α must be a finite number"
    if not ALPHA_MIN <= value <= ALPHA_MAX:
        return f"α must be between {ALPHA_MIN:g} and {ALPHA_MAX:g}"
    return value


class OperatingPointControl(QGroupBox):
    """Named points, a typed α, a slider, and what to expect at the resulting threshold.

    ``threshold_chosen(threshold)`` fires on every change the user makes.
    """

    threshold_chosen = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Operating point", parent)
        self._meta: ModelMetadata | None = None
        self._default_threshold: float | None = None
        self._default_name = ""
        # The exact point: a typed alpha is kept as typed, a named point's threshold as
        # stored (a validation-chosen threshold is rarely a round alpha).
        self._threshold: float | None = None
        self._alpha = 0.0
        self._updating = False

        self.point_combo = QComboBox()
        self.point_combo.setToolTip("Named operating points stored in the model")
        self.point_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.point_combo.setMinimumContentsLength(18)
        self.alpha_edit = QLineEdit()
        self.alpha_edit.setAccessibleName("Alpha")
        self.alpha_edit.setMaximumWidth(80)
        self.alpha_edit.setToolTip(
            "Threshold T = mean + α · sd of benign validation scores. Type a number and press "
            "Enter. Lower α flags more cases (more sensitive, less specific).")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(ALPHA_MIN * _SLIDER_SCALE), round(ALPHA_MAX * _SLIDER_SCALE))
        self.slider.setPageStep(_SLIDER_SCALE // 2)
        self.slider.setAccessibleName("Alpha slider")
        self.reset_button = QPushButton("Reset to default")
        self.reset_button.setToolTip("Go back to the model's default point")
        self.state_label = QLabel("")
        self.state_label.setWordWrap(True)
        self.entry_error = QLabel("")
        self.entry_error.setStyleSheet("color: #8b0000;")
        self.entry_error.hide()

        self.threshold_label = QLabel("—")
        self.expected_label = QLabel("—")
        self.validation_label = QLabel("—")
        self.data_label = QLabel("")
        self.data_label.setStyleSheet("color: #555;")
        for label in (self.threshold_label, self.expected_label, self.validation_label,
                      self.data_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(self.point_combo)
        row.addWidget(QLabel("α ="))
        row.addWidget(self.alpha_edit)
        row.addWidget(self.slider, 1)
        state = QHBoxLayout()
        state.addWidget(self.state_label, 1)
        state.addWidget(self.reset_button)
        form = QFormLayout()
        form.addRow("Threshold:", self.threshold_label)
        form.addRow("Expected:", self.expected_label)
        form.addRow("Validation:", self.validation_label)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.entry_error)
        layout.addLayout(state)
        layout.addLayout(form)
        layout.addWidget(self.data_label)

        self.alpha_edit.returnPressed.connect(self.apply_typed)
        self.alpha_edit.editingFinished.connect(self.apply_typed)
        self.slider.valueChanged.connect(self._on_slider)
        self.point_combo.activated.connect(self._on_point)
        self.reset_button.clicked.connect(self.reset)
        self.setEnabled(False)

    # -- state ----------------------------------------------------------------
    @property
    def alpha(self) -> float:
        return self._alpha

    @property
    def threshold(self) -> float | None:
        return self._threshold

    @property
    def default_threshold(self) -> float | None:
        return self._default_threshold

    @property
    def at_model_default(self) -> bool:
        return self._threshold is not None and self._threshold == self._default_threshold

    def set_model(self, meta: ModelMetadata, alpha: float | None = None) -> None:
        """Attach a model; ``alpha`` None opens at the model's default point."""
        self._meta = meta
        self._default_threshold, self._default_name = opening_threshold(meta)
        stats = meta.benign_stats
        self._updating = True
        try:
            self.point_combo.clear()
            short = "Screening" if self._default_name == "screening point" else "Model threshold"
            self.point_combo.addItem(f"{short} (default)", self._default_threshold)
            if self._default_threshold != meta.threshold:
                self.point_combo.addItem("Model threshold", float(meta.threshold))
            seed = float(stats.threshold(stats.alpha))
            self.point_combo.addItem(f"Mean + {stats.alpha:g} sd", seed)
            self.point_combo.addItem("Custom α", None)
        finally:
            self._updating = False
        self.setEnabled(True)
        if alpha is None:
            self.set_threshold(self._default_threshold, emit=False)
        else:
            self.set_alpha(alpha, emit=False)

    def clear_model(self) -> None:
        self._meta = None
        self._threshold = None
        self.setEnabled(False)
        for label in (self.threshold_label, self.expected_label, self.validation_label):
            label.setText("—")

    def set_threshold(self, threshold: float, *, emit: bool = True,
                      alpha: float | None = None) -> None:
        """Move to ``threshold`` (``alpha``: the α typed for it, kept exactly)."""
        if self._meta is None:
            return
        stats = self._meta.benign_stats
        self._threshold = float(threshold)
        self._alpha = float(stats.alpha_for(threshold)) if alpha is None else float(alpha)
        self._updating = True
        try:
            self.alpha_edit.setText(f"{self._alpha:.4g}" if alpha is not None
                                    else f"{self._alpha:.2f}")
            self.slider.setValue(round(min(ALPHA_MAX, max(ALPHA_MIN, self._alpha))
                                       * _SLIDER_SCALE))
            idx = self.point_combo.findData(self._threshold)
            self.point_combo.setCurrentIndex(idx if idx >= 0 else self.point_combo.count() - 1)
        finally:
            self._updating = False
        self.entry_error.hide()
        self._refresh()
        if emit:
            self.threshold_chosen.emit(self._threshold)

    def set_alpha(self, alpha: float, *, emit: bool = True) -> None:
        """Move to T = mean + ``alpha`` sd (clamped to the allowed range)."""
        if self._meta is None:
            return
        alpha = min(ALPHA_MAX, max(ALPHA_MIN, float(alpha)))
        self.set_threshold(float(self._meta.benign_stats.threshold(alpha)), emit=emit,
                           alpha=alpha)

    def reset(self) -> None:
        """Back to the model's default point."""
        if self._default_threshold is not None:
            self.set_threshold(self._default_threshold)

    def apply_typed(self) -> bool:
        """Apply what is typed in the α field; on a bad entry keep the text and say why."""
        if self._updating or self._meta is None:
            return False
        parsed = parse_alpha(self.alpha_edit.text())
        if isinstance(parsed, str):
            self.entry_error.setText(f"{parsed}; the operating point is unchanged.")
            self.entry_error.show()
            return False
        if parsed != self._alpha or self.point_combo.currentData() is not None:
            text = self.alpha_edit.text()
            self.set_alpha(parsed)
            self.alpha_edit.setText(text.strip())  # what was typed stays as typed
        else:
            self.entry_error.hide()
        return True

    # -- slots ----------------------------------------------------------------
    def _on_slider(self, value: int) -> None:
        if not self._updating:
            self.set_alpha(value / _SLIDER_SCALE)

    def _on_point(self, index: int) -> None:
        threshold = self.point_combo.itemData(index)
        if threshold is not None and not self._updating:
            self.set_threshold(float(threshold))

    def _refresh(self) -> None:
        if self._meta is None or self._threshold is None:
            return
        thr = self._threshold
        self.threshold_label.setText(f"{thr:.5g} (α = {self._alpha:.2f})")
        if self.at_model_default:
            self.state_label.setText(f"The model's default point ({self._default_name}).")
            self.state_label.setStyleSheet("color: #1e5b2a;")
        else:
            self.state_label.setText("⚠ Not the model's default point: kept for this model "
                                     "until you press Reset to default.")
            self.state_label.setStyleSheet("color: #7a4a00; font-weight: bold;")
        self.reset_button.setEnabled(not self.at_model_default)
        test, validation, data = expected_words(self._meta, thr)
        self.expected_label.setText(test)
        self.validation_label.setText(validation)
        self.data_label.setText(data)
