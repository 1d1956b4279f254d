"""One analysis result per input file, and re-deciding it from the stored score.

A result keeps the score, so changing alpha or the threshold re-decides every
row without running the model again (:func:`redecide`). The decision rule,
z-score and benign percentile come from :class:`BenignStats` and
:func:`desktop_app.core.model.score_stats.decide`; nothing here re-implements them.

The CSV columns (:data:`CSV_COLUMNS`, fixed order) are documented in
:mod:`desktop_app.reports.csv_report` and in ``dermscreen analyze --help``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from desktop_app.core.base.files import utc_now_iso
from desktop_app.core.imaging.dicom_case import DicomCase
from desktop_app.core.inference.drift import input_check_words
from desktop_app.core.model.score_stats import BenignStats, decide


class Status(StrEnum):
    """Whether a file was analysed. A StrEnum: equal to its plain string (``Status.OK == "ok"``)."""

    OK = "ok"
    ERROR = "error"


class Decision(StrEnum):
    """What a result says; :attr:`NONE` (empty) on an error row. Equal to its plain string."""

    ANOMALOUS = "anomalous"
    NORMAL = "normal"
    NONE = ""


STATUS_OK = Status.OK
STATUS_ERROR = Status.ERROR
DECISION_ANOMALOUS = Decision.ANOMALOUS
DECISION_NORMAL = Decision.NORMAL

CSV_COLUMNS: tuple[str, ...] = (
    "index",
    "path",
    "file_name",
    "status",
    "error_code",
    "error",
    "score",
    "threshold",
    "triage",
    "reviewed",
    "review_note",
    "reviewed_by",
    "reviewed_at",
    "z",
    "percentile",
    "anomaly_score",
    "classifier_probability",
    "image_sha256",
    "model_name",
    "model_version",
    "model_sha256",
    "model_verified",
    "provider",
    "seconds",
    "analysed_at",
    "case_id",
    "clinician",
    "app_version",
    # DICOM inputs only (empty otherwise); the patient's identity only where enabled.
    "dicom_study_uid",
    "dicom_sop_uid",
    "study_date",
    "body_site",
    "lesion_id",
    "patient_id",
    "patient_name",
    "patient_birth_date",
    "input_check",
    "site_profile",
    "batch_drift",
)
# Filled by the report writer (desktop_app.reports.csv_report), not by a result alone.
REPORT_COLUMNS: tuple[str, ...] = (
    "case_id", "triage", "reviewed", "review_note", "reviewed_by", "reviewed_at", "clinician",
    "app_version", "dicom_study_uid", "dicom_sop_uid", "study_date", "body_site", "lesion_id",
    "patient_id", "patient_name", "patient_birth_date",
    "site_profile", "batch_drift",
)


@dataclass(frozen=True)
class AnalysisResult:
    """Everything DermScreen says about one input file."""

    index: int
    path: Path
    status: Status
    error: str
    error_code: str
    score: float | None
    threshold: float | None
    decision: Decision
    z: float | None
    percentile: float | None
    image_sha256: str
    model_name: str
    model_version: str
    model_sha256: str
    provider: str
    seconds: float
    analysed_at: str
    # False when no .sha256 sidecar vouched for the model file ("unverified model").
    model_verified: bool = False
    # A combined model's parts (its outputs anomaly_score and probability); None otherwise.
    anomaly_score: float | None = None
    probability: float | None = None
    # The case fields of a DICOM input (None for other images); identity is not in repr.
    dicom: DicomCase | None = None
    # Image statistics outside the training images' range (desktop_app.core.inference.drift); () = none.
    input_flags: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def is_anomalous(self) -> bool:
        return self.decision == DECISION_ANOMALOUS

    def to_row(self) -> dict[str, str]:
        """The result as CSV cells (strings), keyed by :data:`CSV_COLUMNS` in order; the
        :data:`REPORT_COLUMNS` are empty here (the report writer fills them)."""

        def num(value: float | None, digits: int = 6) -> str:
            if value is None or not math.isfinite(value):
                return ""
            return f"{value:.{digits}g}"

        cells = {
            "index": str(self.index),
            "path": str(self.path),
            "file_name": self.path.name,
            "status": self.status,
            "error_code": self.error_code,
            "error": self.error,
            "score": num(self.score, 8),
            "threshold": num(self.threshold, 8),
            "z": num(self.z, 4),
            "percentile": "" if self.percentile is None else f"{self.percentile:.1f}",
            "anomaly_score": num(self.anomaly_score, 8),
            "classifier_probability": num(self.probability, 6),
            "image_sha256": self.image_sha256,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "model_sha256": self.model_sha256,
            "model_verified": "yes" if self.model_verified else "no",
            "provider": self.provider,
            "seconds": f"{self.seconds:.4f}",
            "analysed_at": self.analysed_at,
            "input_check": input_check_words(self.input_flags),
        }
        return {name: cells.get(name, "") for name in CSV_COLUMNS}


def ok_result(
    *,
    index: int,
    path: Path,
    score: float,
    threshold: float,
    stats: BenignStats,
    image_sha256: str,
    model_info: dict[str, Any],
    seconds: float,
    anomaly_score: float | None = None,
    probability: float | None = None,
    dicom: DicomCase | None = None,
    input_flags: tuple[str, ...] = (),
) -> AnalysisResult:
    """A successful result: decision, z and percentile derived from ``stats``.

    ``model_info``: model_name, model_version, model_sha256, provider and
    optionally model_verified (:meth:`desktop_app.core.inference.engine.Engine.model_info`).
    """
    score = float(score)
    return AnalysisResult(
        index=index,
        path=path,
        status=STATUS_OK,
        error="",
        error_code="",
        score=score,
        threshold=float(threshold),
        decision=Decision(decide(score, threshold)),
        z=float(stats.z(score)),
        percentile=float(stats.percentile(score)),
        image_sha256=image_sha256,
        seconds=float(seconds),
        analysed_at=utc_now_iso(),
        anomaly_score=None if anomaly_score is None else float(anomaly_score),
        probability=None if probability is None else float(probability),
        dicom=dicom,
        input_flags=tuple(input_flags),
        **model_info,
    )


def error_result(
    *,
    index: int,
    path: Path,
    error: str,
    error_code: str,
    image_sha256: str,
    model_info: dict[str, Any],
    seconds: float,
    dicom: DicomCase | None = None,
) -> AnalysisResult:
    """A failed result: no score, no decision, the reason kept."""
    return AnalysisResult(
        index=index,
        path=path,
        status=STATUS_ERROR,
        error=error,
        error_code=error_code,
        score=None,
        threshold=None,
        decision=Decision.NONE,
        z=None,
        percentile=None,
        image_sha256=image_sha256,
        seconds=float(seconds),
        analysed_at=utc_now_iso(),
        dicom=dicom,
        **model_info,
    )


def redecide(result: AnalysisResult, stats: BenignStats, threshold: float) -> AnalysisResult:
    """The same result decided at ``threshold``; no re-inference. Error rows are unchanged."""
    if result.status != STATUS_OK or result.score is None:
        return result
    # z and percentile depend only on the score and stats; recomputed so a
    # result produced under other stats is made consistent too.
    return replace(
        result,
        threshold=float(threshold),
        decision=Decision(decide(result.score, threshold)),
        z=float(stats.z(result.score)),
        percentile=float(stats.percentile(result.score)),
    )


def redecide_all(
    results: list[AnalysisResult], stats: BenignStats, threshold: float
) -> list[AnalysisResult]:
    """:func:`redecide` over a list."""
    return [redecide(r, stats, threshold) for r in results]


def summarize(results: list[AnalysisResult]) -> dict[str, Any]:
    """Counts for a summary: total, ok, errors, anomalous, normal."""
    ok = [r for r in results if r.ok]
    return {
        "total": len(results),
        "ok": len(ok),
        "errors": len(results) - len(ok),
        "anomalous": sum(1 for r in ok if r.is_anomalous),
        "normal": sum(1 for r in ok if not r.is_anomalous),
    }
