"""The sweep on a cut-down grid: one table over weights and hair removal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.sweep import run_name, sweep


def test_sweep_writes_one_table(isic9_sample_dir: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DERMSCREEN_CACHE", str(tmp_path / "cache"))
    rows = sweep(
        isic9_sample_dir,
        tmp_path / "sweep",
        epochs=1,
        batch_size=8,
        limit=12,
        n_resamples=50,
        grid=((0.2, 0.8),),
        hair_options=(True, False),
        val_fraction=0.34,
        progress=lambda _m: None,
    )
    assert [r["run"] for r in rows] == [run_name(0.2, 0.8, True), run_name(0.2, 0.8, False)]
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(rows))
    table = (tmp_path / "sweep" / "sweep.md").read_text()
    assert table.count("| 0.2 | 0.8 |") == 2
    assert "| on |" in table
    assert "| off |" in table
    off_run = json.loads((tmp_path / "sweep" / run_name(0.2, 0.8, False) / "run.json").read_text())
    assert off_run["preprocess"]["hair_removal"] is False
    assert all(0.0 <= r["auroc"]["value"] <= 1.0 for r in rows)
