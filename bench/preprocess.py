"""Preprocessing throughput: isic9 Test images and the full-resolution originals.

Prints images/s single-threaded and on the engine's thread pool (one worker
per core by default), so the pool's gain from OpenCV/Pillow releasing the GIL
is measured rather than assumed. Not a test: figures vary with the machine.

    .venv/bin/python bench/preprocess.py [--model FILE] [--workers N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from desktop_app.core.base.paths import default_model_path
from desktop_app.core.imaging.preprocess import PreprocessConfig, preprocess_file
from desktop_app.core.inference.engine import prepare_file
from desktop_app.core.model.model_file import read_metadata

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DERMSCREEN_SHARED", REPO.parent / "shared")) / "data"


def config_from(model: str | None) -> tuple[PreprocessConfig, str]:
    path = Path(model) if model else default_model_path()
    if path.exists():
        return read_metadata(path).preprocess, f"preprocessing from {path}"
    return PreprocessConfig(), "default PreprocessConfig (no model file found)"


def time_single(files: list[Path], cfg: PreprocessConfig) -> float:
    start = time.perf_counter()
    for f in files:
        preprocess_file(f, cfg)
    return len(files) / (time.perf_counter() - start)


def time_pool(files: list[Path], cfg: PreprocessConfig, workers: int) -> float:
    # The engine's worker stage (preprocess + SHA-256) on the engine's kind of pool.
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for item in pool.map(lambda a: prepare_file(a[0], a[1], cfg), enumerate(files)):
            if item.tensor is None:
                msg = f"{item.path}: {item.error}"
                raise RuntimeError(msg)
    return len(files) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model whose preprocessing to use (default: bundled)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=2, help="best of R runs")
    args = parser.parse_args(argv)
    cfg, source = config_from(args.model)
    sets = {
        "isic9 Test (180x180 JPEG)": sorted((DATA / "isic9" / "Test").glob("*/*.jpg")),
        "uda1-fullres originals": sorted((DATA / "uda1-fullres").glob("*.jpg")),
    }
    print(f"{source}; {os.cpu_count()} cores; pool of {args.workers} threads")
    for name, files in sets.items():
        if not files:
            print(f"{name}: no files found under {DATA}")
            continue
        preprocess_file(files[0], cfg)  # warm-up: imports, OpenCV allocations
        single = max(time_single(files, cfg) for _ in range(args.repeat))
        pooled = max(time_pool(files, cfg, args.workers) for _ in range(args.repeat))
        print(f"{name}: {len(files)} images  single-thread {single:7.1f} img/s  "
              f"pool({args.workers}) {pooled:7.1f} img/s  speed-up {pooled / single:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
