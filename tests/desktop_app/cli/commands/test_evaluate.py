"""`dermscreen evaluate`: local validation on real labelled folders with the bundled model."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.model.model_file import LoadedModel
from desktop_app.core.model.operating_points import opening_threshold
from tests.desktop_app.cli.conftest import run_cli_process


def run_cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


def _flat_folder(root: Path, isic9_dir: Path, per_class: int) -> Path:
    for cls in ("melanoma", "nevus"):
        (root / cls.upper()).mkdir(parents=True)
        for src in sorted((isic9_dir / "Test" / cls).glob("*.jpg"))[:per_class]:
            (root / cls.upper() / src.name).symlink_to(src)
    return root


def test_evaluate_test_split(model: LoadedModel, model_path: Path, isic9_dir: Path,
                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report_path = tmp_path / "eval" / "local.json"
    assert run_cli("evaluate", isic9_dir, "--model", model_path, "--json", report_path,
                   "--resamples", "200") == 0
    text = capsys.readouterr().out
    for name in ("sensitivity", "specificity", "auroc", "average_precision", "95% CI"):
        assert name in text
    report = json.loads(report_path.read_text(encoding="utf-8"))
    # 64 malignant and 54 benign: every overall figure has its interval; a diagnosis row
    # gets one only from 10 images of each side up (isic9 Test has 3 seborrheic keratoses).
    assert "ci_note" not in report["metrics"]
    for row in report["metrics"]["by_diagnosis"]:
        enough = min(row["n_positive"], row["n_negative"]) >= 10
        assert (None not in row["auroc"]["ci95"]) == enough, row
    assert "vascular lesion vs nevus" in text and "(no CI: too few cases, n 3)" in text
    assert report["split"] == "Test" and report["n_files"] == 118
    assert report["n_malignant"] + report["n_benign"] == report["n_analysed"] == 118
    # Figures at the point the app decides at (window and analyse): the screening point.
    assert report["threshold"] == pytest.approx(opening_threshold(model.metadata)[0])
    assert report["threshold_point"] == opening_threshold(model.metadata)[1]
    fig = report["metrics"]
    for name in ("sensitivity", "specificity", "balanced_accuracy", "auroc", "average_precision"):
        lo, hi = fig[name]["ci95"]
        assert lo <= fig[name]["value"] <= hi
    c = fig["confusion"]
    assert fig["sensitivity"]["value"] == pytest.approx(c["tp"] / (c["tp"] + c["fn"]))
    assert sum(e["n"] for e in fig["per_class"].values()) == 118
    assert any(p["label"].startswith("alpha") for p in fig["operating_points"])


def test_evaluate_flat_folder_and_alpha(model: LoadedModel, model_path: Path,
                                        isic9_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    flat = _flat_folder(tmp_path / "site B", isic9_dir, 4)
    (flat / "NEVUS" / "broken.jpg").write_bytes(b"")
    report_path = tmp_path / "flat.json"
    assert run_cli("evaluate", flat, "--model", model_path, "--alpha", "0.5",
                   "--json", report_path, "--resamples", "100") == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["split"] == "all" and report["n_files"] == 9 and report["n_errors"] == 1
    assert report["threshold"] == pytest.approx(model.metadata.benign_stats.threshold(0.5))
    assert math.isclose(report["alpha"], 0.5, abs_tol=1e-9)
    assert "1 errors" in capsys.readouterr().out


def test_two_images_give_no_ci(model_path: Path, isic9_dir: Path, tmp_path: Path) -> None:
    flat = _flat_folder(tmp_path / "tiny", isic9_dir, 1)
    report_path = tmp_path / "tiny.json"
    done = run_cli_process("evaluate", flat, "--model", model_path, "--json", report_path)
    assert done.returncode == 0, done.stderr
    assert "1.000 - 1.000" not in done.stdout and not re.search(r"\bnan\b", done.stdout)
    assert "(no CI: too few cases)" in done.stdout
    assert "too few cases for a CI (1 malignant, 1 benign; at least 10 of each needed)" in done.stdout
    fig = json.loads(report_path.read_text(encoding="utf-8"))["metrics"]
    assert fig["auroc"]["ci95"] == [None, None] and fig["ci_min_per_class"] == 10


def test_evaluate_bad_folder_exits_2(model_path: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.jpg").write_bytes(b"x")
    assert run_cli("evaluate", tmp_path, "--model", model_path) == 2
    assert "unknown class" in capsys.readouterr().err
    assert run_cli("evaluate", tmp_path / "nowhere", "--model", model_path) == 2
