"""What each export writes, from the session's state at the moment it is asked for.

The writers run in a worker (the window starts them); each captures its inputs
now, so a batch or threshold that changes during the write cannot mix in.
When the shared "write batch reports" function lands in desktop_app.reports
(issue 16.4), these should call it instead of the three writers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from desktop_app.core.results import AnalysisResult
from desktop_app.gui import settings as app_settings
from desktop_app.gui.components.session import Session
from desktop_app.gui.dialogs import PathProvider
from desktop_app.gui.workers import TaskThread, ThreadRegistry

log = logging.getLogger("dermscreen.gui")

Writer = Callable[[Path], object]


@dataclass(frozen=True)
class ExportKind:
    title: str
    stem: str  # default file name before its time stamp
    filters: str
    suffix: str
    stamped: bool = True  # a second export never suggests the first one's name


CSV = ExportKind("Export CSV", "results", "CSV files (*.csv)", ".csv")
SUMMARY = ExportKind("Export PDF summary", "summary", "PDF files (*.pdf)", ".pdf")


def case_kind(result: AnalysisResult) -> ExportKind:
    from desktop_app.reports.names import case_pdf_name

    return ExportKind("Export case PDF", Path(case_pdf_name(result)).stem, "PDF files (*.pdf)",
                      ".pdf", stamped=False)


def suggested_name(kind: ExportKind, now: datetime | None = None) -> str:
    """``results-20261201-1830.csv``: time-stamped so a second export does not overwrite."""
    if not kind.stamped:
        return kind.stem + kind.suffix
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{kind.stem}-{stamp}{kind.suffix}"


def choose_target(parent: QWidget, provider: PathProvider, kind: ExportKind,
                  path: str | Path | None) -> Path | None:
    """``path``, or the one the user picks (None: cancelled); the suffix is added if missing."""
    if path is None:
        folder = app_settings.last_dir() or str(Path.home())
        path = provider.save_file(parent, kind.title, str(Path(folder) / suggested_name(kind)),
                                  kind.filters)
        if not path:
            return None
    target = Path(path)
    if target.suffix.lower() != kind.suffix:
        target = target.with_name(target.name + kind.suffix)
    return target


def csv_writer(session: Session) -> Writer | None:
    from desktop_app.reports.csv_report import write_results_csv

    results = session.results.in_input_order()
    if not results:
        return None
    return lambda target: write_results_csv(target, results)


def summary_writer(session: Session) -> Writer | None:
    from desktop_app.reports.pdf_report import write_summary_pdf

    results, model, threshold = session.results.in_input_order(), session.model, session.threshold
    if not results or model is None or threshold is None:
        return None
    inputs = list(session.last_inputs)
    return lambda target: write_summary_pdf(target, results, model.metadata, threshold,
                                            model_sha256=model.sha256,
                                            provider=model.provider_label, inputs=inputs)


def case_writer(session: Session, result: AnalysisResult | None, opacity: float) -> Writer | None:
    from desktop_app.reports.pdf_report import write_case_pdf

    engine, model = session.engine, session.model
    if result is None or not result.ok or engine is None or model is None:
        return None
    cached = session.cached_case(result)

    def write(target: Path) -> Path:
        case = cached if cached is not None else engine.explain(result.path)
        return write_case_pdf(target, result, case, model.metadata, opacity=opacity)

    return write


class Exporter(QObject):
    """Runs the exports in workers: ``finished(path)`` or ``failed(message)`` afterwards;
    ``message(text, level)`` for the window's message strip."""

    finished = Signal(str)
    failed = Signal(str)
    message = Signal(str, str)
    status = Signal(str)

    def __init__(self, session: Session, parent_widget: QWidget, provider: PathProvider,
                 threads: ThreadRegistry, current: Callable[[], AnalysisResult | None],
                 opacity: Callable[[], float]) -> None:
        super().__init__(parent_widget)
        self._session, self._widget, self._threads = session, parent_widget, threads
        self.provider = provider
        # The selected case, and the overlay opacity its PDF is drawn with.
        self.current, self.opacity = current, opacity

    def _run(self, kind: ExportKind, path: str | Path | None, write: Writer | None,
             missing: str = "There are no results to export yet.") -> bool:
        if write is None:
            self.message.emit(missing, "warning")
            return False
        target = choose_target(self._widget, self.provider, kind, path)
        if target is None:
            return False
        self.status.emit(f"Writing {target.name}…")
        self._threads.start(TaskThread(lambda: write(target), "export",
                                       on_done=lambda _v: self._done(target),
                                       on_error=lambda text: self._failed(target, text)))
        return True

    def _done(self, target: Path) -> None:
        log.info("exported %s", target.name)
        self.message.emit(f"Saved {target}", "info")
        self.finished.emit(str(target))

    def _failed(self, target: Path, text: str) -> None:
        self.message.emit(f"Could not save {target.name}: {text}", "error")
        self.failed.emit(text)

    def export_csv(self, path: str | Path | None = None) -> bool:
        """Save all results as CSV (``path`` None asks the path provider)."""
        return self._run(CSV, path, csv_writer(self._session))

    def export_summary_pdf(self, path: str | Path | None = None) -> bool:
        """Save the batch summary PDF (``path`` None asks the path provider)."""
        return self._run(SUMMARY, path, summary_writer(self._session))

    def export_case_pdf(self, path: str | Path | None = None) -> bool:
        """Save the selected case's PDF report (``path`` None asks the path provider)."""
        result = self.current()
        write = case_writer(self._session, result, self.opacity())
        kind = case_kind(result) if result is not None and write is not None else SUMMARY
        return self._run(kind, path, write, "Select an analysed case to export its report.")
