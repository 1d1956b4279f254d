"""``dermscreen``: the GUI, headless batch analysis and local validation.

    dermscreen [--open PATH ...] [--model FILE]        start the GUI
    dermscreen analyze PATH... [--out DIR] [--recursive] [--alpha A | --threshold T]
                       [--pdf] [--model FILE]          batch analysis -> results.csv (+ PDFs)
    dermscreen evaluate DATA_DIR [--model FILE] [--alpha A] [--json OUT] [--suite]
                                                       local validation on labelled images
    dermscreen --version

``analyze`` writes DIR/results.csv (UTF-8 with BOM, one row per input file, error
rows included, input order) with these fixed columns, described in
:mod:`desktop_app.reports.csv_report` and by ``dermscreen analyze --help``:
index, path, file_name, status, error_code, error, score, threshold, decision, z,
percentile, image_sha256, model_name, model_version, model_sha256, provider, seconds,
analysed_at. With ``--pdf`` also DIR/summary.pdf and DIR/case-NNNNN-NAME.pdf per
anomalous image.

Exit codes: 0 the command ran (even when some files were bad: they are error
rows), 2 bad usage, 3 the model is missing or invalid, 4 the output folder
cannot be written, 130 interrupted (partial results are still written).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from desktop_app.core.errors import DermScreenError, ModelError
from desktop_app.core.paths import default_model_path

if TYPE_CHECKING:
    from desktop_app.core.engine import Progress
    from desktop_app.core.model_file import LoadedModel
    from desktop_app.core.results import AnalysisResult
    from desktop_app.core.score_stats import BenignStats

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_OUTPUT = 4
EXIT_INTERRUPTED = 130
DEFAULT_OUT = "dermscreen-results"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dermscreen")
    except PackageNotFoundError:
        return "unknown"


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = f"not a number: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(value):
        msg = f"must be a finite number, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _analyze_epilog() -> str:
    from desktop_app.reports.csv_report import columns_help

    return (
        "Writes DIR/results.csv: UTF-8 with BOM (opens in Excel), one row per input file in\n"
        "input order, error rows included. Columns, in this fixed order:\n"
        f"{columns_help()}\n\n"
        "With --pdf also DIR/summary.pdf and DIR/case-NNNNN-NAME.pdf for every anomalous image.\n"
        "The threshold is the model's default unless --alpha (T = benign mean + alpha * sd)\n"
        "or --threshold is given.\n"
        "Exit codes: 0 ran (bad files are error rows), 2 bad usage, 3 invalid model,\n"
        "4 output folder not writable, 130 interrupted (partial results written)."
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dermscreen",
        description="DermScreen: triage aid for dermoscopic images (not a diagnosis). "
        "Without a command, starts the desktop app.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dermscreen {_version()}")
    parser.add_argument("--open", dest="open_paths", action="append", default=[], metavar="PATH",
                        help="image file or folder to open in the app (repeatable)")
    parser.add_argument("--model", dest="gui_model", metavar="FILE",
                        help="ONNX model for the app (default: the bundled reference model)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    analyze = sub.add_parser(
        "analyze", help="analyse images or folders and write results.csv (and PDFs)",
        description="Analyse image files and folders with the model; write a CSV (and PDFs).",
        epilog=_analyze_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    analyze.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                         help=f"output folder, created if needed (default: ./{DEFAULT_OUT})")
    analyze.add_argument("--recursive", action="store_true", help="also look in sub-folders")
    rule = analyze.add_mutually_exclusive_group()
    rule.add_argument("--alpha", type=_finite_float, metavar="A",
                      help="threshold = benign mean + A * benign sd")
    rule.add_argument("--threshold", type=_finite_float, metavar="T", help="explicit threshold")
    analyze.add_argument("--pdf", action="store_true",
                         help="also write summary.pdf and one case PDF per anomalous image")
    analyze.add_argument("--model", metavar="FILE", help="ONNX model (default: bundled model)")
    analyze.add_argument("--workers", type=int, default=None, metavar="N",
                         help="preprocessing threads (default: one per CPU core)")

    evaluate = sub.add_parser(
        "evaluate", help="local validation: run the model on a labelled folder",
        description="Run the model on a labelled ISIC-layout folder (<class>/ folders, or "
        "Train/ and Test/ holding them; the Test split is used when present) and print "
        "sensitivity, specificity, ROC AUC and average precision with bootstrap CIs.",
    )
    evaluate.add_argument("data_dir", metavar="DATA_DIR", help="labelled folder")
    evaluate.add_argument("--model", metavar="FILE", help="ONNX model (default: bundled model)")
    evaluate.add_argument("--alpha", type=_finite_float, metavar="A",
                          help="threshold = benign mean + A * benign sd (default: model's)")
    evaluate.add_argument("--json", dest="json_out", metavar="OUT", help="also write figures as JSON")
    evaluate.add_argument("--resamples", type=int, default=2000, metavar="N",
                          help="bootstrap resamples for the 95%% CIs (default: 2000)")
    evaluate.add_argument("--workers", type=int, default=None, metavar="N",
                          help="preprocessing threads (default: one per CPU core)")
    evaluate.add_argument("--suite", action="store_true",
                          help="DATA_DIR is the shared data folder: run the committed evaluation "
                          "suite (resources/splits; figures per set, diagnosis rows, pooled)")
    return parser


# --- output helpers -----------------------------------------------------------------


def _err(message: str) -> None:
    print(f"dermscreen: error: {message}", file=sys.stderr)


class ProgressBar:
    """One self-rewriting line on a terminal; silent when the stream is not a TTY."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if p.done < p.total and now - self._last < 0.1:
            return
        self._last = now
        frac = p.done / p.total if p.total else 1.0
        filled = round(frac * self.width)
        eta = f" ETA {p.eta_s:.0f}s" if p.eta_s is not None and p.done < p.total else ""
        errors = f" {p.errors} errors" if p.errors else ""
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{p.done}/{p.total}{errors}{eta}   ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _load(model_arg: str | None) -> LoadedModel:
    import onnxruntime as ort

    from desktop_app.core.engine import inference_threads
    from desktop_app.core.model_file import load_model

    # A CPU-only machine with onnxruntime-gpu logs a CUDA library error while
    # falling back to the CPU; on a terminal that reads like a failure.
    ort.set_default_logger_severity(4)
    path = Path(model_arg) if model_arg else default_model_path()
    return load_model(path, intra_op_threads=inference_threads())


def _run_engine(
    model: LoadedModel, paths: Sequence[str], *, recursive: bool, threshold: float,
    workers: int | None,
) -> tuple[list[AnalysisResult], bool]:
    """Run the engine with a progress bar; Ctrl-C cancels and keeps what is done."""
    from desktop_app.core.engine import Engine

    engine = Engine(model, workers=workers)
    bar = ProgressBar(sys.stderr)
    cancel = threading.Event()
    results: list[AnalysisResult] = []
    interrupted = False
    try:
        for result in engine.analyze(paths, recursive=recursive, threshold=threshold,
                                     progress=bar, cancel=cancel):
            results.append(result)
    except KeyboardInterrupt:
        cancel.set()
        interrupted = True
    finally:
        bar.close()
    results.sort(key=lambda r: r.index)
    return results, interrupted


# --- analyze ------------------------------------------------------------------------


def _write_pdfs(model: LoadedModel, results: list[AnalysisResult], out: Path, threshold: float,
                inputs: Sequence[str]) -> tuple[int, list[str]]:
    """Case PDFs for anomalous images, then the summary; returns (cases written, problems)."""
    from desktop_app.core.engine import Engine
    from desktop_app.reports.pdf_report import (
        SUMMARY_FILE_NAME,
        case_pdf_name,
        write_case_pdf,
        write_summary_pdf,
    )
    from desktop_app.reports.render import ensure_gui_app

    ensure_gui_app()
    engine = Engine(model, workers=1)
    problems: list[str] = []
    case_files: dict[int, str] = {}
    for result in results:
        if not (result.ok and result.is_anomalous):
            continue
        try:
            case = engine.explain(result.path)
        except DermScreenError as exc:  # e.g. the file changed or vanished since analysis
            problems.append(f"no case report for {result.path}: {exc}")
            continue
        name = case_pdf_name(result)
        write_case_pdf(out / name, result, case, model.metadata)
        case_files[result.index] = name
    write_summary_pdf(out / SUMMARY_FILE_NAME, results, model.metadata, threshold,
                      model_sha256=model.sha256, provider=model.provider_label,
                      inputs=list(inputs), case_files=case_files)
    return len(case_files), problems


def cmd_analyze(args: argparse.Namespace) -> int:
    from desktop_app.core.results import summarize, threshold_for
    from desktop_app.reports.atomic import ReportWriteError, ensure_output_dir
    from desktop_app.reports.csv_report import RESULTS_FILE_NAME, write_results_csv

    if args.workers is not None and args.workers < 1:
        _err("--workers must be at least 1")
        return EXIT_USAGE
    try:
        model = _load(args.model)
    except ModelError as exc:
        _err(f"invalid model: {exc}")
        return EXIT_MODEL
    try:
        out = ensure_output_dir(args.out)
    except ReportWriteError as exc:
        _err(str(exc))
        return EXIT_OUTPUT
    stats = model.metadata.benign_stats
    threshold = threshold_for(stats, alpha=args.alpha, threshold=args.threshold,
                              default=model.metadata.threshold)
    results, interrupted = _run_engine(model, args.paths, recursive=args.recursive,
                                       threshold=threshold, workers=args.workers)
    counts = summarize(results)
    try:
        csv_path = write_results_csv(out / RESULTS_FILE_NAME, results)
        cases, problems = (0, [])
        if args.pdf and not interrupted:
            cases, problems = _write_pdfs(model, results, out, threshold, args.paths)
    except ReportWriteError as exc:
        _err(str(exc))
        return EXIT_OUTPUT
    for problem in problems:
        print(f"dermscreen: warning: {problem}", file=sys.stderr)
    print(
        f"{counts['total']} files: {counts['ok']} analysed, {counts['errors']} errors, "
        f"{counts['anomalous']} anomalous (threshold {threshold:.5g}, model "
        f"{model.display_name}, {model.provider_label})"
    )
    print(f"results: {csv_path}")
    if args.pdf and not interrupted:
        print(f"PDF reports: {out} (summary + {cases} case reports)")
    if interrupted:
        _err("interrupted: results.csv holds the files analysed so far")
        return EXIT_INTERRUPTED
    if counts["total"] == 0:
        print("dermscreen: warning: no image files found in the given paths", file=sys.stderr)
    return EXIT_OK


# --- evaluate -----------------------------------------------------------------------


def evaluation_figures(
    labels: Sequence[int], scores: Sequence[float], threshold: float, classes: Sequence[str],
    stats: BenignStats, n_resamples: int = 2000, seed: int = 0,
) -> dict[str, Any]:
    """The figures training's evaluation reports (same metric functions, same CI method).

    Point estimates with stratified percentile-bootstrap 95% CIs at ``threshold``,
    the confusion counts, per-class detection rates and the operating points.
    """
    import numpy as np

    from desktop_app.core import metrics

    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    out = metrics.figures_with_ci(y, s, threshold, classes, n_resamples=n_resamples, seed=seed)
    out["operating_points"] = metrics.operating_points(stats, y, s)
    from desktop_app.core.evaluation_suite import diagnosis_rows  # issue 13: the suite's rows

    out["by_diagnosis"] = diagnosis_rows(classes, s, n_resamples, seed)
    out["ci_method"] = "stratified percentile bootstrap (malignant and benign resampled separately)"
    out["bootstrap_resamples"] = n_resamples
    return out


def cmd_evaluate(args: argparse.Namespace) -> int:
    from desktop_app.core.dataset import scan_dataset
    from desktop_app.reports.atomic import ReportWriteError, write_text_atomic

    if args.suite:  # issue 13: the evaluation suite lives in core/evaluation_suite.py
        from desktop_app.core import evaluation_suite as suite

        try:
            scorer, info = suite.engine_scorer(Path(args.model or default_model_path()), args.workers)
            report = suite.run_suite(scorer, info, Path(args.data_dir), n_resamples=args.resamples)
            print(suite.format_suite(report))
            if args.json_out:
                write_text_atomic(Path(args.json_out), json.dumps(report, indent=2, default=_jsonable))
        except (OSError, ValueError, DermScreenError, ReportWriteError) as exc:
            _err(str(exc))
            return EXIT_MODEL if isinstance(exc, ModelError) else EXIT_USAGE
        return EXIT_OK
    try:
        samples = scan_dataset(args.data_dir)
    except (FileNotFoundError, NotADirectoryError, DermScreenError, ValueError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    test = [s for s in samples if s.split == "Test"]
    chosen = test or [s for s in samples if s.split == ""] or samples
    split = "Test" if test else "all"
    try:
        model = _load(args.model)
    except ModelError as exc:
        _err(f"invalid model: {exc}")
        return EXIT_MODEL
    stats = model.metadata.benign_stats
    threshold = stats.threshold(args.alpha) if args.alpha is not None else model.metadata.threshold
    results, interrupted = _run_engine(model, [str(s.path) for s in chosen], recursive=False,
                                       threshold=threshold, workers=args.workers)
    if interrupted:
        _err("interrupted")
        return EXIT_INTERRUPTED
    ok = [r for r in results if r.ok and r.score is not None]
    labels = [1 if chosen[r.index].is_malignant else 0 for r in ok]
    if len(set(labels)) < 2:
        _err(f"{args.data_dir}: need both benign and malignant images that could be analysed")
        return EXIT_USAGE
    figures = evaluation_figures(
        labels, [float(r.score or 0.0) for r in ok], threshold, [chosen[r.index].cls for r in ok],
        stats, n_resamples=args.resamples,
    )
    report = {
        "data_dir": str(args.data_dir),
        "split": split,
        "n_files": len(chosen),
        "n_analysed": len(ok),
        "n_errors": len(results) - len(ok),
        "n_malignant": sum(labels),
        "n_benign": len(labels) - sum(labels),
        "threshold": threshold,
        "alpha": stats.alpha_for(threshold),
        "model": {"name": model.metadata.model_name, "version": model.metadata.model_version,
                  "sha256": model.sha256, "provider": model.provider_label},
        "metrics": figures,
    }
    print(format_evaluation(report))
    if args.json_out:
        try:
            target = Path(args.json_out)
            if target.parent != Path():
                from desktop_app.reports.atomic import ensure_output_dir

                ensure_output_dir(target.parent)
            write_text_atomic(target, json.dumps(report, indent=2, sort_keys=True, default=_jsonable))
        except ReportWriteError as exc:
            _err(str(exc))
            return EXIT_OUTPUT
    return EXIT_OK


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def format_evaluation(report: dict[str, Any]) -> str:
    """Plain-text evaluation report (the figures of ``report['metrics']``)."""
    model, fig = report["model"], report["metrics"]
    lines = [
        f"Local validation: {report['data_dir']} ({report['split']} split)",
        f"model {model['name']} {model['version']} ({model['sha256'][:12]}, {model['provider']})",
        f"images: {report['n_files']} files, {report['n_analysed']} analysed "
        f"({report['n_malignant']} malignant, {report['n_benign']} benign), "
        f"{report['n_errors']} errors",
        f"threshold {report['threshold']:.5g} (alpha {report['alpha']:.2f}); "
        "flagged when score > threshold; malignant = positive",
    ]
    for name in ("sensitivity", "specificity", "balanced_accuracy", "auroc", "average_precision"):
        entry = fig[name]
        lo, hi = entry["ci95"]
        lines.append(f"  {name:<18} {entry['value']:.3f}  (95% CI {lo:.3f} - {hi:.3f})")
    c = fig["confusion"]
    lines.append("  confusion          " + ", ".join(f"{k} {v}" for k, v in c.items()))
    lines.append("per class (detection rate = fraction flagged):")
    for cls, entry in fig["per_class"].items():
        lines.append(f"  {cls:<28} {entry['label']:<9} {entry['flagged']:>3}/{entry['n']:<3} "
                     f"{100 * entry['detection_rate']:5.1f}%")
    if fig.get("by_diagnosis"):
        lines.append("by diagnosis (AUROC; benign-shift rows: a benign kind vs nevi, lower is better):")
    for r in fig.get("by_diagnosis", []):
        lo, hi = r["auroc"]["ci95"]
        lines.append(f"  {r['row']:<40} {r['auroc']['value']:.3f}  (95% CI {lo:.3f} - {hi:.3f}, "
                     f"n {r['n_positive']})")
    lines.append("operating points:")
    for p in fig["operating_points"]:
        sens, spec = p.get("test_sensitivity"), p.get("test_specificity")
        lines.append(
            f"  {p['label']:<24} T={p['threshold']:.5g}  val spec {100 * p['val_specificity']:.1f}%"
            + (f"  sens {100 * sens:.1f}%  spec {100 * spec:.1f}%" if sens is not None else "")
        )
    lines.append(f"CIs: {fig['ci_method']}, {fig['bootstrap_resamples']} resamples.")
    lines.append("DermScreen is a triage aid, not a diagnosis.")
    return "\n".join(lines)


# --- GUI ----------------------------------------------------------------------------


def cmd_gui(open_paths: list[str], model_path: str | None) -> int:
    try:
        from desktop_app.gui.app import run_gui
    except ImportError as exc:
        _err(f"the desktop app is not available ({exc})")
        return EXIT_FAILED
    return int(run_gui(open_paths, model_path))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 for --help/--version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.command == "analyze":
            return cmd_analyze(args)
        if args.command == "evaluate":
            return cmd_evaluate(args)
        return cmd_gui(list(args.open_paths), args.gui_model)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
