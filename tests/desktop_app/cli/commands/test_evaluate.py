"""`dermscreen evaluate`: local validation on real labelled folders with the bundled model."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.model.model_file import LoadedModel
from desktop_app.core.model.operating_points import opening_threshold
from tests.desktop_app.cli.conftest import run_cli_process
from tests.support.data import DATA


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


# ----- a clinic's folders and a labels file (issue 30) ---------------------------------------


def _copy(sources: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for src in sources:
        shutil.copy(src, folder / src.name)
    return [folder / src.name for src in sources]


def _read_label_list(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def test_evaluate_benign_malignant_folders(model_path: Path, isic9_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """benign/ and malignant/ with HAM10000 codes below them, and images straight in benign/:
    evaluated, the counts printed and every image's label written beside the results."""
    site = tmp_path / "clinic"
    nv = _copy(sorted((DATA / "ham-extra" / "benign" / "nv").glob("*.jpg"))[:5],
               site / "benign" / "nv")
    bkl = _copy(sorted((DATA / "isic2017" / "benign" / "bkl").glob("*.jpg"))[:2],
                site / "benign" / "bkl")
    loose = _copy(sorted((isic9_dir / "Test" / "nevus").glob("*.jpg"))[:2], site / "benign")
    mel = _copy(sorted((DATA / "ham-extra" / "malignant" / "mel").glob("*.jpg"))[:4],
                site / "malignant" / "mel")
    bcc = _copy(sorted((isic9_dir / "Test" / "basal cell carcinoma").glob("*.jpg"))[:2],
                site / "malignant" / "bcc")
    report_path = tmp_path / "out" / "clinic.json"
    assert run_cli("evaluate", site, "--model", model_path, "--json", report_path,
                   "--resamples", "100") == 0
    out = capsys.readouterr().out
    assert "Labels (from the folder names): 9 benign, 6 malignant" in out
    assert "nevus 5" in out and "pigmented benign keratosis 2" in out
    assert "benign (no diagnosis given) 2" in out
    assert "melanoma 4" in out and "basal cell carcinoma 2" in out
    assert "benign/nv/ (5)" in out and "malignant/bcc/ (2)" in out
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert (report["n_benign"], report["n_malignant"], report["n_errors"]) == (9, 6, 0)
    listed = tmp_path / "out" / "clinic-labels.csv"
    assert report["labels_file"] == str(listed) and f"labels of every image: {listed}" in out
    rows = _read_label_list(listed)
    assert len(rows) == 15
    expected = ([(f, "benign", "nevus", "folder benign/nv/") for f in nv]
                + [(f, "benign", "pigmented benign keratosis", "folder benign/bkl/") for f in bkl]
                + [(f, "benign", "", "folder benign/") for f in loose]
                + [(f, "malignant", "melanoma", "folder malignant/mel/") for f in mel]
                + [(f, "malignant", "basal cell carcinoma", "folder malignant/bcc/") for f in bcc])
    for path, label, diagnosis, source in expected:
        row = rows[path.relative_to(site).as_posix()]
        assert (row["label"], row["diagnosis"], row["label_from"]) == (label, diagnosis, source)
        assert row["status"] == "ok" and float(row["score"]) >= 0 and row["flagged"] in ("yes", "no")


def test_evaluate_labels_file(model_path: Path, isic9_dir: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """A flat folder whose labels come from a path,label CSV (words and codes mixed)."""
    site = tmp_path / "flat"
    benign = _copy(sorted((isic9_dir / "Test" / "nevus").glob("*.jpg"))[:3], site)
    malignant = _copy(sorted((isic9_dir / "Test" / "melanoma").glob("*.jpg"))[:3], site)
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n" + "".join(f"{f.name},{w}\n" for f, w in zip(
        benign + malignant, ["benign", "nv", "NEVUS", "malignant", "mel", "melanoma"],
        strict=True)), encoding="utf-8")
    listed = tmp_path / "labels-used.csv"
    assert run_cli("evaluate", site, "--model", model_path, "--labels", labels,
                   "--labels-out", listed, "--resamples", "100") == 0
    out = capsys.readouterr().out
    assert f"Labels (from {labels}): 3 benign, 3 malignant" in out
    rows = _read_label_list(listed)
    assert [rows[f.name]["label"] for f in benign + malignant] == ["benign"] * 3 + ["malignant"] * 3
    assert rows[benign[1].name]["diagnosis"] == "nevus"
    assert rows[benign[1].name]["label_from"] == "labels.csv line 3"
    assert "images: 6 files, 6 analysed (3 malignant, 3 benign)" in out


def test_evaluate_bad_labels_file_exits_2(model_path: Path, isic9_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "flat"
    [image] = _copy(sorted((isic9_dir / "Test" / "nevus").glob("*.jpg"))[:1], site)
    labels = tmp_path / "labels.csv"
    labels.write_text(f"{image.name},freckle\n", encoding="utf-8")
    assert run_cli("evaluate", site, "--model", model_path, "--labels", labels) == 2
    assert "labels.csv line 1: unknown label 'freckle'" in capsys.readouterr().err
    assert run_cli("evaluate", site, "--model", model_path, "--labels", tmp_path / "no.csv") == 2
    assert "labels file not found" in capsys.readouterr().err
