"""The command line itself: usage errors, validation of numbers, help and version."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.inference.results import CSV_COLUMNS
from desktop_app.version import app_version
from tests.desktop_app.cli.conftest import run_cli_process


@pytest.mark.parametrize(
    "args",
    [
        ["analyse"],
        ["analyse", "x.jpg", "--alpha", "1", "--threshold", "0.1"],
        ["analyse", "x.jpg", "--alpha", "nan"],
        ["analyse", "x.jpg", "--workers", "0"],
        ["analyze", "x.jpg", "--workers", "-3"],
        ["analyse", "x.jpg", "--workers", "two"],
        ["analyse", "x.jpg", "--no-such-option"],
        ["evaluate", "d", "--resamples", "0"],
        ["evaluate", "d", "--resamples", "-5"],
        ["evaluate", "d", "--workers", "0"],
        ["frobnicate"],
    ],
)
def test_bad_usage_exits_2(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "dermscreen-results").exists()


def test_resamples_validated_by_the_real_cli(tmp_path: Path) -> None:
    done = run_cli_process("evaluate", tmp_path, "--resamples", "1")
    assert done.returncode == 2
    assert "--resamples: must be between 100 and 100000" in done.stderr
    done = run_cli_process("analyse", tmp_path, "--workers", "0")
    assert done.returncode == 2 and "--workers: must be at least 1" in done.stderr


def test_analyse_help_documents_columns_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyse", "--help"]) == 0
    text = capsys.readouterr().out
    listed = [line.split()[0] for line in text.split("Columns, in this fixed order:\n", 1)[1]
              .split("\n\n", 1)[0].splitlines()]
    assert tuple(listed) == CSV_COLUMNS
    assert "UTF-8 with BOM" in text and "Exit codes" in text and "results.partial.csv" in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"dermscreen {app_version()}"
