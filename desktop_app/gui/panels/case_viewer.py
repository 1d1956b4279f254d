"""Case viewer: original (with heatmap overlay), reconstruction and heatmap, linked.

All three images are drawn in the displayed original's pixel coordinates (the
128x128 model images are stretched over the same rectangle: the model saw the
whole image resized to a square), so one zoom/pan moves all three views. The
heatmap is drawn only inside the dermoscope's field of view (the black field and
vignette are masked, :func:`desktop_app.core.imaging.heatmap.field_of_view`), on the
model's fixed ``heatmap_vmax`` scale or, when chosen, on this case's own scale
(99th percentile of its in-field error); the colour bar's label says which.
Every new case opens fitted. Brightness and contrast change the original and the
reconstruction alike (display only). Mouse: wheel zooms at the cursor, drag pans.

Over 500 lines on purpose: three pyqtgraph views that share one zoom and pan, with their
overlay, legends, scales, field-of-view mask and fit rules; split apart they would pass that
shared state back and forth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.imaging.heatmap import (
    CASE_SCALE,
    CASE_SCALE_QUANTILE,
    FIXED_SCALE,
    INFERNO_LUT,
    SCALE_NAMES,
    case_vmax,
    colorize_in_field,
    evidence_in_field,
    field_of_view,
)
from desktop_app.core.wording.number_format import case_scores
from desktop_app.core.wording.texts import (
    CAE_MAP_TITLE,
    CAE_MAP_TOOLTIP,
    EVIDENCE_LEGEND,
    EVIDENCE_TITLE,
    EVIDENCE_TOOLTIP,
)
from desktop_app.gui.panels.elided_label import ElidedLabel

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import CaseImages

DEFAULT_OPACITY = 0.5


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] or uint8 RGB -> uint8 RGB for display."""
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.rint(arr.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def inferno_colormap() -> pg.ColorMap:
    """The heatmap's own colour table as a pyqtgraph ColorMap, for the legend."""
    return pg.ColorMap(np.linspace(0.0, 1.0, len(INFERNO_LUT)), INFERNO_LUT, name="inferno")


class TitleItem(pg.LabelItem):
    """A view title that never widens its column.

    Linked, aspect-locked views only show the same region when they have the
    same size, so the columns must split the width evenly whatever the titles.
    """

    def updateMin(self) -> None:  # noqa: N802
        self.setMinimumWidth(0)
        self.setMinimumHeight(self.itemRect().height())
        self.updateGeometry()

    def sizeHint(self, hint: Qt.SizeHint, constraint: QSizeF) -> QSizeF:  # noqa: N802
        if hint == Qt.SizeHint.MaximumSize:
            return QSizeF(-1, -1)
        return QSizeF(0, self.itemRect().height())


ZOOM_STEP = 1.25  # one + or - key press
PAN_STEP = 0.1  # one arrow key press, as a share of what is in view


class CaseViewer(QWidget):
    """Three linked image views plus an opacity slider and a fixed-scale colour bar."""

    opacity_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._vmax = 1.0
        self._images: CaseImages | None = None
        self._inside: np.ndarray | None = None  # field of view of the shown case
        self._scale = FIXED_SCALE
        self._name = ""
        self._fitted = True  # the view shows the whole image: a resize fits it again
        self._original_only = False

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202124")
        self.graphics.setMinimumHeight(200)
        self.graphics.ci.setSpacing(6)
        titles = ("Original + overlay", "Reconstruction", CAE_MAP_TITLE,
                  EVIDENCE_TITLE)
        self.title_items = [TitleItem(t, color="#e8eaed") for t in titles]
        for col, title in enumerate(self.title_items):
            self.graphics.addItem(title, row=0, col=col)
        self.views: list[pg.ViewBox] = []
        for col in range(4):
            view = self.graphics.addViewBox(row=1, col=col, lockAspect=True, invertY=True)
            view.setMenuEnabled(False)
            self.graphics.ci.layout.setColumnStretchFactor(col, 1)
            self.views.append(view)
        for view in self.views[1:]:
            view.setXLink(self.views[0])
            view.setYLink(self.views[0])
        for view in self.views:  # a zoom or pan by hand: a resize keeps it
            view.sigRangeChangedManually.connect(self._moved_by_hand)
        # A resized or maximised window (or F11, or O) fits again unless zoomed by hand.
        self.views[0].sigResized.connect(self._on_resized)

        self.original_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.reconstruction_item = pg.ImageItem(axisOrder="row-major")
        self.heatmap_item = pg.ImageItem(axisOrder="row-major")
        self.views[0].addItem(self.original_item)
        self.views[0].addItem(self.overlay_item)
        self.overlay_item.setZValue(1)
        self.views[1].addItem(self.reconstruction_item)
        self.views[2].addItem(self.heatmap_item)
        # A combined model's classifier evidence (its class activation map); hidden otherwise.
        self.evidence_item = pg.ImageItem(axisOrder="row-major")
        self.views[3].addItem(self.evidence_item)
        self._evidence_vmax = 0.0

        # Each map its own legend, under it, in its own words (the evidence map is no error).
        self.colorbar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=inferno_colormap(), interactive=False, width=10,
            label=self.scale_text, colorMapMenu=False, orientation="horizontal",
        )
        self.graphics.addItem(self.colorbar, row=2, col=2)
        self.evidence_bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=inferno_colormap(), interactive=False, width=10,
            label=EVIDENCE_LEGEND, colorMapMenu=False, orientation="horizontal",
        )
        self.graphics.addItem(self.evidence_bar, row=2, col=3)
        for bar in (self.colorbar, self.evidence_bar):
            bar.getAxis("bottom").enableAutoSIPrefix(False)  # the values as they are
            # Like the titles, a legend must never widen its column (see TitleItem).
            bar.setMinimumWidth(0)
            bar.setPreferredWidth(0)
        self.title_items[0].setToolTip("The original image; the autoencoder's error drawn over "
                                       "it (opacity below). O shows the original alone.")
        self.title_items[2].setToolTip(CAE_MAP_TOOLTIP)
        self.colorbar.setToolTip(
            "The autoencoder's reconstruction error. Fixed scale: the model's, the same for "
            "every case, so cases compare. This case's scale: full colour at the "
            f"{CASE_SCALE_QUANTILE:.0f}th percentile of this case's error in the field of view.")
        self.evidence_bar.setToolTip(EVIDENCE_TOOLTIP.split(" (full colour")[0] + ".")
        self._show_evidence_view(False)

        # Shown instead of the views while there is no case (or it cannot be shown).
        self.placeholder = QLabel("Select a case in the results table")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        # A long file name or error must not widen the window: wrap within the width given.
        self.placeholder.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.placeholder.setStyleSheet(
            "background: #202124; color: #bdc1c6; font-size: 11pt; padding: 24px;"
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.graphics)

        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setAccessibleName("Overlay opacity")
        self.opacity_slider.setToolTip("Opacity of the heatmap drawn over the original")
        self.opacity_label = QLabel()
        self.fit_button = QPushButton("Fit (F)")
        self.one_button = QPushButton("1:1 (1)")
        self.fit_button.setToolTip("Show the whole image")
        self.one_button.setToolTip("One image pixel per screen pixel")
        self.case_label = ElidedLabel("No case selected")
        self.scale_combo = QComboBox()
        self.scale_combo.setAccessibleName("Heatmap scale")
        self.scale_combo.addItem("Fixed scale", FIXED_SCALE)
        self.scale_combo.addItem("This case's scale", CASE_SCALE)
        self.scale_combo.setToolTip(
            "Fixed: the model's scale, the same for every case (cases are comparable). "
            "This case: full colour at the 99th percentile of this case's error inside the "
            "field of view (shows where within the lesion the error is highest).")
        self.brightness_slider = QSlider(Qt.Orientation.Horizontal)
        self.brightness_slider.setRange(-100, 100)
        self.brightness_slider.setAccessibleName("Brightness")
        self.brightness_slider.setToolTip("Brightness of the original and the reconstruction "
                                          "(display only)")
        self.contrast_slider = QSlider(Qt.Orientation.Horizontal)
        self.contrast_slider.setRange(-100, 100)
        self.contrast_slider.setAccessibleName("Contrast")
        self.contrast_slider.setToolTip("Contrast of the original and the reconstruction "
                                        "(display only)")
        for slider in (self.brightness_slider, self.contrast_slider, self.opacity_slider):
            slider.setMaximumWidth(110)
        self.adjust_reset = QPushButton("Reset")
        self.adjust_reset.setToolTip("Brightness and contrast back to the image's own")

        controls = QHBoxLayout()
        controls.setContentsMargins(6, 2, 2, 2)
        controls.addWidget(self.case_label, 1)
        controls.addWidget(QLabel("Overlay opacity:"))
        controls.addWidget(self.opacity_slider)
        controls.addWidget(self.opacity_label)
        controls.addWidget(self.fit_button)
        controls.addWidget(self.one_button)
        adjust = QHBoxLayout()
        adjust.setContentsMargins(6, 0, 2, 2)
        adjust.addWidget(QLabel("Heatmap:"))
        adjust.addWidget(self.scale_combo)
        adjust.addStretch(1)
        adjust.addWidget(QLabel("Brightness:"))
        adjust.addWidget(self.brightness_slider)
        adjust.addWidget(QLabel("Contrast:"))
        adjust.addWidget(self.contrast_slider)
        adjust.addWidget(self.adjust_reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addLayout(adjust)
        layout.addWidget(self.stack, 1)

        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.fit_button.clicked.connect(self.fit)
        self.one_button.clicked.connect(self.one_to_one)
        self.scale_combo.currentIndexChanged.connect(
            lambda _i: self.set_scale(self.scale_combo.currentData()))
        self.brightness_slider.valueChanged.connect(lambda _v: self._apply_levels())
        self.contrast_slider.valueChanged.connect(lambda _v: self._apply_levels())
        self.adjust_reset.clicked.connect(self.reset_adjustments)
        self.set_opacity(DEFAULT_OPACITY)

    # -- configuration ------------------------------------------------------------
    def set_vmax(self, vmax: float) -> None:
        """The model's fixed full-scale error (metadata.heatmap_vmax)."""
        self._vmax = float(vmax) if np.isfinite(vmax) and vmax > 0 else 1.0
        if self._images is not None:
            self._draw_heatmaps()
        else:
            self.colorbar.setLevels((0.0, self.vmax))

    @property
    def vmax(self) -> float:
        """The error drawn at full colour now (fixed, or this case's own scale)."""
        if self._scale == CASE_SCALE and self._images is not None:
            return case_vmax(self._images.error_map, self._inside)
        return self._vmax

    @property
    def fixed_vmax(self) -> float:
        """The model's fixed full-scale error (whatever scale is shown now)."""
        return self._vmax

    @property
    def scale(self) -> str:
        return self._scale

    def set_scale(self, scale: str) -> None:
        """FIXED_SCALE (the model's, same for every case) or CASE_SCALE (this case's)."""
        if scale not in SCALE_NAMES:
            msg = f"unknown heatmap scale {scale!r}"
            raise ValueError(msg)
        self._scale = scale
        idx = self.scale_combo.findData(scale)
        if idx != self.scale_combo.currentIndex():
            self.scale_combo.setCurrentIndex(idx)  # comes back here once
            return
        self.colorbar.getAxis("bottom").setLabel(self.scale_text)
        if self._images is not None:
            self._draw_heatmaps()

    @property
    def scale_text(self) -> str:
        """What the colour bar says about its scale."""
        return f"CAE error, {SCALE_NAMES[self._scale]}"

    # -- brightness and contrast (display only) -------------------------------------
    def display_levels(self) -> tuple[float, float]:
        """(black, white) input levels of the original and the reconstruction."""
        contrast = 2.0 ** (self.contrast_slider.value() / 50.0)  # 1/4x .. 4x
        centre = 127.5 - 1.275 * self.brightness_slider.value()
        half = 127.5 / contrast
        return centre - half, centre + half

    def _apply_levels(self) -> None:
        if self._images is None:
            return
        levels = self.display_levels()
        self.original_item.setLevels(levels)
        self.reconstruction_item.setLevels(levels)

    def reset_adjustments(self) -> None:
        self.brightness_slider.setValue(0)
        self.contrast_slider.setValue(0)

    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def set_opacity(self, opacity: float) -> None:
        self.opacity_slider.setValue(round(min(1.0, max(0.0, opacity)) * 100))
        self._on_opacity(self.opacity_slider.value())

    def _on_opacity(self, value: int) -> None:
        self.overlay_item.setOpacity(value / 100.0)
        self.opacity_label.setText(f"{value}%")
        self.opacity_changed.emit(value / 100.0)

    # -- content ------------------------------------------------------------------
    @property
    def has_case(self) -> bool:
        return self._images is not None

    def show_message(self, text: str) -> None:
        """Clear the views and say why (loading, error, nothing selected)."""
        self._images = None
        self._inside = None
        self._name = ""
        for item in (self.original_item, self.overlay_item, self.reconstruction_item,
                     self.heatmap_item, self.evidence_item):
            item.clear()
        self.case_label.setText(text)
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)

    def show_loading(self, name: str) -> None:
        """Keep the current images while the next case is computed."""
        self.case_label.setText(f"{name} — computing reconstruction and heatmap…")

    def show_case(self, images: CaseImages, name: str) -> None:
        """Draw a CaseImages (original, reconstruction, error_map) for ``name``; a new case
        opens fitted (the zoom of the one before never crops it), the same case redrawn
        keeps its view."""
        keep_view = self._images is images or (
            self._images is not None and self._name == name
            and self._images.sha256 == images.sha256
            and self._images.original.shape == images.original.shape)
        self._images = images
        self._name = name
        self._inside = field_of_view(images.model_input)
        self.stack.setCurrentWidget(self.graphics)
        original = np.ascontiguousarray(images.original)
        height, width = original.shape[:2]
        rect = QRectF(0, 0, width, height)
        self.original_item.setImage(original, levels=self.display_levels(), autoLevels=False)
        self.original_item.setRect(rect)
        self.reconstruction_item.setImage(
            to_uint8(images.reconstruction), levels=self.display_levels(), autoLevels=False
        )
        self.reconstruction_item.setRect(rect)
        self._draw_heatmaps()
        self._draw_evidence()
        self.case_label.setText(
            f"{name} — {case_scores(images.score, images.anomaly_score, images.probability)}")
        if not keep_view:
            self.fit()

    def _draw_heatmaps(self) -> None:
        height, width = self._images.original.shape[:2]
        rect = QRectF(0, 0, width, height)
        vmax = self.vmax
        inside = self._inside if self._inside is not None else field_of_view(
            self._images.model_input)
        colours = colorize_in_field(self._images.error_map, vmax, inside)
        self.colorbar.setLevels((0.0, vmax))
        self.heatmap_item.setImage(colours, levels=(0, 255), autoLevels=False)
        self.heatmap_item.setRect(rect)
        self.overlay_item.setImage(colours, levels=(0, 255), autoLevels=False)
        self.overlay_item.setRect(rect)

    def _show_column(self, col: int, on: bool) -> None:
        self.views[col].setVisible(on)
        self.title_items[col].setVisible(on)
        self.graphics.ci.layout.setColumnStretchFactor(col, 1 if on else 0)
        self.graphics.ci.layout.setColumnMaximumWidth(col, 100_000 if on else 0)

    def _show_evidence_view(self, on: bool) -> None:
        self._has_evidence = on
        self._show_column(3, on and not self._original_only)
        self.evidence_bar.setVisible(on and not self._original_only)

    @property
    def original_only(self) -> bool:
        return self._original_only

    def set_original_only(self, on: bool) -> None:
        """The original alone (no overlay, no other view) over the whole panel, or all views."""
        self._original_only = bool(on)
        for col in (1, 2):
            self._show_column(col, not on)
        self.colorbar.setVisible(not on)
        self._show_evidence_view(getattr(self, "_has_evidence", False))
        self.overlay_item.setVisible(not on)
        self.title_items[0].setText("Original" if on else "Original + overlay")
        self._fitted = True
        self.fit()

    @property
    def shows_evidence(self) -> bool:
        return self.views[3].isVisible()

    @property
    def evidence_vmax(self) -> float:
        """Full scale of the shown evidence map (0 when the model has none)."""
        return self._evidence_vmax

    def _draw_evidence(self) -> None:
        evidence = self._images.evidence_map if self._images is not None else None
        self._show_evidence_view(evidence is not None)
        if evidence is None:
            self.evidence_item.clear()
            self._evidence_vmax = 0.0
            return
        height, width = self._images.original.shape[:2]
        inside = self._inside if self._inside is not None else field_of_view(
            self._images.model_input)
        colours, self._evidence_vmax = evidence_in_field(evidence, inside)
        self.evidence_bar.setLevels((0.0, self._evidence_vmax))
        self.evidence_item.setImage(colours, levels=(0, 255), autoLevels=False)
        self.evidence_item.setRect(QRectF(0, 0, width, height))
        self.title_items[3].setToolTip(EVIDENCE_TOOLTIP.format(vmax=self._evidence_vmax))

    # -- navigation ---------------------------------------------------------------
    def fit(self) -> None:
        """Show the whole image (and keep doing so when the panel is resized)."""
        self._fitted = True
        if self._images is None:
            return
        height, width = self._images.original.shape[:2]
        self.views[0].setRange(QRectF(0, 0, width, height), padding=0.02)

    @property
    def fitted(self) -> bool:
        """The views show the whole image (no zoom or pan since the last fit)."""
        return self._fitted

    def _moved_by_hand(self, *_args: object) -> None:
        self._fitted = False
        self._hold_view()

    def _hold_view(self) -> None:
        """Remember the centre and zoom (image units per screen pixel) chosen by hand."""
        view = self.views[0]
        if view.width() < 20 or view.height() < 20:
            return
        (x0, x1), (y0, y1) = view.viewRange()
        self._held = ((x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / view.width())

    def _on_resized(self, *_args: object) -> None:
        """Fitted: fit again. Zoomed by hand: the same centre and zoom in the new size."""
        if self._fitted:
            self.fit()
            return
        view, held = self.views[0], getattr(self, "_held", None)
        if held is None or view.width() < 20 or view.height() < 20:
            return
        cx, cy, per_px = held
        half_w, half_h = view.width() * per_px / 2, view.height() * per_px / 2
        view.setRange(xRange=(cx - half_w, cx + half_w), yRange=(cy - half_h, cy + half_h),
                      padding=0)

    def one_to_one(self) -> None:
        """One displayed-original pixel per screen pixel, centred on the current view."""
        if self._images is None:
            return
        view = self.views[0]
        (x0, x1), (y0, y1) = view.viewRange()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        size = view.size()
        half_w, half_h = size.width() / 2, size.height() / 2
        self._fitted = False
        view.setRange(xRange=(cx - half_w, cx + half_w), yRange=(cy - half_h, cy + half_h),
                      padding=0)
        self._hold_view()

    def zoom(self, factor: float) -> None:
        """Zoom the linked views by ``factor`` (> 1 closer) about their centre."""
        if self._images is None or not factor > 0:
            return
        view = self.views[0]
        (x0, x1), (y0, y1) = view.viewRange()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half_w, half_h = (x1 - x0) / (2 * factor), (y1 - y0) / (2 * factor)
        self._fitted = False
        view.setRange(xRange=(cx - half_w, cx + half_w), yRange=(cy - half_h, cy + half_h),
                      padding=0)
        self._hold_view()

    def zoom_in(self) -> None:
        self.zoom(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom(1 / ZOOM_STEP)

    def pan(self, dx: float, dy: float) -> None:
        """Move the linked views by ``dx``, ``dy`` times the visible width and height."""
        if self._images is None:
            return
        view = self.views[0]
        (x0, x1), (y0, y1) = view.viewRange()
        shift_x, shift_y = dx * (x1 - x0), dy * (y1 - y0)
        self._fitted = False
        view.setRange(xRange=(x0 + shift_x, x1 + shift_x), yRange=(y0 + shift_y, y1 + shift_y),
                      padding=0)
        self._hold_view()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        step = PAN_STEP
        moves = {Qt.Key.Key_Left: (-step, 0.0), Qt.Key.Key_Right: (step, 0.0),
                 Qt.Key.Key_Up: (0.0, -step), Qt.Key.Key_Down: (0.0, step)}
        if event.key() in moves:
            self.pan(*moves[Qt.Key(event.key())])
        elif event.key() == Qt.Key.Key_F:
            self.fit()
        elif event.key() == Qt.Key.Key_1:
            self.one_to_one()
        else:
            super().keyPressEvent(event)
