"""The case fields a DICOM input carries, kept with its result (no pydicom import here).

Identity (patient ID, name, birth date) is shown in the window and written into
reports only where the user enabled it (:attr:`desktop_app.reports.context.ReportContext.show_patient`,
``dermscreen analyse --show-patient``); it is never logged. ``__repr__`` leaves it out so a
result printed into a log or a traceback carries no name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A frame of a multi-frame object is its own row: ``file.dcm#frame2`` (1-based).
FRAME_MARK = "#frame"


@dataclass(frozen=True)
class DicomCase:
    """What a DICOM object says about its case and where it sits in the archive."""

    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    frame: int | None = None  # 1-based, only for multi-frame objects
    frames: int = 1
    modality: str = ""
    study_date: str = ""
    study_time: str = ""
    study_id: str = ""
    accession_number: str = ""
    referring_physician: str = ""
    body_site: str = ""  # code meaning of AnatomicRegionSequence (or BodyPartExamined)
    lesion_id: str = ""
    patient_id: str = field(default="", repr=False)
    patient_name: str = field(default="", repr=False)
    patient_birth_date: str = field(default="", repr=False)
    patient_sex: str = field(default="", repr=False)

    @property
    def has_identity(self) -> bool:
        return bool(self.patient_id or self.patient_name or self.patient_birth_date)

    def identity_line(self) -> str:
        """``ID · Name · born YYYY-MM-DD`` for display (only call where the user enabled it)."""
        parts = [p for p in (self.patient_id, self.patient_name.replace("^", " ").strip()) if p]
        if self.patient_birth_date:
            parts.append(f"born {_iso_date(self.patient_birth_date)}")
        return " · ".join(parts)


def _iso_date(da: str) -> str:
    """DICOM DA ``YYYYMMDD`` -> ``YYYY-MM-DD`` (anything else unchanged)."""
    return f"{da[:4]}-{da[4:6]}-{da[6:8]}" if len(da) == 8 and da.isdigit() else da


# DICOM limits of the fields a user types (PS3.5 6.2): LO 64, PN 64 per component, SH 16, UI 64.
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")


@dataclass(frozen=True)
class EnteredPatient:
    """The patient and study a user gave for inputs that carry none (JPEG, PNG; a DICOM
    object without a Patient ID). Their DICOM results are filed under it; without it
    they get no DICOM objects (an empty Patient ID is never sent to a PACS).

    ``study_instance_uid`` empty: one new study for the run's such inputs.
    """

    patient_id: str = field(default="", repr=False)
    patient_name: str = field(default="", repr=False)  # DICOM PN: Family^Given
    patient_birth_date: str = field(default="", repr=False)  # YYYYMMDD or ""
    patient_sex: str = field(default="", repr=False)  # M, F, O or ""
    study_instance_uid: str = ""
    accession_number: str = ""

    def problems(self) -> list[str]:
        """What is wrong with the fields, in words ([] = usable)."""
        out = []
        if not self.patient_id.strip():
            out.append("the patient ID is empty")
        for label, value, limit in (("patient ID", self.patient_id, 64),
                                    ("patient name", self.patient_name, 64 * 5),
                                    ("accession number", self.accession_number, 16)):
            if len(value) > limit:
                out.append(f"the {label} is longer than {limit} characters")
            if "\\" in value or any(not ch.isprintable() for ch in value):
                out.append(f"the {label} holds a backslash or a control character")
        if any(len(part) > 64 for part in self.patient_name.split("^")):
            out.append("a part of the patient name is longer than 64 characters")
        if self.patient_birth_date and not _valid_da(self.patient_birth_date):
            out.append("the birth date is not a date written YYYYMMDD")
        if self.patient_sex not in ("", "M", "F", "O"):
            out.append("the sex must be M, F, O or empty")
        uid = self.study_instance_uid
        if uid and (len(uid) > 64 or not _UID.match(uid)):
            out.append("the study instance UID is not a DICOM UID (digits and dots, at most 64)")
        return out


def _valid_da(text: str) -> bool:
    import datetime as _dt

    if len(text) != 8 or not text.isdigit():
        return False
    try:
        _dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return True
