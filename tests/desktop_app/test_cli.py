"""`dermscreen analyze` / `evaluate` end to end: real images, real model, real files written."""

from __future__ import annotations

import io
import json
import math
import os
import resource
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.cli import ProgressBar, main
from desktop_app.core.engine import Progress
from desktop_app.core.imageio import file_sha256
from desktop_app.core.model_file import LoadedModel, load_model
from desktop_app.core.results import CSV_COLUMNS
from desktop_app.reports.csv_report import read_results_csv
from tests.desktop_app.reports.pdf_tools import assert_not_blank, pdf_text, render_first_page
from tests.support.data import REPO, make_bad_files

DERMSCREEN = REPO / ".venv" / "bin" / "dermscreen"
BAD_CODES = {
    "bomb.png": "too_large",
    "empty.jpg": "empty_file",
    "folder.jpg": "unreadable",
    "notes.jpg": "not_an_image",
    "truncated.jpg": "truncated",
}


@pytest.fixture(scope="module")
def model(small_model_path: Path) -> LoadedModel:
    return load_model(small_model_path, prefer_gpu=False)


@pytest.fixture(scope="module")
def good_files(isic9_test_files: list[Path], fullres_files: list[Path]) -> list[Path]:
    by_class: dict[str, Path] = {}
    for f in isic9_test_files:
        by_class.setdefault(f.parent.name, f)
    return [*by_class.values(), *fullres_files[:2]]


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad") / "bad files"
    make_bad_files(folder)
    return folder


def run_cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


def test_analyze_csv_every_column(model: LoadedModel, small_model_path: Path, good_files: list[Path],
                                  bad_dir: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "missing.jpg"
    code = run_cli("analyze", *good_files, bad_dir, missing, "--out", out,
                   "--model", small_model_path)
    assert code == 0
    stdout = capsys.readouterr().out
    n_files = len(good_files) + len(BAD_CODES) + 1
    assert f"{n_files} files: {len(good_files)} analysed, {len(BAD_CODES) + 1} errors" in stdout

    raw = (out / "results.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = read_results_csv(out / "results.csv")
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(r["index"]) for r in rows] == list(range(n_files))
    expected_paths = [*map(str, good_files), *(str(bad_dir / n) for n in sorted(BAD_CODES)),
                      str(missing)]
    assert [r["path"] for r in rows] == expected_paths

    meta = model.metadata
    stats = meta.benign_stats
    for row in rows:
        path = Path(row["path"])
        assert row["file_name"] == path.name
        assert row["model_name"] == meta.model_name
        assert row["model_version"] == meta.model_version
        assert row["model_sha256"] == model.sha256
        assert row["provider"] == "CPU"
        assert float(row["seconds"]) >= 0
        stamp = datetime.fromisoformat(row["analysed_at"])
        assert stamp.utcoffset().total_seconds() == 0
        if row["status"] == "ok":
            assert row["error"] == "" and row["error_code"] == ""
            score, threshold = float(row["score"]), float(row["threshold"])
            assert threshold == pytest.approx(meta.threshold, rel=1e-6)
            assert row["decision"] == ("anomalous" if score > threshold else "normal")
            assert float(row["z"]) == pytest.approx(float(stats.z(score)), abs=1e-3)
            assert float(row["percentile"]) == pytest.approx(float(stats.percentile(score)), abs=0.06)
            assert row["image_sha256"] == file_sha256(path)
        else:
            assert row["status"] == "error"
            assert row["error"]
            for empty in ("score", "threshold", "decision", "z", "percentile"):
                assert row[empty] == ""
    ok_rows = [r for r in rows if r["status"] == "ok"]
    assert [Path(r["path"]) for r in ok_rows] == good_files
    codes = {r["file_name"]: r["error_code"] for r in rows if r["status"] == "error"}
    assert codes == {**BAD_CODES, "missing.jpg": "unreadable"}
    by_name = {r["file_name"]: r for r in rows}
    assert by_name["truncated.jpg"]["image_sha256"] == file_sha256(bad_dir / "truncated.jpg")
    assert by_name["folder.jpg"]["image_sha256"] == ""
    assert not list(out.glob("*.pdf"))  # no --pdf, no PDFs


def test_alpha_and_threshold_options(model: LoadedModel, small_model_path: Path,
                                     good_files: list[Path], tmp_path: Path) -> None:
    stats = model.metadata.benign_stats
    assert run_cli("analyze", *good_files[:3], "--out", tmp_path / "a", "--alpha", "2.5",
                   "--model", small_model_path) == 0
    rows = read_results_csv(tmp_path / "a" / "results.csv")
    assert [float(r["threshold"]) for r in rows] == pytest.approx([stats.threshold(2.5)] * 3,
                                                                  rel=1e-6)
    assert run_cli("analyze", *good_files[:3], "--out", tmp_path / "t", "--threshold", "0",
                   "--model", small_model_path) == 0
    rows = read_results_csv(tmp_path / "t" / "results.csv")
    assert [r["decision"] for r in rows] == ["anomalous"] * 3


@pytest.mark.parametrize(
    "args",
    [
        ["analyze"],
        ["analyze", "x.jpg", "--alpha", "1", "--threshold", "0.1"],
        ["analyze", "x.jpg", "--alpha", "nan"],
        ["analyze", "x.jpg", "--workers", "0"],
        ["analyze", "x.jpg", "--no-such-option"],
        ["frobnicate"],
    ],
)
def test_bad_usage_exits_2(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "dermscreen-results").exists()


def test_invalid_model_exits_3(good_files: list[Path], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.onnx"
    assert run_cli("analyze", good_files[0], "--out", tmp_path / "o", "--model", missing) == 3
    assert str(missing) in capsys.readouterr().err
    garbage = tmp_path / "garbage.onnx"
    garbage.write_text("this is not a model", encoding="utf-8")
    assert run_cli("analyze", good_files[0], "--out", tmp_path / "o", "--model", garbage) == 3
    err = capsys.readouterr().err
    assert "invalid model" in err and str(garbage) in err
    assert not (tmp_path / "o" / "results.csv").exists()
    # No model named and no bundled one (DERMSCREEN_RESOURCES points at an empty folder).
    monkeypatch.setenv("DERMSCREEN_RESOURCES", str(tmp_path / "empty"))
    assert run_cli("analyze", good_files[0], "--out", tmp_path / "o") == 3
    assert "model file not found" in capsys.readouterr().err


def test_unwritable_output_exits_4(small_model_path: Path, good_files: list[Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("x", encoding="utf-8")
    out = blocker / "reports"
    assert run_cli("analyze", good_files[0], "--out", out, "--model", small_model_path) == 4
    err = capsys.readouterr().err
    assert str(out) in err and "cannot write to folder" in err


def test_pdf_reports(qapp: QApplication, model: LoadedModel, small_model_path: Path,
                     good_files: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "pdf out"
    files = [good_files[0], good_files[-1]]
    # Threshold 0: every image is anomalous, so each gets a case report.
    assert run_cli("analyze", *files, tmp_path / "gone.jpg", "--out", out, "--threshold", "0",
                   "--pdf", "--model", small_model_path) == 0
    cases = sorted(out.glob("case-*.pdf"))
    assert [c.name.split("-")[1] for c in cases] == ["00000", "00001"]
    assert (out / "summary.pdf").read_bytes()[:5] == b"%PDF-"
    for pdf in [out / "summary.pdf", *cases]:
        assert_not_blank(render_first_page(pdf, tmp_path))
    text = pdf_text(cases[1])
    assert files[1].name in text and "triage aid, not a diagnosis" in text.lower()
    assert model.sha256 in text
    summary = pdf_text(out / "summary.pdf")
    assert "3 files: 2 analysed, 1 errors" in summary and cases[0].name in summary


def test_subprocess_analyze(small_model_path: Path, good_files: list[Path], bad_dir: Path,
                            tmp_path: Path) -> None:
    out = tmp_path / "sub"
    # As over SSH: a DISPLAY that cannot be opened and no Qt platform chosen; the
    # PDFs must still be written (offscreen), nothing may abort.
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["DISPLAY"] = ":97"
    done = subprocess.run(
        [str(DERMSCREEN), "analyze", str(good_files[0]), str(good_files[-1]), str(bad_dir),
         "--out", str(out), "--model", str(small_model_path), "--threshold", "0", "--pdf"],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "results:" in done.stdout and "summary + 2 case reports" in done.stdout
    assert "\r[" not in done.stderr  # no progress bar when stderr is not a terminal
    assert "CUDA" not in done.stderr  # no ONNX Runtime noise about missing GPU libraries
    rows = read_results_csv(out / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "ok"] + ["error"] * len(BAD_CODES)
    assert len(list(out.glob("case-*.pdf"))) == 2
    assert (out / "summary.pdf").read_bytes()[:5] == b"%PDF-"


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))


def test_failed_write_keeps_existing_results(small_model_path: Path, good_files: list[Path],
                                             tmp_path: Path) -> None:
    out = tmp_path / "keep"
    out.mkdir()
    old = "previous results, must survive\n"
    (out / "results.csv").write_text(old, encoding="utf-8")
    # A 1500-byte file size limit makes the new CSV's write fail the way a full
    # disk does (EFBIG), even for root; CPython ignores SIGXFSZ.
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app.cli", "analyze", *map(str, good_files), "--out",
         str(out), "--model", str(small_model_path)],
        capture_output=True, text=True, timeout=600, check=False, preexec_fn=_limit_file_size,
        cwd=REPO,
    )
    assert done.returncode == 4, done.stderr
    assert str(out) in done.stderr
    assert (out / "results.csv").read_text(encoding="utf-8") == old
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]


def test_analyze_help_documents_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in CSV_COLUMNS)
    assert "UTF-8 with BOM" in text and "Exit codes" in text


def test_module_docstring_lists_columns_in_order() -> None:
    import desktop_app.cli as cli

    listed = " ".join(cli.__doc__.split()).split("help``: ", 1)[1].split(". With", 1)[0]
    assert tuple(name.strip() for name in listed.split(",")) == CSV_COLUMNS


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("dermscreen ")


def test_progress_bar_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream, width=10)
        bar(Progress(0, 4, 0, 0.0, None))
        bar(Progress(4, 4, 1, 2.0, 0.0))
        bar.close()
    assert pipe.getvalue() == ""
    assert "\r[..........] 0/4" in tty.getvalue() and "[##########] 4/4 1 errors" in tty.getvalue()


def test_evaluate_test_split(model: LoadedModel, small_model_path: Path, isic9_dir: Path,
                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report_path = tmp_path / "eval" / "local.json"
    assert run_cli("evaluate", isic9_dir, "--model", small_model_path, "--json", report_path,
                   "--resamples", "200") == 0
    text = capsys.readouterr().out
    for name in ("sensitivity", "specificity", "auroc", "average_precision", "95% CI"):
        assert name in text
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["split"] == "Test" and report["n_files"] == 118
    assert report["n_malignant"] + report["n_benign"] == report["n_analysed"] == 118
    assert report["threshold"] == pytest.approx(model.metadata.threshold)
    fig = report["metrics"]
    for name in ("sensitivity", "specificity", "balanced_accuracy", "auroc", "average_precision"):
        lo, hi = fig[name]["ci95"]
        assert lo <= fig[name]["value"] <= hi
    c = fig["confusion"]
    assert fig["sensitivity"]["value"] == pytest.approx(c["tp"] / (c["tp"] + c["fn"]))
    assert sum(e["n"] for e in fig["per_class"].values()) == 118
    assert any(p["label"].startswith("alpha") for p in fig["operating_points"])


def test_evaluate_flat_folder_and_alpha(model: LoadedModel, small_model_path: Path,
                                        isic9_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    flat = tmp_path / "site B"
    for cls in ("melanoma", "nevus"):
        (flat / cls.upper()).mkdir(parents=True)
        for src in sorted((isic9_dir / "Test" / cls).glob("*.jpg"))[:4]:
            (flat / cls.upper() / src.name).symlink_to(src)
    (flat / "nevus".upper() / "broken.jpg").write_bytes(b"")
    report_path = tmp_path / "flat.json"
    assert run_cli("evaluate", flat, "--model", small_model_path, "--alpha", "0.5",
                   "--json", report_path, "--resamples", "50") == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["split"] == "all" and report["n_files"] == 9 and report["n_errors"] == 1
    assert report["threshold"] == pytest.approx(model.metadata.benign_stats.threshold(0.5))
    assert math.isclose(report["alpha"], 0.5, abs_tol=1e-9)
    assert "1 errors" in capsys.readouterr().out


def test_evaluate_bad_folder_exits_2(small_model_path: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.jpg").write_bytes(b"x")
    assert run_cli("evaluate", tmp_path, "--model", small_model_path) == 2
    assert "unknown class" in capsys.readouterr().err
    assert run_cli("evaluate", tmp_path / "nowhere", "--model", small_model_path) == 2
