"""About dialog, in-window message bars and the injectable file-dialog provider."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.base.paths import model_card_path
from desktop_app.core.wording.texts import INTENDED_USE
from desktop_app.gui.shell.settings import private_dialog_state
from desktop_app.version import app_version

if TYPE_CHECKING:
    from desktop_app.core.model.model_file import LoadedModel
    from desktop_app.gui.windows.report_details import ReportDetails

IMAGE_FILTER = "Images (*.jpg *.jpeg *.jpe *.png *.tif *.tiff *.bmp *.webp);;All files (*)"
OPEN_FOLDER_TITLE = "Open folder of images"


class PathProvider(Protocol):
    """Where the window gets file and folder names; tests inject one that skips dialogs."""

    def open_folder(self, parent: QWidget, start: str,
                    title: str = OPEN_FOLDER_TITLE) -> str | None: ...

    def open_files(self, parent: QWidget, start: str) -> list[str]: ...

    def open_model(self, parent: QWidget, start: str) -> str | None: ...

    def save_file(self, parent: QWidget, title: str, suggested: str, filters: str) -> str | None: ...


class DialogPathProvider:
    """The real thing: Qt's file dialogs (their history kept in the app's private folder,
    :func:`desktop_app.gui.shell.settings.private_dialog_state`)."""

    def open_folder(self, parent: QWidget, start: str,
                    title: str = OPEN_FOLDER_TITLE) -> str | None:
        with private_dialog_state():
            folder = QFileDialog.getExistingDirectory(parent, title, start)
        return folder or None

    def open_files(self, parent: QWidget, start: str) -> list[str]:
        with private_dialog_state():
            files, _ = QFileDialog.getOpenFileNames(parent, "Open images", start, IMAGE_FILTER)
        return list(files)

    def open_model(self, parent: QWidget, start: str) -> str | None:
        with private_dialog_state():
            path, _ = QFileDialog.getOpenFileName(
                parent, "Open model", start, "ONNX models (*.onnx);;All files (*)"
            )
        return path or None

    def save_file(self, parent: QWidget, title: str, suggested: str, filters: str) -> str | None:
        with private_dialog_state():
            path, _ = QFileDialog.getSaveFileName(parent, title, suggested, filters)
        return path or None

    def report_details(self, parent: QWidget, details: ReportDetails) -> ReportDetails | None:
        """Optional for a provider: the case ID, clinician and options before an export."""
        from desktop_app.gui.windows.report_details import ask_report_details

        return ask_report_details(parent, details)


_BAR_STYLES = {
    "error": ("#fdecea", "#8b0000", "#e6a19b"),
    "warning": ("#fff4e5", "#6b4100", "#f0c47a"),
    "info": ("#e8f0fe", "#174ea6", "#a8c1f0"),
}


class MessageBar(QFrame):
    """A non-blocking coloured message strip inside the window (never a modal dialog)."""

    action_clicked = Signal()

    def __init__(self, parent: QWidget | None = None, *, closable: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("MessageBar")
        self.level = "info"
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Wraps within the window's width; a long path never widens the window.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.action_button = QPushButton()
        self.action_button.hide()
        self.action_button.clicked.connect(self.action_clicked)
        self.close_button = QPushButton("Dismiss")
        self.close_button.setVisible(closable)
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.hide()

    def show_message(self, text: str, level: str = "info", action: str | None = None) -> None:
        self.level = level if level in _BAR_STYLES else "info"
        bg, fg, border = _BAR_STYLES[self.level]
        name = self.objectName()
        self.setStyleSheet(
            f"QFrame#{name} {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
            f"QFrame#{name} QLabel {{ color: {fg}; }}"
        )
        self.label.setText(text)
        self.label.setToolTip(text)
        self.action_button.setVisible(bool(action))
        if action:
            self.action_button.setText(action)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text()


def card_without_intended_use(markdown: str) -> str:
    """The model card minus its "Intended use" section when that only repeats
    :data:`INTENDED_USE` (the About box prints it once, above the card)."""
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        if line.strip().lower() == "## intended use":
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("#")),
                       len(lines))
            body = " ".join(" ".join(lines[i + 1:end]).split())
            if body == " ".join(INTENDED_USE.split()):
                return "\n".join(lines[:i] + lines[end:])
    return markdown


def about_html(model: LoadedModel | None, model_error: str = "") -> str:
    """Header of the About box: intended use and the loaded model (HTML)."""
    parts = [
        f"<h2>DermScreen {html.escape(app_version())}</h2>",
        "<h3>Intended use</h3>",
        f"<p>{html.escape(INTENDED_USE)}</p>",
        "<h3>Model</h3>",
    ]
    if model is not None:
        meta = model.metadata
        parts.append(
            "<p>"
            f"{html.escape(meta.model_name)} {html.escape(meta.model_version)}<br>"
            f"SHA-256 {html.escape(model.sha256)}<br>"
            f"File {html.escape(str(model.path))}<br>"
            f"Execution provider {html.escape(model.provider_label)}<br>"
            f"Default threshold {meta.threshold:.5g} ({html.escape(meta.threshold_rule)})"
            "</p>"
        )
    else:
        parts.append(f"<p>No model loaded. {html.escape(model_error)}</p>")
    return "\n".join(parts)


class AboutDialog(QDialog):
    """Intended use, the model's identity and its card (Markdown beside the model)."""

    def __init__(self, model: LoadedModel | None, model_error: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About DermScreen")
        self.resize(640, 560)
        self.header = QTextBrowser()
        self.header.setOpenExternalLinks(False)
        self.header.setHtml(about_html(model, model_error))
        self.header.setMaximumHeight(260)
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)
        card_path = model_card_path(model.path) if model is not None else None
        if card_path is not None and not card_path.is_file():
            card_path = None
        self.card_path = card_path
        if card_path is not None:
            try:
                self.card.setMarkdown(card_without_intended_use(
                    card_path.read_text(encoding="utf-8", errors="replace")))
            except OSError as exc:
                self.card.setPlainText(f"The model card {card_path} cannot be read: {exc}")
        else:
            self.card.setPlainText("No model card (a .md file beside the model) was found.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(QLabel("Model card"))
        layout.addWidget(self.card, 1)
        layout.addWidget(buttons)
