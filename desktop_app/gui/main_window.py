"""The main window: batch table, case viewer, score panel and operating point.

The GUI thread only moves data between widgets. Model loading, batches,
thumbnails, case images and exports run in QThreads (desktop_app.gui.workers)
and come back by queued signals; every signal from a batch carries its id so
a cancelled or replaced batch can never write into the current table.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import paths
from desktop_app.core.results import redecide
from desktop_app.gui import settings as app_settings
from desktop_app.gui.case_viewer import CaseViewer
from desktop_app.gui.dialogs import AboutDialog, DialogPathProvider, MessageBar, PathProvider
from desktop_app.gui.icons import load_icon
from desktop_app.gui.model_loading import ModelPreload, load_model_and_engine
from desktop_app.gui.operating_point import OperatingPointControl
from desktop_app.gui.results_model import (
    COL_DECISION,
    COL_FILE,
    COL_PERCENTILE,
    COL_SCORE,
    COL_THUMB,
    FILTER_ALL,
    FILTER_ANOMALOUS,
    FILTER_ERRORS,
    RESULT_ROLE,
    THUMB_RETRY_S,
    ResultsFilterProxy,
    ResultsModel,
)
from desktop_app.gui.score_panel import ScorePanel
from desktop_app.gui.workers import THUMB_SIZE, BatchThread, TaskThread, ThumbnailThread

log = logging.getLogger("dermscreen.gui")

APP_TITLE = "DermScreen"
FLUSH_MS = 100  # results are added to the table in small bursts, not one by one
CASE_CACHE_SIZE = 8
MODEL_HELP = (
    "Analysis is disabled. Choose a model with Model ▸ Open Model File… "
    f"or put {paths.DEFAULT_MODEL_NAME} in {paths.bundled_models_dir()}."
)


def format_eta(seconds: float | None) -> str:
    """'about 12 s left', 'about 3 min left' or '' when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s left"
    return f"about {round(seconds / 60)} min left"


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

        self.model: Any = None
        self.engine: Any = None
        self.model_path: Path | None = None
        self.model_error = ""
        self.threshold: float | None = None
        self.last_inputs: list[str] = []
        self._loading_model = False
        self._remember_model = False
        self._queued_inputs: list[str] | None = [str(p) for p in open_paths] or None
        self._batch: BatchThread | None = None
        self._batch_id = 0
        self._pending: list[Any] = []
        self._threads: set[Any] = set()
        self._explain_busy = False
        self._explain_next: Any = None
        self._case_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._shown_case: tuple[Any, Any] | None = None  # (result, CaseImages)
        self._closing = False
        self._about: AboutDialog | None = None

        self._build_widgets()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._restore_settings()

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush_results)

        self._thumbs = ThumbnailThread(THUMB_SIZE)
        self._thumbs.ready.connect(self._on_thumbnail)
        self._thumbs.failed.connect(self._on_thumbnail_failed)
        self._thumbs.idle.connect(self._on_thumbnails_idle)
        self._thumbs.start()
        self.results_model.thumbnail_wanted.connect(self._want_thumbnail)
        # Rows in view ask for previews whenever what is in view may change, so no row
        # depends on having been painted (offscreen, minimised or scrolled past).
        scroll = self.table.verticalScrollBar()
        scroll.valueChanged.connect(self.request_visible_thumbnails)
        scroll.rangeChanged.connect(self.request_visible_thumbnails)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved,
                       self.proxy.layoutChanged, self.proxy.modelReset):
            signal.connect(self.request_visible_thumbnails)

        self._set_analysis_enabled(False)
        self.load_model(model_path if model_path is not None else app_settings.initial_model_path(),
                        preload=preload)

    # ------------------------------------------------------------------ building
    def _build_widgets(self) -> None:
        self.banner = MessageBar(closable=False)
        self.banner.setObjectName("ModelBanner")
        self.banner.action_clicked.connect(self.choose_model_file)
        self.message_bar = MessageBar()

        self.results_model = ResultsModel(self)
        self.proxy = ResultsFilterProxy(self)
        self.proxy.setSourceModel(self.results_model)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # arrival order until asked
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(THUMB_SIZE + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_THUMB, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(COL_THUMB, THUMB_SIZE + 10)
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(COL_FILE, 150)
        for col, width in ((COL_SCORE, 70), (COL_DECISION, 95), (COL_PERCENTILE, 75)):
            header.resizeSection(col, width)
        header.setStretchLastSection(True)
        self.table.setAccessibleName("Results")
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.activated.connect(lambda _idx: self.case_viewer.setFocus())

        self.filter_combo = QComboBox()
        self.filter_combo.addItem("All results", FILTER_ALL)
        self.filter_combo.addItem("Anomalous only", FILTER_ANOMALOUS)
        self.filter_combo.addItem("Errors only", FILTER_ERRORS)
        self.filter_combo.setToolTip("Which rows the table shows (Ctrl+1, Ctrl+2, Ctrl+3)")
        self.filter_combo.currentIndexChanged.connect(self._on_filter_mode)
        self.name_filter = QLineEdit()
        self.name_filter.setPlaceholderText("Filter by file name (Ctrl+F)")
        self.name_filter.setClearButtonEnabled(True)
        self.name_filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.summary_label = QLabel("No images analysed yet. Open a folder or drop images here.")
        self.summary_label.setWordWrap(True)

        self.operating_point = OperatingPointControl()
        self.operating_point.alpha_changed.connect(self._on_alpha_changed)

        filters = QHBoxLayout()
        filters.addWidget(self.filter_combo)
        filters.addWidget(self.name_filter, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        left_layout.addWidget(self.operating_point)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.summary_label)

        self.case_viewer = CaseViewer()
        self.case_viewer.opacity_changed.connect(app_settings.save_opacity)
        self.score_panel = ScorePanel()
        for widget in (self.case_viewer.graphics, self.score_panel.plot):
            # Drops land on the window, wherever the pointer is.
            widget.setAcceptDrops(False)
        self.table.setAcceptDrops(False)
        self.table.viewport().setAcceptDrops(False)

        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.addWidget(self.case_viewer)
        self.right_splitter.addWidget(self.score_panel)
        self.right_splitter.setStretchFactor(0, 3)
        self.right_splitter.setStretchFactor(1, 1)
        self.right_splitter.setSizes([600, 300])

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.right_splitter)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([560, 840])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        bar = self.statusBar()
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m")
        self.progress_bar.setMinimumWidth(220)
        self.eta_label = QLabel()
        self.cancel_button = QPushButton(load_icon("cancel"), "Cancel")
        self.cancel_button.setToolTip("Stop the batch; results so far are kept (Esc)")
        self.cancel_button.clicked.connect(self.cancel_batch)
        for widget in (self.progress_bar, self.eta_label, self.cancel_button):
            bar.addWidget(widget)
            widget.hide()
        self.model_label = QLabel("No model")
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.provider_label = QLabel("")
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.provider_label)

    def _action(
        self, text: str, slot: Callable[[], Any], shortcut: str | QKeySequence | None = None,
        icon: str | None = None, tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(load_icon(icon))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work wherever the focus is in the window
        return action

    def _build_actions(self) -> None:
        self.open_folder_action = self._action(
            "Open &Folder…", self.choose_folder, QKeySequence.StandardKey.Open, "open-folder",
            "Analyse every image in a folder")
        self.open_images_action = self._action(
            "Open &Images…", self.choose_images, "Ctrl+Shift+O", "open-images",
            "Analyse selected image files")
        self.export_csv_action = self._action(
            "Export &CSV…", self.export_csv, "Ctrl+E", "export-csv",
            "Save every result as a CSV table")
        self.export_pdf_action = self._action(
            "Export &PDF Summary…", self.export_summary_pdf, "Ctrl+P", "export-pdf",
            "Save a PDF summary of the batch")
        self.export_case_pdf_action = self._action(
            "Export Case P&DF…", self.export_case_pdf, "Ctrl+Shift+P", None,
            "Save a PDF report of the selected case")
        self.cancel_action = self._action(
            "&Cancel Batch", self.cancel_batch, "Esc", "cancel", "Stop the running batch")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.about_action = self._action("&About DermScreen", self.show_about, None, "about",
                                         "Intended use and the model card")
        self.fit_action = self._action("&Fit Image", self.case_viewer.fit, "F", "fit",
                                       "Show the whole image in the case views")
        self.one_to_one_action = self._action("&Actual Size (1:1)", self.case_viewer.one_to_one,
                                              "1", None, "One image pixel per screen pixel")
        self.filter_actions = [
            self._action("Show &All", lambda: self.set_filter_mode(FILTER_ALL), "Ctrl+1"),
            self._action("Show A&nomalous Only",
                         lambda: self.set_filter_mode(FILTER_ANOMALOUS), "Ctrl+2"),
            self._action("Show &Errors Only", lambda: self.set_filter_mode(FILTER_ERRORS),
                         "Ctrl+3"),
        ]
        self.find_action = self._action("Find File…", self.name_filter.setFocus,
                                        QKeySequence.StandardKey.Find)
        self.open_model_action = self._action("Open &Model File…", self.choose_model_file, None,
                                              "model", "Use another DermScreen ONNX model")
        self.cancel_action.setEnabled(False)

    def _build_menus_and_toolbar(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open_folder_action)
        file_menu.addAction(self.open_images_action)
        self.recent_menu = file_menu.addMenu("&Recent Folders")
        self.recent_menu.aboutToShow.connect(self._rebuild_recent_menu)
        self._rebuild_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(self.export_csv_action)
        file_menu.addAction(self.export_pdf_action)
        file_menu.addAction(self.export_case_pdf_action)
        file_menu.addSeparator()
        file_menu.addAction(self.cancel_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.fit_action)
        view_menu.addAction(self.one_to_one_action)
        view_menu.addSeparator()
        for action in self.filter_actions:
            view_menu.addAction(action)
        view_menu.addAction(self.find_action)

        self.model_menu = menu.addMenu("&Model")
        self.model_menu.aboutToShow.connect(self._rebuild_model_menu)
        self._model_group = QActionGroup(self)
        # Filled when opened: listing models imports ONNX Runtime, which would slow start-up.
        self.model_menu.addAction(self.open_model_action)

        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.about_action)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("MainToolBar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.open_folder_action, self.open_images_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        for action in (self.export_csv_action, self.export_pdf_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.cancel_action)
        toolbar.addAction(self.about_action)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        folders = app_settings.recent_folders()
        for folder in folders:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _c=False, f=folder: self.open_paths([f]))
            action.setEnabled(self.engine is not None or self._loading_model)
        if not folders:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear Recent Folders")
            clear.triggered.connect(app_settings.clear_recent_folders)

    def available_models(self) -> list[Path]:
        """Models in the bundled and user model folders (plus the loaded one)."""
        from desktop_app.core.model_file import find_models

        found = find_models()
        if self.model_path is not None and all(
            p.resolve() != self.model_path.resolve() for p in found
        ):
            found.append(self.model_path)
        return found

    def _rebuild_model_menu(self) -> None:
        self.model_menu.clear()
        self.model_menu.addAction(self.open_model_action)
        self.model_menu.addSeparator()
        for action in self._model_group.actions():
            self._model_group.removeAction(action)
        try:
            models = self.available_models()
        except Exception:  # a broken models folder must not break the menu
            log.exception("listing models failed")
            models = []
        for path in models:
            action = self.model_menu.addAction(path.name)
            action.setToolTip(str(path))
            action.setCheckable(True)
            is_current = self.model_path is not None and path.resolve() == self.model_path.resolve()
            action.setChecked(is_current)
            action.triggered.connect(lambda _c=False, p=path: self.load_model(p, remember=True))
            self._model_group.addAction(action)
        if not models:
            self.model_menu.addAction("(no models found)").setEnabled(False)

    def _restore_settings(self) -> None:
        self.resize(1400, 900)
        geometry = app_settings.saved_bytes(app_settings.KEY_GEOMETRY)
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = app_settings.saved_bytes(app_settings.KEY_STATE)
        if state is not None:
            self.restoreState(state)
        splitter = app_settings.saved_bytes(app_settings.KEY_SPLITTER)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.case_viewer.set_opacity(app_settings.saved_opacity())

    def _save_settings(self) -> None:
        app_settings.save_bytes(app_settings.KEY_GEOMETRY, self.saveGeometry())
        app_settings.save_bytes(app_settings.KEY_STATE, self.saveState())
        app_settings.save_bytes(app_settings.KEY_SPLITTER, self.splitter.saveState())

    # ------------------------------------------------------------------ threads
    def _start_thread(self, thread: Any) -> None:
        self._threads.add(thread)
        thread.finished.connect(lambda t=thread: self._forget_thread(t))
        thread.start()

    def _forget_thread(self, thread: Any) -> None:
        self._threads.discard(thread)
        thread.deleteLater()

    def _run_task(self, fn: Callable[[], Any], tag: Any, name: str,
                  on_done: Callable[[Any, Any], None],
                  on_error: Callable[[Any, str], None]) -> TaskThread:
        task = TaskThread(fn, tag, name)
        task.succeeded.connect(on_done)
        task.failed.connect(on_error)
        self._start_thread(task)
        return task

    @property
    def busy(self) -> bool:
        """True while a batch runs."""
        return self._batch is not None

    # ------------------------------------------------------------------ model
    def load_model(
        self, path: str | Path, *, preload: ModelPreload | None = None, remember: bool = False
    ) -> None:
        """Load ``path`` in a worker; analysis stays disabled until it is ready.

        ``preload``: a load of the same file already started (by run_gui, before
        the window was built); the worker then only waits for it. ``remember``:
        the user chose this model, so the next start opens it too.
        """
        path = Path(path)
        if self._loading_model:
            self.show_message("A model is already being loaded; try again in a moment.", "warning")
            return
        if self._batch is not None:
            self.cancel_batch()
        self._loading_model = True
        self._remember_model = remember
        self._set_analysis_enabled(False)
        self.model_label.setText(f"Loading model {path.name}…")
        self.provider_label.setText("")
        if preload is not None and preload.path == path:
            load: Callable[[], Any] = preload.result
        else:
            def load() -> Any:
                return load_model_and_engine(path)
        self._run_task(load, path, "load-model", self._on_model_loaded, self._on_model_failed)

    def _on_model_loaded(self, path: Path, value: tuple[Any, Any]) -> None:
        self._loading_model = False
        if self._closing:
            return
        previous = self.model_path
        self.model, self.engine = value
        self.model_path = Path(path)
        self.model_error = ""
        meta = self.model.metadata
        log.info("model loaded: %s (%s, %s)", path, self.model.short_sha, self.model.provider)
        self.banner.hide()
        self.model_label.setText(
            f"Model {meta.model_name} {meta.model_version} · sha {self.model.short_sha}"
        )
        self.model_label.setToolTip(f"{self.model.path}\nSHA-256 {self.model.sha256}")
        self.provider_label.setText(f"Runs on {self.model.provider_label}")
        self.setWindowTitle(f"{APP_TITLE} — {meta.model_name} {meta.model_version}")
        stats = meta.benign_stats
        self.operating_point.set_model(stats, meta.operating_points, meta.threshold,
                                       app_settings.saved_alpha(self.model.sha256))
        self.threshold = self.operating_point.threshold
        self.score_panel.set_stats(stats)
        self.score_panel.set_threshold(self.threshold)
        self.case_viewer.set_vmax(meta.heatmap_vmax)
        self._case_cache.clear()
        self._set_analysis_enabled(True)
        if self._remember_model:
            app_settings.save_model_path(self.model_path)
        self.model_ready.emit(self.model)
        rerun = self._queued_inputs
        if rerun is None and previous is not None and previous != self.model_path:
            rerun = self.last_inputs or None  # a new model re-analyses what is shown
        self._queued_inputs = None
        if rerun:
            self.open_paths(rerun)

    def _on_model_failed(self, path: Path, message: str) -> None:
        self._loading_model = False
        if self._closing:
            return
        log.error("model %s could not be loaded: %s", path, message)
        self.model_error = message
        if self.engine is not None:
            # Keep the model that works; say why the new one was refused.
            self._set_analysis_enabled(True)
            meta = self.model.metadata
            self.model_label.setText(
                f"Model {meta.model_name} {meta.model_version} · sha {self.model.short_sha}"
            )
            self.provider_label.setText(f"Runs on {self.model.provider_label}")
            self.show_message(f"The model could not be loaded: {message}. "
                              "The previous model stays in use.", "error")
        else:
            self.model_label.setText("No model")
            self.banner.show_message(
                f"The model could not be loaded: {message}. {MODEL_HELP}", "error",
                action="Open Model File…",
            )
        self.model_failed.emit(message)

    def _set_analysis_enabled(self, enabled: bool) -> None:
        running = self._batch is not None
        for action in (self.open_folder_action, self.open_images_action):
            action.setEnabled(enabled)
        has_rows = self.results_model.rowCount() > 0
        self.export_csv_action.setEnabled(enabled and has_rows)
        self.export_pdf_action.setEnabled(enabled and has_rows)
        self.export_case_pdf_action.setEnabled(enabled and self._current_result() is not None)
        self.cancel_action.setEnabled(running)
        self.operating_point.setEnabled(enabled and self.model is not None)

    @property
    def can_analyse(self) -> bool:
        """A model is loaded and no other one is being loaded."""
        return self.engine is not None and not self._loading_model

    @property
    def analysis_enabled(self) -> bool:
        return self.open_folder_action.isEnabled()

    def choose_model_file(self) -> None:
        start = str(self.model_path.parent) if self.model_path else str(paths.bundled_models_dir())
        path = self.path_provider.open_model(self, start)
        if path:
            self.load_model(path, remember=True)

    # ------------------------------------------------------------------ batch
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
        if not items:
            return False
        if self._loading_model:
            self._queued_inputs = items  # started once the model is ready
            return True
        if self.engine is None:
            self.show_message(f"Cannot analyse: no model is loaded. {MODEL_HELP}", "error")
            return False
        if self._batch is not None:
            # Start after the running batch has stopped (it stops within a file or two).
            self._queued_inputs = items
            self._batch.cancel()
            return True
        for item in items:
            if Path(item).is_dir():
                app_settings.add_recent_folder(item)
        app_settings.save_last_dir(items[0] if Path(items[0]).is_dir() else Path(items[0]).parent)
        self._start_batch(items)
        return True

    def _start_batch(self, items: list[str]) -> None:
        self._batch_id += 1
        self.last_inputs = items
        self._pending.clear()
        self._thumbs.clear()
        self.results_model.clear()
        self._shown_case = None
        self.case_viewer.show_message("Select a case in the results table")
        self.score_panel.show_result(None)
        self.message_bar.hide()
        batch = BatchThread(self.engine, self._batch_id, items, threshold=self.threshold)
        batch.result.connect(self._on_result)
        batch.progress.connect(self._on_progress)
        batch.failed.connect(self._on_batch_failed)
        batch.finished_batch.connect(self._on_batch_finished)
        self._batch = batch
        self.progress_bar.setRange(0, 0)  # busy until the first progress report
        for widget in (self.progress_bar, self.eta_label, self.cancel_button):
            widget.show()
        self.eta_label.setText("listing files…")
        self.cancel_button.setEnabled(True)
        self._flush_timer.start()
        self._set_analysis_enabled(True)
        log.info("batch %d started: %s", self._batch_id, items[:5])
        self._start_thread(batch)
        self.batch_started.emit(self._batch_id)

    def cancel_batch(self) -> None:
        if self._batch is not None:
            self._batch.cancel()
            self.cancel_button.setEnabled(False)
            self.eta_label.setText("cancelling…")

    def _on_result(self, batch_id: int, result: Any) -> None:
        if batch_id == self._batch_id:
            self._pending.append(result)

    def _flush_results(self) -> None:
        if not self._pending:
            return
        fresh, self._pending = self._pending, []
        stats = self.model.metadata.benign_stats if self.model is not None else None
        if stats is not None and self.threshold is not None:
            # The alpha may have moved since the batch started.
            fresh = [r if r.threshold == self.threshold else redecide(r, stats, self.threshold)
                     for r in fresh]
        self.results_model.add_results(fresh)
        self._update_summary()
        self._set_analysis_enabled(self.can_analyse)

    def _on_progress(self, batch_id: int, progress: Any) -> None:
        if batch_id != self._batch_id:
            return
        self.progress_bar.setRange(0, max(1, progress.total))
        self.progress_bar.setValue(progress.done)
        errors = f" · {progress.errors} errors" if progress.errors else ""
        self.eta_label.setText(f"{format_eta(progress.eta_s)}{errors}")

    def _on_batch_failed(self, batch_id: int, message: str) -> None:
        if batch_id == self._batch_id:
            self.show_message(
                f"The analysis stopped: {message}. The results so far are kept.", "error")

    def _on_batch_finished(self, batch_id: int, cancelled: bool) -> None:
        if batch_id != self._batch_id:
            return
        self._batch = None
        self._flush_timer.stop()
        self._flush_results()
        for widget in (self.progress_bar, self.eta_label, self.cancel_button):
            widget.hide()
        counts = self.results_model.counts()
        note = " (cancelled)" if cancelled else ""
        self.statusBar().showMessage(
            f"Analysed {counts['total']} files{note}: {counts['anomalous']} anomalous, "
            f"{counts['errors']} errors", 8000)
        log.info("batch %d finished%s: %s", batch_id, note, counts)
        if counts["total"] == 0 and not cancelled:
            shown = ", ".join(self.last_inputs[:3]) + (" …" if len(self.last_inputs) > 3 else "")
            self.show_message(f"No image files found in {shown}. DermScreen reads JPEG, PNG, "
                              "TIFF, BMP and WebP files.", "warning")
        self._set_analysis_enabled(self.can_analyse)
        queued, self._queued_inputs = self._queued_inputs, None
        self.batch_finished.emit(cancelled)
        if queued and self.engine is not None:
            self.open_paths(queued)
        elif self.table.currentIndex().row() < 0 and self.proxy.rowCount() > 0:
            self.select_row(0)

    def _update_summary(self) -> None:
        counts = self.results_model.counts()
        self.summary_label.setText(
            f"{counts['total']} files · {counts['anomalous']} anomalous · "
            f"{counts['normal']} normal · {counts['errors']} errors"
        )

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

    def request_visible_thumbnails(self, *_args: object) -> None:
        """Ask for the previews of every row in view that has none and none on its way."""
        keys = []
        for row in self.visible_rows():
            result = self.proxy.index(row, 0).data(RESULT_ROLE)
            if result is not None:
                keys.append(result.index)
        self.results_model.want_thumbnails(keys)

    def _want_thumbnail(self, index: int, path: Path) -> None:
        self._thumbs.submit((self._batch_id, index), path)

    def _on_thumbnails_idle(self) -> None:
        # Every answer the worker sent has arrived before this: what is still pending was
        # lost (dropped with a cleared queue, or asked under an older batch). Ask again.
        if self.results_model.pending_thumbnails():
            log.info("re-asking %d lost preview requests",
                     len(self.results_model.pending_thumbnails()))
            self.results_model.forget_requests()
            self.request_visible_thumbnails()

    def _on_thumbnail(self, key: tuple[int, int], image: QImage) -> None:
        batch_id, index = key
        if batch_id == self._batch_id:
            self.results_model.set_thumbnail(index, image)

    def _on_thumbnail_failed(self, key: tuple[int, int], reason: str) -> None:
        batch_id, index = key
        if batch_id == self._batch_id:
            self.results_model.set_thumbnail_failed(index, reason)
            # Another try once the retry delay has passed (a file still being copied).
            QTimer.singleShot(int(THUMB_RETRY_S * 1000) + 50, self.request_visible_thumbnails)

    # ------------------------------------------------------------------ table
    def set_filter_mode(self, mode: str) -> None:
        idx = self.filter_combo.findData(mode)
        if idx >= 0:
            self.filter_combo.setCurrentIndex(idx)

    def _on_filter_mode(self, _index: int) -> None:
        self.proxy.set_mode(self.filter_combo.currentData())

    def select_row(self, row: int) -> None:
        """Select proxy ``row`` (what the user sees) and show its case."""
        index = self.proxy.index(row, COL_FILE)
        if index.isValid():
            self.table.selectionModel().setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            self.table.scrollTo(index)

    def visible_results(self) -> list[Any]:
        """Results in the table's current order and filter."""
        return [self.proxy.index(r, 0).data(RESULT_ROLE)
                for r in range(self.proxy.rowCount())]

    def _current_result(self) -> Any | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        source = self.proxy.mapToSource(index)
        return self.results_model.result_at(source.row()) if source.isValid() else None

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.export_case_pdf_action.setEnabled(self.engine is not None and current.isValid())
        result = self._current_result()
        self.score_panel.show_result(result)
        if result is None:
            return
        if result.status != "ok":
            self._shown_case = None
            self.case_viewer.show_message(f"{result.path.name} could not be analysed: {result.error}")
            return
        self.request_case(result)

    # ------------------------------------------------------------------ case images
    def _cache_key(self, result: Any) -> tuple[str, str]:
        return (self.model.sha256 if self.model is not None else "", str(result.path))

    def request_case(self, result: Any) -> None:
        """Show ``result``'s images; computed by Engine.explain in a worker (latest wins)."""
        if self.engine is None:
            return
        cached = self._case_cache.get(self._cache_key(result))
        if cached is not None:
            self._case_cache.move_to_end(self._cache_key(result))
            self._display_case(result, cached)
            return
        self.case_viewer.show_loading(result.path.name)
        if self._explain_busy:
            self._explain_next = result
            return
        self._explain_busy = True
        engine = self.engine
        self._run_task(lambda: engine.explain(result.path), result, "explain",
                       self._on_case_ready, self._on_case_failed)

    def _after_explain(self) -> None:
        self._explain_busy = False
        nxt, self._explain_next = self._explain_next, None
        if nxt is not None and not self._closing:
            self.request_case(nxt)

    def _on_case_ready(self, result: Any, images: Any) -> None:
        if self.model is not None:
            self._case_cache[self._cache_key(result)] = images
            while len(self._case_cache) > CASE_CACHE_SIZE:
                self._case_cache.popitem(last=False)
        current = self._current_result()
        if current is not None and current.path == result.path and self._explain_next is None:
            self._display_case(current, images)
        self._after_explain()

    def _on_case_failed(self, result: Any, message: str) -> None:
        current = self._current_result()
        if current is not None and current.path == result.path and self._explain_next is None:
            self._shown_case = None
            self.case_viewer.show_message(f"{result.path.name}: the case cannot be shown")
            self.show_message(f"Could not compute the case images: {message}", "error")
        self._after_explain()

    def _display_case(self, result: Any, images: Any) -> None:
        self._shown_case = (result, images)
        self.case_viewer.show_case(images, result.path.name)
        self.case_shown.emit(result)

    @property
    def shown_case(self) -> tuple[Any, Any] | None:
        """(AnalysisResult, CaseImages) in the case viewer, or None."""
        return self._shown_case

    # ------------------------------------------------------------------ decisions
    def _on_alpha_changed(self, alpha: float, threshold: float) -> None:
        if self.model is None:
            return
        self.threshold = threshold
        stats = self.model.metadata.benign_stats
        self.results_model.map_results(lambda r: redecide(r, stats, threshold))
        self.score_panel.set_threshold(threshold)
        self.score_panel.show_result(self._current_result())
        if self._shown_case is not None:
            self._shown_case = (redecide(self._shown_case[0], stats, threshold),
                                self._shown_case[1])
        self._update_summary()
        app_settings.save_alpha(alpha, self.model.sha256)

    # ------------------------------------------------------------------ exports
    def _suggest(self, name: str) -> str:
        folder = app_settings.last_dir() or str(Path.home())
        return str(Path(folder) / name)

    def _export(self, title: str, suggested: str, filters: str, suffix: str,
                path: str | Path | None, write: Callable[[Path], Any]) -> bool:
        if path is None:
            path = self.path_provider.save_file(self, title, self._suggest(suggested), filters)
            if not path:
                return False
        target = Path(path)
        if target.suffix.lower() != suffix:
            target = target.with_name(target.name + suffix)
        self.statusBar().showMessage(f"Writing {target}…")
        self._run_task(lambda: write(target), target, "export",
                       self._on_export_done, self._on_export_failed)
        return True

    def _on_export_done(self, target: Path, _value: Any) -> None:
        log.info("exported %s", target)
        self.statusBar().showMessage(f"Saved {target}", 8000)
        self.show_message(f"Saved {target}", "info")
        self.export_finished.emit(str(target))

    def _on_export_failed(self, target: Path, message: str) -> None:
        self.show_message(f"Could not save {target.name}: {message}", "error")
        self.export_failed.emit(message)

    def export_csv(self, path: str | Path | None = None) -> bool:
        """Save all results as CSV (``path`` None asks the path provider)."""
        from desktop_app.reports.csv_report import write_results_csv

        results = self.results_model.results()
        if not results:
            self.show_message("There are no results to export yet.", "warning")
            return False
        return self._export("Export CSV", "results.csv", "CSV files (*.csv)", ".csv", path,
                            lambda t: write_results_csv(t, results))

    def export_summary_pdf(self, path: str | Path | None = None) -> bool:
        """Save the batch summary PDF (``path`` None asks the path provider)."""
        from desktop_app.reports.pdf_report import write_summary_pdf

        results = self.results_model.results()
        if not results or self.model is None or self.threshold is None:
            self.show_message("There are no results to export yet.", "warning")
            return False
        model, threshold, inputs = self.model, self.threshold, list(self.last_inputs)
        return self._export(
            "Export PDF summary", "summary.pdf", "PDF files (*.pdf)", ".pdf", path,
            lambda t: write_summary_pdf(t, results, model.metadata, threshold,
                                        model_sha256=model.sha256,
                                        provider=model.provider_label, inputs=inputs))

    def export_case_pdf(self, path: str | Path | None = None) -> bool:
        """Save the selected case's PDF report (``path`` None asks the path provider)."""
        from desktop_app.reports.names import case_pdf_name
        from desktop_app.reports.pdf_report import write_case_pdf

        result = self._current_result()
        if result is None or result.status != "ok" or self.engine is None:
            self.show_message("Select an analysed case to export its report.", "warning")
            return False
        engine, meta = self.engine, self.model.metadata
        cached = self._case_cache.get(self._cache_key(result))
        opacity = self.case_viewer.opacity

        def write(target: Path) -> Any:
            case = cached if cached is not None else engine.explain(result.path)
            return write_case_pdf(target, result, case, meta, opacity=opacity)

        return self._export("Export case PDF", case_pdf_name(result), "PDF files (*.pdf)", ".pdf",
                            path, write)

    # ------------------------------------------------------------------ messages, about
    def show_message(self, text: str, level: str = "info") -> None:
        """A non-blocking message strip at the top of the window."""
        (log.error if level == "error" else log.info)("message: %s", text)
        self.message_bar.show_message(text, level)

    def show_about(self) -> AboutDialog:
        if self._about is not None:
            self._about.close()
            self._about.deleteLater()
        self._about = AboutDialog(self.model, self.model_error, self)
        self._about.show()  # non-modal: the window keeps working
        return self._about

    # ------------------------------------------------------------------ drag and drop
    @staticmethod
    def _local_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._local_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self._local_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        dropped = self._local_paths(event)
        if not dropped:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_paths(dropped)

    # ------------------------------------------------------------------ shutdown
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._closing = True
        self._save_settings()
        if self._batch is not None:
            self._batch.cancel()
        self._flush_timer.stop()
        self._thumbs.requestInterruption()
        self._thumbs.wait()
        for thread in list(self._threads):
            if isinstance(thread, BatchThread):
                thread.cancel()
            thread.wait()
        if self._about is not None:
            self._about.close()
        log.info("window closed")
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every worker (for tests and embedding); safe to call twice."""
        if not self._closing:
            self.close()
