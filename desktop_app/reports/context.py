"""What a batch's reports say beyond the results: case ID, clinician, paths, reviews, band.

One :class:`ReportContext` per export, captured when the export is asked for,
used by the CSV, the summary PDF and the case PDFs alike (Qt-free, no GUI
imports: a review is anything with ``reviewed`` and ``note``).

Paths: by default a file is named relative to the opened folder that holds it
(folder names can carry a patient's name or a diagnosis); a file given on its
own is named by its file name. ``full_paths`` prints absolute paths instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from desktop_app.core.imaging.dicom_case import EnteredPatient
from desktop_app.core.inference.decision_rules import triage_decision, triage_label
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.operating_points import borderline_low
from desktop_app.core.wording.text_safety import undecodable_escaped

MAX_FIELD_CHARS = 120  # a case ID or clinician name longer than this is cut
MAX_HISTORY_CHARS = 400  # the clinical history line


class ReviewLike(Protocol):
    """A clinician's review of one image (the GUI's ``Review`` fits)."""

    @property
    def reviewed(self) -> bool: ...

    @property
    def note(self) -> str: ...


def clean_field(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """A typed case ID or name as printed: one line, no control characters, capped at
    ``limit``; a folder name's undecodable bytes shown escaped (:func:`undecodable_escaped`)."""
    kept = "".join(ch if ch.isprintable() else " " for ch in undecodable_escaped(text))
    return " ".join(kept.split())[:limit]


def folder_roots(inputs: Sequence[str | Path]) -> tuple[Path, ...]:
    """The opened folders among ``inputs`` (paths are made relative to these)."""
    roots = []
    for raw in inputs:
        p = Path(raw)
        try:
            if p.is_dir():
                roots.append(p)
        except OSError:
            continue
    return tuple(roots)


def _relative_to(path: Path, root: Path) -> Path | None:
    for a, b in ((path, root), (Path(os.path.abspath(path)), Path(os.path.abspath(root)))):
        try:
            return a.relative_to(b)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class ReportContext:
    """Per-export facts the reports print (all optional; the defaults print nothing extra)."""

    case_id: str = ""
    case_id_from_subfolder: bool = False  # a file's first subfolder names its case
    clinician: str = ""
    roots: tuple[Path, ...] = ()  # opened folders
    full_paths: bool = False
    # By the file's path (see :meth:`review_key`), else by image SHA-256; None: not recorded.
    reviews: Mapping[str, ReviewLike] | None = None
    band_low: float | None = None  # borderline band's lower edge (None: no band)
    inputs: tuple[str, ...] = field(default=())  # what was opened, as given
    # Print the patient identity DICOM inputs carry (ID, name, birth date); off by default.
    show_patient: bool = False
    # The active site profile ('SITE (n 120, 2026-12-03)') and what to expect there; "" = none.
    site_profile: str = ""
    site_words: tuple[str, ...] = ()
    # The batch's drift check: "in range" / "out of range" / "not checked", and why.
    batch_drift: str = ""
    drift_words: str = ""
    # Referral fields typed at export: the clinical history (one line, for the batch's case;
    # never printed when each subfolder names its own case) and, for one case exported
    # alone, its body site and lesion number (a DICOM input's own values come first).
    history: str = ""
    body_site: str = ""
    lesion_id: str = ""
    # The patient and study the user gave for inputs that carry none (JPEG, PNG); None: not
    # given, so such inputs get no DICOM objects (see identity_of).
    patient: EnteredPatient | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "case_id", clean_field(self.case_id))
        object.__setattr__(self, "clinician", clean_field(self.clinician))
        object.__setattr__(self, "history", clean_field(self.history, MAX_HISTORY_CHARS))
        object.__setattr__(self, "body_site", clean_field(self.body_site))
        object.__setattr__(self, "lesion_id", clean_field(self.lesion_id))

    def for_model(self, meta: ModelMetadata, threshold: float | None = None) -> ReportContext:
        """This context with the model's borderline band at ``threshold`` (the band moves
        with the chosen point) when none was given."""
        if self.band_low is not None:
            return self
        return replace(self, band_low=borderline_low(meta, threshold))

    def shown_path(self, result: AnalysisResult) -> str:
        """The file as the reports name it: relative to its opened folder, or in full."""
        if self.full_paths:
            return os.path.abspath(result.path)
        for root in self.roots:
            rel = _relative_to(result.path, root)
            if rel is not None and rel.parts:
                return rel.as_posix()
        return result.path.name

    def subfolder(self, result: AnalysisResult) -> str:
        """The first folder below the opened folder holding the file ("" when directly in it)."""
        for root in self.roots:
            rel = _relative_to(result.path, root)
            if rel is not None and len(rel.parts) > 1:
                return rel.parts[0]
        return ""

    def case_id_of(self, result: AnalysisResult) -> str:
        """The batch's case ID, or the file's subfolder when that names the case; with
        :attr:`show_patient` and no typed ID, a DICOM input's Patient ID."""
        if self.case_id_from_subfolder:
            sub = clean_field(self.subfolder(result))
            if sub:
                return sub
        if not self.case_id and self.show_patient:
            identity = self.identity_of(result)
            if identity is not None:
                return clean_field(identity[0])
        return self.case_id

    def identity_of(self, result: AnalysisResult) -> tuple[str, str, str] | None:
        """(patient ID, name, birth date) the case's DICOM objects are filed under: a DICOM
        input's own when it names a Patient ID, else the one the user entered
        (:attr:`patient`); None when there is none (no DICOM objects for it). The case
        report (:meth:`referral_of`) always prints it; CSV and summary only with
        :attr:`show_patient`."""
        case = result.dicom
        if case is not None and case.patient_id.strip():
            return case.patient_id, case.patient_name, case.patient_birth_date
        if self.patient is not None and self.patient.patient_id.strip():
            p = self.patient
            return p.patient_id, p.patient_name, p.patient_birth_date
        return None

    def patient_of(self, result: AnalysisResult) -> dict[str, str]:
        """A DICOM input's case cells: body site, lesion, study date always; identity only
        with :attr:`show_patient`."""
        case = result.dicom
        if case is None:
            return {}
        cells = {"dicom_study_uid": case.study_instance_uid,
                 "dicom_sop_uid": case.sop_instance_uid,
                 "study_date": case.study_date, "body_site": case.body_site,
                 "lesion_id": case.lesion_id}
        if self.show_patient:
            cells.update({"patient_id": case.patient_id, "patient_name": case.patient_name,
                          "patient_birth_date": case.patient_birth_date})
        return {k: clean_field(v) for k, v in cells.items()}

    def referral_of(self, result: AnalysisResult) -> dict[str, str]:
        """What a case report (a referral letter, also stored in the PACS under the source's
        own patient) says about whose lesion this is: the identity a DICOM source carries
        (always: its DICOM header names the patient too), the typed case ID, body site and
        lesion (the DICOM's first, else typed), study date and the history line."""
        case = result.dicom
        cells = {"patient_id": "", "patient_name": "", "patient_birth_date": "",
                 "patient_sex": "", "study_date": "", "accession_number": "",
                 "body_site": self.body_site, "lesion_id": self.lesion_id,
                 "case_id": self.case_id_of(result),
                 "history": "" if self.case_id_from_subfolder else self.history}
        if case is not None:
            cells.update({"patient_id": case.patient_id, "patient_name": case.patient_name,
                          "patient_birth_date": case.patient_birth_date,
                          "patient_sex": case.patient_sex, "study_date": case.study_date,
                          "accession_number": case.accession_number})
            cells["body_site"] = case.body_site or self.body_site
            cells["lesion_id"] = case.lesion_id or self.lesion_id
        identity = self.identity_of(result)
        if identity is not None and not cells["patient_id"].strip():
            # The patient the user gave for an input that carries none: its DICOM objects
            # are filed under it, so the letter names it too.
            cells["patient_id"], cells["patient_name"], cells["patient_birth_date"] = identity
        return {k: clean_field(v, MAX_HISTORY_CHARS) for k, v in cells.items()}

    def shown_inputs(self) -> list[str]:
        """What was opened, as the reports name it: full paths only when asked for, else
        only how many folders and files (an opened folder's own name can name a patient)."""
        if self.full_paths:
            return [os.path.abspath(p) for p in self.inputs]
        folders = sum(1 for p in self.inputs if Path(p) in self.roots)
        files = len(self.inputs) - folders
        parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in
                 ((folders, "folder"), (files, "file")) if n]
        return [" and ".join(parts) + " opened"] if parts else []

    @staticmethod
    def review_key(result: AnalysisResult) -> str:
        """The key of ``result``'s own review: its path (a byte-identical copy elsewhere, same
        SHA-256, is another case whose note must never print here)."""
        return str(result.path)

    def _review(self, result: AnalysisResult) -> ReviewLike | None:
        if self.reviews is None:
            return None
        own = self.reviews.get(self.review_key(result))
        if own is not None:
            return own
        return self.reviews.get(result.image_sha256) if result.image_sha256 else None

    def review_of(self, result: AnalysisResult) -> tuple[bool, str] | None:
        """(reviewed, note), or None when reviews are not recorded (CLI)."""
        if self.reviews is None:
            return None
        review = self._review(result)
        if review is None:
            return False, ""
        return bool(review.reviewed), str(review.note)

    def review_by_of(self, result: AnalysisResult) -> tuple[str, str]:
        """(who, when) the case was marked reviewed; ("", "") when not (or not recorded).
        A mark that recorded no name is the export's clinician's (named in the dialog)."""
        review = self._review(result)
        if review is None or not review.reviewed:
            return "", ""
        who = clean_field(str(getattr(review, "reviewer", "") or "")) or self.clinician
        return who, str(getattr(review, "reviewed_at", ""))

    def triage(self, result: AnalysisResult) -> str:
        """anomalous / borderline / normal / "" (see desktop_app.core.inference.decision_rules)."""
        return triage_decision(result, self.band_low)

    def triage_label(self, result: AnalysisResult) -> str:
        return triage_label(result, self.band_low)
