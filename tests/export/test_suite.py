"""`python -m export.suite`: the evaluation suite of a real exported model into its metadata and card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from desktop_app.core.evaluation import suite
from desktop_app.core.model.model_file import load_model
from export.model_card import card_path
from export.suite import main
from tests.support.data import DATA


@pytest.fixture(scope="module")
def model_copy(small_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("suite_model")
    for src in (small_model_path, small_model_path.with_name(small_model_path.name + ".sha256"),
                card_path(small_model_path)):
        shutil.copy(src, folder / src.name)
    return folder / small_model_path.name


def test_suite_figures_land_in_metadata_and_card(model_copy: Path, tmp_path: Path) -> None:
    scorer, info = suite.engine_scorer(model_copy)
    report = suite.run_suite(scorer, info, DATA, limit=6, n_resamples=30)
    report_path = tmp_path / "suite.json"
    report_path.write_text(json.dumps(report), encoding="utf-8")
    assert main([str(model_copy), str(report_path), "--row", f"again={report_path}"]) == 0
    model = load_model(model_copy, prefer_gpu=False)  # the new sidecar matches the new bytes
    attached = model.metadata.extra["evaluation_suite"]
    assert attached["summary"]["pooled_auroc"] == report["sets"]["pooled"]["auroc"]
    card = card_path(model_copy).read_text(encoding="utf-8")
    assert "## Evaluation suite" in card and "| again |" in card and "| pooled |" in card
    assert "; data SHARED_DATA" in card and str(DATA) not in card  # no machine's folder
    # Attaching again (the file changed, the graph did not) is allowed; another model's JSON is not.
    assert main([str(model_copy), str(report_path)]) == 0
    other = dict(report, model={**report["model"], "sha256": "0" * 64})
    (tmp_path / "other.json").write_text(json.dumps(other), encoding="utf-8")
    assert main([str(model_copy), str(tmp_path / "other.json")]) == 2
