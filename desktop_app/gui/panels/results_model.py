"""The results table: a Qt model over AnalysisResult rows and a sort/filter proxy."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap

from desktop_app.core import palette
from desktop_app.core.inference.decision_rules import (
    BORDERLINE,
    PRIORITY_MEANING,
    PRIORITY_ORDER,
    priority,
)
from desktop_app.core.inference.results import DECISION_ANOMALOUS, DECISION_NORMAL, AnalysisResult
from desktop_app.core.wording import number_format as nf
from desktop_app.core.wording.text_safety import undecodable_escaped
from desktop_app.session.decisions import DecisionWords
from desktop_app.session.result_list import ResultList, RowSpan

(COL_THUMB, COL_FILE, COL_SCORE, COL_DECISION, COL_PRIORITY, COL_PERCENTILE, COL_REVIEW,
 COL_FOLDER, COL_STATUS) = range(9)
HEADERS = ("", "File", "Score", "Decision", "Priority", "Percentile", "Review", "Subfolder",
           "Status")
HEADER_TIPS = (
    "Preview",
    "File name",
    "Reconstruction error: higher is less like the benign training images",
    "Flagged when the score is above the operating point's threshold",
    "Worklist priority. " + "; ".join(PRIORITY_MEANING.values()) + ".",
    "Where the score falls among the benign validation images (100 = above all of them)",
    "Reviewed mark and note (R marks the selected case)",
    "Folder of the file, relative to the opened folder",
    "ok, or why the file could not be analysed",
)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RESULT_ROLE = Qt.ItemDataRole.UserRole + 2

# A preview that fails this many times is given up on (a transient failure, such as a
# file still being copied, gets another chance THUMB_RETRY_S later); the tooltip then
# says why.
THUMB_ATTEMPTS = 2
THUMB_RETRY_S = 1.0

FILTER_ALL, FILTER_ANOMALOUS, FILTER_ERRORS = "all", "anomalous", "errors"
FILTER_UNREVIEWED, FILTER_FLAGGED, FILTER_BORDERLINE, FILTER_NOT_FLAGGED = (
    "unreviewed", "flagged", "borderline", "not-flagged")
# In the order of the filter box, the View menu and their shortcuts (Ctrl+1 .. Ctrl+7).
FILTER_MODES = (FILTER_ALL, FILTER_FLAGGED, FILTER_BORDERLINE, FILTER_UNREVIEWED,
                FILTER_ANOMALOUS, FILTER_NOT_FLAGGED, FILTER_ERRORS)
# The worklist filters as the window names them (FILTER_ANOMALOUS: flagged and borderline).
FILTER_NAMES: dict[str, str] = {
    FILTER_ALL: "All results",
    FILTER_UNREVIEWED: "Unreviewed",
    FILTER_ANOMALOUS: "Flagged or borderline",
    FILTER_FLAGGED: "Flagged only",
    FILTER_BORDERLINE: "Borderline",
    FILTER_NOT_FLAGGED: "Not flagged",
    FILTER_ERRORS: "Errors",
}

_Index = QModelIndex | QPersistentModelIndex


def relative_folder(path: Path, roots: list[Path]) -> str:
    """``path``'s folder relative to the first of ``roots`` (the opened folders) holding it;
    "" when it is directly in one, or was opened on its own (its folder's name may carry a
    patient's name or a diagnosis, so it is not shown unasked)."""
    for root in roots:
        try:
            rel = path.parent.relative_to(root)
        except ValueError:
            continue
        return "" if rel == Path() else rel.as_posix()
    return ""


class ResultsModel(QAbstractTableModel):
    """One row per analysed file, in arrival order; rows are keyed by ``result.index``.

    Thumbnails are asked for lazily, only for rows someone looks at, so a folder
    of ten thousand images decodes few previews. ``want_thumbnails(keys)`` (the
    window calls it for the rows inside the viewport, whatever was painted) and
    painting a row both emit ``thumbnail_wanted(index, path)`` once per row
    that has no preview and no request in flight. A request that is lost
    (``forget_requests``) or fails (``set_thumbnail_failed``) is asked again,
    a failure at most ``THUMB_ATTEMPTS`` times; after that the row's tooltip
    says why it has no preview.
    """

    thumbnail_wanted = Signal(int, object)

    def __init__(self, results: ResultList | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # The rows live in the Qt-free ResultList (the session's); this model only shows them.
        self._rows = results if results is not None else ResultList()
        self._rows.inserting.connect(self._on_inserting)
        self._rows.inserted.connect(lambda _span: self.endInsertRows())
        self._rows.changed.connect(self._on_changed)
        self._rows.resetting.connect(lambda _none: self.beginResetModel())
        self._rows.reset.connect(self._on_reset)
        # Set by the window: the review column's text and the folders paths are relative to.
        self.review_text: Callable[[AnalysisResult], str] = lambda _r: ""
        self.is_reviewed: Callable[[AnalysisResult], bool] = lambda _r: False
        self.roots: list[Path] = []
        self.words = DecisionWords()
        self._thumbs: dict[int, QPixmap] = {}
        self._requested: set[int] = set()  # asked for, no answer yet
        self._failures: dict[int, tuple[int, str, float]] = {}  # key -> (attempts, reason, retry at)

    # -- Qt model interface -------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        res = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_REVIEW:
                return self.review_text(res)
            if col == COL_FOLDER:
                return self.folder_text(res)
            return self._display(res, col)
        if role == SORT_ROLE:
            if col in (COL_REVIEW, COL_FOLDER):
                return (self.review_text(res) if col == COL_REVIEW else self.folder_text(res)).lower()
            return self._sort_key(res, col)
        if role == RESULT_ROLE:
            return res
        if role == Qt.ItemDataRole.DecorationRole and col == COL_THUMB:
            self._want(res)
            return self._thumbs.get(res.index)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_REVIEW and self.review_text(res):
                return self.review_text(res)  # the whole note, however narrow the column
            if col == COL_PRIORITY and priority(res, self.words.band_low):
                return PRIORITY_MEANING[priority(res, self.words.band_low)]
            return self._tooltip(res) + self._preview_note(res.index)
        if col == COL_DECISION and role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(self.words.style(res)[1]))
        if col == COL_DECISION and role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor(self.words.style(res)[2]))
        if col == COL_STATUS and role == Qt.ItemDataRole.ForegroundRole and res.status != "ok":
            return QBrush(QColor(palette.ALERT_TEXT))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_SCORE, COL_PERCENTILE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def matches(self, res: AnalysisResult, mode: str) -> bool:
        """Whether ``res`` belongs in worklist filter ``mode``."""
        decision = self.words.of(res)
        return {
            FILTER_ALL: True,
            FILTER_UNREVIEWED: res.ok and not self.is_reviewed(res),
            FILTER_ANOMALOUS: self.words.is_flagged(res),
            FILTER_FLAGGED: decision == DECISION_ANOMALOUS,
            FILTER_BORDERLINE: decision == BORDERLINE,
            FILTER_NOT_FLAGGED: decision == DECISION_NORMAL,
            FILTER_ERRORS: not res.ok,
        }[mode]

    def _display(self, res: AnalysisResult, col: int) -> str | None:
        if col == COL_FILE:
            # Qt drops undecodable bytes silently: show them escaped (one rule).
            return undecodable_escaped(res.path.name)
        if col == COL_SCORE:
            return nf.number(res.score, ".4f")
        if col == COL_DECISION:
            return self.words.style(res)[0]
        if col == COL_PRIORITY:
            return priority(res, self.words.band_low)
        if col == COL_PERCENTILE:
            return nf.number(res.percentile, ".1f")
        if col == COL_STATUS:
            return "ok" if res.status == "ok" else f"error: {res.error}"
        return None

    def _sort_key(self, res: AnalysisResult, col: int) -> str | float | int:
        if col == COL_FILE:
            return res.path.name.lower()
        if col == COL_SCORE:
            return -1.0 if res.score is None else float(res.score)
        if col == COL_DECISION:
            return {"anomalous": 3, BORDERLINE: 2, "normal": 1}.get(self.words.of(res), 0)
        if col == COL_PRIORITY:
            # Ties in a tier go highest score first, as the worklist is read.
            return PRIORITY_ORDER[priority(res, self.words.band_low)] * 10.0 + (res.score or 0.0)
        if col == COL_PERCENTILE:
            return -1.0 if res.percentile is None else float(res.percentile)
        if col == COL_STATUS:
            return "" if res.status == "ok" else res.error
        return res.index

    def _tooltip(self, res: AnalysisResult) -> str:
        if res.status != "ok":
            return f"{undecodable_escaped(res.path)}\nCould not be analysed: {res.error}"
        return (
            f"{undecodable_escaped(res.path)}\nscore {nf.number(res.score, '.4f')} vs threshold "
            f"{nf.number(res.threshold, '.4f')}: {self.words.of(res)}\n"
            f"z {nf.number(res.z, '+.2f')}, benign percentile {nf.number(res.percentile, '.1f')}"
        )

    def folder_text(self, res: AnalysisResult) -> str:
        """The file's folder relative to the opened folder ("" when directly in it)."""
        return undecodable_escaped(relative_folder(res.path, self.roots))

    def refresh_column(self, col: int) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, col), self.index(len(self._rows) - 1, col))

    def _preview_note(self, key: int) -> str:
        reason = self.thumbnail_failure(key)
        return "" if reason is None else f"\nNo preview: {reason}"

    # -- thumbnails ---------------------------------------------------------------
    def _may_ask(self, key: int) -> bool:
        if key in self._thumbs or key in self._requested:
            return False
        attempts, _reason, retry_at = self._failures.get(key, (0, "", 0.0))
        return attempts == 0 or (attempts < THUMB_ATTEMPTS and time.monotonic() >= retry_at)

    def _given_up(self, key: int) -> bool:
        return self.thumbnail_attempts_failed(key) >= THUMB_ATTEMPTS

    def _want(self, res: AnalysisResult) -> None:
        if res.status == "ok" and self._may_ask(res.index):
            self._requested.add(res.index)
            self.thumbnail_wanted.emit(res.index, res.path)

    def want_thumbnails(self, keys: Iterable[int]) -> None:
        """Ask for the previews of rows ``keys`` that have none and none on its way."""
        for key in keys:
            res = self._rows.by_key(key)
            if res is not None:
                self._want(res)

    def forget_requests(self) -> None:
        """The requests in flight will never be answered (lost): ask again when next wanted."""
        self._requested.clear()

    def pending_thumbnails(self) -> set[int]:
        """Keys asked for and not yet answered."""
        return set(self._requested)

    def set_thumbnail(self, key: int, image: QImage) -> None:
        self._requested.discard(key)
        row = self._rows.row_of(key)
        if row is None:
            return
        # QPixmap only on the GUI thread, from the worker's QImage.
        self._thumbs[key] = QPixmap.fromImage(image)
        self._failures.pop(key, None)
        idx = self.index(row, COL_THUMB)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def set_thumbnail_failed(self, key: int, reason: str) -> None:
        """The preview of ``key`` could not be made; it is asked again up to THUMB_ATTEMPTS."""
        self._requested.discard(key)
        row = self._rows.row_of(key)
        if row is None:
            return
        attempts = self._failures.get(key, (0, "", 0.0))[0] + 1
        self._failures[key] = (attempts, reason, time.monotonic() + THUMB_RETRY_S)
        idx = self.index(row, COL_THUMB)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.ToolTipRole])

    def has_thumbnail(self, key: int) -> bool:
        return key in self._thumbs

    def thumbnail_attempts_failed(self, key: int) -> int:
        """How many preview attempts of ``key`` failed since its last success."""
        return self._failures.get(key, (0, "", 0.0))[0]

    def thumbnail_failure(self, key: int) -> str | None:
        """Why ``key`` has no preview, once every attempt failed; None otherwise."""
        if key in self._thumbs or not self._given_up(key):
            return None
        return self._failures[key][1]

    # -- content ----------------------------------------------------------------
    def _on_inserting(self, span: RowSpan) -> None:
        self.beginInsertRows(QModelIndex(), span[0], span[1])

    def _on_changed(self, span: RowSpan) -> None:
        self.dataChanged.emit(self.index(span[0], 0), self.index(span[1], len(HEADERS) - 1))

    def _on_reset(self, _none: None) -> None:
        self._thumbs.clear()
        self._requested.clear()
        self._failures.clear()
        self.endResetModel()

    @property
    def result_list(self) -> ResultList:
        return self._rows

    def clear(self) -> None:
        self._rows.clear()

    def add_results(self, results: Iterable[AnalysisResult]) -> None:
        """Append new rows; a result whose index is already shown replaces that row."""
        self._rows.add(results)

    def results(self) -> list[AnalysisResult]:
        """All results in input order."""
        return self._rows.in_input_order()

    def result_at(self, row: int) -> AnalysisResult:
        return self._rows[row]

    def row_of(self, key: int) -> int | None:
        return self._rows.row_of(key)

    def map_results(self, fn: Callable[[AnalysisResult], AnalysisResult]) -> None:
        """Replace every ok row by ``fn(row)`` (re-deciding at a new threshold)."""
        self._rows.map_ok(fn)

    def counts(self) -> dict[str, int]:
        return self._rows.counts()


class ResultsFilterProxy(QSortFilterProxyModel):
    """Sorts by each column's natural value; filters to all, anomalous or errors, and by name."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mode = FILTER_ALL
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(COL_FILE)
        self.setDynamicSortFilter(True)

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in FILTER_MODES:
            msg = f"unknown filter {mode!r}; expected one of {FILTER_MODES}"
            raise ValueError(msg)
        self.beginFilterChange()
        self._mode = mode
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def refilter(self) -> None:
        """Apply the filter again (a review or the operating point changed)."""
        self.beginFilterChange()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        res = model.data(model.index(source_row, 0, source_parent), RESULT_ROLE)
        if res is None or not model.matches(res, self._mode):
            return False
        return super().filterAcceptsRow(source_row, source_parent)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        super().sort(column, order)
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(HEADERS) - 1)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:  # noqa: N802
        """The sorted column's name carries its own arrow: ▼ highest (or last) first, ▲
        lowest first (styles draw Qt's indicator either way round, so it is not used)."""
        text = super().headerData(section, orientation, role)
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and section == self.sortColumn() and section >= 0 and text):
            arrow = "▼" if self.sortOrder() == Qt.SortOrder.DescendingOrder else "▲"
            return f"{text} {arrow}"
        return text
