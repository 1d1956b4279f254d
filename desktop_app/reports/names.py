"""The file names a batch's reports carry in their output folder (Qt-free)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop_app.core.inference.results import AnalysisResult

RESULTS_FILE_NAME = "results.csv"
# Written instead of results.csv when a run is stopped (Ctrl-C, SIGTERM): the name
# says the rows are not the whole batch, and a complete results.csv is never replaced.
PARTIAL_RESULTS_FILE_NAME = "results.partial.csv"
SUMMARY_FILE_NAME = "summary.pdf"
CASES_FILE_NAME = "cases.pdf"  # every case report of the run in one file, for printing
CASE_PREFIX = "case-"
_CASE_NAME = re.compile(r"^case-\d{5,}-.*\.pdf$")


def case_pdf_name(result: AnalysisResult) -> str:
    """``case-00012-ISIC_0000045.pdf``: index first (unique), file stem for people."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(result.path).stem)[:60].strip("._") or "image"
    return f"{CASE_PREFIX}{result.index:05d}-{stem}.pdf"


def is_case_pdf_name(name: str) -> bool:
    """True for a name :func:`case_pdf_name` could have made."""
    return bool(_CASE_NAME.match(name))


def report_file_names() -> tuple[str, ...]:
    """The fixed names a run writes (case PDFs aside)."""
    return (RESULTS_FILE_NAME, PARTIAL_RESULTS_FILE_NAME, SUMMARY_FILE_NAME, CASES_FILE_NAME)
