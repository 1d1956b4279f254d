"""A tiny real training run shared by the training, export and app tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

SMALL_RUN = {
    "limit": 48,
    "epochs": 4,
    "batch_size": 16,
    "val_fraction": 0.25,
    "seed": 7,
}


@contextmanager
def _cache_env(cache_dir: Path | None) -> Iterator[None]:
    """Point DERMSCREEN_CACHE at ``cache_dir`` for the duration (session fixtures cannot monkeypatch)."""
    if cache_dir is None:
        yield
        return
    old = os.environ.get("DERMSCREEN_CACHE")
    os.environ["DERMSCREEN_CACHE"] = str(cache_dir)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("DERMSCREEN_CACHE", None)
        else:
            os.environ["DERMSCREEN_CACHE"] = old


def train_small_run(
    out_dir: Path,
    data_dir: Path,
    cache_dir: Path | None = None,
    evaluate_run: bool = True,
    n_resamples: int = 300,
    **overrides: Any,
) -> Path:
    """Fit (and evaluate) a small real CAE run in ``out_dir``; ``overrides`` are FitConfig fields."""
    from training.evaluate import evaluate
    from training.fit import FitConfig, fit

    options = SMALL_RUN | overrides
    with _cache_env(cache_dir or out_dir.parent / f"{out_dir.name}-cache"):
        fit(FitConfig(data_dir=data_dir, out_dir=out_dir, **options), progress=lambda _msg: None)
        if evaluate_run:
            evaluate(out_dir, data_dir, n_resamples=n_resamples, progress=lambda _msg: None)
    return out_dir


@pytest.fixture(scope="session")
def small_run_dir(tmp_path_factory: pytest.TempPathFactory, isic9_dir: Path) -> Path:
    """A real tiny run: 48 benign isic9 Train images, 4 epochs, batch 16, evaluated on Test."""
    base = tmp_path_factory.mktemp("small_run")
    return train_small_run(base / "run", isic9_dir, cache_dir=base / "cache")


@pytest.fixture(scope="session")
def known_anomaly_run_dir(tmp_path_factory: pytest.TempPathFactory, isic9_sample_dir: Path) -> Path:
    """A real tiny semi-supervised run: half of a few Train malignant images as known anomalies."""
    base = tmp_path_factory.mktemp("known_anomaly_run")
    return train_small_run(base / "run", isic9_sample_dir, cache_dir=base / "cache", limit=16,
                           epochs=2, known_anomalies=0.5, n_resamples=50)
