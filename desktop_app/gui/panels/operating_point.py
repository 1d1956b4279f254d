"""The operating-point widget: named points, a typed alpha, a slider, what to expect.

The state and the rules (screening default, borderline band, words with
intervals, alpha parsing) live Qt-free in desktop_app.session.operating_point;
this widget shows them and turns the user's input into changes of that state.
"""

from __future__ import annotations

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

from desktop_app.core import palette
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.operating_points import expected_words
from desktop_app.core.site.site_profile import SiteProfile, expectation_words
from desktop_app.session.operating_point import (
    ALPHA_MAX,
    ALPHA_MIN,
    OperatingPoint,
    parse_alpha,
)

_SLIDER_SCALE = 100  # slider ticks per unit of alpha
SITE_ITEM_PREFIX = "Site profile: "  # the point list's entry for the active profile's point


class OperatingPointControl(QGroupBox):
    """Named points, a typed α, a slider, and what to expect at the resulting threshold.

    ``threshold_chosen(threshold)`` fires on every change the user makes.
    """

    threshold_chosen = Signal(float)

    def __init__(self, point: OperatingPoint | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("Operating point", parent)
        self.point = point if point is not None else OperatingPoint()
        self._updating = False
        self.site: SiteProfile | None = None  # the active site profile (Model > Site Profile)

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
        self.entry_error.setStyleSheet(f"color: {palette.ALERT_TEXT};")
        self.entry_error.hide()

        self.threshold_label = QLabel("—")
        self.expected_label = QLabel("—")
        self.validation_label = QLabel("—")
        self.data_label = QLabel("")
        self.data_label.setStyleSheet("color: #555;")
        self.site_label = QLabel("")
        self.site_label.setObjectName("SiteProfileLabel")
        self.site_label.hide()
        for label in (self.threshold_label, self.expected_label, self.validation_label,
                      self.data_label, self.site_label):
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
        self.form = form = QFormLayout()
        form.addRow("Threshold:", self.threshold_label)
        form.addRow("Expected:", self.expected_label)
        form.addRow("Validation:", self.validation_label)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.entry_error)
        layout.addLayout(state)
        layout.addWidget(self.site_label)
        layout.addLayout(form)
        layout.addWidget(self.data_label)

        self.alpha_edit.returnPressed.connect(self.apply_typed)
        self.alpha_edit.editingFinished.connect(self.apply_typed)
        self.slider.valueChanged.connect(self._on_slider)
        self.point_combo.activated.connect(self._on_point)
        self.reset_button.clicked.connect(self.reset)
        self.setEnabled(False)

    # -- state (kept by self.point) ---------------------------------------------
    @property
    def alpha(self) -> float:
        return self.point.alpha

    @property
    def threshold(self) -> float | None:
        return self.point.threshold

    @property
    def default_threshold(self) -> float | None:
        return self.point.default_threshold

    @property
    def at_model_default(self) -> bool:
        return self.point.at_default

    def set_model(self, meta: ModelMetadata, alpha: float | None = None) -> None:
        """Attach a model; ``alpha`` None opens at the model's default point (no signal)."""
        self._updating = True
        try:
            self.point.attach(meta, alpha)
            self.point_combo.clear()
            for name, threshold in self.point.named_points():
                self.point_combo.addItem(name, threshold)
            self.point_combo.addItem("Custom α", None)
        finally:
            self._updating = False
        self.setEnabled(True)
        self._show(typed=alpha is not None, emit=False)

    def set_site(self, profile: SiteProfile | None) -> None:
        """Show (or stop showing) what the active site profile says at the current point; the
        point list names the profile's point (not "Custom α")."""
        self.site = profile
        self._updating = True
        try:
            found = self.point_combo.findText(SITE_ITEM_PREFIX, Qt.MatchFlag.MatchStartsWith)
            if found >= 0:
                self.point_combo.removeItem(found)
            if profile is not None and self.point_combo.count():
                self.point_combo.insertItem(self.point_combo.count() - 1,
                                            f"{SITE_ITEM_PREFIX}{profile.name}", profile.threshold)
        finally:
            self._updating = False
        self._show(typed=False, emit=False)
        self._show_site()

    def _show_site(self) -> None:
        """With a site profile: its name and author above, and one figure for benign lesions
        (measured at the site) and one for cancers (estimated) in place of the model's own."""
        point = self.point
        site_active = self.site is not None and point.meta is not None \
            and point.threshold is not None
        self.form.setRowVisible(self.validation_label, not site_active)
        if not site_active:
            self.site_label.hide()
            self.expected_label.setToolTip("")
            return
        assert self.site is not None and point.meta is not None and point.threshold is not None
        site, spec, sens = expectation_words(self.site, point.meta, point.threshold)
        at = "" if point.threshold == self.site.threshold else (
            " (the point was moved away from the profile's; figures at the current point)")
        self.site_label.setText(f"{site}{at}.")
        self.site_label.setStyleSheet(f"color: {palette.NOT_FLAGGED_TEXT};")
        self.site_label.show()
        self.expected_label.setText(f"{spec}\n{sens}")
        test, validation, data = expected_words(point.meta, point.threshold)
        self.expected_label.setToolTip(
            "The model's own figures at this threshold, on other sites' images (they do not "
            f"hold here, which is why the site was calibrated): {test} {validation} {data}")
        self.data_label.setText("Benign figure measured on this site's benign images; cancer "
                                "figure estimated (hover for the model's own figures).")

    def clear_model(self) -> None:
        self.point.detach()
        self.setEnabled(False)
        for label in (self.threshold_label, self.expected_label, self.validation_label):
            label.setText("—")

    def set_threshold(self, threshold: float, *, emit: bool = True) -> None:
        """Move to ``threshold`` (``emit``: say so, as for a user's change)."""
        self.point.set_threshold(threshold)
        self._show(typed=False, emit=emit)

    def set_alpha(self, alpha: float, *, emit: bool = True) -> None:
        """Move to T = mean + ``alpha`` sd (clamped to the allowed range)."""
        self.point.set_alpha(alpha)
        self._show(typed=True, emit=emit)

    def reset(self) -> None:
        """Back to the model's default point."""
        self.point.reset()
        self._show(typed=False)

    def apply_typed(self) -> bool:
        """Apply what is typed in the α field; on a bad entry keep the text and say why."""
        if self._updating or self.point.meta is None:
            return False
        parsed = parse_alpha(self.alpha_edit.text())
        if isinstance(parsed, str):
            self.entry_error.setText(f"{parsed}; the operating point is unchanged.")
            self.entry_error.show()
            return False
        if parsed != self.point.alpha or self.point_combo.currentData() is not None:
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

    def _show(self, *, typed: bool, emit: bool = True) -> None:
        """Show the point's state in every control; ``emit``: tell the window."""
        point = self.point
        if point.meta is None or point.threshold is None:
            return
        self._updating = True
        try:
            self.alpha_edit.setText(f"{point.alpha:.4g}" if typed else f"{point.alpha:.2f}")
            self.slider.setValue(round(min(ALPHA_MAX, max(ALPHA_MIN, point.alpha))
                                       * _SLIDER_SCALE))
            idx = self.point_combo.findData(point.threshold)
            self.point_combo.setCurrentIndex(idx if idx >= 0 else self.point_combo.count() - 1)
        finally:
            self._updating = False
        self.entry_error.hide()
        self.threshold_label.setText(f"{point.threshold:.5g} (α = {point.alpha:.2f})")
        if self.site is not None and point.threshold == self.site.threshold:
            self.state_label.setText(f"The site profile's point ({self.site.name}).")
            self.state_label.setStyleSheet(f"color: {palette.NOT_FLAGGED_TEXT};")
        elif point.at_default:
            self.state_label.setText(f"The model's default point ({point.default_name}).")
            self.state_label.setStyleSheet(f"color: {palette.NOT_FLAGGED_TEXT};")
        else:
            self.state_label.setText("⚠ Not the model's default point: kept for this model "
                                     "until you press Reset to default.")
            self.state_label.setStyleSheet(f"color: {palette.BORDERLINE_TEXT}; font-weight: bold;")
        self.reset_button.setEnabled(not point.at_default)
        test, validation, data = expected_words(point.meta, point.threshold)
        self.expected_label.setText(test)
        self.validation_label.setText(validation)
        self.data_label.setText(data)
        self._show_site()
        if emit:
            self.threshold_chosen.emit(point.threshold)
