"""The main window: lays out the panels and binds them to the Qt-free :class:`Session`.

The session decides (model, operating point, batch queue, results, review);
this window runs the workers (desktop_app.gui.threads.workers) and shows what the
session's events say. Every signal from a batch carries its id so a cancelled
or replaced batch can never write into the current table. Actions are data
(desktop_app.gui.shell.actions).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QWidget

from desktop_app.core.base import paths
from desktop_app.core.imaging.heatmap import CASE_SCALE, FIXED_SCALE
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.core.model.operating_points import borderline_low
from desktop_app.gui.panels.dicom_panel import SendToPacsDialog
from desktop_app.gui.panels.thumbnails import ThumbnailLoader
from desktop_app.gui.shell import menus, model_switch, window_layout
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.shell.actions import ActionContext, build_actions, update_enabled
from desktop_app.gui.shell.case_views import CaseViews
from desktop_app.gui.shell.icons import load_icon
from desktop_app.gui.threads.batch_runner import BatchRunner
from desktop_app.gui.threads.case_loader import CaseLoader
from desktop_app.gui.threads.model_loader import ModelLoader
from desktop_app.gui.threads.model_loading import ModelPreload
from desktop_app.gui.threads.workers import ThreadRegistry
from desktop_app.gui.windows.common import AboutDialog, DialogPathProvider, PathProvider
from desktop_app.gui.windows.exports import Exporter
from desktop_app.session.session import BatchEnd, OpenPlan, Session, ShownCase

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import Engine
    from desktop_app.core.model.model_file import LoadedModel

log = logging.getLogger("dermscreen.gui")

APP_TITLE = model_switch.APP_TITLE


CLOSE_TIMEOUT_S = 1.5  # closing waits this long for workers, then leaves them to end alone


class MainWindow(QMainWindow):
    """The DermScreen window. ``model_path`` None opens the saved or default model."""

    model_ready = Signal(object)  # LoadedModel
    model_failed = Signal(str)
    batch_started = Signal(int)
    batch_finished = Signal(bool)  # cancelled
    case_shown = Signal(object)  # AnalysisResult whose images are displayed
    export_finished = Signal(str)
    export_failed = Signal(str)

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        open_paths: Sequence[str | Path] = (),
        path_provider: PathProvider | None = None,
        preload: ModelPreload | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(load_icon("dermscreen"))
        self.setAcceptDrops(True)
        self.path_provider: PathProvider = path_provider or DialogPathProvider()
        self.session = Session(review_path=app_settings.review_file_path())
        self.session.queued_inputs = [str(p) for p in open_paths] or None
        self.threads = ThreadRegistry()
        self._closing = False
        self._about: AboutDialog | None = None
        self._pacs: SendToPacsDialog | None = None

        self.models = ModelLoader(self.session, self.threads, self)
        self.models.loaded.connect(self._on_model_loaded)
        self.models.failed.connect(self._on_model_failed)
        self._build_widgets()
        self.views = CaseViews(self)  # compare, full screen, the original alone, shortcuts
        self.actions_by_name = build_actions(self)
        menus.build_menus(self)
        self._restore_settings()
        self._bind_session()
        self.batches = BatchRunner(self.session, self.batch_status, self.threads, self)
        self.batches.ended.connect(self._on_batch_ended)
        self.batches.message.connect(self.show_message)
        self.thumbnails = ThumbnailLoader(self.results_panel, lambda: self.session.batch_id, self)
        self.threads.keep(self.thumbnails.worker)
        self.cases = CaseLoader(self.session, self.results_panel, self.case_viewer, self.threads,
                                self)
        self.cases.closing = lambda: self._closing
        self.cases.shown.connect(self.case_shown)
        self.cases.failed.connect(lambda text: self.show_message(text, "error"))
        self.exporter = Exporter(self.session, self, self.path_provider, self.threads,
                                 self.results_panel.current_result,
                                 lambda: self.case_viewer.opacity)
        self.exporter.finished.connect(self.export_finished)
        self.exporter.failed.connect(self.export_failed)
        self.exporter.message.connect(self.show_message)
        self.exporter.status.connect(self.batch_status.say)
        self.exporter.site_fields = self.site.report_fields
        self.update_actions()
        self.load_model(model_path if model_path is not None else app_settings.initial_model_path(),
                        preload=preload)

    # ------------------------------------------------------------------ layout
    def _build_widgets(self) -> None:
        window_layout.build_widgets(self)

    def _bind_session(self) -> None:
        s = self.session
        s.results.inserted.connect(lambda _span: self._results_changed())
        s.results.changed.connect(lambda _span: self._results_changed())
        s.results.reset.connect(lambda _none: self._results_changed())
        s.reviews.changed.connect(lambda _sha: self.results_panel.refresh_reviews())

    def _restore_settings(self) -> None:
        window_layout.restore_settings(self)

    def _save_settings(self) -> None:
        window_layout.save_settings(self)

    # ------------------------------------------------------------------ state -> widgets
    def update_actions(self) -> None:
        s = self.session
        has_case = s.engine is not None and self.results_panel.current_result() is not None
        update_enabled(self.actions_by_name, ActionContext(
            can_analyse=s.can_analyse, running=s.running, has_rows=len(s.results) > 0,
            has_case=has_case))
        self.operating_point.setEnabled(s.can_analyse and s.model is not None)

    def _results_changed(self) -> None:
        self.results_panel.update_summary(self.session.results.counts())
        self.update_actions()

    @property
    def busy(self) -> bool:
        """True while a batch runs."""
        return self.session.running

    # Read-only views of the session, for scripts (bench, screenshots) that drive the window.
    model = property(lambda self: self.session.model)
    engine = property(lambda self: self.session.engine)
    model_error = property(lambda self: self.session.model_error)
    threshold = property(lambda self: self.session.threshold)

    @property
    def analysis_enabled(self) -> bool:
        return self.open_folder_action.isEnabled()

    # ------------------------------------------------------------------ model
    def load_model(self, path: str | Path, *, preload: ModelPreload | None = None,
                   remember: bool = False) -> None:
        """Load ``path`` in a worker (analysis is off until it is ready); ``remember``: open
        it next time too; ``preload``: a load of that file run_gui already started."""
        if not self.models.load(Path(path), preload=preload, remember=remember):
            self.show_message("A model is already being loaded; try again in a moment.", "warning")
            return
        self.cancel_batch()
        self.update_actions()
        self.model_status.loading(Path(path).name)

    def _on_model_loaded(self, path: Path, value: tuple[LoadedModel, Engine]) -> None:
        model_switch.on_model_loaded(self, path, value)

    def _on_model_failed(self, path: Path, message: str) -> None:
        model_switch.on_model_failed(self, path, message)

    def choose_model_file(self) -> None:
        current = self.session.model_path
        start = str(current.parent) if current else str(paths.bundled_models_dir())
        path = self.path_provider.open_model(self, start)
        if path:
            self.load_model(path, remember=True)

    # ------------------------------------------------------------------ batch
    def set_include_subfolders(self, on: bool) -> None:
        app_settings.save_include_subfolders(on)

    def set_show_patient(self, on: bool) -> None:
        """View > Show Patient Identity: the DICOM patient fields in the window and reports."""
        app_settings.save_show_patient_identity(on)
        self.case_fields.set_show_identity(on)

    def send_to_pacs(self) -> SendToPacsDialog:
        """File > Send to PACS…: a small non-modal dialog; the sending runs on a worker."""
        if self._pacs is None:
            self._pacs = SendToPacsDialog(self.threads, parent=self)
        self._pacs.show()
        self._pacs.raise_()
        return self._pacs

    def choose_folder(self) -> None:
        folder = self.path_provider.open_folder(self, app_settings.last_dir())
        if folder:
            self.open_paths([folder])

    def choose_images(self) -> None:
        files = self.path_provider.open_files(self, app_settings.last_dir())
        if files:
            self.open_paths(files)

    def open_paths(self, inputs: Sequence[str | Path]) -> bool:
        """Analyse files and/or folders (replacing the table). False when it cannot start now."""
        items = [str(p) for p in inputs if str(p)]
        plan = self.session.plan_open(items)
        if plan is OpenPlan.NO_MODEL:
            self.show_message(f"Cannot analyse: no model is loaded. {model_switch.MODEL_HELP}", "error")
        elif plan is OpenPlan.AFTER_BATCH:
            self.cancel_batch()  # the queued request starts once it has stopped
        elif plan is OpenPlan.START:
            app_settings.save_last_dir(items[0] if Path(items[0]).is_dir()
                                       else Path(items[0]).parent)
            self._start_batch(items)
        return plan not in (OpenPlan.NOTHING, OpenPlan.NO_MODEL)

    def _start_batch(self, items: list[str]) -> None:
        engine = self.session.engine
        assert engine is not None  # plan_open said START
        self.results_model.roots = [Path(p) for p in items if Path(p).is_dir()]
        self.thumbnails.clear()
        self.case_viewer.show_message("Select a case in the results table")
        self.score_panel.show_result(None)
        self.review_panel.show_case(None)
        self.message_bar.hide()
        batch_id = self.batches.start(engine, items,
                                      recursive=self.include_subfolders_action.isChecked())
        self.update_actions()
        self.batch_started.emit(batch_id)

    def cancel_batch(self) -> None:
        self.batches.cancel()

    def _on_batch_ended(self, end: BatchEnd) -> None:
        self.update_actions()
        self.batch_finished.emit(end.cancelled)
        if end.queued and self.session.engine is not None:
            self.open_paths(end.queued)
            return
        self.results_panel.sort_by_score()
        if self.table.currentIndex().row() < 0 and self.proxy.rowCount() > 0:
            self.select_row(0)
        self.site.check_drift()

    # ------------------------------------------------------------------ table and case
    def select_row(self, row: int) -> None:
        """Select proxy ``row`` (what the user sees) and show its case."""
        self.results_panel.select_row(row)

    def visible_results(self) -> list[AnalysisResult]:
        """Results in the table's current order and filter."""
        return self.results_panel.visible_results()

    @property
    def shown_case(self) -> ShownCase | None:
        """(AnalysisResult, CaseImages) in the case viewer, or None."""
        return self.session.shown_case

    def _on_current_row(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self.update_actions()
        result = self.results_panel.current_result()
        self.score_panel.show_result(result)
        self.review_panel.show_case(result)
        self.case_fields.show_case(result)
        if result is None:  # filtered away or gone: the viewer never keeps a stale case
            self.session.shown_case = None
            self.case_viewer.show_message("Select a case in the results table")
        self.cases.show(result)

    def mark_reviewed_and_next(self) -> bool:
        """R: mark the selected case reviewed, then go to the next case in the list (with
        the Unreviewed filter the marked row leaves, and the next one takes its place)."""
        current = self.results_panel.current_result()
        if current is None or self.review_panel.shown is not current:
            return False
        row = self.table.currentIndex().row()
        shown = self.results_panel.visible_results()
        after = shown[row + 1] if 0 <= row < len(shown) - 1 else None
        if not self.review_panel.mark():
            return False
        if after is not None:
            rows = self.results_panel.visible_results()
            if after in rows:
                self.select_row(rows.index(after))
        return True

    def set_case_scale(self, on: bool) -> None:
        """Heatmap on this case's own scale (on) or the model's fixed scale (off)."""
        self.case_viewer.set_scale(CASE_SCALE if on else FIXED_SCALE)

    def _set_band(self, low: float | None) -> None:
        self.results_model.words.band_low = low
        self.score_panel.set_band(low)

    # ------------------------------------------------------------------ decisions, review
    def _on_threshold_chosen(self, threshold: float) -> None:
        model = self.session.model
        if model is None:
            return
        self._set_band(borderline_low(model.metadata, threshold))
        self.session.set_threshold(threshold)
        self.score_panel.set_threshold(threshold)
        self.proxy.refilter()  # a case may move between flagged, borderline and not flagged
        self.results_panel.update_summary()
        self.score_panel.show_result(self.results_panel.current_result())
        point = self.operating_point
        app_settings.save_alpha(None if point.at_model_default else point.alpha, model.sha256)

    # ------------------------------------------------------------------ messages, about
    def show_message(self, text: str, level: str = "info") -> None:
        """A non-blocking message strip at the top of the window."""
        (log.error if level == "error" else log.info)("message: %s", text)
        self.message_bar.show_message(text, level)

    def show_about(self) -> AboutDialog:
        if self._about is not None:
            self._about.close()
            self._about.deleteLater()
        self._about = AboutDialog(self.session.model, self.session.model_error, self)
        self._about.show()  # non-modal: the window keeps working
        return self._about

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        menus.accept_local_paths(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        menus.accept_local_paths(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        dropped = menus.accept_local_paths(event)
        if dropped:
            self.open_paths(dropped)

    # ------------------------------------------------------------------ shutdown
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Save settings and stop the workers; returns within CLOSE_TIMEOUT_S even when a
        worker is stuck (a read that never returns): that one is left to end on its own."""
        self._closing = True
        self._save_settings()
        self.batches.stop_flushing()
        self.site.stop()
        stuck = self.threads.stop_all(CLOSE_TIMEOUT_S)
        self.views.close_all()
        for dialog in (self._about, self._pacs):
            if dialog is not None:
                dialog.close()
        log.info("window closed%s", f"; still running: {', '.join(stuck)}" if stuck else "")
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every worker (for tests and embedding); safe to call twice."""
        if not self._closing:
            self.close()
