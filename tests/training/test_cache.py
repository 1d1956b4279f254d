"""The preprocessed-tensor cache: keyed by file bytes and preprocessing digest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.imaging.imageio import file_sha256
from desktop_app.core.imaging.preprocess import PreprocessConfig, preprocess_file
from training.cache import cache_path, cache_root, cached_preprocess, load_tensors


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DERMSCREEN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_root_follows_env(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_root() == cache_dir
    monkeypatch.delenv("DERMSCREEN_CACHE")
    assert cache_root() == Path.home() / ".cache" / "dermscreen"


def test_first_call_writes_same_tensor_as_preprocess(cache_dir: Path, isic9_test_files: list[Path]) -> None:
    path = isic9_test_files[0]
    cfg = PreprocessConfig()
    arr = cached_preprocess(path, cfg)
    np.testing.assert_array_equal(arr, preprocess_file(path, cfg))
    stored = cache_path(file_sha256(path), cfg)
    assert stored.is_relative_to(cache_dir / cfg.digest())
    np.testing.assert_array_equal(np.load(stored), arr)


def test_second_call_reads_the_cache(cache_dir: Path, isic9_test_files: list[Path]) -> None:
    path = isic9_test_files[1]
    cfg = PreprocessConfig()
    cached_preprocess(path, cfg)
    # Plant a marker tensor in the entry: only a cache read can return it.
    marker = np.full((128, 128, 3), 0.25, dtype=np.float32)
    np.save(cache_path(file_sha256(path), cfg), marker)
    np.testing.assert_array_equal(cached_preprocess(path, cfg), marker)


def test_damaged_entry_is_recomputed(cache_dir: Path, isic9_test_files: list[Path]) -> None:
    path = isic9_test_files[2]
    cfg = PreprocessConfig()
    entry = cache_path(file_sha256(path), cfg)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"not a numpy file")
    np.testing.assert_array_equal(cached_preprocess(path, cfg), preprocess_file(path, cfg))
    assert np.load(entry).shape == (128, 128, 3)


def test_config_change_uses_another_key(cache_dir: Path, isic9_test_files: list[Path]) -> None:
    path = isic9_test_files[3]
    on, off = PreprocessConfig(), PreprocessConfig(hair_removal=False)
    sha = file_sha256(path)
    assert cache_path(sha, on) != cache_path(sha, off)
    np.testing.assert_array_equal(cached_preprocess(path, off), preprocess_file(path, off))
    assert cache_path(sha, off).exists()
    assert not cache_path(sha, on).exists()


def test_load_tensors_stacks_in_order(cache_dir: Path, isic9_test_files: list[Path]) -> None:
    paths = isic9_test_files[:5]
    cfg = PreprocessConfig()
    messages: list[str] = []
    x = load_tensors(paths, cfg, progress=messages.append)
    assert x.shape == (5, 128, 128, 3)
    assert x.dtype == np.float32
    for i, p in enumerate(paths):
        np.testing.assert_array_equal(x[i], preprocess_file(p, cfg))
    assert messages[-1] == "preprocessed 5/5"
