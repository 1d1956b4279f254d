"""``dermscreen analyse`` (alias ``analyze``): a batch of images -> results.csv (+ PDFs).

Order of work, so that nothing is lost and nothing fails late: load the model;
check the output folder and take its lock (exit 4 at once when it cannot be
written, holds ``results.csv`` as a folder, or another run owns it); run the
engine (Ctrl-C / SIGTERM / SIGHUP stop it between files); then either the complete
reports (:func:`desktop_app.reports.batch.write_batch_reports`: results.csv,
with ``--pdf`` the case PDFs and summary.pdf) or, when stopped, the rows
finished so far in ``results.partial.csv`` beside an untouched results.csv.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from desktop_app.cli.engine_run import capped_workers, load_model_or_say, run_engine
from desktop_app.cli.interrupt import StopOnSignal
from desktop_app.cli.options import (
    EXIT_MODEL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    add_workers_option,
    finite_float,
    folder_name,
)
from desktop_app.cli.terminal import err, say, warn
from desktop_app.core.wording import number_format as nf
from desktop_app.core.wording.text_safety import terminal_safe

if TYPE_CHECKING:
    from pathlib import Path

    from desktop_app.core.imaging.dicom_case import EnteredPatient
    from desktop_app.core.model.model_file import LoadedModel

DEFAULT_OUT = "dermscreen-results"


def _epilog() -> str:
    from desktop_app.reports.csv_report import columns_help

    return (
        "Writes DIR/results.csv: UTF-8 with BOM (opens in Excel), one row per input file in\n"
        "input order, error rows included. Columns, in this fixed order:\n"
        f"{columns_help()}\n\n"
        "With --pdf also DIR/summary.pdf (every case: flagged and borderline first, then not\n"
        "flagged, then errors; page numbers, app and model version, what to expect at the\n"
        "threshold, a sign-off line) and DIR/case-NNNNN-NAME.pdf for every flagged or\n"
        "borderline image.\n"
        "Files are named relative to the given folder unless --full-paths.\n"
        "Reports an earlier run left in DIR (results.csv, PDFs, a partial CSV) are moved to\n"
        "DIR/superseded/<time>/ first; one run at a time may write into DIR (an OS lock on\n"
        "DIR/.dermscreen.lock, never followed if it is a link).\n"
        "A subfolder is searched with --recursive only; one that cannot be listed is an\n"
        "error row. Bytes of a file name that are not UTF-8 are shown escaped (\\xff).\n"
        "The threshold is the model's screening point (the highest threshold flagging at least\n"
        "90% of its validation cancers; the model's own T where it stores none) unless --alpha\n"
        "(T = benign mean + alpha * sd; the seed's rule is --alpha 1.3) or --threshold is given.\n"
        "Stopped by Ctrl-C, SIGTERM or SIGHUP, it writes the rows finished so far to\n"
        "DIR/results.partial.csv and leaves an existing results.csv as it was.\n"
        "Exit codes: 0 ran (bad files are error rows), 2 bad usage, 3 invalid model,\n"
        "4 output folder not writable or in use by another run, 130 Ctrl-C, 143 SIGTERM,\n"
        "129 SIGHUP. A closed or full stdout does not change the exit code."
    )


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "analyse", aliases=["analyze"],
        help="analyse images or folders and write results.csv (and PDFs)",
        description="Analyse image files and folders with the model; write a CSV (and PDFs).",
        epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", type=folder_name,
                        help=f"output folder, created if needed (default: ./{DEFAULT_OUT})")
    parser.add_argument("--recursive", action="store_true", help="also look in sub-folders")
    rule = parser.add_mutually_exclusive_group()
    rule.add_argument("--alpha", type=finite_float, metavar="A",
                      help="threshold = benign mean + A * benign sd")
    rule.add_argument("--threshold", type=finite_float, metavar="T", help="explicit threshold")
    rule.add_argument("--profile", metavar="NAME",
                      help="decide at a site profile's calibrated point (dermscreen calibrate; "
                      "dermscreen profiles list)")
    parser.add_argument("--pdf", action="store_true",
                        help="also write summary.pdf and one case PDF per flagged or borderline image")
    parser.add_argument("--dicom", action="store_true",
                        help="also write DIR/dicom/: per analysed image a DICOM Structured Report, "
                             "per flagged or borderline one its case PDF (Encapsulated PDF) and "
                             "heatmap (Secondary Capture); implies --pdf. Send them with "
                             "'dermscreen send DIR --to AE@host:port'")
    parser.add_argument("--model", metavar="FILE", help="ONNX model (default: bundled model)")
    doc = parser.add_argument_group("what the reports name")
    doc.add_argument("--case-id", default="", metavar="ID",
                     help="case or patient ID printed on every report and CSV row")
    doc.add_argument("--case-id-from-subfolder", action="store_true",
                     help="a file's first subfolder below the given folder names its case "
                          "(files directly in the folder keep --case-id)")
    doc.add_argument("--clinician", default="", metavar="NAME",
                     help="reviewing clinician, printed on the reports and the sign-off line")
    doc.add_argument("--show-patient", action="store_true",
                     help="print the patient ID, name and birth date DICOM inputs carry in the "
                          "CSV and PDFs (default: left out; never logged)")
    doc.add_argument("--full-paths", action="store_true",
                     help="print full file paths (default: relative to the given folder, "
                          "since folder names can carry a patient's name)")
    pid = parser.add_argument_group(
        "patient and study for inputs that carry none (JPEG, PNG; DICOM without a Patient ID)",
        "With --dicom such inputs get DICOM objects only when the patient is given here; "
        "a DICOM input that names its patient keeps its own patient and study.")
    pid.add_argument("--patient-id", default="", metavar="ID", help="Patient ID (required for them)")
    pid.add_argument("--patient-name", default="", metavar="NAME",
                     help="patient name as DICOM writes it, Family^Given")
    pid.add_argument("--patient-birth-date", default="", metavar="YYYYMMDD")
    pid.add_argument("--patient-sex", default="", choices=("", "M", "F", "O"))
    pid.add_argument("--study-uid", default="", metavar="UID",
                     help="Study Instance UID to file them in (default: one new study per run)")
    pid.add_argument("--accession", default="", metavar="NUMBER", help="accession number")
    add_workers_option(parser)
    parser.set_defaults(handler=run)
    return parser


def entered_patient(args: argparse.Namespace) -> EnteredPatient | str | None:
    """The patient given with --patient-id etc. (None: none given; a str: what is wrong)."""
    from desktop_app.core.imaging.dicom_case import EnteredPatient

    fields = (args.patient_id, args.patient_name, args.patient_birth_date, args.patient_sex,
              args.study_uid, args.accession)
    if not any(fields):
        return None
    if args.case_id_from_subfolder:
        return ("--patient-id names one patient for every image that carries none; with "
                "--case-id-from-subfolder the batch holds several cases: analyse each case's "
                "folder on its own with its patient")
    patient = EnteredPatient(*(f.strip() for f in fields))
    problems = patient.problems()
    if problems:
        return "--patient-id/--patient-name...: " + "; ".join(problems)
    return patient


def run(args: argparse.Namespace) -> int:
    from desktop_app.core.base.files import FileWriteError
    from desktop_app.reports.output_folder import OutputFolderLock, check_output_folder

    patient = entered_patient(args)
    if isinstance(patient, str):
        err(terminal_safe(patient))
        return EXIT_USAGE
    args.entered_patient = patient
    workers = capped_workers(args.workers)
    with StopOnSignal() as stop:
        model = load_model_or_say(args.model)
        if model is None:
            return EXIT_MODEL
        try:
            out = check_output_folder(args.out)
            lock = OutputFolderLock(out)
            lock.acquire()
        except FileWriteError as exc:
            err(terminal_safe(exc))
            return EXIT_OUTPUT
        try:
            return _analyse_into(out, model, args, workers, stop)
        finally:
            lock.release()


def _analyse_into(out: Path, model: LoadedModel, args: argparse.Namespace,
                  workers: int | None, stop: StopOnSignal) -> int:
    from desktop_app.core.base.files import FileWriteError
    from desktop_app.core.inference.results import summarize
    from desktop_app.core.model.operating_points import chosen_threshold
    from desktop_app.core.site.calibration import drift_of
    from desktop_app.core.site.site_profile import ProfileError, expectation_words, find_profile
    from desktop_app.reports.batch import verified_explainer, write_batch_reports
    from desktop_app.reports.context import ReportContext
    from desktop_app.reports.names import RESULTS_FILE_NAME

    profile = None
    if args.profile:
        try:
            profile = find_profile(args.profile, model.sha256)
        except ProfileError as exc:
            err(terminal_safe(exc))
            return EXIT_USAGE
        threshold, point_name = profile.threshold, f"site profile {profile.label()}"
    else:
        threshold, point_name = chosen_threshold(model.metadata, alpha=args.alpha,
                                                 threshold=args.threshold)
    done = run_engine(model, args.paths, recursive=args.recursive, threshold=threshold,
                      workers=workers, stop=stop)
    counts = summarize(done.results)
    drift = drift_of(done.results, model, profile,
                     ranges_known=done.engine.image_ranges is not None)
    site_words = expectation_words(profile, model.metadata) if profile is not None else ()
    context = ReportContext(case_id=args.case_id,
                            case_id_from_subfolder=args.case_id_from_subfolder,
                            clinician=args.clinician, full_paths=args.full_paths,
                            show_patient=args.show_patient,
                            site_profile=profile.label() if profile is not None else "",
                            site_words=tuple(site_words), batch_drift=drift.status,
                            drift_words=drift.words(), patient=getattr(args, "entered_patient", None))
    dicom = None
    try:
        if done.stopped:
            reports = write_batch_reports(out, done.results, model, threshold, partial=True,
                                          inputs=args.paths, context=context)
        elif args.dicom:
            from desktop_app.reports.dicom.write import write_reports_with_dicom

            args.pdf = True
            reports, dicom = write_reports_with_dicom(
                out, done.results, model, threshold, point_name=point_name,
                explain=verified_explainer(done.engine), inputs=args.paths, context=context,
                cancel=stop.event)
        else:
            reports = write_batch_reports(
                out, done.results, model, threshold, inputs=args.paths, pdf=args.pdf,
                explain=verified_explainer(done.engine) if args.pdf else None, cancel=stop.event,
                context=context,
            )
    except FileWriteError as exc:
        err(terminal_safe(exc))
        return EXIT_OUTPUT
    except KeyboardInterrupt:  # a second signal while the reports were written
        err(f"stopped by {stop.reason} while writing the reports in {terminal_safe(out)}: each file "
            "there is whole (written to a temporary file, then renamed), some may be missing")
        return stop.exit_code
    for problem in [*reports.problems, *(dicom.problems if dicom else [])]:
        warn(terminal_safe(problem))
    partial = "PARTIAL, stopped early: " if done.stopped else ""
    say(f"{partial}{counts['total']} files: {counts['ok']} analysed, {counts['errors']} errors, "
        f"{counts['anomalous']} flagged (threshold {nf.score(threshold)}, {point_name}, model "
        f"{terminal_safe(model.display_name)}, {terminal_safe(model.provider_label)}"
        f"{'' if model.verified else ', UNVERIFIED MODEL'})")
    for line in site_words[1:]:
        say(terminal_safe(line))
    if drift.alarm:
        warn(f"batch out of range: {terminal_safe(drift.words())}")
    if done.engine.image_ranges is None:
        warn("per-image drift checks are off: this model has no reference image ranges "
             "(metadata extra.image_ranges or resources/image_ranges.json)")
    say(f"results: {terminal_safe(reports.csv)}")
    if reports.superseded is not None:
        say(f"reports of an earlier run moved to {terminal_safe(reports.superseded)}")
    if done.stopped:
        total = max(done.total, len(done.results))
        err(f"stopped by {stop.reason} after {len(done.results)} of {total} files: "
            f"{terminal_safe(reports.csv)} holds the rows finished so far (PARTIAL); "
            f"{RESULTS_FILE_NAME} was not written")
        return stop.exit_code
    if args.pdf:
        if reports.cancelled:
            err(f"stopped by {stop.reason} while writing the PDF reports: results.csv is "
                f"complete, {len(reports.case_pdfs)} of {reports.flagged} case reports and no "
                "summary.pdf were written")
            return stop.exit_code
        say(f"PDF reports: {terminal_safe(out)} (summary + {len(reports.case_pdfs)} case reports)")
    if dicom is not None:
        say(f"DICOM objects: {terminal_safe(dicom.folder)} ({len(dicom.files)} files)")
    if counts["total"] == 0:
        warn("no image files found in the given paths")
    return EXIT_OK
