"""`dermscreen-train` end to end on real data, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.cli import build_parser, main


def test_fit_defaults_follow_the_issue() -> None:
    args = build_parser().parse_args(["fit", "--data", "d", "--out", "o"])
    assert (args.epochs, args.batch_size, args.alpha, args.seed) == (50, 32, 1.3, 42)
    assert (args.w_mse, args.w_ssim, args.val_fraction) == (0.4, 0.6, 0.15)
    assert args.no_hair_removal is False
    assert args.limit is None


def test_audit_prints_the_report(isic9_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(isic9_dir)]) == 0
    out = capsys.readouterr().out
    assert "Dropped from Train" in out
    assert "Test: 118" in out


def test_fit_is_seeded_and_reproducible(
    isic9_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DERMSCREEN_CACHE", str(tmp_path / "cache"))
    common = ["--data", str(isic9_dir), "--limit", "12", "--epochs", "1", "--batch-size", "8",
              "--val-fraction", "0.34", "--no-hair-removal", "--w-mse", "0.6", "--w-ssim", "0.4"]
    assert main(["fit", *common, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/1" in out  # progress is shown
    assert "threshold T =" in out
    assert main(["fit", *common, "--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "threshold.json").read_text())
    b = json.loads((tmp_path / "b" / "threshold.json").read_text())
    assert a["stats"]["scores"] == pytest.approx(b["stats"]["scores"], rel=1e-6)
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["loss_weights"] == {"mse": 0.6, "ssim": 0.4}
    assert run["preprocess"]["hair_removal"] is False


def test_missing_data_folder_is_an_error_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fit", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "data folder not found" in capsys.readouterr().err


def test_unknown_class_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Train" / "cats").mkdir(parents=True)
    assert main(["audit", "--data", str(tmp_path)]) == 2
    assert "unknown class folder" in capsys.readouterr().err


def test_evaluate_without_a_run_is_an_error(
    tmp_path: Path, isic9_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(tmp_path / "nope"), "--data", str(isic9_dir)]) == 2
    assert "run folder not found" in capsys.readouterr().err
