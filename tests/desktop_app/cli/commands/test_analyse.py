"""`dermscreen analyse` end to end: real images, the bundled model, real files written."""

from __future__ import annotations

import os
import resource
import sys
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.cli import main
from desktop_app.core.imaging.imageio import file_sha256
from desktop_app.core.inference.results import CSV_COLUMNS
from desktop_app.core.model.model_file import LoadedModel
from desktop_app.core.model.operating_points import opening_threshold
from desktop_app.reports.csv_report import read_results_csv
from tests.desktop_app.cli.conftest import BAD_CODES, cli_env, run_cli_process
from tests.desktop_app.reports.pdf_tools import (
    assert_not_blank,
    pdf_cells_text,
    pdf_text,
    render_first_page,
)

# The console script pip installed beside this interpreter (the venv's `dermscreen`).
DERMSCREEN = Path(sys.executable).parent / "dermscreen"


def run_cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


def test_analyse_csv_every_column(model: LoadedModel, model_path: Path, good_files: list[Path],
                                  bad_dir: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "missing.jpg"
    code = run_cli("analyse", *good_files, bad_dir, missing, "--out", out, "--model", model_path,
                   "--full-paths")
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
            # The default is the model's screening point, as in the window.
            assert threshold == pytest.approx(opening_threshold(meta)[0], rel=1e-6)
            assert (row["triage"] == "flagged") == (score > threshold)
            assert float(row["z"]) == pytest.approx(float(stats.z(score)), abs=1e-3)
            assert float(row["percentile"]) == pytest.approx(float(stats.percentile(score)), abs=0.06)
            assert row["image_sha256"] == file_sha256(path)
        else:
            assert row["status"] == "error"
            assert row["error"]
            assert row["triage"] == "error"
            for empty in ("score", "threshold", "z", "percentile"):
                assert row[empty] == ""
    ok_rows = [r for r in rows if r["status"] == "ok"]
    assert [Path(r["path"]) for r in ok_rows] == good_files
    codes = {r["file_name"]: r["error_code"] for r in rows if r["status"] == "error"}
    assert codes == {**BAD_CODES, "missing.jpg": "unreadable"}
    by_name = {r["file_name"]: r for r in rows}
    assert by_name["truncated.jpg"]["image_sha256"] == file_sha256(bad_dir / "truncated.jpg")
    assert "folder.jpg" not in by_name  # a folder, searched only with --recursive
    assert not list(out.glob("*.pdf"))  # no --pdf, no PDFs
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]  # the lock file is gone


def test_alpha_and_threshold_options(model: LoadedModel, model_path: Path,
                                     good_files: list[Path], tmp_path: Path) -> None:
    stats = model.metadata.benign_stats
    # `analyze` (the old spelling) stays accepted.
    assert run_cli("analyze", *good_files[:3], "--out", tmp_path / "a", "--alpha", "2.5",
                   "--model", model_path) == 0
    rows = read_results_csv(tmp_path / "a" / "results.csv")
    assert [float(r["threshold"]) for r in rows] == pytest.approx([stats.threshold(2.5)] * 3,
                                                                  rel=1e-6)
    assert run_cli("analyse", *good_files[:3], "--out", tmp_path / "t", "--threshold", "0",
                   "--model", model_path) == 0
    rows = read_results_csv(tmp_path / "t" / "results.csv")
    assert [r["triage"] for r in rows] == ["flagged"] * 3


def test_invalid_model_exits_3(good_files: list[Path], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.onnx"
    assert run_cli("analyse", good_files[0], "--out", tmp_path / "o", "--model", missing) == 3
    assert str(missing) in capsys.readouterr().err
    garbage = tmp_path / "garbage.onnx"
    garbage.write_text("this is not a model", encoding="utf-8")
    assert run_cli("analyse", good_files[0], "--out", tmp_path / "o", "--model", garbage) == 3
    err = capsys.readouterr().err
    assert "invalid model" in err and str(garbage) in err
    assert not (tmp_path / "o" / "results.csv").exists()
    # No model named and no bundled one (DERMSCREEN_RESOURCES points at an empty folder).
    monkeypatch.setenv("DERMSCREEN_RESOURCES", str(tmp_path / "empty"))
    assert run_cli("analyse", good_files[0], "--out", tmp_path / "o") == 3
    assert "model file not found" in capsys.readouterr().err


def test_pdf_reports(qapp: QApplication, model: LoadedModel, model_path: Path,
                     good_files: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "pdf out"
    files = [good_files[0], good_files[-1]]
    # Threshold 0: every image is anomalous, so each gets a case report.
    assert run_cli("analyse", *files, tmp_path / "gone.jpg", "--out", out, "--threshold", "0",
                   "--pdf", "--model", model_path) == 0
    cases = sorted(out.glob("case-*.pdf"))
    assert [c.name.split("-")[1] for c in cases] == ["00000", "00001"]
    assert (out / "summary.pdf").read_bytes()[:5] == b"%PDF-"
    for pdf in [out / "summary.pdf", *cases]:
        assert_not_blank(render_first_page(pdf, tmp_path))
    text = pdf_text(cases[1])
    assert files[1].name in text and "triage aid, not a diagnosis" in text.lower()
    assert model.sha256 in text
    summary = pdf_text(out / "summary.pdf")
    assert "3 files: 2 analysed, 1 could not be analysed" in summary
    assert cases[0].name in pdf_cells_text(out / "summary.pdf")  # a long name may wrap in its cell


def test_console_script_headless_pdf(model_path: Path, good_files: list[Path], bad_dir: Path,
                                     tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "sub"
    # As over SSH or in a scheduler: an inherited Qt platform (xcb) whose display
    # cannot be opened. Qt would abort (SIGABRT); the PDFs need no display.
    env = cli_env(QT_QPA_PLATFORM="xcb", DISPLAY=":97")
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [str(DERMSCREEN), "analyze", str(good_files[0]), str(good_files[-1]), str(bad_dir),
         "--out", str(out), "--model", str(model_path), "--threshold", "0", "--pdf"],
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


def test_failed_write_keeps_existing_results_and_names_the_cause(
        model_path: Path, good_files: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "keep"
    out.mkdir()
    old = "previous results, must survive\n"
    (out / "results.csv").write_text(old, encoding="utf-8")
    # A 1500-byte file size limit makes the new CSV's write fail the way a full
    # disk does (EFBIG), even for root; CPython ignores SIGXFSZ.
    done = run_cli_process("analyse", *good_files, "--out", out, "--model", model_path,
                           preexec_fn=_limit_file_size)
    assert done.returncode == 4, done.stderr
    assert str(out) in done.stderr and "file too large" in done.stderr
    assert (out / "results.csv").read_text(encoding="utf-8") == old
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]


def test_results_csv_as_a_folder_is_refused_before_the_run(model_path: Path,
                                                           isic9_dir: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "taken"
    (out / "results.csv").mkdir(parents=True)
    # 2,241 images: refused before any is analysed, so this returns in seconds.
    done = run_cli_process("analyse", isic9_dir / "Train", "--recursive", "--out", out,
                           "--model", model_path)
    assert done.returncode == 4, done.stderr
    assert "results.csv exists and is not a regular file" in done.stderr
    assert "files:" not in done.stdout  # nothing was analysed
    assert sorted(p.name for p in out.iterdir()) == ["results.csv"]


def test_unwritable_output_exits_4(model_path: Path, good_files: list[Path], tmp_path: Path) -> None:
    # Tests run as root, so permissions do not stop writes; a folder below a
    # regular file fails for everyone.
    blocker = tmp_path / "a file"
    blocker.write_text("x", encoding="utf-8")
    out = blocker / "reports"
    done = run_cli_process("analyse", good_files[0], "--out", out, "--model", model_path)
    assert done.returncode == 4, done.stderr
    assert str(out) in done.stderr and "cannot write to folder" in done.stderr


def test_rerun_moves_the_earlier_runs_pdfs_aside(model_path: Path, good_files: list[Path],
                                                 tmp_path: Path) -> None:
    out = tmp_path / "again"
    first = run_cli_process("analyse", *good_files[:2], "--out", out, "--threshold", "0",
                            "--pdf", "--model", model_path)
    assert first.returncode == 0, first.stderr
    old_cases = sorted(p.name for p in out.glob("case-*.pdf"))
    assert len(old_cases) == 2
    (out / "notes.txt").write_text("the user's own file", encoding="utf-8")
    # Second batch: other images, nothing flagged (borderline ones still get case PDFs).
    second = run_cli_process("analyse", *good_files[2:4], "--out", out, "--threshold", "1e9",
                             "--pdf", "--model", model_path)
    assert second.returncode == 0, second.stderr
    triage = [r["triage"] for r in read_results_csv(out / "results.csv")]
    assert "flagged" not in triage
    assert f"summary + {triage.count('borderline')} case reports" in second.stdout
    new_cases = sorted(p.name for p in out.glob("case-*.pdf"))
    assert len(new_cases) == triage.count("borderline")
    # None of the first batch's beside the new summary.
    assert not set(new_cases) & set(old_cases)
    assert all(any(f.stem in name for f in good_files[2:4]) for name in new_cases)
    moved = [p for p in (out / "superseded").iterdir()]
    assert len(moved) == 1 and str(moved[0]) in second.stdout
    assert sorted(p.name for p in moved[0].iterdir()) == sorted(
        [*old_cases, "cases.pdf", "results.csv", "summary.pdf"])
    assert (out / "notes.txt").read_text(encoding="utf-8") == "the user's own file"
    rows = read_results_csv(out / "results.csv")
    assert [r["path"] for r in rows] == [p.name for p in good_files[2:4]]


def test_no_terminal_escapes_from_data(model_path: Path, good_files: list[Path],
                                       tmp_path: Path) -> None:
    # A model path and an output folder whose names carry an ANSI escape and a newline.
    evil = "red\x1b[31mALERT\x1b[0m\nforged line"
    done = run_cli_process("analyse", good_files[0], "--out", tmp_path / "o",
                           "--model", tmp_path / f"{evil}.onnx")
    assert done.returncode == 3
    assert "\x1b" not in done.stderr and "\\x1b[31mALERT" in done.stderr
    assert "forged line" in done.stderr and "\nforged line" not in done.stderr
    blocker = tmp_path / "plain"
    blocker.write_text("x", encoding="utf-8")
    done = run_cli_process("analyse", good_files[0], "--out", blocker / evil, "--model", model_path)
    assert done.returncode == 4
    assert "\x1b" not in done.stderr and "\\n" in done.stderr


def test_model_name_with_escapes_never_reaches_the_terminal(model_path: Path,
                                                            good_files: list[Path],
                                                            tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(model_path))
    for prop in proto.metadata_props:
        if prop.key == "dermscreen.model_name":
            prop.value = "CAE\x1b]0;owned\x07\x1b[2J\nfake: 0 anomalous"
    evil_model = tmp_path / "evil.onnx"
    onnx.save(proto, str(evil_model))
    done = run_cli_process("analyse", good_files[0], "--out", tmp_path / "o",
                           "--model", evil_model)
    if done.returncode == 3:
        # A model validator may refuse such a name outright; then it must say so safely.
        assert "\x1b" not in done.stderr and "\x07" not in done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout + done.stderr and "\x07" not in done.stdout
    # The name is cleaned on load (control characters dropped) and printed safely: no
    # escape reaches the terminal and the embedded newline cannot forge a line.
    assert not any(line.startswith("fake: 0 anomalous") for line in done.stdout.splitlines())


def test_workers_capped_at_the_cores(model_path: Path, good_files: list[Path],
                                     tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    done = run_cli_process("analyse", *good_files[:2], "--out", tmp_path / "w",
                           "--workers", "1000", "--model", model_path)
    assert done.returncode == 0, done.stderr
    assert f"--workers 1000 capped at {cores}" in done.stderr
    assert len(read_results_csv(tmp_path / "w" / "results.csv")) == 2
