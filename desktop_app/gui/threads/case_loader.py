"""Shows the selected case: cached images at once, else ``Engine.explain`` in a worker.

Latest wins: while one case is computed, only the most recently selected one
waits; those selected in between are skipped. The session keeps the cache and
what is on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from desktop_app.core.inference.results import AnalysisResult
from desktop_app.core.wording.text_safety import undecodable_escaped
from desktop_app.gui.panels.case_viewer import CaseViewer
from desktop_app.gui.panels.results_panel import ResultsPanel
from desktop_app.gui.threads.workers import TaskThread, ThreadRegistry
from desktop_app.session.session import Session

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import CaseImages


class CaseLoader(QObject):
    """``shown(result)`` once a case's images are on screen; ``failed(message)`` when the
    images of the selected case cannot be computed."""

    shown = Signal(object)
    failed = Signal(str)

    def __init__(self, session: Session, panel: ResultsPanel, viewer: CaseViewer,
                 threads: ThreadRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session, self._panel, self._viewer, self._threads = session, panel, viewer, threads
        self.closing: Callable[[], bool] = lambda: False

    def show(self, result: AnalysisResult | None) -> None:
        """Show ``result`` (None: nothing; an error row: its reason)."""
        if result is None:
            return
        if not result.ok:
            self._session.show_case(result, None)
            name = undecodable_escaped(result.path.name)
            self._viewer.show_message(f"{name} could not be analysed: {result.error}")
            return
        self.request(result)

    def request(self, result: AnalysisResult) -> None:
        engine = self._session.engine
        if engine is None:
            return
        cached = self._session.cached_case(result)
        if cached is not None:
            self._display(result, cached)
            return
        self._viewer.show_loading(undecodable_escaped(result.path.name))
        if self._session.begin_explain(result):
            task = TaskThread(lambda: engine.explain(result.path), "explain",
                              on_done=lambda images: self._on_ready(result, images),
                              on_error=lambda message: self._on_failed(result, message))
            self._threads.start(task)

    def _is_current(self, result: AnalysisResult) -> bool:
        current = self._panel.current_result()
        return (current is not None and current.path == result.path
                and not self._session.explain_waiting)

    def _on_ready(self, result: AnalysisResult, images: CaseImages) -> None:
        self._session.store_case(result, images)
        current = self._panel.current_result()
        if current is not None and self._is_current(result):
            self._display(current, images)
        self._next()

    def _on_failed(self, result: AnalysisResult, message: str) -> None:
        if self._is_current(result):
            self._session.show_case(result, None)
            self._viewer.show_message(f"{undecodable_escaped(result.path.name)}: the case cannot be shown")
            self.failed.emit(f"Could not compute the case images: {message}")
        self._next()

    def _next(self) -> None:
        nxt = self._session.end_explain()
        if nxt is not None and not self.closing():
            self.request(nxt)

    def _display(self, result: AnalysisResult, images: CaseImages) -> None:
        self._session.show_case(result, images)
        self._viewer.show_case(images, undecodable_escaped(result.path.name))
        self.shown.emit(result)
