"""``dermscreen calibrate``, ``profiles``, ``analyse --profile`` and ``evaluate --calibrate-half``
on real images through the real engine and the shipped cae2 model."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.cli import main
from desktop_app.core.base.paths import bundled_models_dir
from desktop_app.core.evaluation.splits import DEV_EVAL, read_split
from desktop_app.core.site.site_profile import list_profiles, profiles_dir
from desktop_app.reports.csv_report import read_results_csv
from tests.support.data import DATA

CAE2 = bundled_models_dir() / "dermscreen-cae2.onnx"


def run_cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


def _dev_eval(cls: str, count: int, skip: int = 0) -> list[Path]:
    return [DATA / e.rel_path for e in read_split(DEV_EVAL) if e.cls == cls][skip:skip + count]


@pytest.fixture
def benign_folder(tmp_path: Path) -> Path:
    """40 real dev-eval nevi (symlinks), one duplicate copy and one broken file."""
    folder = tmp_path / "clinic-benign"
    folder.mkdir()
    files = _dev_eval("nevus", 40)
    for f in files:
        (folder / f.name).symlink_to(f)
    shutil.copy(files[0], folder / "again.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


def test_calibrate_stores_a_private_profile(benign_folder: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("calibrate", benign_folder, "--model", CAE2, "--name", "Clinic A",
                   "--who", "Dr Test") == 0
    out, errs = capsys.readouterr()
    assert "1 duplicate files" in errs and "1 files could not be analysed" in errs
    assert "broken.jpg" in errs and "only 40 benign images" in errs
    assert "Site profile Clinic A (n 40" in out and "ESTIMATED" in out
    assert "not measured at this site" in out
    [(path, profile)] = list_profiles()
    assert profile.n == 40 and profile.created_by == "Dr Test" and profile.rule == "quantile"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.parent == profiles_dir()

    assert run_cli("profiles", "list") == 0
    assert "Clinic A  n 40" in capsys.readouterr().out
    export = benign_folder.parent / "clinic-a.json"
    assert run_cli("profiles", "export", "Clinic A", export, "--model", CAE2,
                   "--signed-off-by", "Dr Lead") == 0
    assert run_cli("profiles", "remove", "Clinic A") == 0
    assert list_profiles() == []
    assert run_cli("profiles", "remove", "Clinic A") == 1
    assert run_cli("profiles", "import", export) == 0
    [(_, imported)] = list_profiles()
    assert imported.imported and imported.signed_off_by == "Dr Lead"
    # A profile only works with its own model.
    assert run_cli("profiles", "export", "Clinic A", export, "--model",
                   bundled_models_dir() / "dermscreen-reference.onnx") == 2
    assert "new model needs a new calibration" in capsys.readouterr().err


def test_calibrate_refuses_under_30(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "few"
    folder.mkdir()
    for f in _dev_eval("nevus", 29):
        (folder / f.name).symlink_to(f)
    assert run_cli("calibrate", folder, "--model", CAE2) == 2
    assert "at least 30" in capsys.readouterr().err
    assert list_profiles() == []


def test_analyse_with_profile(qapp: QApplication, tmp_path: Path, benign_folder: Path,
                              capsys: pytest.CaptureFixture[str], fullres_files: list[Path]) -> None:
    # qapp: the PDFs need a Qt application; the GUI tests after this one need a QApplication.
    assert run_cli("calibrate", benign_folder, "--model", CAE2, "--name", "Clinic A",
                   "--rule", "alpha") == 0
    [(_, profile)] = list_profiles()
    capsys.readouterr()
    out_dir = tmp_path / "out"
    assert run_cli("analyse", *fullres_files, "--model", CAE2, "--profile", "Clinic A",
                   "--out", out_dir, "--pdf") == 0
    out, errs = capsys.readouterr()
    assert "site profile Clinic A (n 40" in out and "ESTIMATED" in out
    # 12 full-resolution originals of the training archive: too few to judge, and nothing
    # about what the model sees of them is out of range (issue 30).
    assert "batch out of range" not in errs
    rows = read_results_csv(out_dir / "results.csv")
    assert {r["site_profile"] for r in rows} == {profile.label()}
    assert {r["batch_drift"] for r in rows} == {"not checked"}
    assert all(float(r["threshold"]) == pytest.approx(profile.threshold) for r in rows)
    assert {r["input_check"] for r in rows} == {""}
    from tests.desktop_app.reports.pdf_tools import pdf_text

    summary = pdf_text(out_dir / "summary.pdf")
    assert "Site calibration" in summary and "NOT CHECKED" in summary
    assert run_cli("analyse", *fullres_files[:1], "--model", CAE2, "--profile", "Nowhere",
                   "--out", tmp_path / "out2") == 2
    assert "no site profile named" in capsys.readouterr().err


def test_evaluate_calibrate_half(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    for cls, files in (("nevus", _dev_eval("nevus", 64, skip=100)),
                       ("melanoma", _dev_eval("melanoma", 16))):
        (site / cls).mkdir(parents=True)
        for f in files:
            (site / cls / f.name).symlink_to(f)
    report = tmp_path / "eval.json"
    assert run_cli("evaluate", site, "--model", CAE2, "--calibrate-half", "--seed", "3",
                   "--resamples", "200", "--json", report) == 0
    out = capsys.readouterr().out
    assert "specificity on the other 32 benign" in out and "sensitivity on all 16 malignant" in out
    assert "ESTIMATED" in out and "drift check before calibration" in out
    half = json.loads(report.read_text(encoding="utf-8"))["calibrate_half"]
    assert half["n_calibration"] == 32 and half["n_held_out_benign"] == 32
    lo, hi = half["specificity_ci95"]
    assert lo <= half["specificity_held_out"] <= hi
    assert 0 <= half["sensitivity"] <= 1 and half["sensitivity_estimated"] is not None
    assert half["drift_before"]["status"] == "in range"  # HAM images: the model's own site
