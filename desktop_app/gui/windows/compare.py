"""Two cases side by side: each original with its heatmap overlay, and its heatmap, on one
fixed scale, with one zoom and pan for all four views.

Both images are drawn over the same width (``COMPARE_WIDTH`` units, height by the
image's own aspect), so linked views show the same part of each lesion whatever the
two files' pixel sizes. The heatmaps use the model's fixed scale (the same for
every case), masked to each image's field of view, so the two are comparable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from desktop_app.core.imaging.heatmap import colorize_in_field, field_of_view
from desktop_app.gui.panels.case_viewer import inferno_colormap

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import CaseImages
    from desktop_app.core.inference.results import AnalysisResult

COMPARE_WIDTH = 1000.0  # display units both images are drawn across
OVERLAY_OPACITY = 0.45

Case = tuple["AnalysisResult", "CaseImages"]


class CompareDialog(QDialog):
    """Case A over case B: original + overlay, heatmap; zoom and pan linked."""

    def __init__(self, first: Case, second: Case, vmax: float,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {first[0].path.name} with {second[0].path.name}")
        self.vmax = float(vmax)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202124")
        self.views: list[pg.ViewBox] = []
        self.items: list[pg.ImageItem] = []
        for row, (result, images) in enumerate((first, second)):
            self.graphics.addLabel(f"{result.path.name} — score {result.score:.5g}", row=2 * row,
                                   col=0, colspan=2, color="#e8eaed")
            self._add_case(images, 2 * row + 1)
        for view in self.views[1:]:
            view.setXLink(self.views[0])
            view.setYLink(self.views[0])
        bar = pg.ColorBarItem(values=(0.0, self.vmax), colorMap=inferno_colormap(),
                              interactive=False, width=14, colorMapMenu=False,
                              label="error, fixed scale (same for both cases)")
        self.graphics.addItem(bar, row=1, col=2, rowspan=3)
        note = QLabel("Wheel zooms, drag pans: all four views move together. Heatmaps on the "
                      "model's fixed scale, inside each image's field of view.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(note)
        self.resize(900, 860)
        self.fit()

    def _add_case(self, images: CaseImages, row: int) -> None:
        height, width = images.original.shape[:2]
        rect = QRectF(0, 0, COMPARE_WIDTH, COMPARE_WIDTH * height / width)
        inside = field_of_view(images.model_input)
        colours = colorize_in_field(images.error_map, self.vmax, inside)
        original, overlay, heat = (pg.ImageItem(axisOrder="row-major") for _ in range(3))
        original.setImage(images.original, levels=(0, 255), autoLevels=False)
        overlay.setImage(colours, levels=(0, 255), autoLevels=False)
        overlay.setOpacity(OVERLAY_OPACITY)
        heat.setImage(colours, levels=(0, 255), autoLevels=False)
        for col, items in enumerate(((original, overlay), (heat,))):
            view = self.graphics.addViewBox(row=row, col=col, lockAspect=True, invertY=True)
            view.setMenuEnabled(False)
            for item in items:
                item.setRect(rect)
                view.addItem(item)
                self.items.append(item)
            self.views.append(view)

    def fit(self) -> None:
        """Show both images whole."""
        tallest = max(item.mapRectToParent(item.boundingRect()).height() for item in self.items)
        self.views[0].setRange(QRectF(0, 0, COMPARE_WIDTH, tallest), padding=0.02)
