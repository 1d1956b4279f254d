"""DICOM in the window: the case fields of a DICOM row, and File > Send to PACS….

:class:`CaseFieldsLabel` shows what a DICOM input says about its case (body site,
lesion, study date) and, only when View > Show Patient Identity is on, the
patient's ID, name and birth date; nothing of it is logged.
:class:`SendToPacsDialog` sends an exported folder's DICOM objects with
:func:`desktop_app.reports.dicom.send.send_folder` on a worker thread, one line
per object as the PACS answers; closing it stops between objects.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.imaging.dicom_read import SOP_CLASS_NAMES
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.threads.workers import TaskThread, ThreadRegistry


def case_fields_text(result: AnalysisResult | None, show_identity: bool) -> str:
    """One line about a DICOM row's case ("" for other rows)."""
    case = result.dicom if result is not None else None
    if case is None:
        return ""
    parts = [SOP_CLASS_NAMES.get(case.sop_class_uid, "DICOM object")]
    if case.frame is not None:
        parts.append(f"frame {case.frame} of {case.frames}")
    if case.body_site:
        parts.append(f"site: {case.body_site}")
    if case.lesion_id:
        parts.append(f"lesion {case.lesion_id}")
    if case.study_date:
        parts.append(f"study {case.study_date[:4]}-{case.study_date[4:6]}-{case.study_date[6:8]}"
                     if len(case.study_date) == 8 else f"study {case.study_date}")
    text = " · ".join(parts)
    if show_identity and case.has_identity:
        text = f"Patient: {case.identity_line()}    {text}"
    return text


class CaseFieldsLabel(QLabel):
    """The selected DICOM row's case fields; hidden for other rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CaseFields")
        self.show_identity = app_settings.show_patient_identity()
        self._result: AnalysisResult | None = None
        self.hide()

    def show_case(self, result: AnalysisResult | None) -> None:
        self._result = result
        text = case_fields_text(result, self.show_identity)
        self.setText(text)
        self.setVisible(bool(text))

    def set_show_identity(self, on: bool) -> None:
        self.show_identity = on
        self.show_case(self._result)


class _Lines(QObject):
    """Carries the sender's lines from the worker thread to the dialog (queued signal)."""

    line = Signal(str)


class SendToPacsDialog(QDialog):
    """Folder + destination, Send, and what the PACS answered for each object."""

    def __init__(self, threads: ThreadRegistry, folder: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Send to PACS")
        self._threads = threads
        self._cancel = threading.Event()
        self._lines = _Lines(self)
        self._lines.line.connect(self._append)
        self.folder_edit = QLineEdit(folder or app_settings.last_export_folder())
        self.folder_edit.setPlaceholderText("the folder Export All Reports wrote")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.destination_edit = QLineEdit(app_settings.pacs_destination())
        self.destination_edit.setPlaceholderText("AE@host:port, e.g. PACS@pacs.local:104")
        form = QFormLayout()
        form.addRow("Folder:", row)
        form.addRow("PACS:", self.destination_edit)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMinimumSize(520, 200)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.send_button = self.buttons.addButton("Send", QDialogButtonBox.ButtonRole.ActionRole)
        self.send_button.clicked.connect(self.send)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.buttons)
        self.report: object = None

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Folder with DICOM results",
                                                  self.folder_edit.text())
        if chosen:
            self.folder_edit.setText(chosen)

    def _append(self, text: str) -> None:
        self.log.appendPlainText(text)

    def send(self) -> bool:
        """Start sending on a worker thread; False (and a line saying why) when it cannot."""
        from desktop_app.reports.dicom.send import Destination, DestinationError, send_folder
        from desktop_app.reports.dicom.write import dicom_files

        folder = Path(self.folder_edit.text().strip())
        try:
            dest = Destination.parse(self.destination_edit.text())
        except DestinationError as exc:
            self._append(str(exc))
            return False
        if not dicom_files(folder):
            self._append(f"No DICOM objects in {folder}: export the reports first "
                         "(File > Export All Reports).")
            return False
        app_settings.save_pacs_destination(str(dest))
        self.send_button.setEnabled(False)
        self._cancel.clear()
        emit = self._lines.line.emit
        self._append(f"Sending {folder} to {dest}…")
        self._threads.start(TaskThread(
            lambda: send_folder(folder, dest, say=emit, cancel=self._cancel), "pacs-send",
            on_done=self._done, on_error=self._failed))
        return True

    def _done(self, report: object) -> None:
        from desktop_app.reports.dicom.send import SendReport

        self.report = report
        self.send_button.setEnabled(True)
        if isinstance(report, SendReport):
            if not report.echo_ok:
                self._append(report.echo_message)
                return
            sent = sum(o.status == "sent" for o in report.objects)
            there = sum(o.status == "already sent" for o in report.objects)
            self._append(f"Done: {sent} sent, {there} already there, {len(report.failed)} failed"
                         + (" (send again to retry them)" if report.failed else ""))

    def _failed(self, text: str) -> None:
        self.send_button.setEnabled(True)
        self._append(f"Sending failed: {text}")

    def done(self, code: int) -> None:
        self._cancel.set()
        super().done(code)
