"""`dermscreen-export` failures: clear message, non-zero exit, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from export.cli import EXIT_ERROR, EXIT_PARITY, build_parser, main


def test_defaults() -> None:
    args = build_parser().parse_args(["run", "--out", "m.onnx"])
    assert (args.score_tol, args.recon_tol, args.parity_count) == (1e-5, 1e-4, 16)
    assert not args.card


def test_missing_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(tmp_path / "nope"), "--out", str(tmp_path / "m.onnx")])
    assert code == EXIT_ERROR
    assert "run folder not found" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_out_must_be_onnx(small_run_dir: Path, tmp_path: Path, capsys) -> None:
    assert main([str(small_run_dir), "--out", str(tmp_path / "m.txt")]) == EXIT_ERROR
    assert ".onnx" in capsys.readouterr().err


def test_failed_gate_exits_non_zero_and_writes_nothing(
    small_run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.onnx"
    code = main([str(small_run_dir), "--out", str(out), "--card", "--score-tol", "0"])
    assert code == EXIT_PARITY
    err = capsys.readouterr().err
    assert "parity gate failed" in err and "model not written" in err
    assert list(tmp_path.iterdir()) == []
