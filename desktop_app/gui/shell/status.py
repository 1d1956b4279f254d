"""Status-bar widgets: batch progress with ETA and Cancel; the model and where it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from desktop_app.core.model.model_file import UNVERIFIED_LABEL
from desktop_app.gui.shell.icons import load_icon

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import Progress
    from desktop_app.core.model.model_file import LoadedModel


def format_eta(seconds: float | None) -> str:
    """'about 12 s left', 'about 3 min left' or '' when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s left"
    return f"about {round(seconds / 60)} min left"


class BatchStatus:
    """Progress bar, ETA and Cancel button, shown only while a batch runs."""

    def __init__(self, bar: QStatusBar) -> None:
        self._bar = bar
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m")
        self.progress_bar.setMinimumWidth(220)
        self.eta_label = QLabel()
        self.cancel_button = QPushButton(load_icon("cancel"), "Cancel")
        self.cancel_button.setToolTip("Stop the batch; results so far are kept (Esc)")
        self._widgets = (self.progress_bar, self.eta_label, self.cancel_button)
        for widget in self._widgets:
            bar.addWidget(widget)
            widget.hide()

    def started(self) -> None:
        self.progress_bar.setRange(0, 0)  # busy until the first progress report
        for widget in self._widgets:
            widget.show()
        self.eta_label.setText("listing files…")
        self.cancel_button.setEnabled(True)

    def show_progress(self, progress: Progress) -> None:
        self.progress_bar.setRange(0, max(1, progress.total))
        self.progress_bar.setValue(progress.done)
        errors = f" · {progress.errors} errors" if progress.errors else ""
        self.eta_label.setText(f"{format_eta(progress.eta_s)}{errors}")

    def cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.eta_label.setText("cancelling…")

    def finished(self) -> None:
        for widget in self._widgets:
            widget.hide()

    def say(self, text: str, ms: int = 8000) -> None:
        """A passing message in the status bar."""
        self._bar.showMessage(text, ms)


class ModelStatus:
    """The model's name, version and hash, and the provider it runs on."""

    def __init__(self, bar: QStatusBar) -> None:
        self.model_label = QLabel("No model")
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.provider_label = QLabel("")
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.provider_label)

    def loading(self, name: str) -> None:
        self.model_label.setText(f"Loading model {name}…")
        self.provider_label.setText("")

    def show_model(self, model: LoadedModel) -> None:
        meta = model.metadata
        unverified = "" if model.verified else f" · {UNVERIFIED_LABEL.upper()}"
        self.model_label.setText(
            f"Model {meta.model_name} {meta.model_version} · sha {model.short_sha}{unverified}")
        self.model_label.setToolTip(f"{model.path}\nSHA-256 {model.sha256}\n{model.verification_label}")
        self.provider_label.setText(f"Runs on {model.provider_label}")

    def no_model(self) -> None:
        self.model_label.setText("No model")
        self.provider_label.setText("")
