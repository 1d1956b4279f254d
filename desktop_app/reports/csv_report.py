"""``results.csv``: one row per input file, error rows included.

UTF-8 with a byte-order mark (so Excel opens accents and non-Latin paths
correctly), comma-separated, header row, rows in input order. Numbers use a
dot decimal separator; empty cells mean "not applicable" (an error row has no
score). Spreadsheet-safe (OWASP CSV injection): a text cell starting with
``= + - @`` gets a leading apostrophe so it is never run as a formula, and
control characters (newlines, tabs, escapes) in names are replaced by U+FFFD;
:func:`read_results_csv` undoes the apostrophe. Columns, in this fixed order
(:data:`desktop_app.core.results.CSV_COLUMNS`):

==============  ==========================================================================
index           position of the file in the input list (0-based)
path            the file as given or found in a folder
file_name       the file's base name
status          ``ok`` or ``error``
error_code      empty, or a stable reason code: empty_file, truncated, not_an_image,
                unsupported_format, too_large, unreadable, too_small, extreme_aspect,
                blank_image, preprocess_failed, inference_failed
error           empty, or the reason in words
score           anomaly score (the model's reconstruction error); empty on error
threshold       the threshold the decision used
decision        ``anomalous`` (score > threshold), ``normal``, or empty on error
z               (score - benign mean) / benign sd, benign validation statistics
percentile      percent of benign validation scores at or below the score (0-100)
image_sha256    SHA-256 of the bytes that were decoded (empty when unreadable)
model_name      model name from its metadata
model_version   model version from its metadata
model_sha256    SHA-256 of the ONNX model file
model_verified  ``yes`` when the model's .sha256 file matched it, ``no`` (unverified model)
provider        ONNX Runtime execution provider: CPU or CUDA
seconds         wall time spent on this image (decode, preprocessing, share of inference)
analysed_at     UTC time the result was produced (ISO 8601)
==============  ==========================================================================
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

from desktop_app.core.results import CSV_COLUMNS, AnalysisResult
from desktop_app.core.text_safety import spreadsheet_safe, spreadsheet_unescape
from desktop_app.reports.atomic import atomic_path

RESULTS_FILE_NAME = "results.csv"
ENCODING = "utf-8-sig"  # UTF-8 with BOM, for Excel

COLUMN_DOCS: dict[str, str] = {
    "index": "position of the file in the input list (0-based)",
    "path": "the file as given or found in a folder",
    "file_name": "the file's base name",
    "status": "ok or error",
    "error_code": "empty, or a reason code (empty_file, truncated, not_an_image, "
    "unsupported_format, too_large, unreadable, too_small, extreme_aspect, blank_image, "
    "preprocess_failed, inference_failed)",
    "error": "empty, or the reason in words",
    "score": "anomaly score (reconstruction error); empty on error",
    "threshold": "threshold the decision used",
    "decision": "anomalous (score > threshold), normal, or empty on error",
    "z": "(score - benign mean) / benign sd",
    "percentile": "percent of benign validation scores at or below the score",
    "image_sha256": "SHA-256 of the bytes that were decoded",
    "model_name": "model name",
    "model_version": "model version",
    "model_sha256": "SHA-256 of the ONNX model file",
    "model_verified": "yes if the model's .sha256 file matched it, no = unverified model",
    "provider": "ONNX Runtime execution provider (CPU or CUDA)",
    "seconds": "wall time spent on this image",
    "analysed_at": "UTC time of the result (ISO 8601)",
}


def columns_help() -> str:
    """The column list as plain text, for ``--help``."""
    width = max(map(len, CSV_COLUMNS))
    return "\n".join(f"  {name.ljust(width)}  {COLUMN_DOCS[name]}" for name in CSV_COLUMNS)


def safe_row(row: dict[str, str]) -> dict[str, str]:
    """Every cell made spreadsheet-safe (:func:`desktop_app.core.text_safety.spreadsheet_safe`)."""
    return {name: spreadsheet_safe(value) for name, value in row.items()}


def write_results_csv(target: str | Path, results: Iterable[AnalysisResult]) -> Path:
    """Write ``results`` (sorted by index) to ``target`` atomically; returns the path.

    Raises :class:`desktop_app.reports.atomic.ReportWriteError` when the folder
    cannot be written; an existing file is then left untouched.
    """
    target = Path(target)
    rows = sorted(results, key=lambda r: r.index)
    with atomic_path(target) as tmp, open(tmp, "w", encoding=ENCODING, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for result in rows:
            writer.writerow(safe_row(result.to_row()))
        fh.flush()
        os.fsync(fh.fileno())
    return target


def read_results_csv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a results.csv as dicts (BOM stripped, formula-guard apostrophes removed)."""
    text = Path(path).read_text(encoding=ENCODING)
    return [
        {name: spreadsheet_unescape(value) if isinstance(value, str) else value
         for name, value in row.items()}
        for row in csv.DictReader(io.StringIO(text, newline=""))
    ]
