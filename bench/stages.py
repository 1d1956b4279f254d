"""CPU milliseconds per image, stage by stage, of the engine's own pipeline.

The stages are the engine's (read and decode, SHA-256, resize to the working
size, hair removal, final resize, ONNX Runtime, score -> result, CSV row), run
one after the other on one thread with the same functions the engine calls,
and the assembled tensor is checked bit-identical to
:func:`desktop_app.core.imaging.preprocess.preprocess_bytes`, so the split measures the
real pipeline, not a look-alike. Process CPU time (``time.process_time``):
OpenCV and ONNX Runtime run parts of a stage on their own threads, which a
per-thread clock would miss; the harness itself runs one stage at a time, so
the process clock is that stage's cost. Also reports the black-hat hair-mask fraction and how
many images have an empty mask (inpainting skipped).

    .venv/bin/python bench/stages.py [--model FILE] [--files N] [FOLDER]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from desktop_app.core.base.paths import default_model_path  # noqa: E402
from desktop_app.core.imaging.imageio import read_file  # noqa: E402
from desktop_app.core.imaging.preprocess import (  # noqa: E402
    _INTERP,
    decode_bytes_for_model,
    hair_mask,
    preprocess_bytes,
    remove_hair,
    working_size,
)
from desktop_app.core.inference.results import ok_result  # noqa: E402
from desktop_app.core.model.metadata import OUTPUT_SCORE  # noqa: E402
from desktop_app.core.model.model_file import LoadedModel, load_model  # noqa: E402
from desktop_app.reports.csv_report import write_results_csv  # noqa: E402

DATA = Path(os.environ.get("DERMSCREEN_SHARED", REPO.parent / "shared")) / "data"
STAGES = ("read", "decode", "hash", "resize", "hair removal", "model", "score", "CSV")


def stage_split(model: LoadedModel, files: list[Path], batch_size: int = 16
                ) -> tuple[dict[str, float], dict[str, float]]:
    """(CPU ms per image by stage, hair-mask figures) over ``files``."""
    cfg = model.metadata.preprocess
    spent: dict[str, float] = defaultdict(float)
    tensors: list[np.ndarray] = []
    fractions: list[float] = []
    for path in files:
        t0 = time.process_time()
        blob = read_file(path)
        t1 = time.process_time()
        rgb = decode_bytes_for_model(blob, cfg)
        t2 = time.process_time()
        _ = blob.sha256
        t3 = time.process_time()
        height, width = rgb.shape[:2]
        work = working_size(width, height, cfg)
        small = rgb
        if work != (width, height):
            small = cv2.resize(rgb, work, interpolation=cv2.INTER_AREA)
        t4 = time.process_time()
        if cfg.hair_removal:
            small = remove_hair(np.ascontiguousarray(small), cfg)
        t5 = time.process_time()
        out = cv2.resize(small, (cfg.size, cfg.size), interpolation=_INTERP[cfg.resize_interpolation])
        x = out.astype(np.float32) * np.float32(1.0 / 255.0)
        t6 = time.process_time()
        spent["read"] += t1 - t0
        spent["decode"] += t2 - t1
        spent["hash"] += t3 - t2
        spent["resize"] += (t4 - t3) + (t6 - t5)
        spent["hair removal"] += t5 - t4
        tensors.append(x)
        if cfg.hair_removal:
            work_rgb = rgb if work == (width, height) else cv2.resize(
                rgb, work, interpolation=cv2.INTER_AREA)
            fractions.append(float(np.count_nonzero(hair_mask(work_rgb, cfg))) / (work[0] * work[1]))
    # The split ran the engine's steps: its tensors are the engine's tensors.
    for path, x in zip(files[:8], tensors[:8], strict=False):
        if not np.array_equal(x, preprocess_bytes(read_file(path), cfg)):
            msg = f"stage split differs from preprocess_bytes on {path}"
            raise AssertionError(msg)
    batch = np.stack(tensors)
    model.run(batch[:batch_size], outputs=(OUTPUT_SCORE,))  # warm-up
    c0 = time.process_time()
    scores = np.concatenate([
        model.run(batch[i : i + batch_size], outputs=(OUTPUT_SCORE,))[OUTPUT_SCORE]
        for i in range(0, len(batch), batch_size)
    ])
    spent["model"] = time.process_time() - c0
    info = {"model_name": model.metadata.model_name, "model_version": model.metadata.model_version,
            "model_sha256": model.sha256, "model_verified": model.verified,
            "provider": model.provider_label}
    t0 = time.process_time()
    results = [
        ok_result(index=i, path=p, score=float(s), threshold=model.metadata.threshold,
                  stats=model.metadata.benign_stats, image_sha256="0" * 64, model_info=info,
                  seconds=0.0)
        for i, (p, s) in enumerate(zip(files, scores, strict=True))
    ]
    spent["score"] = time.process_time() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        write_results_csv(Path(tmp) / "results.csv", results)
        spent["CSV"] = time.process_time() - t0
    per_image = {k: 1000 * spent[k] / len(files) for k in STAGES}
    masks = {}
    if fractions:
        arr = np.asarray(fractions)
        masks = {"mean_fraction": float(arr.mean()), "median_fraction": float(np.median(arr)),
                 "empty": int((arr == 0).sum()), "under_0.1%": int((arr < 0.001).sum()),
                 "n": len(arr)}
    return per_image, masks


def format_split(per_image: dict[str, float], masks: dict[str, float]) -> str:
    total = sum(per_image.values())
    lines = [f"  {name:<13} {ms:7.2f} CPU ms/img  {100 * ms / total:5.1f}%"
             for name, ms in per_image.items()]
    lines.append(f"  {'total':<13} {total:7.2f} CPU ms/img")
    if masks:
        lines.append(f"  hair mask: mean {100 * masks['mean_fraction']:.2f}% of the working image, "
                     f"median {100 * masks['median_fraction']:.2f}%; empty on {masks['empty']} of "
                     f"{masks['n']} images (inpainting skipped), under 0.1% on {masks['under_0.1%']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DATA / "isic9" / "Test")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--files", type=int, default=0, help="first N files (0: all)")
    args = parser.parse_args(argv)
    files = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    if args.files:
        files = files[: args.files]
    model = load_model(args.model or default_model_path())
    per_image, masks = stage_split(model, files)
    print(f"{len(files)} files from {args.folder}, model {model.display_name}, "
          f"{model.provider_label}:")
    print(format_split(per_image, masks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
