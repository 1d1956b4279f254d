"""`evaluate --threshold-at-validation-sensitivity`: a threshold chosen on validation, carried to the app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.evaluation.metrics import predict, sensitivity, specificity
from desktop_app.core.model.model_file import load_model
from tests.support.model_fixtures import export_small_model
from training.cli import main
from training.run import ALPHA_RULE, load_run, read_scores_csv


@pytest.fixture(scope="module")
def chosen_run(small_run_dir: Path, isic9_sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("chosen") / "run"
    shutil.copytree(small_run_dir, run)
    argv = ["evaluate", str(run), "--data", str(isic9_sample_dir), "--resamples", "200",
            "--threshold-at-validation-sensitivity", "0.8"]
    assert main(argv) == 0
    return run


def test_threshold_is_the_validation_chosen_one(chosen_run: Path, small_run_dir: Path) -> None:
    info = load_run(chosen_run)
    base = load_run(small_run_dir)
    mal = np.array([r["score"] for r in read_scores_csv(chosen_run / "scores_val_malignant.csv")])
    # The highest threshold that still flags >= 80% of the validation malignant images.
    assert np.mean(mal > info.threshold) >= 0.8
    assert np.mean(mal > np.min(mal[mal > info.threshold])) < 0.8
    assert info.threshold != pytest.approx(base.threshold)
    assert info.stats.scores == base.stats.scores  # the benign statistics are unchanged
    assert info.threshold_rule.startswith("validation sensitivity 80%")
    assert f"{mal.size} Train malignant images" in info.threshold_rule


def test_test_figures_are_at_the_chosen_threshold(chosen_run: Path) -> None:
    metrics = json.loads((chosen_run / "metrics.json").read_text())
    info = load_run(chosen_run)
    assert metrics["threshold"] == info.threshold
    assert metrics["threshold_rule"] == info.threshold_rule
    rows = read_scores_csv(chosen_run / "scores_test.csv")
    y = np.array([r["label"] == "malignant" for r in rows])
    pred = predict(np.array([r["score"] for r in rows]), info.threshold)
    assert metrics["test"]["sensitivity"]["value"] == pytest.approx(sensitivity(y, pred))
    assert metrics["test"]["specificity"]["value"] == pytest.approx(specificity(y, pred))
    assert metrics["validation_chosen"][0]["threshold"] == pytest.approx(info.threshold)
    assert metrics["alpha"] == pytest.approx(info.stats.alpha_for(info.threshold))


def test_the_model_carries_the_rule_and_the_card_says_it(chosen_run: Path, tmp_path: Path) -> None:
    path = export_small_model(chosen_run, tmp_path / "chosen.onnx")
    md = load_model(path, prefer_gpu=False).metadata
    info = load_run(chosen_run)
    assert md.threshold == pytest.approx(info.threshold)
    assert md.threshold_rule == info.threshold_rule
    card = path.with_suffix(".md").read_text()
    assert f"**T = {info.threshold:.5f}**, chosen by validation sensitivity 80%" in card


def test_evaluating_without_the_option_restores_the_alpha_rule(
    chosen_run: Path, isic9_sample_dir: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    shutil.copytree(chosen_run, again)
    assert main(["evaluate", str(again), "--data", str(isic9_sample_dir), "--resamples", "50"]) == 0
    info = load_run(again)
    assert info.chosen_threshold is None
    assert info.threshold_rule == ALPHA_RULE
    assert info.threshold == pytest.approx(info.stats.threshold())
    assert json.loads((again / "threshold.json").read_text())["threshold"] == pytest.approx(
        info.threshold
    )
    metrics = json.loads((again / "metrics.json").read_text())
    assert metrics["alpha"] == info.stats.alpha == 1.3
    assert metrics["threshold_rule"] == ALPHA_RULE


@pytest.mark.parametrize("target", ["0", "1.5"])
def test_bad_targets_are_refused(chosen_run: Path, isic9_sample_dir: Path, tmp_path: Path, target: str) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(chosen_run, bad)
    argv = ["evaluate", str(bad), "--data", str(isic9_sample_dir), "--resamples", "50",
            "--threshold-at-validation-sensitivity", target]
    assert main(argv) == 2
