"""What each export writes, from the session's state at the moment it is asked for.

The writers run in a worker (the window starts them); each captures its inputs
now (results, threshold, reviews, report details), so a batch, threshold or
review that changes during the write cannot mix in. "Export All Reports" is the
CLI's own :func:`desktop_app.reports.batch.write_batch_reports` (CSV, a case PDF
per flagged or borderline image, the summary linking them) into a new folder.

Before an export the user confirms the report details (case ID for this batch,
clinician, full paths: :mod:`desktop_app.gui.windows.report_details`). Default file
names carry the time and are never names already taken; a name the user picks
that exists is confirmed by the save dialog itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QWidget

from desktop_app.core.imaging.dicom_case import EnteredPatient
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.core.model.operating_points import borderline_low
from desktop_app.gui.shell import settings as app_settings
from desktop_app.gui.threads.workers import TaskThread, ThreadRegistry
from desktop_app.gui.windows.common import PathProvider
from desktop_app.gui.windows.report_details import ReportDetails
from desktop_app.reports.context import ReportContext
from desktop_app.session.session import Session

log = logging.getLogger("dermscreen.gui")

Writer = Callable[[Path], object]
MakeWriter = Callable[[ReportContext], Writer]


@dataclass(frozen=True)
class ExportKind:
    title: str
    stem: str  # default file name before its time stamp
    filters: str
    suffix: str
    stamped: bool = True  # a second export never suggests the first one's name


CSV = ExportKind("Export CSV", "results", "CSV files (*.csv)", ".csv")
SUMMARY = ExportKind("Export PDF summary", "summary", "PDF files (*.pdf)", ".pdf")
ALL_REPORTS = ExportKind("Export all reports into a new folder", "dermscreen-reports",
                         "Folders (*)", "")


def case_kind(result: AnalysisResult) -> ExportKind:
    from desktop_app.reports.names import case_pdf_name

    return ExportKind("Export case PDF", Path(case_pdf_name(result)).stem, "PDF files (*.pdf)",
                      ".pdf", stamped=False)


def suggested_name(kind: ExportKind, now: datetime | None = None) -> str:
    """``results-20261201-1830.csv``: time-stamped so a second export does not overwrite."""
    if not kind.stamped:
        return kind.stem + kind.suffix
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{kind.stem}-{stamp}{kind.suffix}"


def new_default_path(folder: Path, kind: ExportKind, now: datetime | None = None) -> Path:
    """:func:`suggested_name` in ``folder``, with "-2", "-3"... when that name is taken."""
    first = folder / suggested_name(kind, now)
    target, n = first, 1
    while target.exists():
        n += 1
        target = first.with_name(f"{first.name[:len(first.name) - len(kind.suffix)]}-{n}"
                                 f"{kind.suffix}")
    return target


def choose_target(parent: QWidget, provider: PathProvider, kind: ExportKind,
                  path: str | Path | None) -> Path | None:
    """``path``, or the one the user picks (None: cancelled); the suffix is added if missing."""
    if path is None:
        folder = app_settings.reports_dir()  # remembered; never the image folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # the dialog still opens; the user picks another place
            log.warning("reports folder %s not created: %s", folder, exc)
        path = provider.save_file(parent, kind.title, str(new_default_path(folder, kind)),
                                  kind.filters)
        if not path:
            return None
        app_settings.save_reports_dir(Path(path).parent)
    target = Path(path)
    if target.suffix.lower() != kind.suffix:
        target = target.with_name(target.name + kind.suffix)
    return target


def report_context(session: Session, details: ReportDetails,
                   site: dict[str, object] | None = None) -> ReportContext:
    """What the reports print beyond the results, captured now: the details, the batch's
    opened folders, each case's review (by image SHA-256) and the model's borderline band."""
    from desktop_app.reports.batch import batch_context

    # By path: a mark or note made on a copy in another folder is not this case's.
    reviews = {ReportContext.review_key(r): session.review_for(r)
               for r in session.results.in_input_order() if r.image_sha256}
    band = (borderline_low(session.model.metadata, session.threshold)
            if session.model is not None else None)
    context = ReportContext(case_id=details.case_id,
                            case_id_from_subfolder=details.case_id_from_subfolder,
                            clinician=details.clinician, full_paths=details.full_paths,
                            history=details.history,
                            body_site=details.body_site if details.single_case else "",
                            lesion_id=details.lesion_id if details.single_case else "",
                            reviews=reviews, band_low=band,
                            show_patient=app_settings.show_patient_identity(),
                            patient=details.patient,
                            **(site or {}))  # type: ignore[arg-type]
    return batch_context(context, session.last_inputs)


def csv_writer(session: Session) -> MakeWriter | None:
    from desktop_app.reports.csv_report import write_results_csv

    results = session.results.in_input_order()
    if not results:
        return None
    return lambda context: lambda target: write_results_csv(target, results, context)


def summary_writer(session: Session) -> MakeWriter | None:
    from desktop_app.reports.pdf.report import write_summary_pdf

    results, model, threshold = session.results.in_input_order(), session.model, session.threshold
    if not results or model is None or threshold is None:
        return None
    return lambda context: lambda target: write_summary_pdf(
        target, results, model.metadata, threshold, model_sha256=model.sha256,
        provider=model.provider_label, context=context)


def case_writer(session: Session, result: AnalysisResult | None, opacity: float
                ) -> MakeWriter | None:
    from desktop_app.reports.pdf.case_report import write_case_pdf

    engine, model = session.engine, session.model
    if result is None or not result.ok or engine is None or model is None:
        return None
    cached = session.cached_case(result)

    def make(context: ReportContext) -> Writer:
        def write(target: Path) -> Path:
            case = cached if cached is not None else engine.explain(result.path)
            return write_case_pdf(target, result, case, model.metadata, opacity=opacity,
                                  context=context)

        return write

    return make


class _Interrupted:
    """``cancel`` for write_batch_reports: set when the worker thread is asked to stop
    (the window closing)."""

    def is_set(self) -> bool:
        return QThread.currentThread().isInterruptionRequested()


def all_reports_writer(session: Session) -> MakeWriter | None:
    """CSV, case PDFs of the flagged and borderline cases and the summary, into a new folder,
    with the DICOM results in its ``dicom/`` (an SR per image, the case PDFs encapsulated, the
    heatmaps: File > Send to PACS sends them)."""
    from desktop_app.reports.batch import verified_explainer
    from desktop_app.reports.dicom.write import write_reports_with_dicom
    from desktop_app.reports.output_folder import OutputFolderLock, check_output_folder

    results, model, threshold = session.results.in_input_order(), session.model, session.threshold
    engine = session.engine
    if not results or model is None or threshold is None or engine is None:
        return None
    inputs = list(session.last_inputs)
    point = session.operating_point
    name = point.default_name if point.at_default else f"alpha {point.alpha:g} (chosen here)"

    def make(context: ReportContext) -> Writer:
        def write(target: Path) -> object:
            folder = check_output_folder(target)
            with OutputFolderLock(folder):
                reports, dicom = write_reports_with_dicom(
                    folder, results, model, threshold, point_name=name,
                    explain=verified_explainer(engine), inputs=inputs,
                    cancel=_Interrupted(),  # type: ignore[arg-type]
                    context=context)
                reports.problems.extend(dicom.problems)
                return reports

        return write

    return make


class Exporter(QObject):
    """Runs the exports in workers: ``finished(path)`` or ``failed(message)`` afterwards;
    ``message(text, level)`` for the window's message strip."""

    finished = Signal(str)
    failed = Signal(str)
    message = Signal(str, str)
    status = Signal(str)

    def __init__(self, session: Session, parent_widget: QWidget, provider: PathProvider,
                 threads: ThreadRegistry, current: Callable[[], AnalysisResult | None],
                 opacity: Callable[[], float]) -> None:
        super().__init__(parent_widget)
        self._session, self._widget, self._threads = session, parent_widget, threads
        self.provider = provider
        # The selected case, and the overlay opacity its PDF is drawn with.
        self.current, self.opacity = current, opacity

        # The site profile and drift fields the reports print (set by the window).
        self.site_fields: Callable[[], dict[str, object]] = dict
        # The case ID, history and patient typed for a batch, and which batch (a new batch
        # starts without them); the patient is for its inputs without DICOM identity.
        self._case_id, self._history, self._case_batch = "", "", -1
        self._patient: EnteredPatient | None = None

    def details(self, single_case: bool = False) -> ReportDetails:
        """The report details as they stand: this batch's case ID and history and the
        remembered rest; ``single_case`` asks for one case's body site and lesion too."""
        clinician, full_paths, from_subfolder = app_settings.report_preferences()
        this_batch = self._case_batch == self._session.batch_id
        without = sum(1 for r in self._session.results.in_input_order()
                      if r.ok and (r.dicom is None or not r.dicom.patient_id.strip()))
        return ReportDetails(self._case_id if this_batch else "", from_subfolder, clinician,
                             full_paths, history=self._history if this_batch else "",
                             single_case=single_case,
                             patient=self._patient if this_batch else None,
                             without_patient=without)

    def _confirm_details(self, single_case: bool = False) -> ReportDetails | None:
        """The details the user confirms (the provider's dialog), kept for this batch."""
        current = self.details(single_case)
        ask = getattr(self.provider, "report_details", None)  # optional for a provider
        chosen = ask(self._widget, current) if ask is not None else current
        if chosen is None:
            return None
        self._case_id, self._history = chosen.case_id, chosen.history
        self._case_batch = self._session.batch_id
        self._patient = chosen.patient
        app_settings.save_report_preferences(chosen.clinician, chosen.full_paths,
                                             chosen.case_id_from_subfolder)
        return chosen

    def _run(self, kind: ExportKind, path: str | Path | None, make: MakeWriter | None,
             missing: str = "There are no results to export yet.",
             single_case: bool = False) -> bool:
        if make is None:
            self.message.emit(missing, "warning")
            return False
        details = self._confirm_details(single_case)
        if details is None:
            return False
        write = make(report_context(self._session, details, self.site_fields()))
        target = choose_target(self._widget, self.provider, kind, path)
        if target is None:
            return False
        self.status.emit(f"Writing {target.name}…")
        self._threads.start(TaskThread(lambda: write(target), "export",
                                       on_done=lambda value: self._done(target, value),
                                       on_error=lambda text: self._failed(target, text)))
        return True

    def _done(self, target: Path, value: object = None) -> None:
        from desktop_app.reports.batch import BatchReports

        log.info("exported %s", target.name)
        if isinstance(value, BatchReports):
            if value.cancelled:
                self._failed(target, "stopped before every PDF was written")
                return
            for problem in value.problems:
                self.message.emit(problem, "warning")
            self.message.emit(f"Saved reports in {target}: {value.csv.name}, "
                              f"{len(value.case_pdfs)} case reports"
                              f"{f' (all in {value.cases_pdf.name})' if value.cases_pdf else ''}, "
                              "the summary and the DICOM "
                              "results (File > Send to PACS)", "info")
            app_settings.save_last_export_folder(target)
        else:
            self.message.emit(f"Saved {target}", "info")
        self.finished.emit(str(target))

    def _failed(self, target: Path, text: str) -> None:
        self.message.emit(f"Could not save {target.name}: {text}", "error")
        self.failed.emit(text)

    def export_csv(self, path: str | Path | None = None) -> bool:
        """Save all results as CSV (``path`` None asks the path provider)."""
        return self._run(CSV, path, csv_writer(self._session))

    def export_summary_pdf(self, path: str | Path | None = None) -> bool:
        """Save the batch summary PDF (``path`` None asks the path provider)."""
        return self._run(SUMMARY, path, summary_writer(self._session))

    def export_case_pdf(self, path: str | Path | None = None) -> bool:
        """Save the selected case's PDF report (``path`` None asks the path provider)."""
        result = self.current()
        write = case_writer(self._session, result, self.opacity())
        kind = case_kind(result) if result is not None and write is not None else SUMMARY
        return self._run(kind, path, write, "Select an analysed case to export its report.",
                         single_case=True)

    def export_all_reports(self, path: str | Path | None = None) -> bool:
        """Save the CSV, a case PDF per flagged or borderline image and the summary into a new folder
        (``path`` None asks the path provider for the folder's name)."""
        return self._run(ALL_REPORTS, path, all_reports_writer(self._session))
