"""Who and where a case's DICOM objects belong: the patient and study modules, and our UIDs.

:class:`Subject` holds the patient and study every object of a case shares;
:func:`new_uid` makes UIDs under :data:`UID_ROOT` (a root derived from a UUID, ISO/IEC
9834-8, since DermScreen has no registered one); :func:`device_uid` names the SR's device
observer, one per model file.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

# 2.25.<UUID as an integer> (uuid5 of "https://dermscreen.invalid/dicom-uid-root"), then our arcs.
UID_ROOT = "2.25.326034518955590804868507533931617903264."
_UID_NAMESPACE = uuid.UUID(int=326034518955590804868507533931617903264)


def new_uid() -> str:
    """A fresh UID under :data:`UID_ROOT` (at most 64 characters)."""
    from pydicom.uid import generate_uid

    return str(generate_uid(prefix=UID_ROOT))


def device_uid(model_sha256: str) -> str:
    """The device observer's UID: one per DermScreen model file (uuid5 under our root)."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, f'device:{model_sha256}').int}"


@dataclass
class Subject:
    """Patient and study modules a case's objects share (every value may be empty but the
    Patient ID and Study Instance UID)."""

    patient_id: str
    patient_name: str
    patient_birth_date: str
    patient_sex: str
    study_instance_uid: str
    study_date: str
    study_time: str
    study_id: str
    accession_number: str
    referring_physician: str

    def apply(self, ds: Dataset) -> None:
        ds.PatientName = self.patient_name
        ds.PatientID = self.patient_id
        ds.PatientBirthDate = self.patient_birth_date
        ds.PatientSex = self.patient_sex
        ds.StudyInstanceUID = self.study_instance_uid
        ds.StudyDate = self.study_date
        ds.StudyTime = self.study_time
        ds.StudyID = self.study_id
        ds.AccessionNumber = self.accession_number
        ds.ReferringPhysicianName = self.referring_physician

    def evidence(self, source: Dataset | None = None) -> Dataset:
        """A reference dataset for highdicom: ``source``'s SOP, series and study UIDs (a stub
        in this study when None) with every patient and study attribute present, so an
        input without a birth date (Type 2, often absent) still gets its SR."""
        from pydicom.dataset import Dataset

        ds = Dataset()
        self.apply(ds)
        ds.SpecificCharacterSet = "ISO_IR 192"
        if source is None:
            ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
            ds.SOPInstanceUID = ds.SeriesInstanceUID = new_uid()
        else:
            ds.SOPClassUID = source.SOPClassUID
            ds.SOPInstanceUID = source.SOPInstanceUID
            ds.SeriesInstanceUID = source.get("SeriesInstanceUID", "") or new_uid()
            ds.StudyInstanceUID = source.get("StudyInstanceUID", "") or self.study_instance_uid
        return ds
