"""Two cases side by side: each original with its heatmap overlay, its autoencoder error map
and (combined models) its classifier evidence map, one zoom and pan for every view.

One row per case, one column per map, sized to the screen it opens on (a 1366x768
laptop included). Both images are drawn over the same width (``COMPARE_WIDTH``
units, height by the image's own aspect), so linked views show the same part of each
lesion whatever the two files' pixel sizes. The error maps use the model's fixed
scale (the same for every case); the evidence maps one scale shared by the two cases;
each map has its own legend. The overlay follows the main window's opacity.
Esc or Ctrl+W closes the window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from desktop_app.core.imaging.heatmap import case_vmax, colorize_in_field, field_of_view
from desktop_app.core.wording.number_format import case_scores
from desktop_app.core.wording.texts import CAE_MAP_TITLE, EVIDENCE_TITLE
from desktop_app.gui.panels.case_viewer import TitleItem, inferno_colormap
from desktop_app.gui.windows.shortcuts import is_close_key

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import CaseImages
    from desktop_app.core.inference.results import AnalysisResult

COMPARE_WIDTH = 1000.0  # display units both images are drawn across
SCREEN_SHARE = 0.94  # of the screen's free area the window takes at most

Case = tuple["AnalysisResult", "CaseImages"]


def _evidence(images: CaseImages) -> np.ndarray | None:
    ev = images.evidence_map
    return None if ev is None else np.clip(np.nan_to_num(np.asarray(ev, np.float32)), 0, None)


class CompareDialog(QDialog):
    """Case A over case B: original + overlay, error map, evidence map; zoom and pan linked."""

    def __init__(self, first: Case, second: Case, vmax: float, opacity: float = 0.5,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {first[0].path.name} with {second[0].path.name}")
        self.vmax = float(vmax)
        self.opacity = float(opacity)
        cases = (first, second)
        maps = [_evidence(images) for _r, images in cases]
        self.shows_evidence = all(m is not None for m in maps)
        self.evidence_vmax = 0.0
        if self.shows_evidence:  # one scale for both, so the two are comparable
            self.evidence_vmax = max(case_vmax(m, field_of_view(images.model_input))
                                     for m, (_r, images) in zip(maps, cases, strict=True))
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202124")
        self.views: list[pg.ViewBox] = []
        self.items: list[pg.ImageItem] = []
        self.overlays: list[pg.ImageItem] = []
        columns = ["Original + overlay", CAE_MAP_TITLE] + (
            [EVIDENCE_TITLE] if self.shows_evidence else [])
        for col, title in enumerate(columns):  # titles and legends never widen a column
            self.graphics.addItem(TitleItem(title, color="#e8eaed"), row=0, col=col)
        for row, ((result, images), evidence) in enumerate(zip(cases, maps, strict=True)):
            self._add_case(images, evidence, 2 * row + 1)
            self.graphics.addLabel(
                f"{'Pinned' if row == 0 else 'Shown'}: {result.path.name} — "
                f"{case_scores(result.score, images.anomaly_score, images.probability)}",
                row=2 * row + 2, col=0, colspan=len(columns), color="#bdc1c6", size="9pt")
        for view in self.views[1:]:
            view.setXLink(self.views[0])
            view.setYLink(self.views[0])
        self._fitted = True  # refit when the window is resized, until zoomed by hand
        for view in self.views:
            view.sigRangeChangedManually.connect(self._moved_by_hand)
        self.views[0].sigResized.connect(self._on_resized)
        grid = self.graphics.ci.layout
        for row in range(6):  # the images take the height, the titles and legends what they need
            grid.setRowStretchFactor(row, 1 if row in (1, 3) else 0)
        self.colorbar = pg.ColorBarItem(
            values=(0.0, self.vmax), colorMap=inferno_colormap(), interactive=False, width=10,
            colorMapMenu=False, orientation="horizontal",
            label="CAE error, fixed scale (same for both)")
        self.graphics.addItem(self.colorbar, row=5, col=1)
        if self.shows_evidence:
            self.evidence_bar = pg.ColorBarItem(
                values=(0.0, self.evidence_vmax), colorMap=inferno_colormap(),
                interactive=False, width=10, colorMapMenu=False, orientation="horizontal",
                label="evidence for malignant, one scale for both")
            self.graphics.addItem(self.evidence_bar, row=5, col=2)
        for bar in (self.colorbar, getattr(self, "evidence_bar", None)):
            if bar is not None:
                bar.getAxis("bottom").enableAutoSIPrefix(False)  # the values as they are
                bar.setMinimumWidth(0)
                bar.setPreferredWidth(0)
        note = QLabel("Wheel zooms, drag pans: every view moves together. F fits, Esc or "
                      "Ctrl+W closes. Maps only inside each image's field of view.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(note)
        self._size_to_screen(parent)
        self.fit()

    def _size_to_screen(self, parent: QWidget | None) -> None:
        screen = (parent.screen() if parent is not None else self.screen()).availableGeometry()
        width = int(min(1500, screen.width() * SCREEN_SHARE))
        height = int(min(1000, screen.height() * SCREEN_SHARE))
        self.resize(width, height)
        self.move(screen.x() + (screen.width() - width) // 2,
                  screen.y() + (screen.height() - height) // 2)

    def _add_case(self, images: CaseImages, evidence: np.ndarray | None, row: int) -> None:
        height, width = images.original.shape[:2]
        rect = QRectF(0, 0, COMPARE_WIDTH, COMPARE_WIDTH * height / width)
        inside = field_of_view(images.model_input)
        colours = colorize_in_field(images.error_map, self.vmax, inside)
        original, overlay, heat = (pg.ImageItem(axisOrder="row-major") for _ in range(3))
        original.setImage(images.original, levels=(0, 255), autoLevels=False)
        overlay.setImage(colours, levels=(0, 255), autoLevels=False)
        overlay.setOpacity(self.opacity)
        overlay.setZValue(1)
        self.overlays.append(overlay)
        heat.setImage(colours, levels=(0, 255), autoLevels=False)
        columns: list[tuple[pg.ImageItem, ...]] = [(original, overlay), (heat,)]
        if self.shows_evidence and evidence is not None:
            ev = pg.ImageItem(axisOrder="row-major")
            ev.setImage(colorize_in_field(evidence, self.evidence_vmax, inside), levels=(0, 255),
                        autoLevels=False)
            columns.append((ev,))
        for col, items in enumerate(columns):
            view = self.graphics.addViewBox(row=row, col=col, lockAspect=True, invertY=True)
            view.setMenuEnabled(False)
            for item in items:
                item.setRect(rect)
                view.addItem(item)
                self.items.append(item)
            self.views.append(view)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        """Esc or Ctrl+W closes; F fits (the views pass keys they do not use up to here)."""
        if is_close_key(event):
            self.close()
        elif event.key() == Qt.Key.Key_F:
            self.fit()
        else:
            super().keyPressEvent(event)

    def set_opacity(self, opacity: float) -> None:
        """The overlay's opacity (follows the main window's slider)."""
        self.opacity = float(opacity)
        for item in self.overlays:
            item.setOpacity(self.opacity)

    def _moved_by_hand(self, *_args: object) -> None:
        self._fitted = False

    def _on_resized(self, *_args: object) -> None:
        if self._fitted:
            self.fit()

    def fit(self) -> None:
        """Show both images whole."""
        self._fitted = True
        tallest = max(item.mapRectToParent(item.boundingRect()).height() for item in self.items)
        self.views[0].setRange(QRectF(0, 0, COMPARE_WIDTH, tallest), padding=0.02)
