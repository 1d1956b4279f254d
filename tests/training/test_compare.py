"""`dermscreen-train compare`: validation chooses, Test reports, the first run is the baseline."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.evaluation import metrics
from desktop_app.core.evaluation.metrics import paired_auroc_difference
from training.cli import main
from training.compare import class_balanced_auroc, compare_runs
from training.run import read_scores_csv


def test_class_balanced_auroc_weights_every_diagnosis_equally() -> None:
    benign = np.linspace(0.0, 1.0, 11)
    # 90 images of an easy class, 10 of a hard one: pooled AUROC follows the big class.
    easy, hard = np.full(90, 2.0), np.full(10, -1.0)
    malignant = np.r_[easy, hard]
    classes = np.array(["easy"] * 90 + ["hard"] * 10)
    y = np.r_[np.zeros(benign.size), np.ones(malignant.size)]
    assert metrics.roc_auc(y, np.r_[benign, malignant]) == pytest.approx(0.9)
    assert class_balanced_auroc(benign, malignant, classes) == pytest.approx(0.5)


def test_paired_difference_is_zero_against_itself_and_signed() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(40), np.ones(40)].astype(bool)
    s = rng.normal(size=80) + y
    same = paired_auroc_difference(y, s, s, n_resamples=200)
    assert same["value"] == 0.0 and same["ci95"] == [0.0, 0.0]
    better = paired_auroc_difference(y, s + 3 * y, s, n_resamples=200)
    assert better["p_not_better"] == 0.0
    assert better["value"] > 0 and better["ci95"][0] > 0


def _scramble_test_scores(run: Path) -> None:
    rows = read_scores_csv(run / "scores_test.csv")
    scores = [r["score"] for r in rows][::-1]  # same values, other images
    with (run / "scores_test.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "class", "label", "score"])
        for r, s in zip(rows, scores, strict=True):
            w.writerow([r["path"], r["class"], r["label"], repr(s)])


def test_compare_two_evaluated_runs(small_run_dir: Path, tmp_path: Path, capsys) -> None:
    other = tmp_path / "scrambled"
    shutil.copytree(small_run_dir, other)
    _scramble_test_scores(other)
    # The small run was evaluated with 300 resamples (tests/support/training_fixtures.py).
    table = compare_runs([small_run_dir, other], ["base", "scrambled"], n_resamples=300)
    base, scr = table["rows"]
    assert base["test_auroc_gain_vs_baseline"]["value"] == 0.0
    want = metrics.roc_auc(
        [r["label"] == "malignant" for r in read_scores_csv(other / "scores_test.csv")],
        [r["score"] for r in read_scores_csv(other / "scores_test.csv")],
    )
    assert scr["test_auroc"]["value"] == pytest.approx(want)
    gain = scr["test_auroc"]["value"] - base["test_auroc"]["value"]
    assert scr["test_auroc_gain_vs_baseline"]["value"] == pytest.approx(gain)
    # Validation figures do not depend on Test scores.
    assert scr["validation_auroc"] == base["validation_auroc"]
    evaluated = json.loads((small_run_dir / "metrics.json").read_text())
    # The same figures (values AND bootstrap CIs) as `evaluate` wrote.
    assert base["test_auroc"] == evaluated["test"]["auroc"]
    assert base["test_auroc_without_ambiguous"] == evaluated["test_excluding_ambiguous"]["auroc"]
    stored = evaluated["validation_chosen"][0]
    assert base["validation_sensitivity_80"]["threshold"] == pytest.approx(stored["threshold"])
    assert base["validation_sensitivity_80"]["test_sensitivity"] == stored["test"]["sensitivity"]
    assert base["validation_sensitivity_80"]["test_specificity"] == stored["test"]["specificity"]
    lo, hi = base["validation_auroc_class_balanced"]["ci95"]
    assert lo <= base["validation_auroc_class_balanced"]["value"] <= hi

    argv = ["compare", str(small_run_dir), str(other), "--out", str(tmp_path / "ablation"),
            "--resamples", "100"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| small" not in out  # folder names are used when no names are given
    assert "| run |" in out and "| scrambled |" in out
    assert json.loads((tmp_path / "ablation.json").read_text())["baseline"] == "run"
    assert (tmp_path / "ablation.md").read_text().startswith("| Run |")


def test_compare_refuses_unevaluated_or_mismatched_runs(small_run_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(small_run_dir, bare)
    (bare / "scores_test.csv").unlink()
    with pytest.raises(FileNotFoundError, match="evaluate"):
        compare_runs([small_run_dir, bare])
    fewer = tmp_path / "fewer"
    shutil.copytree(small_run_dir, fewer)
    lines = (fewer / "scores_test.csv").read_text().splitlines()
    (fewer / "scores_test.csv").write_text("\n".join(lines[:-3]) + "\n")
    with pytest.raises(ValueError, match="other validation or Test images"):
        compare_runs([small_run_dir, fewer])
    assert main(["compare", str(small_run_dir), str(bare)]) == 2
