"""What the reports say about the batch: case ID, clinician, paths (asked before an export).

The case or patient ID belongs to one batch: a new batch starts without one.
The clinician's name and the two options are remembered (settings). The dialog
is shown by the path provider (``report_details``), so tests can script it; a
provider without that method exports with the details as they stand.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop_app.reports.context import MAX_FIELD_CHARS, clean_field


@dataclass(frozen=True)
class ReportDetails:
    """The facts a user adds to a batch's reports."""

    case_id: str = ""
    case_id_from_subfolder: bool = False
    clinician: str = ""
    full_paths: bool = False


class ReportDetailsDialog(QDialog):
    """Case ID, clinician and path options, filled with what was used last."""

    def __init__(self, details: ReportDetails, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Report details")
        self.case_id_edit = QLineEdit(details.case_id)
        self.case_id_edit.setObjectName("ReportCaseId")
        self.case_id_edit.setPlaceholderText("case or patient ID for this batch (optional)")
        self.case_id_edit.setMaxLength(MAX_FIELD_CHARS)
        self.from_subfolder = QCheckBox("Take the case ID from each image's subfolder name")
        self.from_subfolder.setChecked(details.case_id_from_subfolder)
        self.clinician_edit = QLineEdit(details.clinician)
        self.clinician_edit.setObjectName("ReportClinician")
        self.clinician_edit.setPlaceholderText("reviewing clinician (optional, remembered)")
        self.clinician_edit.setMaxLength(MAX_FIELD_CHARS)
        self.full_paths = QCheckBox("Print full file paths")
        self.full_paths.setChecked(details.full_paths)
        self.full_paths.setToolTip("By default files are named relative to the opened folder: "
                                   "folder names can carry a patient's name or a diagnosis.")
        form = QFormLayout()
        form.addRow("Case / patient ID:", self.case_id_edit)
        form.addRow("", self.from_subfolder)
        form.addRow("Reviewing clinician:", self.clinician_edit)
        form.addRow("", self.full_paths)
        note = QLabel("Printed on every page of the PDFs and in every CSV row.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def details(self) -> ReportDetails:
        return ReportDetails(clean_field(self.case_id_edit.text()),
                             self.from_subfolder.isChecked(),
                             clean_field(self.clinician_edit.text()),
                             self.full_paths.isChecked())


def ask_report_details(parent: QWidget, details: ReportDetails) -> ReportDetails | None:
    """The details the user confirms in a modal dialog, or None (cancelled)."""
    dialog = ReportDetailsDialog(details, parent)
    try:
        return dialog.details() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()
