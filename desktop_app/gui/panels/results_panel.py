"""The left side of the window: operating point, filters, the results table and its summary.

Also the table's navigation: select a row, the rows in view (by geometry, not
by what was painted), and next/previous flagged or unreviewed case. The rows are
compact (one line of text, a small preview) so a 1366x768 screen shows at least 14;
the worklist filters (unreviewed, flagged, borderline, not flagged, errors) carry
their counts, and the summary says how many cases were reviewed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, QSize, Qt
from PySide6.QtGui import QKeyEvent
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

from desktop_app.core.inference.decision_rules import (
    BORDERLINE,
    PRIORITY_ELEVATED,
    PRIORITY_HIGH,
    PRIORITY_MEANING,
    PRIORITY_ROUTINE,
    priority,
)
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.gui.panels.operating_point import OperatingPointControl
from desktop_app.gui.panels.results_model import (
    COL_DECISION,
    COL_FILE,
    COL_FOLDER,
    COL_PERCENTILE,
    COL_PRIORITY,
    COL_REVIEW,
    COL_SCORE,
    COL_THUMB,
    FILTER_MODES,
    FILTER_NAMES,
    FILTER_UNREVIEWED,
    RESULT_ROLE,
    ResultsFilterProxy,
    ResultsModel,
)
from desktop_app.session.operating_point import OperatingPoint
from desktop_app.session.result_list import ResultList

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
        # One line of text per row, the preview at that height: a worklist, not a gallery.
        row_height = max(22, table.fontMetrics().height() + 8)
        self.row_height = row_height
        table.setIconSize(QSize(row_height - 4, row_height - 4))
        table.verticalHeader().hide()
        table.verticalHeader().setMinimumSectionSize(row_height)
        table.verticalHeader().setDefaultSectionSize(row_height)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # all resizable
        header.setSortIndicatorShown(False)  # the arrow is in the column's name
        header.setHighlightSections(False)
        header.resizeSection(COL_THUMB, row_height + 4)
        for col, width in ((COL_FILE, 150), (COL_SCORE, 70), (COL_DECISION, 95), (COL_PRIORITY, 70),
                           (COL_PERCENTILE, 90), (COL_REVIEW, 130), (COL_FOLDER, 120)):
            header.resizeSection(col, width)
        header.setStretchLastSection(True)
        table.setAccessibleName("Results")
        table.setAcceptDrops(False)
        table.viewport().setAcceptDrops(False)

        self.filter_combo = QComboBox()
        for mode in FILTER_MODES:
            self.filter_combo.addItem(FILTER_NAMES[mode], mode)
        self.filter_combo.setAccessibleName("Worklist filter")
        self.filter_combo.setToolTip("Which rows the table shows (View menu: Ctrl+1 to Ctrl+7)")
        self.filter_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.filter_combo.currentIndexChanged.connect(
            lambda _i: self.proxy.set_mode(self.filter_combo.currentData()))
        self.name_filter = QLineEdit()
        self.name_filter.setPlaceholderText("Filter by file name (Ctrl+F)")
        self.name_filter.setToolTip("Enter or Esc goes back to the table")
        self.name_filter.setClearButtonEnabled(True)
        self.name_filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.name_filter.returnPressed.connect(self.focus_table)
        self.name_filter.installEventFilter(self)
        self.summary_label = QLabel(EMPTY_SUMMARY)
        self.summary_label.setWordWrap(True)
        self.summary_label.setToolTip("Priority tiers, from the model's benign validation "
                                      "figures:\n" + "\n".join(PRIORITY_MEANING.values()))
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

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Esc in the name filter goes back to the table (keeping the text)."""
        if (watched is self.name_filter and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape):
            self.focus_table()
            return True
        return super().eventFilter(watched, event)

    def focus_table(self) -> None:
        self.table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def filter_counts(self) -> dict[str, int]:
        """How many rows each worklist filter holds (the name filter aside)."""
        model = self.results_model
        rows = list(model.result_list)
        return {mode: sum(model.matches(r, mode) for r in rows) for mode in FILTER_MODES}

    def reviewed_counts(self) -> tuple[int, int]:
        """(reviewed, analysed) cases of this batch."""
        ok = [r for r in self.results_model.result_list if r.ok]
        return sum(self.is_reviewed(r) for r in ok), len(ok)

    def update_summary(self, counts: dict[str, int] | None = None) -> None:
        """The counts line, the reviewed counter and each filter's count."""
        words = self.results_model.words
        by_mode = self.filter_counts()
        total = len(self.results_model.result_list)
        if total == 0:
            self.summary_label.setText(EMPTY_SUMMARY)
        else:
            near = f"{by_mode[BORDERLINE]} borderline · " if words.band_low is not None else ""
            reviewed, analysed = self.reviewed_counts()
            tiers = Counter(priority(r, words.band_low) for r in self.results_model.result_list)
            self.summary_label.setText(
                f"{total} files · {by_mode['flagged']} flagged · {near}"
                f"{by_mode['not-flagged']} not flagged · {by_mode['errors']} errors · "
                f"reviewed {reviewed} of {analysed}\nPriority: {tiers[PRIORITY_HIGH]} high · "
                f"{tiers[PRIORITY_ELEVATED]} elevated · {tiers[PRIORITY_ROUTINE]} routine")
        for i in range(self.filter_combo.count()):
            mode = self.filter_combo.itemData(i)
            name = FILTER_NAMES[mode]
            self.filter_combo.setItemText(i, name if total == 0 else f"{name} ({by_mode[mode]})")

    @property
    def reviewed_text(self) -> str:
        """"reviewed 37 of 118" (the counter in the summary line)."""
        reviewed, analysed = self.reviewed_counts()
        return f"reviewed {reviewed} of {analysed}"

    def refresh_reviews(self) -> None:
        self.results_model.refresh_column(COL_REVIEW)
        if self.proxy.mode == FILTER_UNREVIEWED:
            self.proxy.refilter()
        self.update_summary()

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

    def next_case(self) -> bool:
        """Select the row below the current one; False at the end of the list."""
        row = self.table.currentIndex().row()
        if row + 1 >= self.proxy.rowCount():
            return False
        self.select_row(row + 1)
        return True
