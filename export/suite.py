"""`python -m export.suite MODEL.onnx SUITE.json [--row NAME=SUITE.json ...]`: suite figures into a model.

Puts the evaluation suite's figures of the model file (``dermscreen-train
benchmark MODEL.onnx --out SUITE``) into its metadata and card, with an
ablation table of other candidates' suite runs. Only the metadata changes: the
graph that passed the export's parity gate is written as it was, with a new
``.sha256`` sidecar and card.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from desktop_app.core.evaluation.suite import EVALUATION_SETS, POOLED, VALIDATION
from desktop_app.core.imaging.imageio import file_sha256

MEL_NEVUS = "melanoma vs nevus"


def _row(report: dict[str, Any], name: str) -> dict[str, Any]:
    sets = report["sets"]

    def auroc(set_name: str, row: str | None = None) -> dict[str, Any] | None:
        entry = sets.get(set_name, {})
        if row is None:
            return entry.get("auroc")
        match = [r for r in entry.get("by_diagnosis", []) if r["row"] == row]
        return match[0]["auroc"] if match else None

    pooled = sets.get(POOLED, {})
    goal = pooled.get("at_validation_specificity_60", pooled.get("at_validation_specificity_50", {}))
    worst = report.get("worst_site") or {}
    return {
        "name": name,
        "model": report["model"]["name"] + " " + report["model"]["version"],
        "validation_auroc": auroc(VALIDATION),
        "validation_melanoma_vs_nevus": auroc(VALIDATION, MEL_NEVUS),
        **{f"{s}_auroc": auroc(s) for s in EVALUATION_SETS},
        # Per-site paired gains: the ship rule's "no site worse beyond noise".
        **{f"{s}_gain": sets.get(s, {}).get("paired_auroc_gain") for s in EVALUATION_SETS},
        "pooled_auroc": auroc(POOLED),
        "pooled_melanoma_vs_nevus": auroc(POOLED, MEL_NEVUS),
        "pooled_keratosis_vs_nevus": auroc(POOLED, "keratosis vs nevus"),
        "pooled_melanoma_vs_keratosis": auroc(POOLED, "melanoma vs keratosis"),
        "worst_site": worst.get("set", "-"),
        "worst_site_auroc": worst.get("auroc"),
        "pooled_sensitivity": pooled.get("sensitivity"),
        "pooled_specificity": pooled.get("specificity"),
        "pooled_sens_at_val_spec": goal.get("sensitivity"),
        "pooled_spec_at_val_spec": goal.get("specificity"),
        "pooled_gain": pooled.get("paired_auroc_gain"),
        "compared_to": report.get("compared_to"),
    }


def _ci(d: dict[str, Any] | None, pct: bool = False) -> str:
    if not d or "value" not in d:
        return "-"
    f = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.3f}")
    lo, hi = d["ci95"]
    if lo is None or hi is None:
        return f"{f(d['value'])} (no CI: too few)"
    return f"{f(d['value'])} [{f(lo)}, {f(hi)}]"


def ablation_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Candidates side by side: validation (chooses) first, one column per site (report), the
    worst site and the pooled rows after."""
    sites = " | ".join(f"{s} AUROC" for s in EVALUATION_SETS)
    head = ("| Row | Validation AUROC | Validation mel vs nevus | " + sites + " | Worst site | "
            "Pooled AUROC | Pooled mel vs nevus | Pooled mel vs keratosis | Pooled keratosis vs "
            "nevus (lower better) | Pooled sens / spec at validation spec 60% | Pooled gain "
            "(paired) |")
    lines = [head, "|" + "---|" * (10 + len(EVALUATION_SETS))]
    for r in rows:
        gain = _ci(r["pooled_gain"]) + (f" vs {r['compared_to']}" if r["pooled_gain"] else "")
        per_site = " | ".join(_ci(r[f"{s}_auroc"]) for s in EVALUATION_SETS)
        lines.append(
            f"| {r['name']} | {_ci(r['validation_auroc'])} | {_ci(r['validation_melanoma_vs_nevus'])} | "
            f"{per_site} | {r['worst_site']} {_ci(r['worst_site_auroc'])} | "
            f"{_ci(r['pooled_auroc'])} | {_ci(r['pooled_melanoma_vs_nevus'])} | "
            f"{_ci(r['pooled_melanoma_vs_keratosis'])} | "
            f"{_ci(r['pooled_keratosis_vs_nevus'])} | {_ci(r['pooled_sens_at_val_spec'], True)} / "
            f"{_ci(r['pooled_spec_at_val_spec'], True)} | {gain} |"
        )
    return "\n".join(lines) + "\n"


def attach(model_path: Path, suite_json: Path, rows: Sequence[tuple[str, Path]] = (),
           speed: dict[str, Any] | None = None) -> str:
    """Embed the suite of ``model_path`` (and the ablation ``rows``) in its metadata; rewrite card.

    ``speed`` (issue 34: the whole-process ratio to the method's pipeline, from bench/batch.py
    --candidates) is stored as ``extra.speed`` beside it: the default rule reads both."""
    import onnx

    from desktop_app.core.evaluation.suite import format_suite
    from desktop_app.core.model.metadata import ModelMetadata
    from export.convert import with_metadata, write_model_files
    from export.model_card import card_path, write_model_card

    model_path = Path(model_path)
    report = json.loads(Path(suite_json).read_text(encoding="utf-8"))
    proto = onnx.load(str(model_path))
    md = ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props})
    scored = report["model"]["sha256"]
    previous = md.extra.get("evaluation_suite", {}).get("scored_model_sha256")
    if scored not in (file_sha256(model_path), previous):
        msg = f"{suite_json} scored another model file ({scored[:12]}), not {model_path}"
        raise ValueError(msg)
    table_rows = [_row(report, "this model")]
    for name, path in rows:
        table_rows.append(_row(json.loads(Path(path).read_text(encoding="utf-8")), name))
    suite = {
        "scored_model_sha256": scored,
        "summary": table_rows[0],
        # The card names no machine's folders: the data root as the command line gives it.
        "markdown": format_suite({**report, "data_root": "SHARED_DATA",
                                  "model": {**report["model"], "sha256": scored}}),
        "ablation_markdown": ablation_markdown(table_rows),
        "command": f"dermscreen-train benchmark {model_path.name} --data SHARED_DATA "
        "(or dermscreen evaluate SHARED_DATA --suite --model FILE)",
    }
    extra = {**md.extra, "evaluation_suite": suite}
    if speed is not None:
        extra["speed"] = speed
    md = replace(md, extra=extra)
    model_bytes = with_metadata(proto.SerializeToString(), md)
    digest = write_model_files(model_bytes, model_path)
    write_model_card(card_path(model_path), md, file_name=model_path.name, sha256=digest)
    return digest


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.suite", description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("suite_json", type=Path, help="`dermscreen-train benchmark MODEL --out X` X.json")
    p.add_argument("--row", action="append", default=[], metavar="NAME=SUITE.json",
                   help="another candidate's suite JSON, as an ablation row")
    p.add_argument("--speed-ratio", type=float, default=None,
                   help="whole-process throughput over the method's pipeline (bench/batch.py)")
    p.add_argument("--speed-note", default="", help="how the ratio was measured")
    args = p.parse_args(argv)
    try:
        rows = [(r.split("=", 1)[0], Path(r.split("=", 1)[1])) for r in args.row]
        speed = (None if args.speed_ratio is None else
                 {"vs_method_pipeline": args.speed_ratio, "measured": args.speed_note})
        digest = attach(args.model, args.suite_json, rows, speed)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        print(f"export.suite: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.model} (sha256 {digest}) and its card")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
