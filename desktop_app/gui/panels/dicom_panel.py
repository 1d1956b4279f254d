"""DICOM in the window: the case fields of a DICOM row, the patient for other inputs, and
File > Send to PACS….

:class:`CaseFieldsLabel` shows what a DICOM input says about its case (body site,
lesion, study date) and, only when View > Show Patient Identity is on, the
patient's ID, name and birth date; nothing of it is logged.
:class:`PatientFields` (in the Report details dialog) takes the patient and study for
the batch's inputs that carry none (JPEG, PNG): without it they get no DICOM objects.
:class:`SendToPacsDialog` sends an exported folder's DICOM objects with
:func:`desktop_app.reports.dicom.send.send_folder` on a worker thread, one line
per object as the PACS answers; closing it stops between objects.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.imaging.dicom_case import EnteredPatient
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


class PatientFields(QGroupBox):
    """Patient ID, name, birth date, sex, study UID and accession for the inputs that carry
    no patient (their DICOM results are filed under it). Belongs to one batch: never
    remembered, so a next batch cannot be filed under this patient by mistake."""

    def __init__(self, patient: EnteredPatient | None, without: int,
                 parent: QWidget | None = None) -> None:
        super().__init__("Patient for images without DICOM identity (DICOM results for PACS)",
                         parent)
        self.setObjectName("PatientFields")
        p = patient or EnteredPatient()
        self.patient_id = self._line(p.patient_id, "Patient ID (required for them)", 64)
        self.patient_name = self._line(p.patient_name, "Family^Given", 64 * 5)
        self.birth_date = self._line(p.patient_birth_date, "YYYYMMDD (optional)", 8)
        self.sex = QComboBox()
        self.sex.addItems(["", "F", "M", "O"])
        self.sex.setCurrentText(p.patient_sex)
        self.study_uid = self._line(p.study_instance_uid,
                                    "Study Instance UID (optional: a new study)", 64)
        self.accession = self._line(p.accession_number, "accession number (optional)", 16)
        form = QFormLayout(self)
        words = (f"{without} image(s) of this batch carry no patient identity (not DICOM, or "
                 "no Patient ID): they get DICOM results only under the patient given here."
                 if without else "Every image of this batch names its patient (DICOM); "
                 "these fields are not needed.")
        note = QLabel(words)
        note.setWordWrap(True)
        form.addRow(note)
        form.addRow("Patient ID:", self.patient_id)
        form.addRow("Patient name:", self.patient_name)
        form.addRow("Birth date:", self.birth_date)
        form.addRow("Sex:", self.sex)
        form.addRow("Study UID:", self.study_uid)
        form.addRow("Accession:", self.accession)

    @staticmethod
    def _line(text: str, placeholder: str, limit: int) -> QLineEdit:
        edit = QLineEdit(text)
        edit.setPlaceholderText(placeholder)
        edit.setMaxLength(limit)
        return edit

    def patient(self) -> EnteredPatient | None:
        """What is typed (None when nothing is)."""
        fields = (self.patient_id.text(), self.patient_name.text(), self.birth_date.text(),
                  self.sex.currentText(), self.study_uid.text(), self.accession.text())
        fields = tuple(f.strip() for f in fields)
        return EnteredPatient(*fields) if any(fields) else None

    def problems(self) -> list[str]:
        patient = self.patient()
        return patient.problems() if patient is not None else []


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
        from desktop_app.reports.dicom.send import DEFAULT_CALLING_AE

        self.calling_edit = QLineEdit(app_settings.calling_ae() or DEFAULT_CALLING_AE)
        self.calling_edit.setToolTip("Our AE title: the PACS must know it (with this "
                                     "computer's address) or it refuses the connection.")
        form = QFormLayout()
        form.addRow("Folder:", row)
        form.addRow("PACS:", self.destination_edit)
        form.addRow("Our AE title:", self.calling_edit)
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
        from desktop_app.reports.dicom.ledger import read_manifest
        from desktop_app.reports.dicom.send import (
            Destination,
            DestinationError,
            ae_title_problem,
            send_folder,
        )

        folder = Path(self.folder_edit.text().strip())
        try:
            dest = Destination.parse(self.destination_edit.text())
        except DestinationError as exc:
            self._append(str(exc))
            return False
        calling = self.calling_edit.text().strip()
        problem = ae_title_problem(calling, "Our AE title")
        if problem:
            self._append(problem)
            return False
        try:
            if not read_manifest(folder):
                self._append(f"No DICOM objects in {folder}: the export wrote none.")
                return False
        except ValueError as exc:
            self._append(f"{exc}.")
            return False
        app_settings.save_pacs_destination(str(dest))
        app_settings.save_calling_ae(calling)
        self.send_button.setEnabled(False)
        self._cancel.clear()
        emit = self._lines.line.emit
        self._append(f"Sending {folder} to {dest} as {calling}…")
        self._threads.start(TaskThread(
            lambda: send_folder(folder, dest, calling_ae=calling, say=emit, cancel=self._cancel),
            "pacs-send", on_done=self._done, on_error=self._failed))
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
            if report.ledger_message:
                self._append(report.ledger_message)

    def _failed(self, text: str) -> None:
        # send_folder reports what folders, files and PACS do; an exception here is a
        # defect: the log holds it, the user gets words, not Python's text.
        del text
        self.send_button.setEnabled(True)
        self._append("Sending stopped by an unexpected error (the log has the details). "
                     "What the PACS confirmed is recorded; send again to go on.")

    def done(self, code: int) -> None:
        self._cancel.set()
        super().done(code)
