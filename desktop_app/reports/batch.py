"""Write a batch's reports into its output folder: results.csv, summary.pdf, case PDFs.

One function, :func:`write_batch_reports`, used by the CLI (and meant for the
GUI's "export everything"): it takes the results the engine already produced
and never runs a second engine over the batch.

Case images: a case PDF needs the image, its reconstruction and its error map,
which the batch pass does not keep (for 10,000 images at ~3 MB of display image
and 0.25 MB of model outputs each that would be gigabytes). So each case a
clinician must look at (*flagged*, or *borderline*: inside the model's
borderline band, :mod:`desktop_app.core.inference.decision_rules`) is re-run alone, one at a time, through the caller's ``explain`` (the
engine that did the batch; :func:`verified_explainer`), written, and dropped:
memory stays that of one case, and the cost is one decode and one forward pass
per flagged or borderline image, not per image. The re-run checks the file's SHA-256 against
the row, so a file changed since the batch gets no case report that would show
other pixels than the ones scored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop_app.core.base.files import FileWriteError, ensure_output_dir
from desktop_app.core.inference.decision_rules import BORDERLINE
from desktop_app.core.inference.results import DECISION_ANOMALOUS
from desktop_app.reports.context import ReportContext, ReviewLike
from desktop_app.reports.names import (
    CASES_FILE_NAME,
    PARTIAL_RESULTS_FILE_NAME,
    RESULTS_FILE_NAME,
    SUMMARY_FILE_NAME,
    case_pdf_name,
)

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import CaseImages, Engine
    from desktop_app.core.inference.results import AnalysisResult
    from desktop_app.core.model.model_file import LoadedModel

Explain = Callable[["AnalysisResult"], "CaseImages"]
# Called with each case's images and its PDF once written (the DICOM writer uses them).
OnCase = Callable[["AnalysisResult", "CaseImages", Path], None]


@dataclass
class BatchReports:
    """What :func:`write_batch_reports` wrote."""

    csv: Path
    partial: bool = False
    summary_pdf: Path | None = None
    case_pdfs: dict[int, Path] = field(default_factory=dict)
    flagged: int = 0  # cases that should have a case PDF: flagged and borderline ones
    borderline: int = 0  # of those, the borderline ones
    problems: list[str] = field(default_factory=list)  # e.g. a file changed since analysis
    superseded: Path | None = None  # where an earlier run's reports were moved
    cancelled: bool = False  # stopped before the PDFs were all written
    cases_pdf: Path | None = None  # every case report in one file (CASES_FILE_NAME)


COMBINED_MAX_SIDE = 512  # longest side of an original in the combined case file


def _thumbnail(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """``rgb`` with its longest side at most ``max_side`` pixels."""
    import cv2

    height, width = rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def verified_explainer(engine: Engine) -> Explain:
    """``explain`` for :func:`write_batch_reports`: re-run one case on the batch's engine.

    The bytes read again must hash to the row's SHA-256, else
    :class:`~desktop_app.core.base.errors.ImageChangedError`: the case PDF must show
    the pixels that were scored.
    """

    def explain(result: AnalysisResult) -> CaseImages:
        return engine.explain(result.path, expected_sha256=result.image_sha256)

    return explain


def batch_context(context: ReportContext | None, inputs: Sequence[str | Path]) -> ReportContext:
    """``context`` (or an empty one) knowing the batch's inputs and opened folders."""
    from dataclasses import replace

    from desktop_app.reports.context import folder_roots

    context = context or ReportContext()
    if inputs and not context.inputs:
        context = replace(context, inputs=tuple(str(p) for p in inputs))
    if not context.roots:
        context = replace(context, roots=folder_roots(context.inputs))
    return context


def reviews_of(pairs: dict[str, tuple[bool, str]]) -> dict[str, ReviewLike]:
    """Reviews from plain ``{sha256: (reviewed, note)}`` pairs."""
    return {sha: _Review(bool(r), str(n)) for sha, (r, n) in pairs.items()}


@dataclass(frozen=True)
class _Review:
    reviewed: bool
    note: str


def write_batch_reports(
    out_dir: str | Path,
    results: Sequence[AnalysisResult],
    model: LoadedModel,
    threshold: float,
    *,
    inputs: Sequence[str | Path] = (),
    pdf: bool = False,
    explain: Explain | None = None,
    partial: bool = False,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
    context: ReportContext | None = None,
    on_case: OnCase | None = None,
) -> BatchReports:
    """Write the reports of ``results`` (all decided at ``threshold``) into ``out_dir``.

    ``partial``: the batch was stopped; only ``results.partial.csv`` is written
    and nothing else in the folder is touched (a complete results.csv stays).
    Otherwise an earlier run's reports are first moved to ``superseded/``, then
    ``results.csv`` is written, and with ``pdf`` one case PDF per flagged or
    borderline image (via ``explain``, see the module docstring) and ``summary.pdf``
    whose case-report column names them.
    ``cancel`` stops between case PDFs (no summary then; ``cancelled`` says so);
    ``progress(done, total)`` follows the case PDFs. ``context``: case ID,
    clinician, reviews (by image SHA-256) and how files are named (relative to
    the opened folders in ``inputs`` unless ``full_paths``). ``on_case(result, images,
    pdf)`` follows each case PDF written. The folder is created if
    needed; the caller holds it
    (:class:`desktop_app.reports.output_folder.OutputFolderLock`). Raises
    :class:`desktop_app.core.base.files.FileWriteError` when a file cannot be written.
    """
    from desktop_app.reports.csv_report import write_results_csv
    from desktop_app.reports.output_folder import keep_earlier_results, supersede_stale_reports

    out = ensure_output_dir(out_dir)
    ordered = sorted(results, key=lambda r: r.index)
    context = batch_context(context, inputs).for_model(model.metadata, threshold)
    if partial:
        return BatchReports(write_results_csv(out / PARTIAL_RESULTS_FILE_NAME, ordered, context),
                            partial=True)
    superseded = supersede_stale_reports(out)
    try:
        csv_path = write_results_csv(out / RESULTS_FILE_NAME, ordered, context)
    except FileWriteError:
        if superseded is not None:
            keep_earlier_results(superseded)  # the earlier results.csv is still in place
        raise
    written = BatchReports(csv_path, superseded=superseded)
    if not pdf:
        return written
    if explain is None:
        msg = "case PDFs need an explain function (see verified_explainer)"
        raise ValueError(msg)

    from desktop_app.reports.pdf.case_report import (
        CasePage,
        case_order,
        case_page,
        write_case_page,
        write_cases_pdf,
    )
    from desktop_app.reports.pdf.render import ensure_gui_app
    from desktop_app.reports.pdf.report import write_summary_pdf

    ensure_gui_app()
    # In priority order (high, elevated), then score: a cancelled run has written the most
    # urgent ones, and cases.pdf reads in the order a clinician works.
    cases = case_order([r for r in ordered if r.ok and context.triage(r) in
                        (DECISION_ANOMALOUS, BORDERLINE)], context)
    written.flagged = len(cases)
    written.borderline = sum(1 for r in cases if context.triage(r) == BORDERLINE)
    pages: list[CasePage] = []  # each case report, laid out again in the combined file
    for done, result in enumerate(cases):
        if cancel is not None and cancel.is_set():
            written.cancelled = True
            return written
        if progress is not None:
            progress(done, len(cases))
        try:
            case = explain(result)
        except Exception as exc:  # changed, vanished, unreadable: one case must not stop the rest
            written.problems.append(f"no case report for {result.path}: {exc}")
            continue
        target = out / case_pdf_name(result)
        written.case_pdfs[result.index] = write_case_page(
            target, result, case_page(result, case, model.metadata, context=context),
            context.clinician)
        # The combined file keeps a small copy of each original (memory stays bounded).
        small = _thumbnail(case.original, COMBINED_MAX_SIDE)
        pages.append(case_page(result, replace(case, original=small), model.metadata,
                               context=context))
        if on_case is not None:
            on_case(result, case, written.case_pdfs[result.index])
        del case  # one case's images at a time
    if cancel is not None and cancel.is_set():
        written.cancelled = True
        return written
    if progress is not None:
        progress(len(cases), len(cases))
    if pages:
        written.cases_pdf = write_cases_pdf(out / CASES_FILE_NAME, pages, context)
    del pages
    written.summary_pdf = write_summary_pdf(
        out / SUMMARY_FILE_NAME, ordered, model.metadata, threshold,
        model_sha256=model.sha256, provider=model.provider_label, inputs=list(inputs),
        case_files={i: p.name for i, p in written.case_pdfs.items()}, context=context,
    )
    return written
