"""Reading and writing run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.core.imaging.preprocess import PreprocessConfig
from training.run import (
    atomic_write_text,
    load_run,
    preprocess_config,
    read_json,
    read_scores_csv,
    write_json,
    write_scores_csv,
)


def test_load_run_gives_config_stats_and_metrics(small_run_dir: Path) -> None:
    info = load_run(small_run_dir)
    assert info.run_dir == small_run_dir
    assert info.loss_weights == {"mse": 0.4, "ssim": 0.6}
    assert info.stats.alpha == 1.3
    assert info.metrics is not None
    assert info.metrics["threshold"] == pytest.approx(info.threshold)
    assert preprocess_config(info) == PreprocessConfig()
    assert info.history["loss"]


def test_missing_or_broken_run_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run folder not found"):
        load_run(tmp_path / "nope")
    (tmp_path / "run.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"run\.json: not valid JSON"):
        load_run(tmp_path)
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"threshold\.json"):
        load_run(tmp_path)


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    write_json(target, {"x": 1.5})
    atomic_write_text(target.with_name("b.txt"), "hello")
    assert read_json(target) == {"x": 1.5}
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.json", "b.txt"]


def test_scores_csv_round_trip_with_spaces_and_commas(tmp_path: Path) -> None:
    rows = [(Path("Test/basal cell carcinoma/a,b.jpg"), "basal cell carcinoma", "malignant", 0.125)]
    write_scores_csv(tmp_path / "s.csv", rows)
    back = read_scores_csv(tmp_path / "s.csv")
    assert back == [
        {"path": "Test/basal cell carcinoma/a,b.jpg", "class": "basal cell carcinoma",
         "label": "malignant", "score": 0.125}
    ]
    assert json.dumps(back)  # plain types only
