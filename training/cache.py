"""On-disk cache of preprocessed tensors, keyed by file SHA-256 and PreprocessConfig.digest().

Hair removal dominates preprocessing; the cache lets a second run (sweep,
evaluate, re-fit) skip it. Location: $DERMSCREEN_CACHE, else ~/.cache/dermscreen.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from desktop_app.core.imaging.imageio import file_sha256
from desktop_app.core.imaging.preprocess import PreprocessConfig, preprocess_file


def cache_root() -> Path:
    override = os.environ.get("DERMSCREEN_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "dermscreen"


def cache_path(sha: str, cfg: PreprocessConfig) -> Path:
    return cache_root() / cfg.digest() / sha[:2] / f"{sha}.npy"


def cached_preprocess(path: str | Path, cfg: PreprocessConfig, sha: str | None = None) -> np.ndarray:
    """preprocess_file(path, cfg), read from the cache when the same bytes were done before."""
    sha = sha or file_sha256(path)
    target = cache_path(sha, cfg)
    if target.exists():
        try:
            arr = np.load(target, allow_pickle=False)
            if arr.shape == (cfg.size, cfg.size, 3) and arr.dtype == np.float32:
                return arr
        except (OSError, ValueError):
            pass  # a damaged cache entry is simply recomputed
    arr = preprocess_file(path, cfg)
    save_atomic(target, arr)
    return arr


def save_atomic(target: Path, arr: np.ndarray) -> None:
    """``np.save`` through a temp file + ``os.replace``: a killed run leaves no torn entry.
    An OSError is swallowed: caching is an optimisation, never a failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
        os.replace(tmp, target)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def load_tensors(
    paths: Sequence[Path],
    cfg: PreprocessConfig,
    shas: dict[Path, str] | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int = 2,
) -> np.ndarray:
    """Stack the preprocessed tensors of ``paths`` into [N, size, size, 3] float32."""
    shas = shas or {}
    out = np.empty((len(paths), cfg.size, cfg.size, 3), dtype=np.float32)

    def one(i: int) -> None:
        out[i] = cached_preprocess(paths[i], cfg, shas.get(paths[i]))

    step = max(1, len(paths) // 10)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(one, range(len(paths))), start=1):
            if progress and (done % step == 0 or done == len(paths)):
                progress(f"preprocessed {done}/{len(paths)}")
    return out
