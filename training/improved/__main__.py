"""`python -m training.improved {fit,export}`: the improved detector's command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.improved", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="train the subtype net, choose the fusion, write ablation.json")
    f.add_argument("--data", type=Path, required=True, help="ISIC folder with Train/ and Test/")
    f.add_argument("--reference", type=Path, default=Path("runs/reference"),
                   help="finished reference run folder (its CAE is reused)")
    f.add_argument("--out", type=Path, default=Path("runs/improved"))
    f.add_argument("--cache", type=Path, default=Path("runs/improved_cache"))
    f.add_argument("--subtype-model", type=Path, default=None,
                   help="reuse a trained subtype network (.keras) instead of training one")
    f.add_argument("--subtype-epochs", type=int, default=40)
    e = sub.add_parser("export", help="export runs/improved as one ONNX file + card")
    e.add_argument("--data", type=Path, required=True)
    e.add_argument("--reference", type=Path, default=Path("runs/reference"))
    e.add_argument("--run", type=Path, default=Path("runs/improved"))
    e.add_argument("--out", type=Path, default=Path("runs/improved/export/dermscreen-fused.onnx"))
    t = sub.add_parser("tables", help="print the ablation/operating-point tables as Markdown")
    t.add_argument("--run", type=Path, default=Path("runs/improved"))
    return p


def _say(text: str) -> None:
    print(text, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if args.command == "fit":
            from training.improved.pipeline import ImprovedConfig, run_improved

            if args.subtype_epochs < 1:
                msg = f"--subtype-epochs must be at least 1, got {args.subtype_epochs}"
                raise ValueError(msg)
            cfg = ImprovedConfig(
                data_dir=args.data, reference_run=args.reference, out_dir=args.out,
                cache_dir=args.cache, subtype_model=args.subtype_model,
                subtype_epochs=args.subtype_epochs,
            )
            result = run_improved(cfg, _say)
            _say(f"fusion: {result['fusion']}")
            _say(f"validation AUROC {result['validation']['auroc']['value']:.3f}; "
                 f"Test AUROC {result['test']['auroc']['value']:.3f}")
        elif args.command == "tables":
            from training.improved.pipeline import TABLE_FILE
            from training.improved.report import ablation_table, headline, operating_points_table

            result = json.loads((args.run / TABLE_FILE).read_text(encoding="utf-8"))
            for block in (headline(result), ablation_table(result), operating_points_table(result)):
                _say(block + "\n")
        else:
            from desktop_app.core.files import utc_now_iso
            from training.improved.export_improved import export_improved
            from training.improved.pipeline import SUBTYPE_FILE, TABLE_FILE

            if args.out.suffix.lower() != ".onnx":
                msg = f"{args.out}: the model file name must end in .onnx"
                raise ValueError(msg)
            table = args.run / TABLE_FILE
            if not table.exists():
                msg = f"{table}: not found; run `python -m training.improved fit` first"
                raise FileNotFoundError(msg)
            result = json.loads(table.read_text(encoding="utf-8"))
            export_improved(result, args.reference, args.run / SUBTYPE_FILE, args.data,
                            args.out, utc_now_iso(), _say)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
