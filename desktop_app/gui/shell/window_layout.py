"""The main window's widgets, laid out, and the layout's remembered state (geometry,
splitters, columns). Functions of the window so main_window.py keeps to binding."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from desktop_app.gui.panels.case_panel import CasePanel
from desktop_app.gui.panels.dicom_panel import CaseFieldsLabel
from desktop_app.gui.panels.results_panel import ResultsPanel
from desktop_app.gui.panels.site_calibration import SiteCalibration
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.shell.status import BatchStatus, ModelStatus
from desktop_app.gui.shell.window_geometry import fit_to_screen
from desktop_app.gui.windows.common import MessageBar

# ``window`` is the main window (typed Any: this module must not import it back).


def build_widgets(window: Any) -> None:
    window.banner = MessageBar(closable=False)
    window.banner.setObjectName("ModelBanner")
    window.banner.action_clicked.connect(window.choose_model_file)
    window.message_bar = MessageBar()
    window.site = SiteCalibration(window)  # calibration, site profiles, the drift banner
    window.results_panel = panel = ResultsPanel(window.session.results,
                                              window.session.operating_point)
    panel.is_reviewed = window.session.is_reviewed
    window.table, window.proxy, window.results_model = panel.table, panel.proxy, panel.results_model
    window.results_model.review_text = window.session.review_text
    window.results_model.is_reviewed = window.session.is_reviewed
    window.name_filter, window.summary_label = panel.name_filter, panel.summary_label
    window.operating_point = panel.operating_point
    window.operating_point.threshold_chosen.connect(window._on_threshold_chosen)
    window.table.selectionModel().currentRowChanged.connect(window._on_current_row)
    window.table.activated.connect(lambda _idx: window.case_viewer.setFocus())

    window.right_splitter = CasePanel(window.session.reviews)
    window.case_viewer, window.score_panel = window.right_splitter.case_viewer, \
        window.right_splitter.score_panel
    window.review_panel = window.right_splitter.review_panel
    window.score_panel.words = window.results_model.words
    window.case_viewer.opacity_changed.connect(app_settings.save_opacity)
    window.review_panel.problem.connect(lambda text: window.show_message(text, "warning"))
    window.review_panel.reviewer = lambda: app_settings.report_preferences()[0]
    window.review_panel.done.connect(window.results_panel.focus_table)
    window.splitter = QSplitter(Qt.Orientation.Horizontal)
    window.splitter.addWidget(panel)
    window.splitter.addWidget(window.right_splitter)
    window.splitter.setStretchFactor(0, 2)
    window.splitter.setStretchFactor(1, 3)
    window.splitter.setSizes([560, 840])

    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.addWidget(window.banner)
    layout.addWidget(window.message_bar)
    window.case_fields = CaseFieldsLabel()
    layout.addWidget(window.case_fields)
    layout.addWidget(window.site.banner)
    layout.addWidget(window.splitter, 1)
    window.setCentralWidget(central)
    window.batch_status = BatchStatus(window.statusBar())
    window.batch_status.cancel_button.clicked.connect(window.cancel_batch)
    window.progress_bar = window.batch_status.progress_bar
    window.model_status = ModelStatus(window.statusBar())
    window.model_label = window.model_status.model_label
    window.provider_label = window.model_status.provider_label


def restore_settings(window: Any) -> None:
    fit_to_screen(window, app_settings.saved_bytes(app_settings.KEY_GEOMETRY))
    state = app_settings.saved_bytes(app_settings.KEY_STATE)
    if state is not None:
        window.restoreState(state)
    splitter = app_settings.saved_bytes(app_settings.KEY_SPLITTER)
    if splitter is not None:
        window.splitter.restoreState(splitter)
    columns = app_settings.saved_bytes(app_settings.KEY_COLUMNS)
    if columns is not None:
        window.table.horizontalHeader().restoreState(columns)
        window.table.horizontalHeader().setSortIndicatorShown(False)
    window.case_viewer.set_opacity(app_settings.saved_opacity())
    window.include_subfolders_action.setChecked(app_settings.include_subfolders())
    window.show_patient_action.setChecked(app_settings.show_patient_identity())


def save_settings(window: Any) -> None:
    app_settings.save_bytes(app_settings.KEY_GEOMETRY, window.saveGeometry())
    app_settings.save_bytes(app_settings.KEY_STATE, window.saveState())
    app_settings.save_bytes(app_settings.KEY_SPLITTER, window.splitter.saveState())
    app_settings.save_bytes(app_settings.KEY_COLUMNS,
                            window.table.horizontalHeader().saveState())
