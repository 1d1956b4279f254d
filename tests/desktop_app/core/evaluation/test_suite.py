"""The evaluation suite: real model through the app's Engine on a small subset of every set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from desktop_app.cli import main as dermscreen
from desktop_app.core.base.paths import default_model_path
from desktop_app.core.evaluation import suite
from desktop_app.core.evaluation.metrics import roc_auc
from tests.support.data import DATA


def _split_paths(name: str) -> set[str]:
    from desktop_app.core.evaluation.splits import read_split

    return {e.rel_path for e in read_split(name)}


@pytest.fixture(scope="module")
def reference_report() -> dict:
    scorer, info = suite.engine_scorer(default_model_path())
    return suite.run_suite(scorer, info, DATA, limit=12, n_resamples=100)


def test_every_set_and_the_pool_get_figures_with_cis(reference_report: dict) -> None:
    sets = reference_report["sets"]
    assert list(sets) == ["validation", "ham-extra-eval", "isic9-test", "isic2017-eval",
                          "uda1-external", "pooled"]
    for name, e in sets.items():
        assert e["n_errors"] == 0, name
        lo, hi = e["auroc"]["ci95"]
        assert 0.0 <= lo <= e["auroc"]["value"] <= hi <= 1.0, name
        assert 0.0 <= e["average_precision"]["value"] <= 1.0
        assert e["sensitivity"]["value"] == e["confusion"]["tp"] / e["n_malignant"]
    assert sets["pooled"]["n"] == sum(sets[n]["n"] for n in suite.EVALUATION_SETS)
    # The scores are the engine's: each site's AUROC recomputed from them agrees.
    for name, split, malignant in (("ham-extra-eval", "ham-extra-eval", "/mel/"),
                                   ("isic2017-eval", "isic2017-eval", "/malignant/")):
        got = [(p, v) for p, v in reference_report["scores"].items() if p in _split_paths(split)]
        assert len(got) == sets[name]["n"]
        y = np.array([malignant in p for p, _ in got])
        assert roc_auc(y, [v for _, v in got]) == pytest.approx(sets[name]["auroc"]["value"])
    # The worst site is the evaluation set with the lowest AUROC, named in the text.
    worst = reference_report["worst_site"]
    assert worst["auroc"]["value"] == min(sets[n]["auroc"]["value"] for n in suite.EVALUATION_SETS)
    assert f"Worst site: {worst['set']}" in suite.format_suite(reference_report)


def test_diagnosis_rows_include_melanoma_vs_nevus_and_benign_shift(reference_report: dict) -> None:
    rows = {r["row"]: r for r in reference_report["sets"]["pooled"]["by_diagnosis"]}
    assert "melanoma vs nevus" in rows and "melanoma vs all benign" in rows
    assert any(r["kind"].startswith("benign shift") for r in rows.values())
    text = suite.format_suite(reference_report)
    assert "melanoma vs nevus" in text and "| pooled |" in text


def test_paired_gain_of_a_model_over_itself_is_zero(reference_report: dict) -> None:
    scores = {p: v for p, v in reference_report["scores"].items() if v is not None}

    def replay(paths: list[Path]) -> list[float | None]:
        return [scores[p.relative_to(DATA).as_posix()] for p in paths]

    again = suite.run_suite(replay, reference_report["model"], DATA, other_scores=scores,
                            other_name="itself", limit=12, n_resamples=50)
    gain = again["sets"]["pooled"]["paired_auroc_gain"]
    assert gain["value"] == 0.0 and gain["ci95"] == [0.0, 0.0]
    assert again["sets"]["pooled"]["auroc"]["value"] == reference_report["sets"]["pooled"]["auroc"]["value"]


def test_diagnosis_rows_by_hand() -> None:
    classes = (["nevus"] * 4 + ["melanoma"] * 2 + ["seborrheic keratosis"] * 2
               + ["pigmented benign keratosis"])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.35, 0.9, 0.5, 0.05, 0.6])
    rows = {r["row"]: r for r in suite.diagnosis_rows(classes, s, n_resamples=20)}
    assert rows["melanoma vs nevus"]["auroc"]["value"] == roc_auc([0, 0, 0, 0, 1, 1], s[:6])
    assert rows["melanoma vs all benign"]["n_negative"] == 7
    assert rows["seborrheic keratosis vs nevus"]["kind"].startswith("benign shift")
    # Both keratosis kinds together: melanoma (0.35, 0.9) against keratoses (0.5, 0.05, 0.6).
    mk = rows["melanoma vs keratosis"]
    assert (mk["n_positive"], mk["n_negative"]) == (2, 3)
    assert mk["auroc"]["value"] == roc_auc([1, 1, 0, 0, 0], [0.35, 0.9, 0.5, 0.05, 0.6])
    kn = rows["keratosis vs nevus"]
    assert kn["auroc"]["value"] == roc_auc([0, 0, 0, 0, 1, 1, 1], [*s[:4], 0.5, 0.05, 0.6])
    assert "basal cell carcinoma vs nevus" not in rows


def test_specificity_threshold_meets_the_target() -> None:
    b = np.arange(1.0, 11.0)
    t = suite.specificity_threshold(b, 0.5)
    assert np.mean(b <= t) >= 0.5 and np.mean(b <= np.nextafter(t, 0)) < 0.5


def test_cli_suite_writes_json_and_reports_missing_splits(tmp_path: Path, capsys) -> None:
    # A data folder without the listed files is a usage error, not a crash.
    assert dermscreen(["evaluate", str(tmp_path), "--suite", "--resamples", "100"]) == 2
    assert "not found" in capsys.readouterr().err


def test_scores_from_report_round_trip(tmp_path: Path, reference_report: dict) -> None:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(reference_report, default=float), encoding="utf-8")
    assert suite.scores_from_report(path) == reference_report["scores"]
    (tmp_path / "other.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="not an evaluation-suite"):
        suite.scores_from_report(tmp_path / "other.json")
