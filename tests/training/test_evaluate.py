"""Evaluation of the small run on the 118 real Test images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.evaluation.metrics import predict, sensitivity, specificity
from training.data import audit_dataset
from training.run import load_run, read_scores_csv

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def metrics(small_run_dir: Path) -> dict:
    return json.loads((small_run_dir / "metrics.json").read_text())


def test_metrics_cover_the_test_split(metrics: dict) -> None:
    test = metrics["test"]
    assert (test["n"], test["n_malignant"], test["n_benign"]) == (118, 64, 54)
    assert sum(test["confusion"].values()) == 118
    assert sum(c["n"] for c in test["per_class"].values()) == 118
    assert len(test["per_class"]) == 9
    for name in ("sensitivity", "specificity", "balanced_accuracy", "auroc", "average_precision"):
        value, (lo, hi) = test[name]["value"], test[name]["ci95"]
        assert 0.0 <= lo <= value <= hi <= 1.0, name
    assert "stratified" in metrics["ci_method"]


def test_figures_agree_with_the_stored_scores(small_run_dir: Path, metrics: dict) -> None:
    rows = read_scores_csv(small_run_dir / "scores_test.csv")
    assert len(rows) == 118
    y = np.array([r["label"] == "malignant" for r in rows])
    s = np.array([r["score"] for r in rows])
    t = load_run(small_run_dir).threshold
    assert metrics["threshold"] == pytest.approx(t)
    assert metrics["test"]["sensitivity"]["value"] == pytest.approx(sensitivity(y, predict(s, t)))
    assert metrics["test"]["specificity"]["value"] == pytest.approx(specificity(y, predict(s, t)))
    mel = metrics["test"]["per_class"]["melanoma"]
    flagged = sum(1 for r in rows if r["class"] == "melanoma" and r["score"] > t)
    assert (mel["n"], mel["flagged"]) == (16, flagged)


def test_ambiguous_test_images_reported_apart(metrics: dict, isic9_dir: Path) -> None:
    ambiguous = audit_dataset(isic9_dir).test_ambiguous
    clean = metrics["test_excluding_ambiguous"]
    assert clean["n"] == 118 - len(ambiguous)
    assert sorted(clean["excluded"]) == sorted(str(s.path) for s in ambiguous)


def test_operating_points_and_alpha_table(metrics: dict) -> None:
    alphas = [p["alpha"] for p in metrics["at_alphas"]]
    assert alphas == [0.5, 1.0, 1.3, 1.5, 2.0]
    thresholds = [p["threshold"] for p in metrics["at_alphas"]]
    assert thresholds == sorted(thresholds)
    sens = [p["sensitivity"] for p in metrics["at_alphas"]]
    assert sens == sorted(sens, reverse=True)  # a higher threshold never flags more
    for target in metrics["at_sensitivity_targets"]:
        assert target["sensitivity"] >= target["target_sensitivity"]
    points = metrics["operating_points"]
    keys = {"label", "alpha", "threshold", "val_specificity", "test_sensitivity", "test_specificity"}
    # 5 alphas, 4 validation-chosen sensitivities (80/85/90/95%), 2 test-chosen sensitivities.
    assert len(points) == 11
    roles = {"validation sensitivity 90%": "screening", "validation sensitivity 95%": "borderline"}
    for p in points:
        extra = {"val_sensitivity"} if p["label"].startswith("validation sensitivity") else set()
        extra |= {"role"} if p["label"] in roles else set()
        assert set(p) == keys | extra
        assert p.get("role") == roles.get(p["label"])


def test_seen_vs_new_images_reported(metrics: dict) -> None:
    gap = metrics["seen_vs_new"]
    assert gap["benign_train_seen"]["n"] + gap["benign_validation"]["n"] == 48
    assert gap["benign_test"]["n"] == 54
    assert gap["malignant_test"]["n"] == 64
    spec = gap["specificity"]
    assert all(0.0 <= v <= 1.0 for v in spec.values())
    assert len(gap["by_alpha"]) == 5


def test_plots_are_real_pngs(small_run_dir: Path) -> None:
    for name in ("score_histograms.png", "roc.png", "training_curves.png"):
        data = (small_run_dir / "plots" / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 5000, name


def test_validation_chosen_thresholds_come_from_train_malignant_and_val_benign(
    small_run_dir: Path, metrics: dict
) -> None:
    from desktop_app.core.evaluation.metrics import validation_thresholds

    mal_rows = read_scores_csv(small_run_dir / "scores_val_malignant.csv")
    assert mal_rows and all(r["label"] == "malignant" for r in mal_rows)
    assert all("/Train/" in r["path"] for r in mal_rows)
    mal = np.array([r["score"] for r in mal_rows])
    expected = validation_thresholds(load_run(small_run_dir).stats, mal)
    chosen = metrics["validation_chosen"]
    assert [(c["target_val_sensitivity"], c["threshold"]) for c in chosen] == expected
    for c in chosen:
        assert c["val_sensitivity"] >= c["target_val_sensitivity"]
        assert 0.0 <= c["test"]["sensitivity"]["value"] <= 1.0
        lo, hi = c["test"]["sensitivity"]["ci95"]
        assert lo <= c["test"]["sensitivity"]["value"] <= hi
    labels = {p["label"] for p in metrics["operating_points"]}
    assert "validation sensitivity 80%" in labels
