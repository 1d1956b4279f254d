"""`dermscreen-train splits` redraws exactly the committed lists (seeded, from the real data)."""

from __future__ import annotations

from pathlib import Path

from desktop_app.core.evaluation.splits import SPLIT_NAMES, split_path
from tests.support.data import DATA
from training.cli import main


def test_splits_are_reproducible(tmp_path: Path) -> None:
    assert main(["splits", str(DATA), "--out", str(tmp_path)]) == 0
    for name in SPLIT_NAMES:
        assert (tmp_path / f"{name}.txt").read_text() == split_path(name).read_text(), name


def test_another_seed_draws_other_evaluation_nevi(tmp_path: Path) -> None:
    assert main(["splits", str(DATA), "--out", str(tmp_path), "--seed", "14"]) == 0
    name = "ham-extra-dev-eval"
    assert (tmp_path / f"{name}.txt").read_text() != split_path(name).read_text()
