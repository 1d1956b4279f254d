"""The results table: a Qt model over AnalysisResult rows and a sort/filter proxy."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QImage, QPixmap

COL_THUMB, COL_FILE, COL_SCORE, COL_DECISION, COL_PERCENTILE, COL_STATUS = range(6)
HEADERS = ("", "File", "Score", "Decision", "Percentile", "Status")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RESULT_ROLE = Qt.ItemDataRole.UserRole + 2

# Decision colours carry text too ("ANOMALOUS", "normal", "error"): never colour alone.
DECISION_STYLE = {
    "anomalous": ("ANOMALOUS", QColor("#f6d3d3"), QColor("#8b0000")),
    "normal": ("normal", QColor("#d8eedb"), QColor("#1e5b2a")),
    "": ("error", QColor("#e6e6e6"), QColor("#444444")),
}

# A preview that fails this many times is given up on (a transient failure, such as a
# file still being copied, gets another chance THUMB_RETRY_S later); the tooltip then
# says why.
THUMB_ATTEMPTS = 2
THUMB_RETRY_S = 1.0

FILTER_ALL, FILTER_ANOMALOUS, FILTER_ERRORS = "all", "anomalous", "errors"
FILTER_MODES = (FILTER_ALL, FILTER_ANOMALOUS, FILTER_ERRORS)

_Index = QModelIndex | QPersistentModelIndex


def _fmt(value: float | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


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

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []
        self._row_of: dict[int, int] = {}
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
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        res = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(res, col)
        if role == SORT_ROLE:
            return self._sort_key(res, col)
        if role == RESULT_ROLE:
            return res
        if role == Qt.ItemDataRole.DecorationRole and col == COL_THUMB:
            self._want(res)
            return self._thumbs.get(res.index)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(res) + self._preview_note(res.index)
        if col == COL_DECISION and role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(DECISION_STYLE.get(res.decision, DECISION_STYLE[""])[1])
        if col == COL_DECISION and role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(DECISION_STYLE.get(res.decision, DECISION_STYLE[""])[2])
        if col == COL_STATUS and role == Qt.ItemDataRole.ForegroundRole and res.status != "ok":
            return QBrush(QColor("#8b0000"))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_SCORE, COL_PERCENTILE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(res: Any, col: int) -> str | None:
        if col == COL_FILE:
            return res.path.name
        if col == COL_SCORE:
            return _fmt(res.score, ".4f")
        if col == COL_DECISION:
            return DECISION_STYLE.get(res.decision, DECISION_STYLE[""])[0]
        if col == COL_PERCENTILE:
            return _fmt(res.percentile, ".1f")
        if col == COL_STATUS:
            return "ok" if res.status == "ok" else f"error: {res.error}"
        return None

    @staticmethod
    def _sort_key(res: Any, col: int) -> Any:
        if col == COL_FILE:
            return res.path.name.lower()
        if col == COL_SCORE:
            return -1.0 if res.score is None else float(res.score)
        if col == COL_DECISION:
            return {"anomalous": 2, "normal": 1}.get(res.decision, 0)
        if col == COL_PERCENTILE:
            return -1.0 if res.percentile is None else float(res.percentile)
        if col == COL_STATUS:
            return "" if res.status == "ok" else res.error
        return res.index

    @staticmethod
    def _tooltip(res: Any) -> str:
        if res.status != "ok":
            return f"{res.path}\nCould not be analysed: {res.error}"
        return (
            f"{res.path}\nscore {_fmt(res.score, '.4f')} vs threshold "
            f"{_fmt(res.threshold, '.4f')}: {res.decision}\n"
            f"z {_fmt(res.z, '+.2f')}, benign percentile {_fmt(res.percentile, '.1f')}"
        )

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

    def _want(self, res: Any) -> None:
        if res.status == "ok" and self._may_ask(res.index):
            self._requested.add(res.index)
            self.thumbnail_wanted.emit(res.index, res.path)

    def want_thumbnails(self, keys: Iterable[int]) -> None:
        """Ask for the previews of rows ``keys`` that have none and none on its way."""
        for key in keys:
            row = self._row_of.get(key)
            if row is not None:
                self._want(self._rows[row])

    def forget_requests(self) -> None:
        """The requests in flight will never be answered (lost): ask again when next wanted."""
        self._requested.clear()

    def pending_thumbnails(self) -> set[int]:
        """Keys asked for and not yet answered."""
        return set(self._requested)

    def set_thumbnail(self, key: int, image: QImage) -> None:
        self._requested.discard(key)
        row = self._row_of.get(key)
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
        row = self._row_of.get(key)
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
    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self._row_of.clear()
        self._thumbs.clear()
        self._requested.clear()
        self._failures.clear()
        self.endResetModel()

    def add_results(self, results: Iterable[Any]) -> None:
        """Append new rows; a result whose index is already shown replaces that row."""
        fresh: list[Any] = []
        for res in results:
            row = self._row_of.get(res.index)
            if row is None:
                fresh.append(res)
            else:
                self._rows[row] = res
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
        if not fresh:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        for offset, res in enumerate(fresh):
            self._row_of[res.index] = first + offset
            self._rows.append(res)
        self.endInsertRows()

    def results(self) -> list[Any]:
        """All results in input order."""
        return sorted(self._rows, key=lambda r: r.index)

    def result_at(self, row: int) -> Any:
        return self._rows[row]

    def row_of(self, key: int) -> int | None:
        return self._row_of.get(key)

    def map_results(self, fn: Callable[[Any], Any]) -> None:
        """Replace every ok row by ``fn(row)`` (re-deciding at a new threshold)."""
        if not self._rows:
            return
        self._rows = [fn(r) if r.status == "ok" else r for r in self._rows]
        self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(HEADERS) - 1))

    def counts(self) -> dict[str, int]:
        out = {"total": len(self._rows), "anomalous": 0, "normal": 0, "errors": 0}
        for res in self._rows:
            if res.status != "ok":
                out["errors"] += 1
            elif res.decision == "anomalous":
                out["anomalous"] += 1
            else:
                out["normal"] += 1
        return out


class ResultsFilterProxy(QSortFilterProxyModel):
    """Sorts by each column's natural value; filters to all, anomalous or errors, and by name."""

    def __init__(self, parent: Any = None) -> None:
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

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        res = model.data(model.index(source_row, 0, source_parent), RESULT_ROLE)
        if res is None:
            return False
        if self._mode == FILTER_ANOMALOUS and not (res.status == "ok" and res.decision == "anomalous"):
            return False
        if self._mode == FILTER_ERRORS and res.status == "ok":
            return False
        return super().filterAcceptsRow(source_row, source_parent)
