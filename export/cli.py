"""`dermscreen-export RUN_DIR --out MODEL.onnx`: a trained run -> checked ONNX model.

Thin over :mod:`export.convert`: wraps the run's CAE with THE hybrid score,
converts with tf2onnx, refuses to write unless ONNX Runtime matches Keras on
real images, then writes MODEL.onnx, MODEL.onnx.sha256 and (``--card``) MODEL.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from export.parity import DEFAULT_PARITY_COUNT, MAP_TOL, RECON_TOL, SCORE_TOL

EXIT_ERROR = 1
EXIT_PARITY = 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dermscreen-export",
        description="Export a trained DermScreen run to one ONNX model (score inside).",
    )
    p.add_argument("run_dir", type=Path, help="training run folder (model.keras, run.json, ...)")
    p.add_argument("--out", type=Path, required=True, help="model file to write (.onnx)")
    p.add_argument("--name", default="DermScreen CAE", help="model name shown in the app")
    p.add_argument("--version", default="0.0.0", help="model version shown in the app")
    p.add_argument("--card", action="store_true", help="also write the model card MODEL.md")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="labelled data folder for the parity images (default: the run's data folder)",
    )
    p.add_argument(
        "--parity-count",
        type=int,
        default=DEFAULT_PARITY_COUNT,
        help="Test images for the parity gate",
    )
    p.add_argument("--score-tol", type=float, default=SCORE_TOL, help="max |Keras - ONNX| of score")
    p.add_argument(
        "--recon-tol", type=float, default=RECON_TOL, help="max |Keras - ONNX| of reconstruction"
    )
    p.add_argument(
        "--map-tol", type=float, default=MAP_TOL, help="max |Keras - ONNX| of an error-map pixel"
    )
    p.add_argument(
        "--note",
        default="",
        help="a remark on this export, stored in the metadata and printed in the model card",
    )
    p.add_argument(
        "--ablation",
        type=Path,
        default=None,
        help="`dermscreen-train compare --out` JSON: the ablation that chose this recipe, "
        "stored in the metadata and printed in the model card",
    )
    p.add_argument(
        "--check-image",
        default=None,
        help="image (relative to --data) whose score is stored for a load-time check "
        "(default: the first Test melanoma image)",
    )
    return p


def _ablation_entry(path: Path) -> dict[str, Any]:
    """A compare table without machine-specific paths (the metadata travels)."""
    import json

    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = [{k: v for k, v in r.items() if k != "run_dir"} for r in table["rows"]]
        return {**{k: v for k, v in table.items() if k != "rows"}, "rows": rows}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        msg = f"{path}: not a `dermscreen-train compare` JSON table ({exc})"
        raise ValueError(msg) from None


def _default_check_image(data_dir: Path) -> Path | None:
    from desktop_app.core.evaluation.dataset import scan_dataset

    samples = [s for s in scan_dataset(data_dir) if s.split == "Test"]
    melanoma = [s for s in samples if s.cls == "melanoma"]
    chosen = (melanoma or samples)[:1]
    return chosen[0].path if chosen else None


def _check_entry(
    wrapper: Any, model_bytes: bytes, data_dir: Path, image: Path, cfg: Any
) -> dict[str, Any]:
    """The fixed image's score as the exported graph gives it (and as Keras gives it).

    ``check_score`` is ONNX Runtime's score of the written graph, so a later load
    can verify that file + preprocessing still reproduce it exactly.
    """
    import numpy as np

    from desktop_app.core.imaging.preprocess import preprocess_file
    from export.parity import keras_outputs, onnx_outputs

    x = preprocess_file(image, cfg)[None].astype(np.float32)
    try:
        rel = image.resolve().relative_to(data_dir.resolve()).as_posix()
    except ValueError:
        rel = image.name
    return {
        "check_image": rel,
        "check_score": float(onnx_outputs(model_bytes, x)["score"][0]),
        "check_score_keras": float(keras_outputs(wrapper, x)["score"][0]),
    }


def describe_architecture(wrapper: Any) -> dict[str, Any]:
    """Encoder filters, bottleneck width and parameter count of the wrapped CAE."""
    layers = list(wrapper._flatten_layers(include_self=False, recursive=True))
    convs = sorted((la for la in layers if la.name.startswith("enc_conv")), key=lambda la: la.name)
    encoder = [int(la.filters) for la in convs]
    bottleneck = [int(la.units) for la in layers if la.name == "bottleneck"]
    return {
        "encoder_filters": encoder,
        "bottleneck_units": bottleneck[0] if bottleneck else None,
        "parameters": int(wrapper.count_params()),
        "variational": any(la.name == "sampling" for la in layers),
    }


def run_export(args: argparse.Namespace, say: Any = print) -> Path:
    """Do the export; raises on any failure (ParityError when the gate fails)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from export.convert import build_onnx, with_metadata, write_model_files
    from export.metadata import build_metadata
    from export.model_card import card_path, write_model_card
    from export.parity import load_parity_images, select_parity_files
    from training.run import load_keras_model, load_run, preprocess_config
    from training.scorer import wrap_cae

    if args.out.suffix.lower() != ".onnx":
        msg = f"{args.out}: the model file name must end in .onnx"
        raise ValueError(msg)
    if args.parity_count < 1:
        msg = f"--parity-count must be at least 1, got {args.parity_count}"
        raise ValueError(msg)
    # Read before the slow conversion, so a bad file fails fast.
    ablation = _ablation_entry(args.ablation) if args.ablation is not None else None
    info = load_run(args.run_dir)
    if info.metrics is None:
        say(f"warning: {args.run_dir} has no metrics.json; the model carries no Test figures")
    data_dir = Path(args.data or info.config.get("data_dir", ""))
    if not data_dir.is_dir():
        msg = f"data folder not found: {data_dir} (give --data)"
        raise FileNotFoundError(msg)
    cfg = preprocess_config(info)
    weights = info.loss_weights
    say(f"loading {args.run_dir}")
    wrapper = wrap_cae(
        load_keras_model(args.run_dir), weights["mse"], weights["ssim"], info.ssim_window,
        info.field_of_view,
    )

    check = Path(args.check_image) if args.check_image else _default_check_image(data_dir)
    if check is not None and not check.is_absolute():
        check = data_dir / check
    if check is not None and not check.is_file():
        msg = f"check image not found: {check}"
        raise FileNotFoundError(msg)
    files = select_parity_files(data_dir, args.parity_count)
    if check is not None and check not in files:
        files.append(check)  # so its stored Keras score is covered by the gate too
    images = load_parity_images(files, cfg)
    architecture = {"architecture": describe_architecture(wrapper)}
    metadata = build_metadata(info, args.name, args.version, extra=architecture)
    say(f"converting with tf2onnx, then checking parity on {len(files)} real images")
    model_bytes, report = build_onnx(
        wrapper,
        metadata,
        images,
        score_tol=args.score_tol,
        recon_tol=args.recon_tol,
        map_tol=args.map_tol,
    )
    say(report.describe())
    # Record the gate's result in the model itself; only metadata_props change,
    # the graph that passed the gate is written as it was checked.
    extra: dict[str, Any] = {"parity": report.to_dict()}
    if args.note:
        extra["export_note"] = args.note
    if ablation is not None:
        extra["ablation"] = ablation
    if check is not None:
        extra |= _check_entry(wrapper, model_bytes, data_dir, check, cfg)
    metadata = replace(metadata, extra={**metadata.extra, **extra})
    model_bytes = with_metadata(model_bytes, metadata)
    digest = write_model_files(model_bytes, args.out)
    say(f"wrote {args.out} ({len(model_bytes) / 1e6:.1f} MB), sha256 {digest}")
    if args.card:
        card = write_model_card(
            card_path(args.out), metadata, file_name=args.out.name, sha256=digest
        )
        say(f"wrote {card}")
    return args.out


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from desktop_app.core.base.errors import DermScreenError
    from export.parity import ParityError

    try:
        run_export(args)
    except ParityError as exc:
        print(f"dermscreen-export: {exc}", file=sys.stderr)
        return EXIT_PARITY
    except (OSError, ValueError, KeyError, DermScreenError) as exc:
        print(f"dermscreen-export: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
