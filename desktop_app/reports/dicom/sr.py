"""The SR's content: a TID 1500 Measurement Report of one DermScreen result (highdicom).

:func:`measurement_report` builds the tree (observer context with DermScreen and the model
as device observer and the reviewing clinician as person observer, procedure reported,
one TID 1501 measurement group with the algorithm identification, the scores named as the
CSV names them, the triage decision, the review and the references); :func:`enhanced_sr`
wraps it into an Enhanced SR instance. The codes below are the one home of every concept
the SR uses: standard DCM/SCT/UCUM codes wherever one exists, the private scheme
:data:`SCHEME` only where none does (docs/DICOM.md draws the tree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from desktop_app.core.wording.texts import DISCLAIMER_SHORT
from desktop_app.version import app_version

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from desktop_app.core.inference.results import AnalysisResult
    from desktop_app.core.model.metadata import ModelMetadata
    from desktop_app.reports.context import ReportContext

SCHEME = "99DRMSCRN"  # private coding scheme (DICOM PS3.16 8.2: "99" prefix)
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"

# Standard codes (value, scheme, meaning). One home: docs/DICOM.md lists these.
PROCEDURE_REPORTED = ("446078004", "SCT", "Dermoscopic photography")
FINDING_TYPE = ("95324001", "SCT", "Skin lesion")
CLASSIFIER_PROBABILITY = ("111047", "DCM", "Probability of cancer")
Z_SCORE = ("113071", "DCM", "Z-score")
PERCENTILE = ("121415", "DCM", "Percentile Ranking of measurement")
NO_UNITS = ("1", "UCUM", "no units")
PERCENT = ("%", "UCUM", "Percent")
# Private codes: concepts no standard coding scheme has. The score names follow the CSV
# columns: score (deciding), anomaly_score (the CAE part), classifier_probability.
DECIDING_SCORE = ("DS0002", SCHEME, "Deciding score")
ANOMALY_SCORE = ("DS0020", SCHEME, "CAE anomaly score")
THRESHOLD = ("DS0003", SCHEME, "Decision threshold")
TRIAGE = ("DS0005", SCHEME, "Triage decision")
IMAGE_SHA256 = ("DS0011", SCHEME, "Image SHA-256")
INTENDED_USE = ("DS0013", SCHEME, "Intended use")
REVIEWED = ("DS0015", SCHEME, "Reviewed by clinician")
REVIEW_NOTE = ("DS0016", SCHEME, "Review note")
HEATMAP = ("DS0017", SCHEME, "Heatmap overlay")
# Triage decision values (private: "not flagged" is not a diagnosis of normal).
TRIAGE_VALUES = {"anomalous": ("DS1000", SCHEME, "Flagged"),
                 "borderline": ("DS1001", SCHEME, "Borderline"),
                 "normal": ("DS1002", SCHEME, "Not flagged")}
YES, NO = ("373066001", "SCT", "Yes"), ("373067005", "SCT", "No")


def _code(code: tuple[str, str, str]) -> Any:
    from highdicom.sr import CodedConcept

    return CodedConcept(value=code[0], scheme_designator=code[1], meaning=code[2])


def _scheme_identification() -> Dataset:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "DermScreen triage concepts"
    item.CodingSchemeResponsibleOrganization = "DermScreen"
    return item


def _person_name(text: str) -> str:
    """A typed clinician name as a DICOM PN: all of it in the family-name component (we do
    not guess how to split it), without PN delimiters, at most 64 characters."""
    kept = "".join(" " if ch in "^=\\" else ch for ch in text).strip()[:64].strip()
    return f"{kept}^" if kept else ""


@dataclass(frozen=True)
class SrFacts:
    """What every SR of a run says besides the result: the report context, the model and
    how it was decided, and who made it."""

    context: ReportContext
    metadata: ModelMetadata
    model_sha256: str
    model_verified: bool
    point_name: str
    manufacturer: str
    device_uid: str


def observation_context(facts: SrFacts) -> Any:
    """TID 1002: the device (DermScreen and its model), and the clinician when named."""
    from highdicom.sr import (
        DeviceObserverIdentifyingAttributes,
        ObservationContext,
        ObserverContext,
        PersonObserverIdentifyingAttributes,
    )
    from pydicom.sr.codedict import codes

    device = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=facts.device_uid,
            name=f"DermScreen {app_version()}"[:64], manufacturer_name=facts.manufacturer,
            model_name=f"{facts.metadata.model_name} {facts.metadata.model_version}"[:64]))
    person = None
    name = _person_name(facts.context.clinician)
    if name:
        person = ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=PersonObserverIdentifyingAttributes(name=name))
    return ObservationContext(observer_person_context=person,
                              observer_device_context=device)


def finding_sites(source: Dataset | None) -> list[Any]:
    """The source's anatomic region (a coded skin site) as the finding site, when coded."""
    from highdicom.sr import FindingSite

    region = source.get("AnatomicRegionSequence") if source is not None else None
    if not region:
        return []
    item = region[0]
    value, scheme = str(item.get("CodeValue", "")), str(item.get("CodingSchemeDesignator", ""))
    meaning = str(item.get("CodeMeaning", ""))
    if not (value and scheme and meaning):
        return []
    return [FindingSite(anatomic_location=_code((value[:16], scheme[:16], meaning[:64])))]


def measurement_report(result: AnalysisResult, facts: SrFacts, *, source: Dataset | None,
                       heatmap: Dataset | None, tracking_uid: str) -> Any:
    """The TID 1500 tree of one result (``source``: the source object's header, ``heatmap``:
    its SC, either may be None)."""
    from highdicom.sr import (
        AlgorithmIdentification,
        ImageContentItem,
        Measurement,
        MeasurementReport,
        MeasurementsAndQualitativeEvaluations,
        QualitativeEvaluation,
        RelationshipTypeValues,
        SourceImageForMeasurementGroup,
        TextContentItem,
        TrackingIdentifier,
    )

    contains = RelationshipTypeValues.CONTAINS
    context = facts.context
    triage = context.triage(result)

    def measure(code: tuple[str, str, str], value: float | None,
                unit: tuple[str, str, str] = NO_UNITS) -> list[Any]:
        if value is None or not np.isfinite(value):
            return []
        return [Measurement(name=_code(code), value=float(value), unit=_code(unit))]

    def text(code: tuple[str, str, str], words: str) -> Any:
        return TextContentItem(name=_code(code), value=words[:10000] or "-",
                               relationship_type=contains)

    measurements = [
        *measure(DECIDING_SCORE, result.score),
        *measure(THRESHOLD, result.threshold),
        *measure(ANOMALY_SCORE, result.anomaly_score),
        *measure(CLASSIFIER_PROBABILITY, result.probability),
        *measure(Z_SCORE, result.z),
        *measure(PERCENTILE, result.percentile, PERCENT),
    ]
    evaluations = []
    if triage in TRIAGE_VALUES:
        evaluations.append(QualitativeEvaluation(_code(TRIAGE), _code(TRIAGE_VALUES[triage])))
    review = context.review_of(result)
    if review is not None:
        evaluations.append(QualitativeEvaluation(_code(REVIEWED),
                                                 _code(YES if review[0] else NO)))
    parameters = [
        f"threshold: {result.threshold:.8g} ({facts.point_name or 'chosen threshold'})"
        if result.threshold is not None else "threshold: none",
        f"model SHA-256: {facts.model_sha256 or 'unknown'}",
        "model verified: " + ("yes" if facts.model_verified else
                              "no (no .sha256 file vouched for the model)"),
        "calibration: " + (f"site profile {context.site_profile}"
                           if context.site_profile
                           else "none (the model's own validation statistics)"),
    ]
    lesion = result.dicom.lesion_id if result.dicom is not None else ""
    frames = ([result.dicom.frame] if result.dicom is not None and result.dicom.frame
              else None)
    group = MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(
            uid=tracking_uid, identifier=f"lesion {lesion}" if lesion else
            f"case {result.index:05d}"),
        finding_type=_code(FINDING_TYPE),
        algorithm_id=AlgorithmIdentification(
            name=facts.metadata.model_name, version=facts.metadata.model_version,
            parameters=parameters, manufacturer=facts.manufacturer),
        finding_sites=finding_sites(source) or None,
        measurements=measurements, qualitative_evaluations=evaluations or None,
        source_images=[SourceImageForMeasurementGroup.from_source_image(source, frames)]
        if source is not None else None,
    )
    extra: list[Any] = [text(IMAGE_SHA256, result.image_sha256 or "unknown"),
                        text(INTENDED_USE, DISCLAIMER_SHORT)]
    if review is not None and review[1]:
        extra.append(text(REVIEW_NOTE, review[1]))
    if heatmap is not None:
        extra.append(ImageContentItem(
            name=_code(HEATMAP), referenced_sop_class_uid=heatmap.SOPClassUID,
            referenced_sop_instance_uid=heatmap.SOPInstanceUID,
            relationship_type=contains))
    group[0].ContentSequence.extend(extra)
    return MeasurementReport(
        observation_context=observation_context(facts),
        procedure_reported=_code(PROCEDURE_REPORTED), imaging_measurements=[group])


def enhanced_sr(report: Any, evidence: list[Dataset], *, stub_uid: str, series_uid: str,
                series_number: int, sop_uid: str, instance_number: int,
                manufacturer: str) -> Dataset:
    """The Enhanced SR instance holding ``report``. ``evidence[0]`` (``stub_uid``) only
    carries the patient and study for highdicom and is dropped from the evidence lists."""
    from highdicom.sr import EnhancedSR

    sr = EnhancedSR(
        evidence=evidence, content=report[0], series_instance_uid=series_uid,
        series_number=series_number, sop_instance_uid=sop_uid,
        instance_number=instance_number, manufacturer=manufacturer,
        is_complete=True, record_evidence=True,
        series_description="DermScreen triage results",
        specific_character_set="ISO_IR 192",
        performed_procedure_codes=[_code(PROCEDURE_REPORTED)],
    )
    _drop_reference(sr, stub_uid)
    sr.CodingSchemeIdentificationSequence = [_scheme_identification()]
    return sr


def _drop_reference(sr: Dataset, sop_instance_uid: str) -> None:
    """Remove the stub highdicom needed for the patient and study from the evidence lists
    (it references nothing that exists)."""
    for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        studies = sr.get(keyword)
        if studies is None:
            continue
        for study in list(studies):
            for series in list(study.ReferencedSeriesSequence):
                series.ReferencedSOPSequence = [
                    i for i in series.ReferencedSOPSequence
                    if i.ReferencedSOPInstanceUID != sop_instance_uid]
                if not series.ReferencedSOPSequence:
                    study.ReferencedSeriesSequence.remove(series)
            if not study.ReferencedSeriesSequence:
                studies.remove(study)
        if not studies:
            delattr(sr, keyword)
