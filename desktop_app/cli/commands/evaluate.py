"""``dermscreen evaluate``: local validation of the model on a labelled folder.

Runs the model on an ISIC-layout folder and prints the figures training's
evaluation reports (same metric functions, same stratified bootstrap CIs).
Below :data:`MIN_PER_CLASS_FOR_CI` images of either class a 95% interval means
nothing (two images give AUROC "1.000 (1.000 - 1.000)"), so none is given.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.cli.engine_run import capped_workers, load_model_or_say, run_engine
from desktop_app.cli.interrupt import StopOnSignal
from desktop_app.cli.options import (
    EXIT_MODEL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    add_workers_option,
    finite_float,
    resamples_count,
    specificity_value,
)
from desktop_app.cli.terminal import err, say
from desktop_app.core.evaluation.metrics import MIN_PER_CLASS_FOR_CI
from desktop_app.core.wording import number_format as nf
from desktop_app.core.wording.text_safety import terminal_safe
from desktop_app.core.wording.texts import DISCLAIMER_SHORT

if TYPE_CHECKING:
    from desktop_app.core.evaluation.dataset import Sample
    from desktop_app.core.inference.results import AnalysisResult
    from desktop_app.core.model.score_stats import BenignStats

FIGURES = ("sensitivity", "specificity", "balanced_accuracy", "auroc", "average_precision")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "evaluate", help="local validation: run the model on a labelled folder",
        description="Run the model on a labelled folder and print sensitivity, specificity, "
        "ROC AUC and average precision with bootstrap CIs (given from "
        f"{MIN_PER_CLASS_FOR_CI} images of each class up). Labels come from the folder names "
        "(benign/ and malignant/, which may hold diagnosis folders such as nv/ or mel/; or "
        "diagnosis folders: nevus, melanoma, ... or the HAM10000/ISIC codes nv, mel, bkl, "
        "bcc, akiec, df, vasc, scc; or Train/ and Test/ holding them, the Test split used "
        "when present), or from --labels FILE. The label counts are printed, and the label "
        "of every image is written beside the results (--json, --labels-out).",
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="labelled folder")
    parser.add_argument("--labels", metavar="FILE",
                        help="CSV of path,label rows (path relative to DATA_DIR; label benign, "
                        "malignant, a diagnosis or its code); the folder names are then not read")
    parser.add_argument("--labels-out", metavar="FILE",
                        help="write the label of every image (and its score) to this CSV "
                        "(default with --json OUT: OUT's name with -labels.csv, beside it)")
    parser.add_argument("--model", metavar="FILE", help="ONNX model (default: bundled model)")
    parser.add_argument("--alpha", type=finite_float, metavar="A",
                        help="threshold = benign mean + A * benign sd (default: the model's "
                        "screening point, where the app decides)")
    parser.add_argument("--json", dest="json_out", metavar="OUT",
                        help="also write figures as JSON")
    parser.add_argument("--resamples", type=resamples_count, default=2000, metavar="N",
                        help="bootstrap resamples for the 95%% CIs (default: 2000)")
    parser.add_argument("--suite", action="store_true",
                        help="DATA_DIR is the shared data folder: run the committed evaluation "
                        "suite (resources/splits; figures per set, diagnosis rows, pooled)")
    half = parser.add_argument_group("site calibration check (--calibrate-half)")
    half.add_argument("--calibrate-half", action="store_true",
                      help="also calibrate on a seeded half of the benign images (as dermscreen "
                      "calibrate would) and report specificity on the other half and sensitivity "
                      "on all malignant images, with 95%% CIs")
    half.add_argument("--specificity", type=specificity_value, default=0.5, metavar="S",
                      help="target specificity of that calibration (default 0.5)")
    half.add_argument("--rule", choices=("quantile", "alpha"), default="quantile",
                      help="threshold rule of that calibration (default quantile)")
    half.add_argument("--seed", type=int, default=0, help="seed of the half split (default 0)")
    add_workers_option(parser)
    parser.set_defaults(handler=run)
    return parser


def evaluation_figures(
    labels: Sequence[int], scores: Sequence[float], threshold: float, classes: Sequence[str],
    stats: BenignStats, n_resamples: int = 2000, seed: int = 0,
) -> dict[str, Any]:
    """The figures training's evaluation reports (same metric functions, same CI method).

    Point estimates with stratified percentile-bootstrap 95% CIs at ``threshold``,
    the confusion counts, per-class detection rates and the operating points.
    With fewer than :data:`MIN_PER_CLASS_FOR_CI` of either class the CIs are
    ``[None, None]`` and ``ci_note`` says why.
    """
    import numpy as np

    from desktop_app.core.evaluation import metrics

    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    out = metrics.figures_with_ci(y, s, threshold, classes, n_resamples=n_resamples, seed=seed)
    out["operating_points"] = metrics.operating_points(stats, y, s)
    from desktop_app.core.evaluation.suite import diagnosis_rows  # the suite's per-diagnosis rows

    out["by_diagnosis"] = diagnosis_rows(classes, s, n_resamples, seed)
    out["ci_method"] = "stratified percentile bootstrap (malignant and benign resampled separately)"
    out["bootstrap_resamples"] = n_resamples
    out["ci_min_per_class"] = MIN_PER_CLASS_FOR_CI
    n_mal, n_ben = int(y.sum()), int((~y).sum())
    if min(n_mal, n_ben) < MIN_PER_CLASS_FOR_CI:
        for name in FIGURES:
            out[name]["ci95"] = [None, None]
        out["ci_note"] = (f"too few cases for a CI ({n_mal} malignant, {n_ben} benign; "
                          f"at least {MIN_PER_CLASS_FOR_CI} of each needed)")
    return out


def run_suite(args: argparse.Namespace) -> int:
    """``evaluate --suite``: the committed evaluation suite (core/evaluation_suite.py)."""
    from desktop_app.core.base.errors import DermScreenError, ModelError
    from desktop_app.core.base.files import FileWriteError, write_text_atomic
    from desktop_app.core.base.paths import default_model_path
    from desktop_app.core.evaluation import suite

    try:
        scorer, info = suite.engine_scorer(Path(args.model or default_model_path()), args.workers)
        report = suite.run_suite(scorer, info, Path(args.data_dir), n_resamples=args.resamples)
        say("\n".join(terminal_safe(line) for line in suite.format_suite(report).splitlines()))
        if args.json_out:
            write_text_atomic(Path(args.json_out),
                              json.dumps(report, indent=2, default=_jsonable))
    except FileWriteError as exc:
        err(terminal_safe(exc))
        return EXIT_OUTPUT
    except (OSError, ValueError, DermScreenError) as exc:
        err(terminal_safe(exc))
        return EXIT_MODEL if isinstance(exc, ModelError) else EXIT_USAGE
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from desktop_app.core.base.errors import DermScreenError
    from desktop_app.core.base.files import FileWriteError, ensure_output_dir, write_text_atomic
    from desktop_app.core.evaluation.dataset import read_labels_csv, scan_dataset
    from desktop_app.core.model.operating_points import chosen_threshold

    if args.suite:
        return run_suite(args)
    try:
        if not Path(args.data_dir).is_dir():
            raise FileNotFoundError(f"data folder not found: {args.data_dir}")
        samples = (read_labels_csv(args.labels, args.data_dir) if args.labels
                   else scan_dataset(args.data_dir))
    except (FileNotFoundError, NotADirectoryError, DermScreenError, ValueError) as exc:
        err(terminal_safe(exc))
        return EXIT_USAGE
    test = [s for s in samples if s.split == "Test"]
    chosen = test or [s for s in samples if s.split == ""] or samples
    split = "Test" if test else "all"
    say(format_label_counts(chosen, args.labels))
    workers = capped_workers(args.workers)
    with StopOnSignal() as stop:
        model = load_model_or_say(args.model)
        if model is None:
            return EXIT_MODEL
        stats = model.metadata.benign_stats
        # The point the app decides at (window and analyse): the screening point.
        threshold, point_name = chosen_threshold(model.metadata, alpha=args.alpha)
        done = run_engine(model, [str(s.path) for s in chosen], recursive=False,
                          threshold=threshold, workers=workers, stop=stop)
    if done.stopped:
        err(f"stopped by {stop.reason}; nothing evaluated")
        return stop.exit_code
    results = done.results
    ok = [r for r in results if r.ok and r.score is not None]
    labels = [1 if chosen[r.index].is_malignant else 0 for r in ok]
    if len(set(labels)) < 2:
        err(f"{terminal_safe(args.data_dir)}: need both benign and malignant images that could be "
            "analysed")
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
        "threshold_point": point_name,
        "alpha": stats.alpha_for(threshold),
        "model": {"name": model.metadata.model_name, "version": model.metadata.model_version,
                  "sha256": model.sha256, "provider": model.provider_label},
        "metrics": figures,
    }
    say(format_evaluation(report))
    labels_out = labels_out_path(args)
    if labels_out is not None:
        try:
            if labels_out.parent != Path():
                ensure_output_dir(labels_out.parent)
            write_text_atomic(labels_out, label_list_csv(chosen, results, Path(args.data_dir)))
        except FileWriteError as exc:
            err(terminal_safe(exc))
            return EXIT_OUTPUT
        report["labels_file"] = str(labels_out)
        say(f"labels of every image: {terminal_safe(labels_out)}")
    if args.calibrate_half:
        from desktop_app.core.site.calibration import calibrate_half, drift_of

        try:
            half = calibrate_half(labels, [float(r.score or 0.0) for r in ok], model,
                                  seed=args.seed, rule=args.rule, specificity=args.specificity,
                                  alpha=stats.alpha)
        except ValueError as exc:
            err(terminal_safe(exc))
            return EXIT_USAGE
        drift = drift_of(results, model, None, ranges_known=done.engine.image_ranges is not None)
        half["drift_before"] = {"status": drift.status, "words": drift.words(),
                                "details": drift.details(),
                                "rank": drift.rank, "rank_ci95": drift.rank_ci,
                                "images_out": drift.n_images_out,
                                "images_checked": drift.n_images_checked}
        report["calibrate_half"] = half
        say(format_calibrate_half(half))
    if args.json_out:
        try:
            target = Path(args.json_out)
            if target.parent != Path():
                ensure_output_dir(target.parent)
            write_text_atomic(target, json.dumps(report, indent=2, sort_keys=True, default=_jsonable))
        except FileWriteError as exc:
            err(terminal_safe(exc))
            return EXIT_OUTPUT
    return EXIT_OK


def labels_out_path(args: argparse.Namespace) -> Path | None:
    """Where the per-image label list goes: --labels-out, else beside --json (None: nowhere)."""
    if args.labels_out:
        return Path(args.labels_out)
    if args.json_out:
        target = Path(args.json_out)
        return target.with_name(f"{target.stem}-labels.csv")
    return None


def format_label_counts(samples: Sequence[Sample], labels_file: str | None) -> str:
    """'Labels (from the folder names): 40 benign, 20 malignant' and the count per diagnosis."""
    source = f"from {labels_file}" if labels_file else "from the folder names"
    lines = [f"Labels ({terminal_safe(source)}): "
             f"{sum(not s.is_malignant for s in samples)} benign, "
             f"{sum(s.is_malignant for s in samples)} malignant"]
    for label in ("benign", "malignant"):
        counts = Counter(s.cls for s in samples if s.label == label)
        if counts:
            lines.append(f"  {label:<10} " + ", ".join(
                f"{cls} {n}" for cls, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))))
    folders = Counter(s.label_from for s in samples if s.label_from.startswith("folder "))
    if folders:
        lines.append("  read from " + ", ".join(
            f"{terminal_safe(where[len('folder '):])} ({n})" for where, n in sorted(folders.items())))
    return "\n".join(lines)


LABEL_LIST_COLUMNS = ("path", "label", "diagnosis", "label_from", "split", "status", "score",
                      "flagged")


def label_list_csv(samples: Sequence[Sample], results: Sequence[AnalysisResult],
                   root: Path) -> str:
    """One row per image evaluated: which label it got, from where, and its score."""
    import csv
    import io

    from desktop_app.core.wording.text_safety import spreadsheet_safe

    by_index = {r.index: r for r in results}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LABEL_LIST_COLUMNS)
    for i, sample in enumerate(samples):
        result = by_index.get(i)
        try:
            shown = sample.path.relative_to(root).as_posix()
        except ValueError:
            shown = str(sample.path)
        ok = result is not None and result.ok and result.score is not None
        diagnosis = "" if "no diagnosis" in sample.cls else sample.cls
        writer.writerow([spreadsheet_safe(c) for c in (
            shown, sample.label, diagnosis, sample.label_from, sample.split or "",
            "ok" if ok else "error",
            nf.score(result.score) if ok and result is not None else "",
            ("yes" if result.is_anomalous else "no") if ok and result is not None else "",
        )])
    return out.getvalue()


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def format_calibrate_half(half: dict[str, Any]) -> str:
    """The --calibrate-half section: measured on held-out images, the estimate beside it."""
    from desktop_app.core.site.site_profile import SENSITIVITY_CAVEAT

    rule = (f"benign quantile for {nf.percent(half['target_specificity'], 0)} specificity"
            if half["rule"] == "quantile" else f"local mean + {half['alpha']:g} sd")
    drift = half["drift_before"]
    lines = [
        f"Site calibration check (seed {half['seed']}): threshold {nf.score(half['threshold'])} "
        f"({rule}) from {half['n_calibration']} benign images",
        f"  specificity on the other {half['n_held_out_benign']} benign  "
        f"{nf.percent(half['specificity_held_out'])}  "
        f"(95% CI {nf.ci(*half['specificity_ci95'], 1, as_percent=True)})",
        f"  sensitivity on all {half['n_malignant']} malignant     "
        f"{nf.percent(half['sensitivity'])}  "
        f"(95% CI {nf.ci(*half['sensitivity_ci95'], 1, as_percent=True)})",
        "  sensitivity a profile would have ESTIMATED "
        f"{nf.percent(half['sensitivity_estimated'])} (from the model's "
        f"{half['sensitivity_estimate_source'] or 'stored figures'}; {SENSITIVITY_CAVEAT})",
        f"  drift check before calibration (against validation): {drift['status']}"
        + (f": {drift['words']}" if drift["words"] else ""),
    ]
    if drift.get("details"):
        lines.append(f"    ({drift['details']})")
    return "\n".join(lines)


def format_evaluation(report: dict[str, Any]) -> str:
    """Plain-text evaluation report (the figures of ``report['metrics']``); data made printable."""
    model, fig = report["model"], report["metrics"]
    p = terminal_safe
    lines = [
        f"Local validation: {p(report['data_dir'])} ({report['split']} split)",
        f"model {p(model['name'])} {p(model['version'])} ({model['sha256'][:12]}, "
        f"{p(model['provider'])})",
        f"images: {report['n_files']} files, {report['n_analysed']} analysed "
        f"({report['n_malignant']} malignant, {report['n_benign']} benign), "
        f"{report['n_errors']} errors",
        f"threshold {nf.score(report['threshold'])} ({p(report.get('threshold_point', ''))}, "
        f"alpha {nf.fixed(report['alpha'], 2)}); "
        "flagged when score > threshold; malignant = positive",
    ]
    for name in FIGURES:
        entry = fig[name]
        lo, hi = entry["ci95"]
        interval = (f"(95% CI {nf.ci(lo, hi)})" if lo is not None and hi is not None
                    else "(no CI: too few cases)")
        lines.append(f"  {name:<18} {nf.fixed(entry['value'])}  {interval}")
    c = fig["confusion"]
    lines.append("  confusion          " + ", ".join(f"{k} {v}" for k, v in c.items()))
    lines.append("per class (detection rate = fraction flagged):")
    for cls, entry in fig["per_class"].items():
        lines.append(f"  {p(cls):<28} {entry['label']:<9} {entry['flagged']:>3}/{entry['n']:<3} "
                     f"{nf.percent(entry['detection_rate']):>6}")
    if fig.get("by_diagnosis"):
        lines.append("by diagnosis (AUROC; benign-shift rows: a benign kind vs nevi, lower is better):")
    for row in fig.get("by_diagnosis", []):
        lo, hi = row["auroc"]["ci95"]
        interval = (f"95% CI {nf.ci(lo, hi)}" if lo is not None and hi is not None
                    else "no CI: too few cases")
        lines.append(f"  {p(row['row']):<40} {nf.fixed(row['auroc']['value'])}  "
                     f"({interval}, n {row['n_positive']})")
    lines.append("operating points:")
    for point in fig["operating_points"]:
        sens, spec = point.get("test_sensitivity"), point.get("test_specificity")
        lines.append(
            f"  {p(point['label']):<24} T={nf.score(point['threshold'])}  "
            f"val spec {nf.percent(point['val_specificity'])}"
            + (f"  sens {nf.percent(sens)}  spec {nf.percent(spec)}" if sens is not None else "")
        )
    if fig.get("ci_note"):
        lines.append(f"CIs: {fig['ci_note']}.")
    else:
        lines.append(f"CIs: {fig['ci_method']}, {fig['bootstrap_resamples']} resamples.")
    lines.append(DISCLAIMER_SHORT)
    return "\n".join(lines)
