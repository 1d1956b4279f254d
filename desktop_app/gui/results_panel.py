"""The left side of the window: operating point, filters, the results table and its summary.

Also the table's navigation: select a row, the rows in view (by geometry, not
by what was painted), and next/previous flagged or unreviewed case.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.decision_rules import BORDERLINE
from desktop_app.core.results import AnalysisResult
from desktop_app.gui.components.operating_point import OperatingPoint
from desktop_app.gui.components.result_list import ResultList
from desktop_app.gui.operating_point import OperatingPointControl
from desktop_app.gui.results_model import (
    COL_DECISION,
    COL_FILE,
    COL_FOLDER,
    COL_PERCENTILE,
    COL_REVIEW,
    COL_SCORE,
    COL_THUMB,
    FILTER_ALL,
    FILTER_ANOMALOUS,
    FILTER_ERRORS,
    RESULT_ROLE,
    ResultsFilterProxy,
    ResultsModel,
)
from desktop_app.gui.workers import THUMB_SIZE

EMPTY_SUMMARY = "No images analysed yet. Open a folder or drop images here."


def _never(_result: AnalysisResult) -> bool:
    return False


class ResultsPanel(QWidget):
    """Operating point, filter row, table and summary over one :class:`ResultList`."""

    def __init__(self, results: ResultList, point: OperatingPoint | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results_model = ResultsModel(results, self)
        self.proxy = ResultsFilterProxy(self)
        self.proxy.setSourceModel(self.results_model)
        self.is_flagged = self.results_model.words.is_flagged  # flagged or borderline
        # Set by the window: which cases were reviewed.
        self.is_reviewed: Callable[[AnalysisResult], bool] = _never

        self.table = table = QTableView()
        table.setModel(self.proxy)
        table.setSortingEnabled(True)
        table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # arrival order until asked
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move between cases
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        table.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(THUMB_SIZE + 6)
        header = table.horizontalHeader()
        header.setSectionResizeMode(COL_THUMB, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(COL_THUMB, THUMB_SIZE + 10)
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(COL_FILE, 150)
        for col, width in ((COL_SCORE, 70), (COL_DECISION, 95), (COL_PERCENTILE, 75),
                           (COL_REVIEW, 80), (COL_FOLDER, 90)):
            header.resizeSection(col, width)
        header.setStretchLastSection(True)
        table.setAccessibleName("Results")
        table.setAcceptDrops(False)
        table.viewport().setAcceptDrops(False)

        self.filter_combo = QComboBox()
        self.filter_combo.addItem("All results", FILTER_ALL)
        self.filter_combo.addItem("Flagged and borderline", FILTER_ANOMALOUS)
        self.filter_combo.addItem("Errors only", FILTER_ERRORS)
        self.filter_combo.setToolTip("Which rows the table shows (Ctrl+1, Ctrl+2, Ctrl+3)")
        self.filter_combo.currentIndexChanged.connect(
            lambda _i: self.proxy.set_mode(self.filter_combo.currentData()))
        self.name_filter = QLineEdit()
        self.name_filter.setPlaceholderText("Filter by file name (Ctrl+F)")
        self.name_filter.setClearButtonEnabled(True)
        self.name_filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.summary_label = QLabel(EMPTY_SUMMARY)
        self.summary_label.setWordWrap(True)
        self.operating_point = OperatingPointControl(point)

        filters = QHBoxLayout()
        filters.addWidget(self.filter_combo)
        filters.addWidget(self.name_filter, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.operating_point)
        layout.addLayout(filters)
        layout.addWidget(table, 1)
        layout.addWidget(self.summary_label)

    # -- what is shown ----------------------------------------------------------------
    def set_filter_mode(self, mode: str) -> None:
        idx = self.filter_combo.findData(mode)
        if idx >= 0:
            self.filter_combo.setCurrentIndex(idx)

    def update_summary(self, counts: dict[str, int]) -> None:
        words = self.results_model.words
        borderline = sum(words.of(r) == BORDERLINE for r in self.results_model.result_list)
        near = f"{borderline} borderline · " if words.band_low is not None else ""
        self.summary_label.setText(
            f"{counts['total']} files · {counts['anomalous']} flagged · {near}"
            f"{counts['normal'] - borderline} not flagged · {counts['errors']} errors")

    def refresh_reviews(self) -> None:
        self.results_model.refresh_column(COL_REVIEW)

    def sort_by_score(self) -> None:
        """Highest score first (what a batch ends with)."""
        self.table.sortByColumn(COL_SCORE, Qt.SortOrder.DescendingOrder)

    def visible_results(self) -> list[AnalysisResult]:
        """Results in the table's current order and filter."""
        return [self.proxy.index(r, 0).data(RESULT_ROLE) for r in range(self.proxy.rowCount())]

    def visible_rows(self) -> range:
        """Proxy rows inside the table's viewport (by geometry, not by what was painted)."""
        count = self.proxy.rowCount()
        if count == 0:
            return range(0)
        first = self.table.rowAt(0)
        last = self.table.rowAt(max(0, self.table.viewport().height() - 1))
        first = 0 if first < 0 else first
        last = count - 1 if last < 0 else last
        return range(first, last + 1)

    def current_result(self) -> AnalysisResult | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        source = self.proxy.mapToSource(index)
        return self.results_model.result_at(source.row()) if source.isValid() else None

    # -- navigation -------------------------------------------------------------------
    def select_row(self, row: int) -> None:
        """Select proxy ``row`` (what the user sees)."""
        index = self.proxy.index(row, COL_FILE)
        if index.isValid():
            self.table.selectionModel().setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            self.table.scrollTo(index)

    def _select_next(self, wanted: Callable[[AnalysisResult], bool], step: int) -> bool:
        shown = self.visible_results()
        if not shown:
            return False
        start = self.table.currentIndex().row()
        start = -1 if start < 0 and step > 0 else (len(shown) if start < 0 else start)
        for offset in range(1, len(shown) + 1):  # wraps round once
            row = (start + step * offset) % len(shown)
            if wanted(shown[row]):
                self.select_row(row)
                return True
        return False

    def next_flagged(self) -> bool:
        """Select the next flagged case below the current row (wrapping); False if none."""
        return self._select_next(self.is_flagged, 1)

    def previous_flagged(self) -> bool:
        return self._select_next(self.is_flagged, -1)

    def next_unreviewed(self) -> bool:
        """Select the next analysed case not marked reviewed; False when all are."""
        return self._select_next(lambda r: r.ok and not self.is_reviewed(r), 1)
