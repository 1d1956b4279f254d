"""The right side of the window: case views, the case's review, and its score panel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget

from desktop_app.gui.panels.case_viewer import CaseViewer
from desktop_app.gui.panels.review_panel import ReviewPanel
from desktop_app.gui.panels.score_panel import ScorePanel
from desktop_app.session.review import ReviewStore


class CasePanel(QSplitter):
    """Case viewer over the review row over the score panel."""

    def __init__(self, reviews: ReviewStore, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.case_viewer = CaseViewer()
        self.review_panel = ReviewPanel(reviews)
        self.score_panel = ScorePanel()
        for widget in (self.case_viewer.graphics, self.score_panel.plot):
            widget.setAcceptDrops(False)  # drops land on the window, wherever the pointer is
        for widget in (self.case_viewer, self.review_panel, self.score_panel):
            self.addWidget(widget)
        self.setCollapsible(1, False)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(2, 1)
        self.setSizes([560, 40, 300])
