"""``results.csv``: one row per input file, error rows included.

UTF-8 with a byte-order mark (so Excel opens accents and non-Latin paths
correctly), comma-separated, header row, rows in input order. Numbers use a
dot decimal separator; empty cells mean "not applicable" (an error row has no
score). Columns, in this fixed order: :data:`desktop_app.core.inference.results.CSV_COLUMNS`,
each described in :data:`desktop_app.core.wording.texts.CSV_COLUMN_DOCS` (also printed by
``dermscreen analyse --help``).

Spreadsheet-safe (OWASP CSV injection): a text cell starting with ``= + - @``
(or a control character) gets a leading apostrophe so it is never run as a
formula, and control characters (newlines, tabs, escapes) in names, notes and
typed fields are replaced by U+FFFD; numbers are left numbers.
:func:`read_results_csv` undoes the apostrophe.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

from desktop_app.core.base.files import atomic_path
from desktop_app.core.inference.results import CSV_COLUMNS, AnalysisResult
from desktop_app.core.wording.text_safety import spreadsheet_safe, spreadsheet_unescape
from desktop_app.core.wording.texts import CSV_COLUMN_DOCS
from desktop_app.reports.context import ReportContext
from desktop_app.version import app_version

ENCODING = "utf-8-sig"  # UTF-8 with BOM, for Excel


def report_row(result: AnalysisResult, context: ReportContext) -> dict[str, str]:
    """One CSV row, every cell spreadsheet-safe: the result's plus the report's (case ID,
    triage, review...)."""
    row = result.to_row()
    review = context.review_of(result)
    reviewer, reviewed_at = context.review_by_of(result)
    row.update({
        "case_id": context.case_id_of(result),
        "path": context.shown_path(result),
        "triage": context.triage_label(result),
        "reviewed": "" if review is None else ("yes" if review[0] else "no"),
        "review_note": "" if review is None else review[1],
        "reviewed_by": reviewer,
        "reviewed_at": reviewed_at,
        "clinician": context.clinician,
        "app_version": app_version(),
        **context.patient_of(result),
        "site_profile": context.site_profile,
        "batch_drift": context.batch_drift,
    })
    return {name: spreadsheet_safe(value) for name, value in row.items()}


def columns_help() -> str:
    """The column list as plain text, for ``--help``."""
    width = max(map(len, CSV_COLUMNS))
    return "\n".join(f"  {name.ljust(width)}  {CSV_COLUMN_DOCS[name]}" for name in CSV_COLUMNS)


def write_results_csv(target: str | Path, results: Iterable[AnalysisResult],
                      context: ReportContext | None = None) -> Path:
    """Write ``results`` (sorted by index) to ``target`` atomically; returns the path.

    ``context``: case ID, clinician, paths and reviews (default: none of them,
    file names only).

    Raises :class:`desktop_app.core.base.files.FileWriteError` when the folder
    cannot be written; an existing file is then left untouched.
    """
    target = Path(target)
    rows = sorted(results, key=lambda r: r.index)
    context = context or ReportContext()
    with atomic_path(target) as tmp, open(tmp, "w", encoding=ENCODING, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for result in rows:
            writer.writerow(report_row(result, context))
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
