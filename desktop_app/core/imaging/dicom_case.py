"""The case fields a DICOM input carries, kept with its result (no pydicom import here).

Identity (patient ID, name, birth date) is shown in the window and written into
reports only where the user enabled it (:attr:`desktop_app.reports.context.ReportContext.show_patient`,
``dermscreen analyse --show-patient``); it is never logged. ``__repr__`` leaves it out so a
result printed into a log or a traceback carries no name.
"""

from __future__ import annotations

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
