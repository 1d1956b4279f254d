"""What the reports say about the batch: case ID, clinician, paths and the referral's
history, body site and lesion (asked before an export).

The case or patient ID and the clinical history belong to one batch: a new batch starts
without them. Body site and lesion number belong to one case: they are asked only when a
single case's PDF is exported (a DICOM input's own values come first). The clinician's name
and the two options are remembered (settings). The dialog
is shown by the path provider (``report_details``), so tests can script it; a
provider without that method exports with the details as they stand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

from desktop_app.core.imaging.dicom_case import EnteredPatient
from desktop_app.gui.panels.dicom_panel import PatientFields
from desktop_app.reports.context import MAX_FIELD_CHARS, MAX_HISTORY_CHARS, clean_field


@dataclass(frozen=True)
class ReportDetails:
    """The facts a user adds to a batch's reports."""

    case_id: str = ""
    case_id_from_subfolder: bool = False
    clinician: str = ""
    full_paths: bool = False
    history: str = ""  # clinical history line for the batch's case (the referral's)
    single_case: bool = False  # exporting one case: body site and lesion are asked too
    body_site: str = ""
    lesion_id: str = ""
    # The patient for the batch's inputs that carry none (their DICOM results), and how
    # many such inputs there are (shown, not compared).
    patient: EnteredPatient | None = None
    without_patient: int = field(default=0, compare=False)


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
        self.history_edit = QLineEdit(details.history)
        self.history_edit.setObjectName("ReportHistory")
        self.history_edit.setPlaceholderText("clinical history for the referral, one line "
                                             "(optional)")
        self.history_edit.setMaxLength(MAX_HISTORY_CHARS)
        self.body_site_edit = QLineEdit(details.body_site)
        self.body_site_edit.setObjectName("ReportBodySite")
        self.body_site_edit.setPlaceholderText("e.g. left upper back (optional)")
        self.body_site_edit.setMaxLength(MAX_FIELD_CHARS)
        self.lesion_edit = QLineEdit(details.lesion_id)
        self.lesion_edit.setObjectName("ReportLesion")
        self.lesion_edit.setPlaceholderText("lesion number (optional)")
        self.lesion_edit.setMaxLength(MAX_FIELD_CHARS)
        self._single_case = details.single_case
        self.full_paths = QCheckBox("Print full file paths")
        self.full_paths.setChecked(details.full_paths)
        self.full_paths.setToolTip("By default files are named relative to the opened folder: "
                                   "folder names can carry a patient's name or a diagnosis.")
        form = QFormLayout()
        form.addRow("Case / patient ID:", self.case_id_edit)
        form.addRow("", self.from_subfolder)
        form.addRow("Reviewing clinician:", self.clinician_edit)
        form.addRow("Clinical history:", self.history_edit)
        if details.single_case:  # one case's own facts (a batch's images differ)
            form.addRow("Body site:", self.body_site_edit)
            form.addRow("Lesion number:", self.lesion_edit)
        form.addRow("", self.full_paths)
        note = QLabel("Printed on every page of the PDFs and in every CSV row; the history, "
                      "body site and lesion on the case reports. A DICOM image's own patient, "
                      "body site and lesion are printed as its header gives them.")
        note.setWordWrap(True)
        self.patient_fields = PatientFields(details.patient, details.without_patient)
        self.problem = QLabel("")
        self.problem.setObjectName("PatientProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #8b0000")
        self.problem.hide()
        self._without = details.without_patient
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.patient_fields)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def accept(self) -> None:
        """Closes only with usable patient fields (empty is usable: no DICOM for those)."""
        problems = self.patient_fields.problems()
        if self.patient_fields.patient() is not None and self.from_subfolder.isChecked():
            problems.append("one patient cannot be given for a batch whose subfolders name "
                            "several cases (open each case's folder on its own)")
        if problems:
            self.problem.setText("Patient fields: " + "; ".join(problems) + ".")
            self.problem.show()
            return
        super().accept()

    def details(self) -> ReportDetails:
        single = self._single_case
        return ReportDetails(clean_field(self.case_id_edit.text()),
                             self.from_subfolder.isChecked(),
                             clean_field(self.clinician_edit.text()),
                             self.full_paths.isChecked(),
                             history=clean_field(self.history_edit.text(), MAX_HISTORY_CHARS),
                             single_case=single,
                             body_site=clean_field(self.body_site_edit.text()) if single else "",
                             lesion_id=clean_field(self.lesion_edit.text()) if single else "",
                             patient=self.patient_fields.patient(),
                             without_patient=self._without)


def ask_report_details(parent: QWidget, details: ReportDetails) -> ReportDetails | None:
    """The details the user confirms in a modal dialog, or None (cancelled)."""
    dialog = ReportDetailsDialog(details, parent)
    try:
        return dialog.details() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()
