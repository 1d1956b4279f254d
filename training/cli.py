"""`dermscreen-train`: audit, splits, fit, benchmark, evaluate, rescore, compare, sweep."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from desktop_app.core.base.errors import DermScreenError
from desktop_app.core.model.metadata import SSIM_BORDERS, SsimWindow
from desktop_app.core.model.score_stats import DEFAULT_ALPHA


def _add_window_options(
    p: argparse.ArgumentParser, default_sigma: float | None, default_border: str | None
) -> None:
    p.add_argument(
        "--ssim-sigma",
        type=float,
        default=default_sigma,
        help="Gaussian sigma of the SSIM window in loss and score (1.5 = the reference's 11x11)",
    )
    p.add_argument(
        "--ssim-border",
        choices=SSIM_BORDERS,
        default=default_border,
        help="valid: SSIM where the window fits (the reference); reflect: mirror the image "
        "edges so the whole image is compared",
    )


def _add_fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, type=Path, help="ISIC folder with Train/ and Test/")
    p.add_argument("--w-mse", type=float, default=0.4, help="MSE weight of the hybrid score")
    p.add_argument("--w-ssim", type=float, default=0.6, help="(1 - SSIM) weight of the hybrid score")
    p.add_argument("--no-hair-removal", action="store_true", help="skip digital hair removal")
    p.add_argument(
        "--colour-constancy", choices=("none", "shades_of_gray"), default="none",
        help="colour constancy after hair removal (shades_of_gray: Minkowski p = 6; none: the reference)",
    )
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="T = mean + alpha * sd")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--limit", type=int, default=None, help="use at most N benign images")
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument(
        "--augment",
        action="store_true",
        help="train on randomly flipped, 90-degree-rotated, mildly colour-jittered copies",
    )
    _add_window_options(p, default_sigma=1.5, default_border="valid")
    p.add_argument(
        "--extra-benign",
        type=Path,
        default=None,
        metavar="SHARED_DATA",
        help="also train/validate on the ham-extra nevi of resources/splits/ham-extra-{train,"
        "validation}.txt (paths relative to SHARED_DATA, the folder holding ham-extra/)",
    )
    p.add_argument("--patience", type=int, default=None,
                   help="stop after N epochs without a lower validation loss (best epoch kept)")
    p.add_argument("--variational", action="store_true",
                   help="train a VAE (the CAE's encoder/decoder around a variational code, "
                   "Lu & Xu 2018) instead of the CAE; it scores by reconstruction from the code's mean")
    p.add_argument("--kl-weight", type=float, default=None,
                   help="weight of the KL term (default 1 / (size * size * 3))")
    p.add_argument(
        "--known-anomalies", type=float, default=None, metavar="SHARE",
        help="semi-supervised track: train on this share (e.g. 0.7) of the Train malignant images "
        "as known anomalies (hinge on their score); the rest stays validation. The model "
        "then must ship under its own name with a card that says so",
    )
    p.add_argument("--anomaly-margin", type=float, default=0.2,
                   help="score below which a known anomaly is penalised (with --known-anomalies)")
    p.add_argument("--anomaly-weight", type=float, default=1.0,
                   help="weight of the known-anomaly hinge (with --known-anomalies)")
    p.add_argument("--hair-work-side", type=int, default=256, metavar="PIXELS",
                   help="longest side hair removal runs on (256: the shipped models; smaller is "
                   "faster, and the model then needs training at that side)")
    p.add_argument("--fov-loss", action="store_true",
                   help="leave the dermoscope's field-of-view vignette out of the training loss "
                   "(and so out of the score, threshold and heatmap)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop after the epoch that passes this much training time (best epoch kept)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dermscreen-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_audit = sub.add_parser("audit", help="report duplicates and leakage in a dataset")
    p_audit.add_argument("data_dir", nargs="?", type=Path, help="dataset folder (ISIC layout)")
    p_audit.add_argument("--data", type=Path, help="same as DATA_DIR")
    p_audit.add_argument("--json", action="store_true", help="print the summary as JSON")

    p_fit = sub.add_parser("fit", help="train on benign Train images and set the threshold")
    _add_fit_options(p_fit)
    p_fit.add_argument("--out", required=True, type=Path, help="run folder to write")

    p_eval = sub.add_parser("evaluate", help="evaluate a run on the Test split")
    p_eval.add_argument("run_dir", type=Path)
    p_eval.add_argument("--data", required=True, type=Path)
    p_eval.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    p_eval.add_argument(
        "--threshold-at-validation-sensitivity",
        type=float,
        default=None,
        metavar="TARGET",
        help="make the run's threshold the highest one flagging TARGET (e.g. 0.8) of the Train "
        "malignant images (validation) instead of mean + alpha * sd",
    )

    p_rescore = sub.add_parser(
        "rescore", help="recompute a run's scores and threshold from its saved model (no training)"
    )
    p_rescore.add_argument("run_dir", type=Path)
    _add_window_options(p_rescore, default_sigma=None, default_border=None)
    fov = p_rescore.add_mutually_exclusive_group()
    fov.add_argument("--fov-mask", action="store_true",
                     help="score and heatmap only inside the dermoscope's field of view "
                     "(black vignette / aperture connected to the border left out)")
    fov.add_argument("--no-fov-mask", action="store_true", help="score the whole image again")

    p_cmp = sub.add_parser(
        "compare", help="evaluated runs side by side: validation (chooses) and Test (reports) AUROC"
    )
    p_cmp.add_argument("run_dirs", nargs="+", type=Path, help="the first is the baseline")
    p_cmp.add_argument("--names", nargs="+", default=None, help="row names (default: folder names)")
    p_cmp.add_argument("--out", type=Path, default=None, help="also write OUT.json and OUT.md")
    p_cmp.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (as evaluate)")

    p_bench = sub.add_parser(
        "benchmark", help="the evaluation suite (resources/splits) on a model file, via the app's engine"
    )
    p_bench.add_argument("model", type=Path, help="ONNX model file")
    p_bench.add_argument("--data", required=True, type=Path, help="the shared data folder")
    p_bench.add_argument("--compare-to", type=Path, default=None,
                         help="another model file, or an earlier suite JSON: paired AUROC gain")
    p_bench.add_argument("--out", type=Path, default=None, help="write OUT.json and OUT.md")
    p_bench.add_argument("--resamples", type=int, default=2000)
    p_bench.add_argument("--limit", type=int, default=None, help="at most N images per set (a quick look)")
    p_bench.add_argument("--known-scores", type=Path, default=None,
                         help="JSON of path (under --data) -> this model's score, already computed "
                              "by the app's engine (e.g. a build's validation run): not re-scored")

    p_var = sub.add_parser(
        "score-variants",
        help="lesion-weighted and feature-space scores of one model file on the suite's sets",
    )
    p_var.add_argument("model", type=Path, help="ONNX model file")
    p_var.add_argument("--data", required=True, type=Path, help="the shared data folder")
    p_var.add_argument("--vae-run", type=Path, default=None, metavar="RUN_DIR",
                       help="the VAE's run folder (MODEL is its export): adds the KL divergence "
                       "and the negative-ELBO score")
    p_var.add_argument("--out", required=True, type=Path, help="write OUT.json and OUT.md")
    p_var.add_argument("--resamples", type=int, default=1000)
    p_var.add_argument("--limit", type=int, default=None, help="at most N images per set (a quick look)")

    p_splits = sub.add_parser(
        "splits", help="draw the committed evaluation/training splits into resources/splits"
    )
    p_splits.add_argument("data_root", type=Path, help="the shared data folder (isic9/, uda1/, ham-extra/)")
    p_splits.add_argument("--out", type=Path, default=None, help="folder to write (default resources/splits)")
    p_splits.add_argument("--seed", type=int, default=13)

    p_sweep = sub.add_parser("sweep", help="loss-weight grid x hair removal on/off")
    p_sweep.add_argument("--data", required=True, type=Path)
    p_sweep.add_argument("--out", required=True, type=Path)
    p_sweep.add_argument("--epochs", type=int, default=50)
    p_sweep.add_argument("--batch-size", type=int, default=32)
    p_sweep.add_argument("--limit", type=int, default=None)
    p_sweep.add_argument("--seed", type=int, default=42)
    p_sweep.add_argument("--resamples", type=int, default=2000)
    return parser


def _say(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if args.command == "audit":
            from training.data import audit_dataset

            data_dir = args.data_dir or args.data
            if data_dir is None:
                parser.error("audit needs a DATA_DIR")
            audit = audit_dataset(data_dir)
            _say(audit.to_json() if args.json else audit.report())
        elif args.command == "fit":
            from training.fit import FitConfig, fit

            fit(
                FitConfig(
                    data_dir=args.data,
                    out_dir=args.out,
                    w_mse=args.w_mse,
                    w_ssim=args.w_ssim,
                    hair_removal=not args.no_hair_removal,
                    colour_constancy=args.colour_constancy,
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    alpha=args.alpha,
                    seed=args.seed,
                    limit=args.limit,
                    val_fraction=args.val_fraction,
                    augment=args.augment,
                    ssim_sigma=args.ssim_sigma,
                    ssim_border=args.ssim_border,
                    extra_benign=args.extra_benign,
                    patience=args.patience,
                    known_anomalies=args.known_anomalies,
                    variational=args.variational,
                    kl_weight=args.kl_weight,
                    anomaly_margin=args.anomaly_margin,
                    anomaly_weight=args.anomaly_weight,
                    max_minutes=args.max_minutes,
                    hair_work_side=args.hair_work_side,
                    fov_loss=args.fov_loss,
                ),
                progress=_say,
            )
        elif args.command == "evaluate":
            from training.evaluate import evaluate

            evaluate(
                args.run_dir,
                args.data,
                n_resamples=args.resamples,
                progress=_say,
                threshold_at_validation_sensitivity=args.threshold_at_validation_sensitivity,
            )
        elif args.command == "compare":
            from training.compare import compare_runs, to_markdown, write_comparison

            table = compare_runs(args.run_dirs, args.names, n_resamples=args.resamples)
            _say(to_markdown(table))
            if args.out is not None:
                for path in write_comparison(table, args.out):
                    _say(f"wrote {path}")
        elif args.command == "rescore":
            from training.fit import rescore
            from training.run import load_run

            window = None
            if args.ssim_sigma is not None or args.ssim_border is not None:
                old = load_run(args.run_dir).ssim_window
                window = SsimWindow(
                    sigma=old.sigma if args.ssim_sigma is None else args.ssim_sigma,
                    border=old.border if args.ssim_border is None else args.ssim_border,
                )
            from training.fov import FieldOfView

            rescore(args.run_dir, progress=_say, window=window,
                    fov=FieldOfView() if args.fov_mask else None,
                    change_fov=args.fov_mask or args.no_fov_mask)
        elif args.command == "benchmark":
            from training.benchmark import benchmark

            known = None
            if args.known_scores is not None:
                import json

                known = {str(k): float(v) for k, v in
                         json.loads(args.known_scores.read_text(encoding="utf-8")).items()}
            benchmark(args.model, args.data, compare_to=args.compare_to, out_stem=args.out,
                      n_resamples=args.resamples, limit=args.limit, progress=_say,
                      known_scores=known)
        elif args.command == "score-variants":
            from training.score_variants import format_variants, run_variants, write_variants

            report = run_variants(args.model, args.data, n_resamples=args.resamples,
                                  progress=_say, limit=args.limit, vae_run=args.vae_run)
            write_variants(report, args.out)
            _say(format_variants(report))
        elif args.command == "splits":
            from training.splits import write_splits

            counts = write_splits(args.data_root, args.out, seed=args.seed)
            for name, n in counts.items():
                _say(f"{name}: {n} images")
        elif args.command == "sweep":
            from training.sweep import sweep

            sweep(
                args.data,
                args.out,
                epochs=args.epochs,
                batch_size=args.batch_size,
                limit=args.limit,
                seed=args.seed,
                n_resamples=args.resamples,
                progress=_say,
            )
    except (OSError, ValueError, DermScreenError) as exc:
        print(f"dermscreen-train {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
