"""`python -m export.cached_suite MODEL.onnx`: the suite of the derm model from cached features.

On 2 shared cores the Xception forward pass (about 6 GFLOPs an image) is the whole cost, and
the feature cache (``python -m training.xception``) already holds it for every suite image:
the model's score is then ``score = combiner(head(features), CAE score)`` with the head read
from the model file's own initializers, the combiner from its metadata and the CAE's score
through the app's engine (the CAE file the model names, checked by SHA-256). Before scoring,
the engine runs the model file itself on ``--check`` suite images and every score must agree
within 1e-4; the report says how many and how close. Only for an fp32 classifier (an int8
graph's features differ from the cache's).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CAE_DEFAULT = Path("resources/models/dermscreen-cae2.onnx")
CHECK_TOL = 1e-4


def cached_scorer(model_path: Path, cae_path: Path):
    """(scorer, info): paths -> the model's score from cached features and the CAE's engine."""
    import onnx
    from onnx import numpy_helper

    from desktop_app.core.evaluation.suite import engine_scorer
    from desktop_app.core.imaging.imageio import file_sha256
    from desktop_app.core.model.model_file import load_model
    from training.derm_head import logsumexp
    from training.xception import load_cached

    model = load_model(model_path, intra_op_threads=2)
    md = model.metadata
    comp = md.extra["components"]
    if file_sha256(cae_path) != comp["anomaly"]["sha256"]:
        msg = f"{cae_path} is not the CAE {model_path.name} was built on"
        raise ValueError(msg)
    ops = {n.op_type for n in onnx.load(str(model_path)).graph.node}
    if "QuantizeLinear" in ops:
        msg = "an int8 classifier's scores cannot come from the fp32 feature cache"
        raise ValueError(msg)
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(model_path)).graph.initializer
             if i.name.startswith("clf/head/")}
    kernel, bias = inits["clf/head/kernel"].astype(np.float64), inits["clf/head/bias"].astype(np.float64)
    if kernel.shape[1] != 1:  # dx8: log-odds of the summed malignant classes (build_derm.with_head)
        mal, ben = inits["clf/head/mal_idx"], inits["clf/head/ben_idx"]
    comb = md.extra["combiner"]
    cae_score, _ = engine_scorer(cae_path)
    hr = md.extra_inputs["image_hr"]

    def score(paths: list[Path]) -> list[float | None]:
        feats, _ = load_cached([file_sha256(p) for p in paths], hr)
        z = feats.astype(np.float64) @ kernel + bias
        logit = z[:, 0] if z.shape[1] == 1 else (
            logsumexp(z[:, mal]) - logsumexp(z[:, ben]))
        anomaly = np.array(cae_score(paths), np.float64)
        z = (anomaly - comb["anomaly_mean"]) / comb["anomaly_sd"]
        s = 1.0 / (1.0 + np.exp(-(comb["a"] * logit + comb["b"] * z + comb["c"])))
        return [float(v) for v in s]

    info = {"name": md.model_name, "version": md.model_version, "sha256": model.sha256,
            "file": str(model_path), "threshold": float(md.threshold),
            "benign_stats": md.benign_stats.to_dict()}
    return score, info, model


def engine_check(model, scorer, paths: Sequence[Path]) -> dict[str, Any]:
    """The model file through the app's engine vs the cached scorer on ``paths``."""
    from desktop_app.core.inference.engine import Engine

    eng = np.array([r.score for r in Engine(model).analyze_all([str(p) for p in paths])],
                   np.float64)
    cached = np.array(scorer(list(paths)), np.float64)
    return {"images": len(paths), "max_abs_score_difference": float(np.abs(eng - cached).max())}


def main(argv: Sequence[str] | None = None) -> int:
    from desktop_app.core.evaluation.suite import (
        EVALUATION_SETS,
        format_suite,
        run_suite,
        scores_from_report,
        suite_samples,
    )
    from training.run import atomic_write_text, write_json

    p = argparse.ArgumentParser(prog="python -m export.cached_suite", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--cae", type=Path, default=CAE_DEFAULT)
    p.add_argument("--compare-to", type=Path, default=None, help="another model's suite JSON")
    p.add_argument("--check", type=int, default=8, help="images per evaluation set the engine "
                   "scores too (they must agree within 1e-4)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    scorer, info, model = cached_scorer(args.model, args.cae)
    samples = suite_samples(args.data)
    check_paths = [s.path for name in EVALUATION_SETS for s in samples[name][:args.check]]
    check = engine_check(model, scorer, check_paths)
    print(f"engine vs cached-feature scores: {check}", flush=True)
    if check["max_abs_score_difference"] > CHECK_TOL:
        print("export.cached_suite: the cache does not reproduce the engine", file=sys.stderr)
        return 2
    other, other_name = None, ""
    if args.compare_to:
        import json

        other = scores_from_report(args.compare_to)
        # Named by the model file the other suite scored (as `benchmark --compare-to FILE`).
        other_name = Path(json.loads(args.compare_to.read_text(encoding="utf-8"))["model"]["file"]).stem
    report = run_suite(scorer, info, args.data, other_scores=other, other_name=other_name,
                       progress=print)
    report["scored_by"] = {"method": "cached fp32 Xception features + head from the model file "
                           "+ the CAE through the engine (export.cached_suite)",
                           "engine_check": check}
    text = format_suite(report)
    print(text)
    write_json(args.out.with_suffix(".json"), report)
    atomic_write_text(args.out.with_suffix(".md"), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
