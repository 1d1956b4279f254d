"""DICOM results a PACS keeps: per case a Comprehensive SR, the case PDF encapsulated, the heatmap.

Into ``OUT/dicom/`` (:data:`DICOM_DIR_NAME`), for every analysed image:

- ``case-NNNNN-sr.dcm``: a Comprehensive SR (``highdicom``) whose content tree
  carries the score, the threshold and its name, the triage decision, the model's
  name, version and SHA-256, whether it was verified, the reviewer and the review
  mark and note, and image references to the source object (SOP class, instance
  and frame, when the input was DICOM) and to the heatmap;
- for each flagged or borderline case that got a case PDF: ``case-NNNNN-pdf.dcm``
  (Encapsulated PDF, with the source instance referenced) and
  ``case-NNNNN-heatmap.dcm`` (a Secondary Capture of the heatmap overlay as the
  PDF shows it; derived, BurnedInAnnotation NO: no text is drawn on it).

Each kind is a new series in the source's study (one series per kind and study
per run) with the source's patient and study modules copied: a PACS files the
results beside the image. An input that was not DICOM gets a new study per case
ID, the case ID as Patient ID. Every UID is new, under :data:`UID_ROOT` (a root
derived from a UUID, ISO/IEC 9834-8, since DermScreen has no registered one).
A resend reads these files again, so the same SOP Instance UIDs go out
(:mod:`desktop_app.reports.dicom.send`).

Files are written atomically. Patient identity in these objects is what the
source object carried (the PACS needs it); the CSV and PDFs show it only where
the user asked (:attr:`ReportContext.show_patient`).
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from desktop_app.core.base.files import FileWriteError, atomic_path, write_error_cause
from desktop_app.core.wording.texts import DISCLAIMER_SHORT
from desktop_app.version import app_version

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from desktop_app.core.inference.engine import CaseImages
    from desktop_app.core.inference.results import AnalysisResult
    from desktop_app.core.model.metadata import ModelMetadata
    from desktop_app.core.model.model_file import LoadedModel
    from desktop_app.reports.batch import BatchReports, Explain
    from desktop_app.reports.context import ReportContext

DICOM_DIR_NAME = "dicom"
# 2.25.<UUID as an integer> (uuid5 of "https://dermscreen.invalid/dicom-uid-root"), then our arcs.
UID_ROOT = "2.25.326034518955590804868507533931617903264."
SR_SERIES_NUMBER, PDF_SERIES_NUMBER, SC_SERIES_NUMBER = 9001, 9002, 9003
MANUFACTURER = "DermScreen"
SCHEME = "99DRMSCRN"  # private coding scheme (DICOM PS3.16 8.2: "99" prefix)
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
SOURCE_IMAGE_NAME = ("260753009", "SCT", "Source")  # SNOMED CT "Source"
# Triage decision codes (private scheme); "" is an error row, which gets no SR.
TRIAGE_CODES = {"anomalous": "DS1000", "borderline": "DS1001", "normal": "DS1002"}


def new_uid() -> str:
    """A fresh UID under :data:`UID_ROOT` (at most 64 characters)."""
    from pydicom.uid import generate_uid

    return str(generate_uid(prefix=UID_ROOT))


def _code(value: str, meaning: str) -> Any:
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=SCHEME, meaning=meaning)


def _scheme_identification() -> Dataset:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "DermScreen triage concepts"
    item.CodingSchemeResponsibleOrganization = "DermScreen"
    return item


@dataclass
class _Subject:
    """Patient and study modules a case's objects share."""

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

    def stub(self) -> Dataset:
        """A dataset holding only these modules, for an SR with no other evidence: highdicom
        copies the patient and study from its evidence. It is dropped from the SR's
        evidence lists after (it references nothing that exists; tested)."""
        from pydicom.dataset import Dataset

        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.SOPInstanceUID = ds.SeriesInstanceUID = new_uid()
        self.apply(ds)
        return ds


@dataclass
class _CaseObjects:
    sc: Dataset | None = None
    pdf: Dataset | None = None


@dataclass
class DicomReports:
    """What :class:`DicomWriter` wrote."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class DicomWriter:
    """Collects a batch's cases, then writes their DICOM objects into ``OUT/dicom``.

    :meth:`add_case` is called with each case's images and PDF as the batch
    reports are written (so no case is run through the model twice); :meth:`finish`
    writes one SR per analysed result.
    """

    def __init__(self, out_dir: str | Path, metadata: ModelMetadata, *, model_sha256: str,
                 model_verified: bool, point_name: str, context: ReportContext) -> None:
        self.folder = Path(out_dir) / DICOM_DIR_NAME
        self.metadata = metadata
        self.model_sha256 = model_sha256
        self.model_verified = model_verified
        self.point_name = point_name
        self.context = context
        self.now = datetime.now(UTC).astimezone()
        self._series: dict[tuple[str, str], str] = {}
        self._studies: dict[str, _Subject] = {}
        self._cases: dict[int, _CaseObjects] = {}
        self.written = DicomReports(self.folder)
        self._sources: dict[Path, Dataset | None] = {}

    # -- shared modules ---------------------------------------------------------------
    def _subject(self, result: AnalysisResult) -> _Subject:
        case = result.dicom
        if case is not None and case.study_instance_uid:
            return _Subject(case.patient_id, case.patient_name, case.patient_birth_date,
                            case.patient_sex, case.study_instance_uid, case.study_date,
                            case.study_time, case.study_id, case.accession_number,
                            case.referring_physician)
        case_id = self.context.case_id_of(result)
        if case_id not in self._studies:
            self._studies[case_id] = _Subject(
                case_id[:64], "", "", "", new_uid(), self.now.strftime("%Y%m%d"),
                self.now.strftime("%H%M%S"), "", "", "")
        return self._studies[case_id]

    def _series_uid(self, study: str, kind: str) -> str:
        return self._series.setdefault((study, kind), new_uid())

    def _source(self, result: AnalysisResult) -> Dataset | None:
        """The source object's header (for references), or None when it was not DICOM."""
        from desktop_app.core.imaging import dicom_read
        from desktop_app.core.imaging.imageio import read_file

        if result.dicom is None or not result.dicom.sop_instance_uid:
            return None
        base, _ = dicom_read.split_frame(result.path)
        if base not in self._sources:
            try:
                blob = read_file(result.path)
                ds = dicom_read.read_dataset(io.BytesIO(blob.data), base, header_only=True)
            except Exception:  # a vanished source still gets its SR, without a header copy
                ds = None
            self._sources[base] = ds
        return self._sources[base]

    def _common(self, ds: Dataset, subject: _Subject, sop_class: str, sop_uid: str) -> None:
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.preamble = b"\0" * 128
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
        ds.InstanceCreationDate = self.now.strftime("%Y%m%d")
        ds.InstanceCreationTime = self.now.strftime("%H%M%S")
        subject.apply(ds)

    # -- per case ---------------------------------------------------------------------
    def add_case(self, result: AnalysisResult, case: CaseImages, pdf: Path) -> None:
        """The heatmap overlay and the case PDF of one flagged or borderline case."""
        try:
            objects = _CaseObjects()
            objects.sc = self._heatmap(result, case)
            objects.pdf = self._encapsulated_pdf(result, pdf)
            self._cases[result.index] = objects
            self._save(objects.sc, f"case-{result.index:05d}-heatmap.dcm")
            self._save(objects.pdf, f"case-{result.index:05d}-pdf.dcm")
        except FileWriteError:
            raise
        except Exception as exc:  # one case must not stop the rest
            self.written.problems.append(f"no DICOM heatmap/PDF for {result.path.name}: "
                                         f"{type(exc).__name__}: {exc}")

    def _heatmap(self, result: AnalysisResult, case: CaseImages) -> Dataset:
        import highdicom as hd

        from desktop_app.core.imaging.heatmap import overlay

        subject = self._subject(result)
        vmax = self.metadata.heatmap_vmax
        pixels = overlay(case.original, case.error_map, vmax) if vmax > 0 else case.original
        sc = hd.sc.SCImage(
            pixel_array=np.ascontiguousarray(pixels, dtype=np.uint8),
            photometric_interpretation="RGB", bits_allocated=8, coordinate_system="PATIENT",
            study_instance_uid=subject.study_instance_uid,
            series_instance_uid=self._series_uid(subject.study_instance_uid, "SC"),
            series_number=SC_SERIES_NUMBER, sop_instance_uid=new_uid(),
            instance_number=result.index + 1, manufacturer=MANUFACTURER,
            patient_id=subject.patient_id, patient_name=subject.patient_name,
            patient_birth_date=subject.patient_birth_date, patient_sex=subject.patient_sex,
            accession_number=subject.accession_number, study_id=subject.study_id,
            study_date=subject.study_date, study_time=subject.study_time,
            referring_physician_name=subject.referring_physician,
            patient_orientation=("L", "F"),  # highdicom insists; emptied below
            series_description="DermScreen heatmap",
            specific_character_set="ISO_IR 192",
        )
        # A lesion photograph's orientation on the patient is unknown: Type 2, left empty.
        sc.PatientOrientation = ""
        sc.Laterality = ""  # Type 2C: a skin site may be paired; the image does not say which
        sc.ImageType = ["DERIVED", "SECONDARY"]
        sc.BurnedInAnnotation = "NO"
        sc.DerivationDescription = (
            f"DermScreen {app_version()} reconstruction-error heatmap over the image, model "
            f"{self.metadata.model_name} {self.metadata.model_version}")[:1024]
        source = self._source(result)
        if source is not None:
            from pydicom.dataset import Dataset as Ds

            ref = Ds()
            ref.ReferencedSOPClassUID = source.SOPClassUID
            ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
            if result.dicom is not None and result.dicom.frame is not None:
                ref.ReferencedFrameNumber = result.dicom.frame
            sc.SourceImageSequence = [ref]
        return sc

    def _encapsulated_pdf(self, result: AnalysisResult, pdf: Path) -> Dataset:
        from pydicom.dataset import Dataset

        subject = self._subject(result)
        data = pdf.read_bytes()
        ds = Dataset()
        self._common(ds, subject, ENCAPSULATED_PDF, new_uid())
        ds.Modality = "DOC"
        ds.SeriesInstanceUID = self._series_uid(subject.study_instance_uid, "DOC")
        ds.SeriesNumber = PDF_SERIES_NUMBER
        ds.SeriesDescription = "DermScreen case reports"
        ds.Manufacturer = MANUFACTURER
        ds.SoftwareVersions = app_version()
        ds.ConversionType = "WSD"
        ds.InstanceNumber = result.index + 1
        ds.ContentDate = self.now.strftime("%Y%m%d")
        ds.ContentTime = self.now.strftime("%H%M%S")
        ds.AcquisitionDateTime = self.now.strftime("%Y%m%d%H%M%S")
        ds.BurnedInAnnotation = "YES"  # the PDF prints the case and patient fields
        ds.DocumentTitle = f"DermScreen case report {result.index:05d}"
        ds.ConceptNameCodeSequence = []
        ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
        ds.EncapsulatedDocumentLength = len(data)
        ds.EncapsulatedDocument = data + (b"\0" if len(data) % 2 else b"")
        source = self._source(result)
        if source is not None:
            ref = Dataset()
            ref.ReferencedSOPClassUID = source.SOPClassUID
            ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
            ds.SourceInstanceSequence = [ref]
        return ds

    # -- the SRs ----------------------------------------------------------------------
    def finish(self, results: Sequence[AnalysisResult]) -> DicomReports:
        """One SR per analysed result (error rows get none); returns what was written."""
        for result in sorted(results, key=lambda r: r.index):
            if not result.ok:
                continue
            try:
                sr = self._report(result)
            except Exception as exc:  # one case must not stop the rest
                self.written.problems.append(f"no DICOM SR for {result.path.name}: "
                                             f"{type(exc).__name__}: {exc}")
                continue
            self._save(sr, f"case-{result.index:05d}-sr.dcm")
        return self.written

    def _report(self, result: AnalysisResult) -> Dataset:
        from highdicom.sr import (
            CodeContentItem,
            CodedConcept,
            ComprehensiveSR,
            ContainerContentItem,
            ContentSequence,
            ImageContentItem,
            NumContentItem,
            RelationshipTypeValues,
            TextContentItem,
        )

        contains = RelationshipTypeValues.CONTAINS
        subject = self._subject(result)
        objects = self._cases.get(result.index, _CaseObjects())
        source = self._source(result)
        no_units = CodedConcept(value="1", scheme_designator="UCUM", meaning="no units")
        triage = self.context.triage(result)
        triage_words = self.context.triage_label(result) or triage

        def text(value: str, meaning: str, words: str) -> Any:
            return TextContentItem(name=_code(value, meaning), value=words[:10000],
                                   relationship_type=contains)

        items: list[Any] = [
            NumContentItem(name=_code("DS0002", "Anomaly score"), value=float(result.score or 0.0),
                           unit=no_units, relationship_type=contains),
            NumContentItem(name=_code("DS0003", "Decision threshold"),
                           value=float(result.threshold or 0.0), unit=no_units,
                           relationship_type=contains),
            text("DS0004", "Threshold name", self.point_name or "chosen threshold"),
            CodeContentItem(name=_code("DS0005", "Triage decision"),
                            value=_code(TRIAGE_CODES.get(triage, "DS1009"),
                                        (triage_words or "not decided")[:64]),
                            relationship_type=contains),
            text("DS0006", "Model name", self.metadata.model_name),
            text("DS0007", "Model version", self.metadata.model_version),
            text("DS0008", "Model SHA-256", self.model_sha256 or "unknown"),
            text("DS0009", "Model verified", "yes" if self.model_verified else
                 "no (no .sha256 file vouched for the model)"),
            text("DS0010", "Calibration",
                 f"site profile {self.context.site_profile}" if self.context.site_profile
                 else "none (the model's own validation statistics)"),
            text("DS0011", "Image SHA-256", result.image_sha256 or "unknown"),
            text("DS0012", "Software", f"DermScreen {app_version()}"),
            text("DS0013", "Intended use", DISCLAIMER_SHORT),
        ]
        if self.context.clinician:
            items.append(text("DS0014", "Reviewing clinician", self.context.clinician))
        review = self.context.review_of(result)
        if review is not None:
            items.append(text("DS0015", "Reviewed", "yes" if review[0] else "no"))
            if review[1]:
                items.append(text("DS0016", "Review note", review[1]))
        evidence: list[Dataset] = []
        if source is not None:
            frames = [result.dicom.frame] if result.dicom and result.dicom.frame else None
            items.append(ImageContentItem(
                name=CodedConcept(value=SOURCE_IMAGE_NAME[0],
                                  scheme_designator=SOURCE_IMAGE_NAME[1],
                                  meaning=SOURCE_IMAGE_NAME[2]),
                referenced_sop_class_uid=source.SOPClassUID,
                referenced_sop_instance_uid=source.SOPInstanceUID,
                referenced_frame_numbers=frames, relationship_type=contains))
            evidence.append(source)
        if objects.sc is not None:
            items.append(ImageContentItem(
                name=_code("DS0017", "Heatmap overlay"),
                referenced_sop_class_uid=objects.sc.SOPClassUID,
                referenced_sop_instance_uid=objects.sc.SOPInstanceUID,
                relationship_type=contains))
            evidence.append(objects.sc)
        if objects.pdf is not None:
            evidence.append(objects.pdf)
        root = ContainerContentItem(name=_code("DS0001", "DermScreen triage result"))
        root.ContentSequence = ContentSequence(items)
        sr = ComprehensiveSR(
            evidence=evidence or [subject.stub()], content=root,
            series_instance_uid=self._series_uid(subject.study_instance_uid, "SR"),
            series_number=SR_SERIES_NUMBER, sop_instance_uid=new_uid(),
            instance_number=result.index + 1, manufacturer=MANUFACTURER,
            is_complete=True, record_evidence=bool(evidence),
            series_description="DermScreen triage results",
            specific_character_set="ISO_IR 192",
        )
        if not evidence:  # highdicom lists the stub; it references nothing that exists
            for keyword in ("CurrentRequestedProcedureEvidenceSequence",
                            "PertinentOtherEvidenceSequence"):
                if keyword in sr:
                    delattr(sr, keyword)
        subject.apply(sr)
        sr.CodingSchemeIdentificationSequence = [_scheme_identification()]
        return sr

    def _save(self, ds: Dataset, name: str) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileWriteError(self.folder, write_error_cause(exc)) from None
        target = self.folder / name
        # Private (0600): the objects carry the patient module.
        with atomic_path(target, private=True) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
        self.written.files.append(target)


def dicom_files(out_dir: str | Path) -> list[Path]:
    """The DICOM objects a run wrote into ``out_dir`` (or ``out_dir/dicom``), sorted."""
    folder = Path(out_dir)
    if (folder / DICOM_DIR_NAME).is_dir():
        folder = folder / DICOM_DIR_NAME
    return sorted(p for p in folder.glob("*.dcm") if p.is_file())


def supersede_dicom(out_dir: str | Path, superseded: Path | None) -> None:
    """Move an earlier run's ``dicom/`` folder into ``superseded`` (made when needed)."""
    from desktop_app.reports.output_folder import SUPERSEDED_DIR_NAME

    folder = Path(out_dir) / DICOM_DIR_NAME
    if not folder.is_dir():
        return
    if superseded is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        superseded = Path(out_dir) / SUPERSEDED_DIR_NAME / f"{stamp}-dicom"
    try:
        superseded.mkdir(parents=True, exist_ok=True)
        os.replace(folder, superseded / DICOM_DIR_NAME)
    except OSError as exc:
        raise FileWriteError(folder, f"cannot move earlier DICOM objects aside: "
                                     f"{write_error_cause(exc)}") from None


def write_reports_with_dicom(
    out_dir: str | Path,
    results: Sequence[AnalysisResult],
    model: LoadedModel,
    threshold: float,
    *,
    point_name: str,
    explain: Explain,
    inputs: Sequence[str | Path] = (),
    context: ReportContext | None = None,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[BatchReports, DicomReports]:
    """:func:`~desktop_app.reports.batch.write_batch_reports` with PDFs, plus the DICOM objects.

    An earlier run's ``dicom/`` is moved to ``superseded/`` first. The heatmap and
    encapsulated PDF of a case are made from the images its case PDF was made
    from (no second model run); then one SR per analysed result. A cancelled run
    writes no SRs (``DicomReports.files`` holds what was written).
    """
    from desktop_app.reports.batch import batch_context, write_batch_reports

    context = batch_context(context, inputs).for_model(model.metadata)
    supersede_dicom(out_dir, None)
    writer = DicomWriter(out_dir, model.metadata, model_sha256=model.sha256,
                         model_verified=model.verified, point_name=point_name, context=context)
    reports = write_batch_reports(out_dir, results, model, threshold, inputs=inputs, pdf=True,
                                  explain=explain, cancel=cancel, progress=progress,
                                  context=context, on_case=writer.add_case)
    if reports.cancelled:
        return reports, writer.written
    return reports, writer.finish(results)
