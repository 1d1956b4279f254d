"""`python -m export.image_ranges MODEL.onnx --data SHARED_DATA --splits A,B`: the drift check's
reference image ranges for a model, into ``resources/image_ranges.json`` keyed by its SHA-256.

The per-image drift check (:mod:`desktop_app.core.inference.drift`) compares cheap image
statistics with the range of the images the model was trained and validated on.
This step computes them from the committed validation split(s) of that model's
training data (isic9-validation for the reference; isic9-validation and
ham-extra-validation for cae2 and combined), with the app's own decoder,
preprocessing and statistics (taken on the model's input, as the engine takes
them), and writes (or replaces) the model's entry. The model file is not changed, so its
SHA-256 and sidecar stay valid; a model may instead carry the same object as
``extra.image_ranges`` in its metadata, which the app reads first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from desktop_app.core.base.errors import ImageError
from desktop_app.core.base.files import utc_now_iso, write_text_atomic
from desktop_app.core.base.paths import resources_dir
from desktop_app.core.evaluation.splits import read_split
from desktop_app.core.imaging.imageio import file_sha256, read_file
from desktop_app.core.imaging.preprocess import (
    PreprocessConfig,
    decode_bytes_for_model,
    preprocess_array,
)
from desktop_app.core.inference.drift import RANGES_FILE, image_stats, ranges_from_stats


def split_stats(data_root: Path, splits: list[str], cfg: PreprocessConfig) -> list[dict[str, float]]:
    """The statistics of every readable image of ``splits``."""
    rows = []
    for name in splits:
        for entry in read_split(name):
            try:
                blob = read_file(data_root / entry.rel_path)
                tensor = preprocess_array(decode_bytes_for_model(blob, cfg), cfg)
                rows.append(image_stats(tensor))  # what the model sees, as the app measures it
            except ImageError:
                continue
    return rows


def entry_for(model_path: Path, data_root: Path, splits: list[str]) -> tuple[str, dict]:
    """(model SHA-256, its ranges entry)."""
    from desktop_app.core.model.model_file import load_model

    model = load_model(model_path)
    rows = split_stats(data_root, splits, model.metadata.preprocess)
    meta = model.metadata
    return file_sha256(model_path), {
        "model": f"{meta.model_name} {meta.model_version}",
        "source": f"committed splits {', '.join(splits)} (the model's validation images)",
        "n": len(rows), "computed_at": utc_now_iso(), "stats": ranges_from_stats(rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.image_ranges", description=__doc__)
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--splits", required=True, help="comma-separated split names")
    parser.add_argument("--out", type=Path, default=resources_dir() / RANGES_FILE)
    args = parser.parse_args(argv)
    sha, entry = entry_for(args.model, args.data, [s for s in args.splits.split(",") if s])
    table = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    table[sha] = entry
    write_text_atomic(args.out, json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"{args.out}: {entry['model']} ({sha[:12]}), {entry['n']} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
