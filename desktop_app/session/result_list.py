"""The batch's results in arrival order, keyed by ``result.index``; Qt-free.

A view (the Qt table model) listens to the events: ``inserting``/``inserted``
carry the first and last row of an append, ``changed`` the rows replaced in
place, ``resetting``/``reset`` a clear. "-ing" events fire before the list
changes, so a Qt model can call ``beginInsertRows`` at the right moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from desktop_app.core.inference.results import DECISION_ANOMALOUS, STATUS_OK, AnalysisResult
from desktop_app.session.events import Event

RowSpan = tuple[int, int]  # first and last row, inclusive


class ResultList:
    """AnalysisResults in the order they arrived (the table's unsorted order)."""

    def __init__(self) -> None:
        self._rows: list[AnalysisResult] = []
        self._row_of: dict[int, int] = {}
        self.inserting: Event[RowSpan] = Event("results.inserting")
        self.inserted: Event[RowSpan] = Event("results.inserted")
        self.changed: Event[RowSpan] = Event("results.changed")
        self.resetting: Event[None] = Event("results.resetting")
        self.reset: Event[None] = Event("results.reset")

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, row: int) -> AnalysisResult:
        return self._rows[row]

    def __iter__(self) -> Iterator[AnalysisResult]:
        return iter(list(self._rows))

    def row_of(self, key: int) -> int | None:
        """The row of the result whose ``index`` is ``key``."""
        return self._row_of.get(key)

    def by_key(self, key: int) -> AnalysisResult | None:
        row = self._row_of.get(key)
        return None if row is None else self._rows[row]

    def add(self, results: Iterable[AnalysisResult]) -> None:
        """Append new rows; a result whose index is already here replaces that row."""
        fresh: list[AnalysisResult] = []
        for res in results:
            row = self._row_of.get(res.index)
            if row is None:
                fresh.append(res)
            else:
                self._rows[row] = res
                self.changed.emit((row, row))
        if not fresh:
            return
        first = len(self._rows)
        span = (first, first + len(fresh) - 1)
        self.inserting.emit(span)
        for offset, res in enumerate(fresh):
            self._row_of[res.index] = first + offset
            self._rows.append(res)
        self.inserted.emit(span)

    def clear(self) -> None:
        self.resetting.emit(None)
        self._rows.clear()
        self._row_of.clear()
        self.reset.emit(None)

    def map_ok(self, fn: Callable[[AnalysisResult], AnalysisResult]) -> None:
        """Replace every analysed row by ``fn(row)`` (re-deciding at a new threshold)."""
        if not self._rows:
            return
        self._rows = [fn(r) if r.status == STATUS_OK else r for r in self._rows]
        self.changed.emit((0, len(self._rows) - 1))

    def in_input_order(self) -> list[AnalysisResult]:
        """All results in input order."""
        return sorted(self._rows, key=lambda r: r.index)

    def counts(self) -> dict[str, int]:
        """total, anomalous, normal and errors."""
        out = {"total": len(self._rows), "anomalous": 0, "normal": 0, "errors": 0}
        for res in self._rows:
            if res.status != STATUS_OK:
                out["errors"] += 1
            elif res.decision == DECISION_ANOMALOUS:
                out["anomalous"] += 1
            else:
                out["normal"] += 1
        return out
