"""DICOM results a PACS keeps: per case a TID 1500 Measurement Report, the case PDF, the heatmap.

Into ``OUT/dicom/`` (:data:`DICOM_DIR_NAME`), for every analysed image whose
patient is known (see below):

- ``case-NNNNN-sr.dcm``: an Enhanced SR (``highdicom``) holding a TID 1500 Imaging
  Measurement Report: observer context (device DermScreen with the model's name and
  version; the reviewing clinician as person observer where named), procedure reported
  (SCT Dermoscopic photography), one measurement group (TID 1501) for the lesion with
  its finding site where the source object codes one, the algorithm identification
  (TID 4019), the scores (the deciding score, and for a combined model its CAE anomaly
  score and the classifier's DCM "Probability of cancer"), z-score, percentile and
  threshold, the triage decision, the review, and references to the source object and
  the heatmap (built by :mod:`desktop_app.reports.dicom.sr`, the home of its codes).
  Standard DCM/SCT/UCUM codes wherever one exists; private codes only where none does.
  docs/DICOM.md draws the tree.
- for each flagged or borderline case that got a case PDF: ``case-NNNNN-pdf.dcm``
  (Encapsulated PDF: the case report, which prints the identity its header carries) and
  ``case-NNNNN-heatmap.dcm`` (a Secondary Capture of the heatmap overlay with its
  colour legend; BurnedInAnnotation NO: the legend holds numbers, no identity);
- ``manifest.json`` (:data:`MANIFEST_NAME`): what this run wrote; ``dermscreen send``
  sends only folders with one, and only the objects it lists.

Patient and study: a DICOM input that names a Patient ID files its results in its own
study under its patient. Any other input (JPEG, PNG; a DICOM object without a Patient
ID) needs the patient the user entered (:attr:`ReportContext.patient`): its results go
in the study the user named, or one new study for the run. Without one, it gets no
DICOM objects and :attr:`DicomReports.problems` says so: a PACS must never receive an
empty Patient ID. Type 2 attributes the source lacks (birth date, sex, accession...)
are written empty.

Each kind is a new series per study and run, numbered by the run's minute
(:func:`series_number`) so a re-analysis never adds a second series with the same
number; instance numbers count within each series. Every UID is new
(:mod:`desktop_app.reports.dicom.subject`). A resend reads these files again, so the same
SOP Instance UIDs go out.

Files are written atomically, then made 0640 less the umask: a PACS export folder is
often read by another service account in the group; never world-readable, since the
objects carry the patient module.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop_app.core.base.files import FileWriteError, atomic_path, write_error_cause
from desktop_app.reports.dicom.heatmap_legend import with_legend
from desktop_app.reports.dicom.subject import Subject, device_uid, new_uid
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
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "dermscreen-dicom-manifest/1"
# Series kinds: the last digit of a run's series numbers.
SERIES_KIND_DIGIT = {"SR": 1, "DOC": 2, "SC": 3}
_SERIES_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
FILE_MODE = 0o640  # less the umask
MANUFACTURER = "DermScreen"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
NO_IDENTITY = ("no patient identity (not DICOM, or no Patient ID): no DICOM objects for it; "
               "give the patient (analyse --patient-id/--patient-name, or the patient fields of "
               "the Report details dialog) to file it in PACS")


def series_number(when: datetime, kind: str) -> int:
    """Minutes since 2020-01-01 UTC times ten plus the kind's digit: unique per run minute,
    later runs higher (a 32-bit IS holds this until about the year 2400)."""
    minutes = int((when - _SERIES_EPOCH).total_seconds() // 60)
    return max(0, minutes) * 10 + SERIES_KIND_DIGIT[kind]


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
    without_identity: list[str] = field(default_factory=list)  # file names, no objects


class DicomWriter:
    """Collects a batch's cases, then writes their DICOM objects into ``OUT/dicom``.

    :meth:`add_case` is called with each case's images and PDF as the batch
    reports are written (so no case is run through the model twice); :meth:`finish`
    writes one SR per analysed result and the manifest.
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
        self._instances: dict[str, int] = {}
        self._entered: Subject | None = None
        self._cases: dict[int, _CaseObjects] = {}
        self._manifest: list[dict[str, str]] = []
        self.written = DicomReports(self.folder)
        self._sources: dict[Path, Dataset | None] = {}

    # -- shared modules ---------------------------------------------------------------
    def _subject(self, result: AnalysisResult) -> Subject | None:
        """The patient and study the case's objects go under; None when nobody named the
        patient (then it gets no objects)."""
        case = result.dicom
        if case is not None and case.patient_id.strip() and case.study_instance_uid:
            return Subject(case.patient_id, case.patient_name, case.patient_birth_date,
                            case.patient_sex, case.study_instance_uid, case.study_date,
                            case.study_time, case.study_id, case.accession_number,
                            case.referring_physician)
        entered = self.context.patient
        if entered is None or entered.problems():
            return None
        if self._entered is None:
            self._entered = Subject(
                entered.patient_id, entered.patient_name, entered.patient_birth_date,
                entered.patient_sex, entered.study_instance_uid or new_uid(),
                self.now.strftime("%Y%m%d"), self.now.strftime("%H%M%S"), "",
                entered.accession_number, "")
        return self._entered

    def _series_uid(self, study: str, kind: str) -> str:
        return self._series.setdefault((study, kind), new_uid())

    def _next_instance(self, series_uid: str) -> int:
        """1, 2, 3... within each series (not across the batch)."""
        self._instances[series_uid] = self._instances.get(series_uid, 0) + 1
        return self._instances[series_uid]

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
                if not ds.get("SOPClassUID") or not ds.get("SOPInstanceUID"):
                    ds = None
            except Exception:  # a vanished source still gets its SR, without a header copy
                ds = None
            self._sources[base] = ds
        return self._sources[base]

    def _common(self, ds: Dataset, subject: Subject, sop_class: str, sop_uid: str) -> None:
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

    def _no_identity(self, result: AnalysisResult) -> None:
        name = self.context.shown_path(result)
        if name not in self.written.without_identity:
            self.written.without_identity.append(name)

    # -- per case ---------------------------------------------------------------------
    def add_case(self, result: AnalysisResult, case: CaseImages, pdf: Path) -> None:
        """The heatmap overlay and the case PDF of one flagged or borderline case."""
        subject = self._subject(result)
        if subject is None:
            self._no_identity(result)
            return
        try:
            objects = _CaseObjects()
            objects.sc = self._heatmap(result, case, subject)
            objects.pdf = self._encapsulated_pdf(result, pdf, subject)
            self._cases[result.index] = objects
            self._save(objects.sc, f"case-{result.index:05d}-heatmap.dcm")
            self._save(objects.pdf, f"case-{result.index:05d}-pdf.dcm")
        except FileWriteError:
            raise
        except Exception as exc:  # one case must not stop the rest
            self.written.problems.append(f"no DICOM heatmap/PDF for {result.path.name}: "
                                         f"{type(exc).__name__}: {exc}")

    def _heatmap(self, result: AnalysisResult, case: CaseImages, subject: Subject) -> Dataset:
        import highdicom as hd

        from desktop_app.core.imaging.heatmap import field_of_view, overlay

        vmax = self.metadata.heatmap_vmax
        # Masked to the field of view as in the window and the case PDF.
        pixels = (overlay(case.original, case.error_map, vmax,
                          inside=field_of_view(case.model_input))
                  if vmax > 0 else case.original)
        if vmax > 0:
            pixels = with_legend(pixels, vmax)
        series = self._series_uid(subject.study_instance_uid, "SC")
        sc = hd.sc.SCImage(
            pixel_array=np.ascontiguousarray(pixels, dtype=np.uint8),
            photometric_interpretation="RGB", bits_allocated=8, coordinate_system="PATIENT",
            study_instance_uid=subject.study_instance_uid, series_instance_uid=series,
            series_number=series_number(self.now, "SC"), sop_instance_uid=new_uid(),
            instance_number=self._next_instance(series), manufacturer=MANUFACTURER,
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
        sc.BurnedInAnnotation = "NO"  # the legend's numbers identify nobody
        sc.DerivationDescription = (
            f"DermScreen {app_version()} reconstruction-error heatmap over the image, model "
            f"{self.metadata.model_name} {self.metadata.model_version}; legend below the "
            f"image: colour scale from 0 to {vmax:.3g} (brightest = error at or above it)")[:1024]
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

    def _encapsulated_pdf(self, result: AnalysisResult, pdf: Path, subject: Subject) -> Dataset:
        from pydicom.dataset import Dataset

        self._ensure_folder()
        # The case report always prints the identity its DICOM objects are filed under
        # (ReportContext.referral_of), so the folder's PDF is the one PACS stores.
        data = pdf.read_bytes()
        ds = Dataset()
        self._common(ds, subject, ENCAPSULATED_PDF, new_uid())
        ds.Modality = "DOC"
        ds.SeriesInstanceUID = self._series_uid(subject.study_instance_uid, "DOC")
        ds.SeriesNumber = series_number(self.now, "DOC")
        ds.SeriesDescription = "DermScreen case reports"
        ds.Manufacturer = MANUFACTURER
        ds.SoftwareVersions = app_version()
        ds.ConversionType = "WSD"
        ds.InstanceNumber = self._next_instance(ds.SeriesInstanceUID)
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
        """One SR per analysed result whose patient is known (error rows get none), then
        the manifest; returns what was written."""
        for result in sorted(results, key=lambda r: r.index):
            if not result.ok:
                continue
            subject = self._subject(result)
            if subject is None:
                self._no_identity(result)
                continue
            try:
                sr = self._report(result, subject)
            except Exception as exc:  # one case must not stop the rest
                self.written.problems.append(f"no DICOM SR for {result.path.name}: "
                                             f"{type(exc).__name__}: {exc}")
                continue
            self._save(sr, f"case-{result.index:05d}-sr.dcm")
        self.write_manifest()
        return self.written

    def _report(self, result: AnalysisResult, subject: Subject) -> Dataset:
        from desktop_app.reports.dicom.sr import SrFacts, enhanced_sr, measurement_report

        objects = self._cases.get(result.index, _CaseObjects())
        source = self._source(result)
        facts = SrFacts(self.context, self.metadata, self.model_sha256, self.model_verified,
                        self.point_name, MANUFACTURER, device_uid(self.model_sha256))
        report = measurement_report(result, facts, source=source, heatmap=objects.sc,
                                    tracking_uid=new_uid())
        stub = subject.evidence()  # first: highdicom takes the patient and study from it
        evidence = [stub, *(subject.evidence(ds) for ds in (source, objects.sc, objects.pdf)
                            if ds is not None)]
        series = self._series_uid(subject.study_instance_uid, "SR")
        sr = enhanced_sr(report, evidence, stub_uid=stub.SOPInstanceUID, series_uid=series,
                         series_number=series_number(self.now, "SR"), sop_uid=new_uid(),
                         instance_number=self._next_instance(series), manufacturer=MANUFACTURER)
        subject.apply(sr)
        return sr

    # -- files ------------------------------------------------------------------------
    def _ensure_folder(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileWriteError(self.folder, write_error_cause(exc)) from None

    def _save(self, ds: Dataset, name: str) -> None:
        self._ensure_folder()
        target = self.folder / name
        with atomic_path(target, private=True) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
        _share_with_group(target)
        self.written.files.append(target)
        self._manifest.append({"file": name, "sop_class_uid": str(ds.SOPClassUID),
                               "sop_instance_uid": str(ds.SOPInstanceUID)})

    def write_manifest(self) -> Path | None:
        """``manifest.json``: the objects this run wrote (send sends these, and only from a
        folder that has one). None when no object was written."""
        if not self._manifest:
            return None
        self._ensure_folder()
        target = self.folder / MANIFEST_NAME
        data = {"format": MANIFEST_FORMAT, "written_by": f"DermScreen {app_version()}",
                "written_at": self.now.isoformat(timespec="seconds"),
                "objects": self._manifest}
        with atomic_path(target, private=True) as tmp:
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        _share_with_group(target)
        return target


def _share_with_group(path: Path) -> None:
    """0640 less the umask, after the rename (the file was 0600 until then: never wider)."""
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(path, FILE_MODE & ~umask)
    except OSError as exc:
        raise FileWriteError(path.parent, f"{path.name}: {write_error_cause(exc)}") from None


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
    from (no second model run); then one SR per analysed result whose patient is
    known, and the manifest. Results without a patient get none, and one line in
    ``DicomReports.problems`` names them. A cancelled run writes no SRs
    (``DicomReports.files`` and the manifest hold what was written).
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
        writer.write_manifest()
        return reports, writer.written
    dicom = writer.finish(results)
    if dicom.without_identity:
        names = ", ".join(dicom.without_identity[:3])
        more = len(dicom.without_identity) - 3
        dicom.problems.append(
            f"{len(dicom.without_identity)} analysed image(s) ({names}"
            f"{f' and {more} more' if more > 0 else ''}): {NO_IDENTITY}")
    return reports, dicom
